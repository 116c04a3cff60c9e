/**
 * Benchmark of the durable message path: `npx -y pnpm@10 bench [--quick] [--repeat n] [--profile] [--log-level l]`.
 * Starts msgqueue, publisher and subscriber as child processes twice — with the durable file
 * store and in memory — runs every scenario against both, alternately, each from a separate
 * load-generator process (load.ts), prints a table and writes bench/results/<date>-durable.json.
 * See bench/README.md.
 */
import { loadServerCertificate } from '@pubsub/tls';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { CHAIN_MESSAGE_BUDGET, StoreRunner, type ChainContext } from './chains.js';
import { machineInfo, probeFsync } from './probe.js';
import { ROOT } from './process.js';
import {
  computeRatios,
  renderFooter,
  renderHeader,
  renderTable,
  throughputRange,
  type BenchReport,
  type ScenarioRecord,
  type SuiteRecord,
} from './report.js';
import { runScenario, warmupFor } from './scenario.js';
import type { Store } from './services.js';
import { roundDeep } from './stats.js';
import { CONTENT, TOPIC, type ScenarioSpec } from './types.js';

const TARGET_ACKED_PER_SEC = 30_000;
const STORES: readonly Store[] = ['file', 'memory'];

interface Options {
  quick: boolean;
  profile: boolean;
  logLevel: string;
  /** Runs of each throughput scenario per store (latency scenarios run once). */
  repeat: number | undefined;
}

const USAGE = 'usage: pnpm bench [--quick] [--repeat <n>] [--profile] [--log-level warn|info]';

function parseArgs(argv: readonly string[]): Options {
  const options: Options = { quick: false, profile: false, logLevel: 'warn', repeat: undefined };
  const bad = (arg: string): never => {
    process.stderr.write(`bad argument ${arg}\n${USAGE}\n`);
    process.exit(2);
  };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i] ?? '';
    const [flag, inline] = arg.split('=', 2) as [string, string | undefined];
    // `--flag value` or `--flag=value`
    const value = () => inline ?? argv[++i] ?? bad(arg);
    if (arg === '--') continue;
    else if (arg === '--quick') options.quick = true;
    else if (arg === '--profile') options.profile = true;
    else if (flag === '--log-level') options.logLevel = value();
    else if (flag === '--repeat') {
      options.repeat = Number(value());
      if (!Number.isInteger(options.repeat) || options.repeat < 1) bad(arg);
    } else bad(arg);
  }
  return options;
}

interface Plan {
  readonly name: string;
  readonly spec: ScenarioSpec;
  readonly repeats: number;
}

function plans(options: Options): Plan[] {
  const count = options.quick ? 10_000 : 50_000;
  const repeats = options.repeat ?? (options.quick ? 1 : 3);
  const latencyMs = options.quick ? 3_000 : 5_000;
  const list: Plan[] = [
    { name: 'tp1', spec: { kind: 'throughput', label: 'tp1', publishers: 1, count, window: 1_000 }, repeats },
    { name: 'tp4', spec: { kind: 'throughput', label: 'tp4', publishers: 4, count, window: 1_000 }, repeats },
    { name: 'lat1k', spec: { kind: 'latency', label: 'lat1k', rate: 1_000, durationMs: latencyMs }, repeats: 1 },
  ];
  if (!options.quick) {
    list.push({
      name: 'lat5k',
      spec: { kind: 'latency', label: 'lat5k', rate: 5_000, durationMs: latencyMs },
      repeats: 1,
    });
  }
  return list;
}

const say = (text: string) => process.stdout.write(`${text}\n`);

function describe(record: Pick<ScenarioRecord, 'result'>): string {
  const { result } = record;
  const i = result.integrity;
  const head =
    result.kind === 'throughput'
      ? `acked ${result.ackedPerSec.toFixed(0)}/s, delivered ${result.deliveredPerSec.toFixed(0)}/s`
      : `delivery p50 ${result.delivery.p50.toFixed(2)} ms, p99 ${result.delivery.p99.toFixed(2)} ms, p99.9 ${result.delivery.p999.toFixed(2)} ms`;
  return `${head}; lost ${i.lost}, dup ${i.duplicated}, reordered ${i.reordered}${i.timedOut ? ', TIMED OUT' : ''}`;
}

/** Messages a run sends through its chain, warm-up included. */
function messagesOf(spec: ScenarioSpec): number {
  const measured = spec.kind === 'throughput' ? spec.count : Math.ceil((spec.rate * spec.durationMs) / 1000);
  return measured + warmupFor(spec).warmup;
}

