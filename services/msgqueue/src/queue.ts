import type { Logger } from '@pubsub/log';
import { eventWithin } from '@pubsub/service';
import Denque from 'denque';
import { EventEmitter } from 'node:events';
import { WebSocket } from 'ws';
import type { QueueStore, StoredMessage } from './store/store.js';

export interface QueueLimits {
  /** Above this many messages held, pushers are paused until it falls to 90 %. */
  maxMessages: number;
  /** The same bound in payload bytes. */
  maxBytes: number;
  /** Most messages one consumer may hold unacknowledged. */
  prefetch: number;
}

/** A `/popmsg` connection and the messages it holds. */
export interface Consumer {
  readonly ws: WebSocket;
  readonly inFlight: Denque<StoredMessage>;
  /** Messages acknowledged so far on this connection (acks are cumulative counts). */
  acked: number;
}

interface QueueEvents {
  full: [];
  drain: [];
  /** Messages were acknowledged or a consumer left. */
  settled: [];
}

// Fairness between competing consumers without giving up batching.
const DISPATCH_CHUNK = 64;
const RESUME_RATIO = 0.9;

/** The FIFO between pushers and consumers: dispatch with credit, acks, redelivery. */
export class MessageQueue extends EventEmitter<QueueEvents> {
  readonly #store: QueueStore;
  readonly #limits: QueueLimits;
  readonly #consumers = new Set<Consumer>();
  #full = false;

  constructor(
    store: QueueStore,
    limits: QueueLimits,
    readonly log: Logger,
  ) {
    super();
    this.#store = store;
    this.#limits = limits;
  }

  get full(): boolean {
    return this.#full;
  }

  get depth(): number {
    return this.#store.depth;
  }

  /**
   * Resolves once consumers hold nothing back: the queue is empty, or no consumer is left to
   * take what remains. Gives up after `deadlineMs`.
   */
  async handedOver(deadlineMs: number): Promise<void> {
    const done = () => this.#store.depth === 0 || this.#consumers.size === 0;
    const deadline = Date.now() + deadlineMs;
    while (!done() && Date.now() < deadline) {
      await eventWithin(this, 'settled', deadline - Date.now());
    }
  }

  async push(payloads: readonly string[]): Promise<void> {
    await this.#store.append(payloads);
    if (!this.#full && this.#overLimit(1)) {
      this.#full = true;
      this.log.warn({ depth: this.#store.depth, bytes: this.#store.bytes }, 'queue full, pausing pushers');
      this.emit('full');
    }
    this.#dispatch();
  }

  addConsumer(ws: WebSocket): Consumer {
    const consumer: Consumer = { ws, inFlight: new Denque(), acked: 0 };
    this.#consumers.add(consumer);
    this.#dispatch();
    return consumer;
  }

  /** Puts the consumer's unacknowledged messages back at the head of the queue. */
  removeConsumer(consumer: Consumer): void {
    if (!this.#consumers.delete(consumer)) return;
    const unacked = consumer.inFlight.toArray();
    consumer.inFlight.clear();
    if (unacked.length > 0) {
      this.log.info({ count: unacked.length }, 'requeued unacknowledged messages');
      this.#store.release(unacked);
    }
    this.#settled();
    this.#dispatch();
  }

  /** Applies a cumulative ack; false when it acknowledges more than was sent or goes backwards. */
  ack(consumer: Consumer, count: number): boolean {
    const newly = count - consumer.acked;
    if (newly < 0 || newly > consumer.inFlight.length) return false;
    if (newly === 0) return true;
    const done = consumer.inFlight.splice(0, newly) ?? [];
    consumer.acked = count;
    this.#store.ack(done);
    this.#settled();
    this.#dispatch();
    return true;
  }

  #overLimit(ratio: number): boolean {
    return this.#store.depth >= this.#limits.maxMessages * ratio || this.#store.bytes >= this.#limits.maxBytes * ratio;
  }

  #settled(): void {
    if (this.#full && !this.#overLimit(RESUME_RATIO)) {
      this.#full = false;
      this.log.info({ depth: this.#store.depth }, 'queue below limits, resuming pushers');
      this.emit('drain');
    }
    this.emit('settled');
  }

  #dispatch(): void {
    let progressed = true;
    while (progressed && this.#store.ready > 0) {
      progressed = false;
      for (const consumer of this.#consumers) {
        const credit = this.#limits.prefetch - consumer.inFlight.length;
        if (credit <= 0 || consumer.ws.readyState !== WebSocket.OPEN) continue;
        const batch = this.#store.claim(Math.min(credit, DISPATCH_CHUNK));
        if (batch.length === 0) return;
        for (const message of batch) {
          consumer.inFlight.push(message);
          consumer.ws.send(message.payload);
        }
        progressed = true;
      }
    }
  }
}
