/**
 * What the burst children share: a subscribing socket that checks its batch message by message,
 * and a publishing connection with a window of unacknowledged messages. Ids are `<label>-<n>`.
 */
import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import { WebSocket, type RawData } from 'ws';
import { monotonicMs } from '../stats.js';
import { idOf } from '../tracker.js';
import { CONTENT, type Endpoints, type SocketIntegrity } from './types.js';

/** One socket's view of one batch: every number exactly once, in order. */
export class Batch {
  readonly label: string;
  readonly #seen: Uint8Array;
  /** monotonicMs() of each message's first delivery, when timed. */
  readonly at: Float64Array | undefined;
  /** Messages that make the batch complete (at most its capacity; lowered when fewer were sent). */
  expected: number;
  #max = -1;
  unique = 0;
  duplicated = 0;
  reordered = 0;
  firstAt = Number.NaN;
  lastAt = Number.NaN;
  /** Called when the batch has every message. */
  onComplete: () => void = () => undefined;

  constructor(label: string, capacity: number, timed = false) {
    this.label = label;
    this.#seen = new Uint8Array(capacity);
    this.at = timed ? new Float64Array(capacity) : undefined;
    this.expected = capacity;
  }

  get complete(): boolean {
    return this.unique >= this.expected;
  }

  take(n: number): void {
    const now = monotonicMs();
    if (Number.isNaN(this.firstAt)) this.firstAt = now;
    this.lastAt = now;
    if (n < 0 || n >= this.#seen.length || this.#seen[n] === 1) {
      this.duplicated++;
      return;
    }
    this.#seen[n] = 1;
    if (this.at !== undefined) this.at[n] = now;
    this.unique++;
    if (n < this.#max) this.reordered++;
    else this.#max = n;
    if (this.complete) this.onComplete();
  }

  integrity(acked: number, closedWith: number | undefined): SocketIntegrity {
    return {
      received: this.unique + this.duplicated,
      lost: Math.max(0, acked - this.unique),
      duplicated: this.duplicated,
      reordered: this.reordered,
      closedWith,
    };
  }
}

/** A subscribing socket; frames go to the batch whose label they carry, others are ignored. */
export class Reader {
  readonly ws: WebSocket;
  readonly batches = new Map<string, Batch>();
  closedWith: number | undefined;
  /** Resolves when the socket closes, whoever closed it. */
  readonly closed: Promise<void>;
  #closing = false;

  private constructor(ws: WebSocket) {
    this.ws = ws;
    this.closed = new Promise((resolveClosed) => ws.once('close', () => resolveClosed()));
    // An error is followed by a close (1006), which is what the result reports.
    ws.on('error', () => undefined);
    ws.on('close', (code: number) => {
      if (!this.#closing) this.closedWith = code;
    });
    ws.on('message', (data: RawData) => this.#onFrame((data as Buffer).toString()));
  }

  static async open(endpoints: Endpoints, topic: string): Promise<Reader> {
    const ws = new WebSocket(endpoints.subscribeUrl, {
      ca: readFileSync(endpoints.caFile, 'utf8'),
      auth: endpoints.auth,
      perMessageDeflate: false,
    });
    await once(ws, 'open');
    const subscribed = new Promise<void>((resolveSub, reject) => {
      ws.once('message', (data: RawData) => {
        const frame = (data as Buffer).toString();
        if (frame.startsWith('{"type":"subscribed"')) resolveSub();
        else reject(new Error(`expected subscribed, got ${frame.slice(0, 200)}`));
      });
    });
    ws.send(`sub ${topic}`);
    await subscribed;
    return new Reader(ws);
  }

  expect(batch: Batch): Batch {
    this.batches.set(batch.label, batch);
    return batch;
  }

  #onFrame(text: string): void {
    const id = idOf(text);
    if (id === undefined) return;
    const dash = id.lastIndexOf('-');
    this.batches.get(id.slice(0, dash))?.take(Number(id.slice(dash + 1)));
  }

  async close(): Promise<void> {
    this.#closing = true;
    if (this.ws.readyState !== WebSocket.OPEN) return;
    this.ws.close(1000, 'bench done');
    await this.closed;
  }
}

/** A publishing connection: sends `<label>-<n>` in order, at most `window` unanswered. */
export class Publisher {
  readonly ws: WebSocket;
  readonly topic: string;
  sent = 0;
  acked = 0;
  refused = 0;
  /** monotonicMs() when the last burst began, and of the last ack. */
  startedAt = Number.NaN;
  lastAckAt = Number.NaN;
  /** Called after every ack or error reply. */
  onAnswer: () => void = () => undefined;

  private constructor(ws: WebSocket, topic: string) {
    this.ws = ws;
    this.topic = topic;
    ws.on('message', (data: RawData) => {
      const text = (data as Buffer).toString();
      if (text.startsWith('{"type":"ack"')) {
        this.acked++;
        this.lastAckAt = monotonicMs();
      } else this.refused++;
      this.onAnswer();
    });
  }

  static async open(endpoints: Endpoints, topic: string): Promise<Publisher> {
    const ws = new WebSocket(endpoints.publishUrl, {
      ca: readFileSync(endpoints.caFile, 'utf8'),
      auth: endpoints.auth,
      perMessageDeflate: false,
    });
    await once(ws, 'open');
    return new Publisher(ws, topic);
  }

  get answered(): number {
    return this.acked + this.refused;
  }

  send(id: string): void {
    this.sent++;
    this.ws.send(`{"topic":"${this.topic}","content":${CONTENT},"id":"${id}"}`);
  }

  /** Sends `<label>-0` … `<label>-<count - 1>` as fast as acks allow; resolves once all are answered. */
  burst(label: string, count: number, window: number): Promise<void> {
    const base = this.sent;
    const answeredBase = this.answered;
    this.startedAt = monotonicMs();
    return new Promise((resolveAll) => {
      const topUp = () => {
        while (this.sent - base < count && this.sent - base - (this.answered - answeredBase) < window) {
          this.send(`${label}-${this.sent - base}`);
        }
        if (this.answered - answeredBase >= count) resolveAll();
      };
      this.onAnswer = topUp;
      topUp();
    });
  }
}

/** Resolves when the batch is complete, or with true (timed out) after `ms`. */
export function completion(batch: Batch, ms: number): Promise<boolean> {
  if (batch.complete) return Promise.resolve(false);
  return new Promise((resolveDone) => {
    const timer = setTimeout(() => resolveDone(true), ms);
    batch.onComplete = () => {
      clearTimeout(timer);
      resolveDone(false);
    };
  });
}
