import type { CountResult } from './types.js';
import { monotonicMs } from '../stats.js';

/** Per-socket message counts of one system's sockets in one sink process, since the last reset. */
export class Tally {
  #counts = new Uint32Array(1024);
  #sockets = 0;
  #expected = 0;
  messages = 0;
  bytes = 0;
  reads = 0;
  other = 0;
  firstAt = 0;
  lastAt = 0;
  readonly closed: Record<string, number> = {};

  /** A new socket's index into the counts. */
  add(): number {
    if (this.#sockets === this.#counts.length) {
      const grown = new Uint32Array(this.#counts.length * 2);
      grown.set(this.#counts);
      this.#counts = grown;
    }
    return this.#sockets++;
  }

  get sockets(): number {
    return this.#sockets;
  }

  /** Starts a new measurement: every socket should now get `expected` messages. */
  reset(expected: number): void {
    this.#counts.fill(0);
    this.#expected = expected;
    this.messages = 0;
    this.bytes = 0;
    this.reads = 0;
    this.other = 0;
    this.firstAt = 0;
    this.lastAt = 0;
  }

  count(socket: number): void {
    this.#counts[socket] = (this.#counts[socket] as number) + 1;
    this.messages++;
  }

  /** Marks that the chunk just read held messages: one clock read per chunk, not per frame. */
  stamp(): void {
    const now = monotonicMs();
    if (this.firstAt === 0) this.firstAt = now;
    this.lastAt = now;
  }

  closedWith(code: string): void {
    this.closed[code] = (this.closed[code] ?? 0) + 1;
  }

  result(): CountResult {
    let exact = 0;
    let short = 0;
    let over = 0;
    for (let i = 0; i < this.#sockets; i++) {
      const count = this.#counts[i] as number;
      if (count === this.#expected) exact++;
      else if (count < this.#expected) short++;
      else over++;
    }
    return {
      sockets: this.#sockets,
      exact,
      short,
      over,
      messages: this.messages,
      bytes: this.bytes,
      reads: this.reads,
      other: this.other,
      closed: { ...this.closed },
      firstAt: this.firstAt,
      lastAt: this.lastAt,
      rss: process.memoryUsage.rss(),
    };
  }
}
