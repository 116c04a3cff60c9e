import { parseLogLine, TsProcess, within } from '@pubsub/testkit';
import { execFileSync } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { FSYNC_PREFIX, MEMORY_PREFIX } from './types.js';

export { REPO_ROOT as ROOT } from '@pubsub/testkit';

/** A bench child process: the test kit's, with the bench's argument shape (name first, then what to run). */
export class TsChild extends TsProcess {
  constructor(
    name: string,
    args: { entry: string; nodeArgs?: readonly string[]; argv?: readonly string[] },
    env: Record<string, string>,
  ) {
    super(args.entry, env, { name, nodeArgs: args.nodeArgs, args: args.argv });
  }
}

/**
 * The child's log lines at warn level or above whose message matches none of `expected`, and its
 * stderr lines other than the preloads' reports: what no normal run prints.
 */
export function unexpectedLines(child: TsChild, expected: readonly RegExp[]): string[] {
  const logged = child.lines.filter((line) => {
    const parsed = parseLogLine(line);
    if (parsed === undefined || !['warn', 'error', 'fatal'].includes(String(parsed.level))) return false;
    return !expected.some((pattern) => pattern.test(String(parsed.msg)));
  });
  const stderr = child.stderr.filter((line) => !line.startsWith(FSYNC_PREFIX) && !line.startsWith(MEMORY_PREFIX));
  return [...logged, ...stderr];
}

/**
 * Asks a child's preload (fsync-counter.ts, fanout/memory-probe.ts) for its report: SIGWINCH,
 * answered by one `<prefix><json>` line on stderr.
 */
export async function askPreload<T>(child: TsChild, prefix: string, timeoutMs: number): Promise<T> {
  const line = child.nextLine((text) => text.startsWith(prefix), 'stderr');
  child.child.kill('SIGWINCH');
  const report = await within(line, timeoutMs, () => `${child.name}: ${prefix.trim()} report`);
  return JSON.parse(report.slice(prefix.length)) as T;
}

/**
 * Ends a run that failed: kills its children and throws the error with the last lines each wrote
 * to stderr, which is usually where the reason is.
 */
export async function failRun(label: string, children: readonly TsChild[], err: unknown): Promise<never> {
  await Promise.all(children.map((child) => child.stop('SIGKILL')));
  const stderr = children.flatMap((child) => child.stderr.slice(-10).map((text) => `${child.name}: ${text}`));
  throw new Error(`${label}: ${(err as Error).message}\n${stderr.join('\n')}`, { cause: err });
}

let clockTicks: number | undefined;

/** Clock ticks per second of /proc/<pid>/stat (USER_HZ, almost always 100). */
function ticksPerSecond(): number {
  if (clockTicks === undefined) {
    try {
      clockTicks = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
    } catch {
      clockTicks = 100;
    }
  }
  return clockTicks;
}

export interface CpuTime {
  readonly userMs: number;
  readonly systemMs: number;
}

/** User and system CPU time of a process (all its threads) in ms, from /proc; undefined elsewhere. */
export async function cpuTimeOf(pid: number): Promise<CpuTime | undefined> {
  try {
    const stat = await readFile(`/proc/${pid}/stat`, 'utf8');
    // Fields after the `(comm)`: state is field 3, utime 14, stime 15.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const [user, system] = [Number(fields[11]), Number(fields[12])];
    if (!Number.isFinite(user) || !Number.isFinite(system)) return undefined;
    const msPerTick = 1000 / ticksPerSecond();
    return { userMs: user * msPerTick, systemMs: system * msPerTick };
  } catch {
    return undefined;
  }
}
