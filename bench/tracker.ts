import type { Integrity } from './types.js';

/**
 * Bookkeeping for one batch of messages: ids are `<label>-<publisher>-<n>`, with n counting from
 * 0 per publisher. Knows what was sent, acked, refused and delivered, and when.
 */
export class Tracker {
  readonly label: string;
  readonly quotas: readonly number[];
  readonly #acked: Uint8Array[];
  readonly #delivered: Uint8Array[];
  readonly #lastDelivered: number[];
  /** Replies (ack or error) per publisher. */
  readonly answered: number[];
  /** Sent per publisher. */
  readonly sent: number[];
  /** Per-message times (performance.now()), only when `timed`; for publisher 0. */
  readonly sentAt: Float64Array | undefined;
  readonly ackAt: Float64Array | undefined;
  readonly deliveredAt: Float64Array | undefined;
  readonly refused = new Map<string, number>();
  ackedCount = 0;
  deliveredUnique = 0;
  /** Messages both acked and delivered. */
  ackedDelivered = 0;
  duplicated = 0;
  reordered = 0;
  firstSend = Number.NaN;
  lastAck = Number.NaN;
  lastDelivery = Number.NaN;
  /** Called after every reply, with the publisher's index (the throughput pump tops up here). */
  onAnswer: (publisher: number) => void = () => undefined;
  /** Called after any change that may complete the batch. */
  onProgress: () => void = () => undefined;

  constructor(label: string, quotas: readonly number[], timed = false) {
    this.label = label;
    this.quotas = quotas;
    this.#acked = quotas.map((quota) => new Uint8Array(quota));
    this.#delivered = quotas.map((quota) => new Uint8Array(quota));
    this.#lastDelivered = quotas.map(() => -1);
    this.answered = quotas.map(() => 0);
    this.sent = quotas.map(() => 0);
    const first = quotas[0] ?? 0;
    this.sentAt = timed ? new Float64Array(first) : undefined;
    this.ackAt = timed ? new Float64Array(first) : undefined;
    this.deliveredAt = timed ? new Float64Array(first) : undefined;
  }

  get total(): number {
    return this.quotas.reduce((sum, quota) => sum + quota, 0);
  }

  get sentCount(): number {
    return this.sent.reduce((sum, count) => sum + count, 0);
  }

  get answeredCount(): number {
    return this.answered.reduce((sum, count) => sum + count, 0);
  }

  id(publisher: number, n: number): string {
    return `${this.label}-${publisher}-${n}`;
  }

  markSent(publisher: number, n: number, now: number): void {
    if (Number.isNaN(this.firstSend)) this.firstSend = now;
    this.sent[publisher] = (this.sent[publisher] ?? 0) + 1;
    if (this.sentAt !== undefined && publisher === 0) this.sentAt[n] = now;
  }

  ack(publisher: number, n: number, now: number): void {
    const acked = this.#acked[publisher];
    if (acked === undefined || n >= acked.length || acked[n] === 1) return;
    acked[n] = 1;
    this.ackedCount++;
    this.lastAck = now;
    if (this.ackAt !== undefined && publisher === 0) this.ackAt[n] = now;
    if (this.#delivered[publisher]?.[n] !== 0) this.ackedDelivered++;
    this.#answer(publisher);
  }

  refuse(publisher: number, code: string): void {
    this.refused.set(code, (this.refused.get(code) ?? 0) + 1);
    this.#answer(publisher);
  }

  deliver(publisher: number, n: number, now: number): void {
    const delivered = this.#delivered[publisher];
    if (delivered === undefined || n >= delivered.length) return;
    if (delivered[n] !== 0) {
      this.duplicated++;
      delivered[n] = Math.min(255, (delivered[n] as number) + 1);
      return;
    }
    delivered[n] = 1;
    this.deliveredUnique++;
    this.lastDelivery = now;
    if (this.deliveredAt !== undefined && publisher === 0) this.deliveredAt[n] = now;
    if (n <= (this.#lastDelivered[publisher] as number)) this.reordered++;
    else this.#lastDelivered[publisher] = n;
    if (this.#acked[publisher]?.[n] === 1) this.ackedDelivered++;
    this.onProgress();
  }

  /** Everything was sent and answered, and every acked message has arrived. */
  get complete(): boolean {
    const sent = this.sentCount;
    return sent === this.total && this.answeredCount === sent && this.ackedDelivered === this.ackedCount;
  }

  /** Whether message n of publisher 0 was acked and delivered (for latency samples). */
  ackedAndDelivered(n: number): boolean {
    return this.#acked[0]?.[n] === 1 && this.#delivered[0]?.[n] !== 0;
  }

  integrity(timedOut: boolean): Integrity {
    const sent = this.sentCount;
    return {
      sent,
      acked: this.ackedCount,
      refused: Object.fromEntries(this.refused),
      unanswered: sent - this.answeredCount,
      delivered: this.deliveredUnique,
      lost: this.ackedCount - this.ackedDelivered,
      duplicated: this.duplicated,
      reordered: this.reordered,
      deliveredUnacked: this.deliveredUnique - this.ackedDelivered,
      timedOut,
    };
  }

  #answer(publisher: number): void {
    this.answered[publisher] = (this.answered[publisher] ?? 0) + 1;
    this.onAnswer(publisher);
    this.onProgress();
  }
}

/** Splits `<label>-<publisher>-<n>`; undefined for ids of another shape. */
export function parseId(id: string): { label: string; publisher: number; n: number } | undefined {
  const last = id.lastIndexOf('-');
  const middle = id.lastIndexOf('-', last - 1);
  if (middle <= 0) return undefined;
  const publisher = Number(id.slice(middle + 1, last));
  const n = Number(id.slice(last + 1));
  if (!Number.isInteger(publisher) || !Number.isInteger(n)) return undefined;
  return { label: id.slice(0, middle), publisher, n };
}

const ID_KEY = '"id":"';

/**
 * The id read straight from a frame's text, without JSON.parse: parsing every frame of a hundred
 * sockets would make the client, not the chain, the bottleneck. No content the bench sends holds
 * `"id":"`.
 */
export function idOf(text: string): string | undefined {
  const start = text.indexOf(ID_KEY);
  if (start < 0) return undefined;
  const from = start + ID_KEY.length;
  const end = text.indexOf('"', from);
  return end < 0 ? undefined : text.slice(from, end);
}