/** Each scenario on both stores back to back, alternating which goes first, `repeats` times. */
async function runPlans(list: readonly Plan[], runners: readonly StoreRunner[], caFile: string): Promise<void> {
  for (const plan of list) {
    for (let repeat = 0; repeat < plan.repeats; repeat++) {
      const order = repeat % 2 === 0 ? runners : [...runners].reverse();
      for (const runner of order) {
        const spec = { ...plan.spec, label: `${plan.name}r${repeat}` };
        const suite = await runner.chainFor(messagesOf(spec), say);
        if (suite === undefined) continue;
        const what =
          spec.kind === 'throughput'
            ? `${spec.count} msgs, ${spec.publishers} publisher(s)`
            : `${spec.rate} msg/s for ${spec.durationMs} ms`;
        say(`[${runner.store}] ${plan.name} #${repeat + 1}: ${what}…`);
        try {
          const record = await runScenario(suite, spec, caFile);
          runner.scenarios.push({ ...record, name: plan.name, repeat });
          say(`[${runner.store}] ${plan.name} #${repeat + 1}: ${describe(record)}`);
        } catch (err) {
          runner.errors.push((err as Error).message);
          say(`[${runner.store}] ${plan.name} #${repeat + 1} FAILED: ${(err as Error).message}`);
          // Whatever went wrong may have left the chain stuck: the next run gets a fresh one.
          await runner.stop();
        }
      }
    }
  }
}

async function main(): Promise<void> {
  const options = parseArgs(process.argv.slice(2));
  const started = performance.now();
  const date = new Date().toISOString();
  const stamp = date.replace(/:/g, '-').replace(/\.\d+Z$/, 'Z');
  const resultsDir = join(ROOT, 'bench', 'results');
  mkdirSync(resultsDir, { recursive: true });
  const work = mkdtempSync(join(tmpdir(), 'pubsub-bench-'));
  const runners: StoreRunner[] = [];
  const cleanup = () => rmSync(work, { recursive: true, force: true });
  process.once('SIGINT', () => {
    runners.forEach((runner) => runner.kill());
    cleanup();
    process.exit(130);
  });
  try {
    const certDir = join(work, 'certs');
    const { cert, certFile } = await loadServerCertificate({ certDir, generate: true });
    const machine = machineInfo();
    say(`machine: ${machine.cpuModel} × ${machine.cpuCount}, Node ${machine.node}; work dir ${work}`);
    const fsyncProbe = probeFsync(work, options.quick ? 500 : 2_000);
    say(`fsync probe: ${fsyncProbe.fdatasyncPerSec.toFixed(0)} fdatasync/s on ${fsyncProbe.filesystem ?? work}`);

    const list = plans(options);
    const context: ChainContext = {
      work,
      certDir,
      ca: cert,
      logLevel: options.logLevel,
      profileRoot: options.profile ? join(resultsDir, `${stamp}-prof`) : undefined,
    };
    runners.push(...STORES.map((store) => new StoreRunner(store, context)));
    await runPlans(list, runners, certFile);
    await Promise.all(runners.map((runner) => runner.stop()));
    const suites: SuiteRecord[] = runners.map(({ store, scenarios, chains, errors }) => ({
      store,
      scenarios,
      chains,
      errors,
    }));

    const names = list.map((plan) => plan.name);
    const [durable, memory] = suites;
    const throughput: BenchReport['throughput'] = {};
    for (const suite of suites) {
      const entry: BenchReport['throughput'][string] = {};
      for (const plan of list) {
        const acked = throughputRange(suite, plan.name, 'ackedPerSec');
        const delivered = throughputRange(suite, plan.name, 'deliveredPerSec');
        if (acked !== undefined && delivered !== undefined)
          entry[plan.name] = { ackedPerSec: acked, deliveredPerSec: delivered };
      }
      throughput[suite.store] = entry;
    }
    const durableBest = Math.max(0, ...Object.values(throughput.file ?? {}).map((entry) => entry.ackedPerSec.median));
    const report: BenchReport = {
      name: 'durable-message-path',
      date,
      quick: options.quick,
      machine,
      settings: {
        scenarios: list,
        warmup: list.map((plan) => ({ name: plan.name, ...warmupFor(plan.spec) })),
        contentJsonBytes: Buffer.byteLength(CONTENT),
        exampleMessage: `{"topic":"${TOPIC}","content":${CONTENT},"id":"tp1r0-0-0"}`,
        logLevel: options.logLevel,
        profile: options.profile,
        chainMessageBudget: CHAIN_MESSAGE_BUDGET,
        durationS: 0,
      },
      fsyncProbe,
      suites,
      throughput,
      ratios: computeRatios(durable, memory, names),
      target: { ackedPerSec: TARGET_ACKED_PER_SEC, durableBest, reached: durableBest >= TARGET_ACKED_PER_SEC },
    };
    (report.settings as { durationS: number }).durationS = (performance.now() - started) / 1000;
    const file = join(resultsDir, `${stamp}-durable.json`);
    writeFileSync(file, `${JSON.stringify(roundDeep(report), null, 2)}\n`);
    say('');
    say(renderHeader(report));
    say('');
    say(renderTable(report, names));
    say('');
    say(renderFooter(report));
    say(`total ${((performance.now() - started) / 1000).toFixed(1)} s; results: ${file}`);
    if (suites.some((suite) => suite.errors.length > 0)) process.exitCode = 1;
  } finally {
    cleanup();
  }
}

await main();
