import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { readFile } from 'node:fs/promises';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';

export const ROOT = fileURLToPath(new URL('..', import.meta.url));

/** Children still running: whatever ends this process (an error, Ctrl-C) takes them along. */
const running = new Set<ChildProcess>();
process.on('exit', () => running.forEach((child) => child.kill('SIGKILL')));

/** A TypeScript entry point of this repo run as its own Node process, stdout and stderr read as lines. */
export class TsChild {
  readonly name: string;
  readonly child: ChildProcess;
  readonly lines: string[] = [];
  readonly stderr: string[] = [];
  readonly exited: Promise<number | null>;
  readonly #waiters: {
    stream: 'stdout' | 'stderr';
    match: (line: string) => boolean;
    resolve: (line: string) => void;
  }[] = [];

  constructor(
    name: string,
    args: { entry: string; nodeArgs?: readonly string[]; argv?: readonly string[] },
    env: Record<string, string>,
  ) {
    this.name = name;
    this.child = spawn(
      process.execPath,
      ['--import', 'tsx', ...(args.nodeArgs ?? []), args.entry, ...(args.argv ?? [])],
      {
        cwd: ROOT,
        env: { ...process.env, ...env },
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    running.add(this.child);
    this.exited = once(this.child, 'exit').then(([code]) => {
      running.delete(this.child);
      return code as number | null;
    });
    createInterface({ input: this.child.stdout! }).on('line', (line) => this.#take('stdout', line));
    createInterface({ input: this.child.stderr! }).on('line', (line) => this.#take('stderr', line));
  }

  get pid(): number {
    return this.child.pid ?? -1;
  }

  /** The next line (on stdout, or stderr) that matches, from now on; rejects if the process exits first. */
  nextLine(match: (line: string) => boolean, stream: 'stdout' | 'stderr' = 'stdout'): Promise<string> {
    return Promise.race([
      new Promise<string>((resolveLine) => this.#waiters.push({ stream, match, resolve: resolveLine })),
      this.exited.then((code) => {
        throw new Error(`${this.name} exited (${code}) first; stderr:\n${this.stderr.slice(-20).join('\n')}`);
      }),
    ]);
  }

  /** The first stdout line (seen or to come) that matches. */
  waitForLine(match: (line: string) => boolean): Promise<string> {
    const seen = this.lines.find(match);
    return seen === undefined ? this.nextLine(match) : Promise.resolve(seen);
  }

  /** The first JSON log line whose `msg` is `msg`. */
  async waitForLog(msg: string): Promise<Record<string, unknown>> {
    const line = await this.waitForLine((text) => parseLogLine(text)?.msg === msg);
    return JSON.parse(line) as Record<string, unknown>;
  }

  /** Sends `signal` and waits for the exit; SIGKILL after `graceMs`. */
  async stop(signal: NodeJS.Signals = 'SIGTERM', graceMs = 15_000): Promise<number | null> {
    if (this.child.exitCode !== null || this.child.signalCode !== null) return this.exited;
    this.child.kill(signal);
    const timer = setTimeout(() => this.child.kill('SIGKILL'), graceMs);
    const code = await this.exited;
    clearTimeout(timer);
    return code;
  }

  #take(stream: 'stdout' | 'stderr', line: string): void {
    (stream === 'stdout' ? this.lines : this.stderr).push(line);
    for (const waiter of [...this.#waiters]) {
      if (waiter.stream === stream && waiter.match(line)) {
        this.#waiters.splice(this.#waiters.indexOf(waiter), 1);
        waiter.resolve(line);
      }
    }
  }
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

export function parseLogLine(text: string): { msg?: unknown; level?: unknown } | undefined {
  if (!text.startsWith('{')) return undefined;
  try {
    return JSON.parse(text) as { msg?: unknown; level?: unknown };
  } catch {
    return undefined;
  }
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
