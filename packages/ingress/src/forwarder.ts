import type { Logger } from '@pubsub/log';
import { decodeHopAck, packBatches, type BatchLimits, type ErrorCode } from '@pubsub/protocol';
import { textOf, type Upstream } from '@pubsub/service';
import Denque from 'denque';
import { EventEmitter } from 'node:events';
import type { RawData, WebSocket } from 'ws';

/** How a forwarded message ended: stored by the msgqueue with its topic seq, or refused. */
/** `duplicate`: its id was stored already (a resend); `seq` is the first copy's. */
export type Outcome = { ok: true; seq: number; duplicate: boolean } | { ok: false; code: ErrorCode };

interface PendingMessage {
  readonly frame: string;
  readonly settle: (outcome: Outcome) => void;
}

/** `accepted`: buffered; `backpressure`: buffered, and the buffer is full; `unavailable`: refused. */
export type SubmitResult = 'accepted' | 'backpressure' | 'unavailable';

interface ForwarderEvents {
  /** The buffer fell below 90 % after being full. */
  drain: [];
  /** Every message submitted so far has been settled. */
  idle: [];
}

const RESUME_RATIO = 0.9;

/**
 * Carries messages to the msgqueue's `/pushmsg` in order and settles each one when the msgqueue
 * acknowledges it. Messages submitted in one event-loop turn travel in as few batch frames as
 * `batch` allows. Everything unacknowledged stays buffered and is sent again, in order, after a
 * reconnect, so an accepted message is never dropped when the hop fails.
 */
export class Forwarder extends EventEmitter<ForwarderEvents> {
  readonly #pending = new Denque<PendingMessage>();
  readonly #upstream: Upstream;
  readonly #maxBuffered: number;
  readonly #log: Logger;
  readonly #batch: BatchLimits;
  /** Frames submitted in this turn, sent together at its end. */
  #unsent: string[] = [];
  #acked = 0;
  #full = false;

  constructor(upstream: Upstream, options: { maxBuffered: number; batch: BatchLimits; logger: Logger }) {
    super();
    this.#upstream = upstream;
    this.#maxBuffered = options.maxBuffered;
    this.#batch = options.batch;
    this.#log = options.logger;
    upstream.on('open', (ws) => this.#onOpen(ws));
  }

  get pending(): number {
    return this.#pending.length;
  }

  submit(frame: string, settle: (outcome: Outcome) => void): SubmitResult {
    const ws = this.#upstream.socket;
    if (ws === undefined && this.#pending.length >= this.#maxBuffered) return 'unavailable';
    this.#pending.push({ frame, settle });
    if (ws !== undefined) {
      if (this.#unsent.length === 0) setImmediate(() => this.#sendUnsent());
      this.#unsent.push(frame);
      // A full batch goes at once, so the msgqueue starts on it while this turn goes on.
      if (this.#unsent.length >= this.#batch.maxMessages) this.#sendUnsent();
    }
    if (this.#pending.length < this.#maxBuffered) return 'accepted';
    this.#full = true;
    return 'backpressure';
  }

  /** Refuses everything still buffered (used when shutting down). */
  failAll(code: ErrorCode): void {
    for (let message = this.#pending.shift(); message !== undefined; message = this.#pending.shift()) {
      message.settle({ ok: false, code });
    }
    this.emit('idle');
  }

  #sendUnsent(): void {
    const frames = this.#unsent;
    this.#unsent = [];
    // Not connected any more: the frames stay pending and go out with the resend on reconnect.
    const ws = this.#upstream.socket;
    if (ws !== undefined) this.#send(ws, frames);
  }

  #send(ws: WebSocket, frames: readonly string[]): void {
    for (const frame of packBatches(frames, this.#batch)) ws.send(frame);
  }

  #onOpen(ws: WebSocket): void {
    this.#acked = 0;
    // The resend below covers everything pending, including what this turn has not sent yet.
    this.#unsent = [];
    ws.on('message', (data: RawData) => this.#onAck(ws, textOf(data)));
    const resend = this.#pending.toArray().map((message) => message.frame);
    if (resend.length > 0) this.#log.info({ count: resend.length }, 'resending unacknowledged messages');
    this.#send(ws, resend);
  }

  #onAck(ws: WebSocket, frame: string): void {
    const ack = decodeHopAck(frame);
    const newly = ack === undefined ? -1 : ack.count - this.#acked;
    if (ack?.seqs === undefined || newly < 0 || newly > this.#pending.length || ack.seqs.length !== newly) {
      // The count no longer matches what was sent: start over on a fresh connection.
      this.#log.error({ frame: frame.slice(0, 64) }, 'invalid ack from msgqueue');
      ws.terminate();
      return;
    }
    this.#acked = ack.count;
    const duplicates = new Set(ack.duplicates);
    ack.seqs.forEach((seq, index) => {
      // null: the msgqueue refused the frame, which only a frame without a topic can cause.
      const outcome: Outcome =
        seq === null ? { ok: false, code: 'INTERNAL' } : { ok: true, seq, duplicate: duplicates.has(index) };
      this.#pending.shift()?.settle(outcome);
    });
    if (this.#full && this.#pending.length < this.#maxBuffered * RESUME_RATIO) {
      this.#full = false;
      this.emit('drain');
    }
    if (this.#pending.length === 0) this.emit('idle');
  }
}
