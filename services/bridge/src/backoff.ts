/**
 * Redial delays for a source connection: exponential from `initialMs` up to `maxMs`, each drawn
 * at random below its ceiling (full jitter, as the msgqueue hop does), so bridges that lost the
 * same server do not all come back in the same instant.
 */
export class Backoff {
  readonly #initialMs: number;
  readonly #maxMs: number;
  #failures = 0;
  #timer: NodeJS.Timeout | undefined;

  constructor(options: { initialMs: number; maxMs: number }) {
    this.#initialMs = options.initialMs;
    this.#maxMs = options.maxMs;
  }

  /** Runs `retry` after the next delay; returns that delay. */
  schedule(retry: () => void): number {
    const ceiling = Math.min(this.#maxMs, this.#initialMs * 2 ** Math.min(this.#failures, 30));
    this.#failures++;
    const delay = Math.round(Math.random() * ceiling);
    clearTimeout(this.#timer);
    this.#timer = setTimeout(retry, delay);
    return delay;
  }

  /** After a successful connect: the next failure starts from the shortest delay again. */
  reset(): void {
    this.#failures = 0;
  }

  cancel(): void {
    clearTimeout(this.#timer);
  }
}
