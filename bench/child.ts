/**
 * How the bench's client children (load.ts, sink.ts, the burst, http and peers clients) and the
 * driver talk: a child gets its config as JSON in argv[2] and answers on stdout, a
 * `BENCH_EVENT <name>` line (with a JSON detail, if any) as it passes each step and one
 * `BENCH_RESULT <json>` line at the end; it fails with one line on stderr and exit code 1.
 */
import type { TsChild } from './process.js';

const EVENT = 'BENCH_EVENT ';
const RESULT = 'BENCH_RESULT ';

/** The child's config, from argv[2]. */
export function childConfig<T>(): T {
  return JSON.parse(process.argv[2] ?? '') as T;
}

export function childFailed(who: string, message: string): never {
  process.stderr.write(`${who}: ${message}\n`);
  process.exit(1);
}

export function tell(event: string, detail?: unknown): void {
  process.stdout.write(`${EVENT}${event}${detail === undefined ? '' : ` ${JSON.stringify(detail)}`}\n`);
}

export function report(result: unknown): void {
  process.stdout.write(`${RESULT}${JSON.stringify(result)}\n`);
}

/** The child's `event` line (seen or to come), with its detail. */
export async function told<T = undefined>(child: TsChild, event: string): Promise<T> {
  const head = `${EVENT}${event}`;
  const line = await child.waitForLine((text) => text === head || text.startsWith(`${head} `));
  return (line === head ? undefined : JSON.parse(line.slice(head.length + 1))) as T;
}

/** The child's result line (seen or to come). */
export async function reported<T>(child: TsChild): Promise<T> {
  const line = await child.waitForLine((text) => text.startsWith(RESULT));
  return JSON.parse(line.slice(RESULT.length)) as T;
}
