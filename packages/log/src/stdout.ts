import type { Writable } from 'node:stream';

/**
 * Unsent bytes held while stdout's reader is slow or stopped; lines beyond are dropped (and
 * counted) rather than growing memory without bound.
 */
const MAX_BUFFERED_BYTES = 4 * 1024 * 1024;

/**
 * A log destination that never blocks the process, whatever stdout is. pino's default (a
 * sonic-boom on fd 1) writes from the thread pool or, at exit, with a synchronous retry loop: with
 * a reader that stopped (`| jq` after Ctrl-C, a full pipe) that write never returns and the
 * process cannot even exit. `process.stdout` instead is a libuv stream on a non-blocking pipe: a
 * write that does not fit waits in memory, and the event loop (signals, deadlines) keeps running.
 * A closed reader (EPIPE) or any other write error only ends the output; it is never a crash.
 */
export class StdoutDestination {
  readonly #stream: Writable;
  #broken = false;
  #dropped = 0;

  constructor(stream: Writable) {
    this.#stream = stream;
    stream.on('error', () => {
      this.#broken = true;
    });
  }

  /** Lines dropped because stdout was not read fast enough. */
  get dropped(): number {
    return this.#dropped;
  }

  write(text: string): void {
    if (this.#broken) return;
    if (this.#stream.writableLength > MAX_BUFFERED_BYTES) {
      this.#dropped++;
      return;
    }
    if (this.#dropped > 0) {
      // A line of its own, in the log's shape, so a reader learns that something is missing.
      const note = {
        level: 'warn',
        time: Date.now(),
        dropped: this.#dropped,
        msg: 'log lines dropped: stdout was not read',
      };
      this.#dropped = 0;
      this.#stream.write(`${JSON.stringify(note)}\n`);
    }
    this.#stream.write(text);
  }

  /** Resolves once everything written is handed to the OS, or after `timeoutMs`, whichever is first. */
  flush(timeoutMs: number): Promise<void> {
    if (this.#broken || this.#stream.writableLength === 0) return Promise.resolve();
    return new Promise((resolveFlush) => {
      const done = () => {
        clearTimeout(timer);
        this.#stream.off('drain', done);
        this.#stream.off('error', done);
        resolveFlush();
      };
      const timer = setTimeout(done, timeoutMs);
      this.#stream.once('drain', done);
      this.#stream.once('error', done);
    });
  }
}

let stdout: StdoutDestination | undefined;

/** The process's one stdout destination: every logger without its own destination writes here. */
export function stdoutDestination(): StdoutDestination {
  stdout ??= new StdoutDestination(process.stdout);
  return stdout;
}

/**
 * Waits, at most `timeoutMs`, until the log lines written so far have left the process: call it
 * before `process.exit`, which would drop them.
 */
export function flushStdout(timeoutMs: number): Promise<void> {
  return stdout === undefined ? Promise.resolve() : stdout.flush(timeoutMs);
}
