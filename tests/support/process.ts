import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';

export const ROOT = fileURLToPath(new URL('../..', import.meta.url));

/** A TypeScript entry point of this repo run as its own Node process, its stdout read as lines. */
export class TsProcess {
  readonly child: ChildProcess;
  readonly lines: string[] = [];
  readonly stderr: string[] = [];
  readonly #waiters: { match: (line: string) => boolean; resolve: (line: string) => void }[] = [];
  readonly exited: Promise<number | null>;

  constructor(entry: string, env: Record<string, string>, args: readonly string[] = []) {
    this.child = spawn(process.execPath, ['--import', 'tsx', entry, ...args], {
      cwd: ROOT,
      env: { ...process.env, ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    // 'close', not 'exit': by then stdout and stderr have been read to the end.
    this.exited = once(this.child, 'close').then(([code]) => code as number | null);
    createInterface({ input: this.child.stdout! }).on('line', (line) => {
      this.lines.push(line);
      for (const waiter of [...this.#waiters]) {
        if (waiter.match(line)) {
          this.#waiters.splice(this.#waiters.indexOf(waiter), 1);
          waiter.resolve(line);
        }
      }
    });
    createInterface({ input: this.child.stderr! }).on('line', (line) => this.stderr.push(line));
  }

  /**
   * The first stdout line (seen or to come) that matches, from line index `from` on; rejects if
   * the process exits first.
   */
  waitForLine(match: (line: string) => boolean, from = 0): Promise<string> {
    const seen = this.lines.slice(from).find(match);
    if (seen !== undefined) return Promise.resolve(seen);
    return Promise.race([
      new Promise<string>((resolveLine) => this.#waiters.push({ match, resolve: resolveLine })),
      this.exited.then((code) => {
        throw new Error(`process exited (${code}) first; stderr:\n${this.stderr.join('\n')}`);
      }),
    ]);
  }

  /** The first JSON log line whose `msg` is `msg`, from line index `from` on (`lines.length`: the next one). */
  async waitForLog(msg: string, from = 0): Promise<Record<string, unknown>> {
    const line = await this.waitForLine((text) => {
      try {
        return (JSON.parse(text) as { msg?: unknown }).msg === msg;
      } catch {
        return false;
      }
    }, from);
    return JSON.parse(line) as Record<string, unknown>;
  }

  kill(signal: NodeJS.Signals = 'SIGTERM'): Promise<number | null> {
    if (this.child.exitCode === null) this.child.kill(signal);
    return this.exited;
  }
}
