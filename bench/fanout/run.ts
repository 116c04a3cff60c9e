/**
 * The fan-out benchmark on its own: `npx -y pnpm@10 exec tsx bench/fanout/run.ts [--quick] [--repeat n]`.
 * Generates a certificate in a temporary directory, runs runFanout, prints its rows and targets
 * and the path of the JSON written to bench/results/.
 */
import { loadServerCertificate } from '@pubsub/tls';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ROOT } from '../process.js';
import { renderReport, runFanout } from './index.js';

const USAGE = 'usage: tsx bench/fanout/run.ts [--quick] [--repeat <n>]';

function parseArgs(argv: readonly string[]): { quick: boolean; repeat: number } {
  let quick = false;
  let repeat: number | undefined;
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    if (arg === '--quick') quick = true;
    else if (arg === '--repeat') repeat = Number(argv[++i]);
    else if (arg !== '--') {
      process.stderr.write(`bad argument ${arg}\n${USAGE}\n`);
      process.exit(2);
    }
  }
  if (repeat !== undefined && !(Number.isInteger(repeat) && repeat >= 1)) {
    process.stderr.write(`--repeat needs a positive integer\n${USAGE}\n`);
    process.exit(2);
  }
  return { quick, repeat: repeat ?? (quick ? 1 : 3) };
}

// process.exit runs the 'exit' hooks, which kill whatever children are still up (children.ts).
process.once('SIGINT', () => process.exit(130));
process.once('SIGTERM', () => process.exit(143));

const args = parseArgs(process.argv.slice(2));
const work = mkdtempSync(join(tmpdir(), 'fanout-'));
try {
  const certDir = join(work, 'certs');
  const { cert } = await loadServerCertificate({ certDir, generate: true });
  const started = Date.now();
  const report = await runFanout({ ...args, resultsDir: join(ROOT, 'bench', 'results'), certDir, ca: cert });
  process.stdout.write(renderReport(report));
  const { file } = report.json as { file: string };
  process.stdout.write(`\nwall ${((Date.now() - started) / 1000).toFixed(1)} s; JSON: ${file}\n`);
} finally {
  rmSync(work, { recursive: true, force: true });
}
