import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';

/** The repository's root: entry points are given relative to it, and children run in it. */
export const REPO_ROOT = fileURLToPath(new URL('../../..', import.meta.url));

/** Children still running: whatever ends this process (an error, Ctrl-C) takes them along. */
const running = new Set<ChildProcess>();
process.on('exit', () => running.forEach((child) => child.kill('SIGKILL')));

export interface TsProcessOptions {
  /** Arguments after the entry point. */
  readonly args?: readonly string[] | undefined;
  /** Node's own flags, before the entry point (e.g. `--cpu-prof`). */
  readonly nodeArgs?: readonly string[] | undefined;
  /** How errors name it; the entry point by default. */
  readonly name?: string;
}

type Stream = 'stdout' | 'stderr';

/**
 * A TypeScript entry point of this repository run as its own Node process (through tsx), its
 * stdout and stderr read as lines: what tests, fault tests and the bench wait on.
 */
export class TsProcess {
  readonly name: string;
  readonly child: ChildProcess;
  readonly lines: string[] = [];
  readonly stderr: string[] = [];
  /** The exit code (null after a signal), once stdout and stderr have been read to the end. */
  readonly exited: Promise<number | null>;
  readonly #waiters: { stream: Stream; match: (line: string) => boolean; resolve: (line: string) => void }[] = [];

  constructor(entry: string, env: Record<string, string> = {}, options: TsProcessOptions = {}) {
    this.name = options.name ?? entry;
    this.child = spawn(
      process.execPath,
      ['--import', 'tsx', ...(options.nodeArgs ?? []), entry, ...(options.args ?? [])],
      {
        cwd: REPO_ROOT,
        env: { ...process.env, ...env },
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    running.add(this.child);
    // 'close', not 'exit': by then stdout and stderr have been read to the end.
    this.exited = once(this.child, 'close').then(([code]) => {
      running.delete(this.child);
      return code as number | null;
    });
    createInterface({ input: this.child.stdout! }).on('line', (line) => this.#take('stdout', line));
    createInterface({ input: this.child.stderr! }).on('line', (line) => this.#take('stderr', line));
  }

  get pid(): number {
    return this.child.pid ?? -1;
  }

  /** The next line on `stream` that matches, from now on; rejects if the process exits first. */
  nextLine(match: (line: string) => boolean, stream: Stream = 'stdout'): Promise<string> {
    return Promise.race([
      new Promise<string>((resolveLine) => this.#waiters.push({ stream, match, resolve: resolveLine })),
      this.exited.then((code) => {
        throw new Error(`${this.name} exited (${code}) first; stderr:\n${this.stderr.slice(-20).join('\n')}`);
      }),
    ]);
  }

  /** The first stdout line (seen or to come) that matches, from line index `from` on. */
  waitForLine(match: (line: string) => boolean, from = 0): Promise<string> {
    const seen = this.lines.slice(from).find(match);
    return seen === undefined ? this.nextLine(match) : Promise.resolve(seen);
  }

  /** The first JSON log line whose `msg` is `msg`, from line index `from` on (`lines.length`: the next one). */
  async waitForLog(msg: string, from = 0): Promise<Record<string, unknown>> {
    const line = await this.waitForLine((text) => parseLogLine(text)?.msg === msg, from);
    return JSON.parse(line) as Record<string, unknown>;
  }

  /** Sends `signal` (unless it has exited) and waits for the exit. */
  kill(signal: NodeJS.Signals = 'SIGTERM'): Promise<number | null> {
    if (this.child.exitCode === null && this.child.signalCode === null) this.child.kill(signal);
    return this.exited;
  }

  /** Sends `signal` and waits for the exit; SIGKILL after `graceMs`. */
  async stop(signal: NodeJS.Signals = 'SIGTERM', graceMs = 15_000): Promise<number | null> {
    const timer = setTimeout(() => this.child.kill('SIGKILL'), graceMs);
    try {
      return await this.kill(signal);
    } finally {
      clearTimeout(timer);
    }
  }

  #take(stream: Stream, line: string): void {
    (stream === 'stdout' ? this.lines : this.stderr).push(line);
    for (const waiter of [...this.#waiters]) {
      if (waiter.stream === stream && waiter.match(line)) {
        this.#waiters.splice(this.#waiters.indexOf(waiter), 1);
        waiter.resolve(line);
      }
    }
  }
}

/** A JSON log line's fields, or undefined for a line that is not one. */
export function parseLogLine(text: string): { msg?: unknown; level?: unknown } | undefined {
  if (!text.startsWith('{')) return undefined;
  try {
    return JSON.parse(text) as { msg?: unknown; level?: unknown };
  } catch {
    return undefined;
  }
}
