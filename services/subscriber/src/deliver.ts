import type { Logger } from '@pubsub/log';
import { encodeHopAck, readQueued, unpackBatch, type QueuedMessage } from '@pubsub/protocol';
import { bufferOf, serverTextFrame, type Outbox, type Upstream } from '@pubsub/service';
import type { Counter, Histogram } from 'prom-client';
import { WebSocket, type RawData } from 'ws';
import type { TopicRegistry } from './topics.js';

export interface DeliveryOptions {
  logger: Logger;
  counters: DeliveryCounters;
  /**
   * Every frame to a client goes through it, replies included, so each socket's order holds;
   * it also cuts off slow consumers.
   */
  outbox: Outbox;
}

/** What delivery counts for /metrics. */
export interface DeliveryCounters {
  /** Messages taken from the msgqueue and routed. */
  readonly routed: Counter;
  /** Frames sent to client sockets (one message to three sockets counts three). */
  readonly deliveries: Counter;
  /** Messages the msgqueue delivered again that had already been routed. */
  readonly redeliveriesDropped: Counter;
  /** From the publisher accepting a message to its routing here, in seconds. */
  readonly latency: Histogram;
}

/**
 * Drains `/popmsg`: each message is routed to every socket on its topic, as one prebuilt frame
 * written to all of them, and acknowledged once routed. Acks are cumulative and sent once per
 * turn; the outbox writes each socket's frames of a turn at once.
 */
export class Delivery {
  readonly #topics: TopicRegistry;
  readonly #options: DeliveryOptions;
  readonly #outbox: Outbox;
  /** The last seq routed per topic in the msgqueue's current epoch, to drop redeliveries. */
  readonly #lastSeq = new Map<string, number>();
  #epoch: string | undefined;
  /** Live frames held back per socket and topic while that socket's history is replayed. */
  readonly #held = new Map<WebSocket, Map<string, Buffer[]>>();
  /** Per socket and topic, the last seq sent and its epoch: a socket never gets a seq twice. */
  readonly #sent = new WeakMap<WebSocket, Map<string, { epoch: string; seq: number }>>();
  #received = 0;
  #ackScheduled = false;
  #ws: WebSocket | undefined;

  constructor(upstream: Upstream, topics: TopicRegistry, options: DeliveryOptions) {
    this.#topics = topics;
    this.#options = options;
    this.#outbox = options.outbox;
    upstream.on('open', (ws) => this.#onOpen(ws));
  }

  #onOpen(ws: WebSocket): void {
    this.#ws = ws;
    this.#received = 0;
    ws.on('message', (data: RawData, isBinary: boolean) => {
      if (ws !== this.#ws) return;
      if (isBinary) this.#routeBatch(ws, bufferOf(data));
      else {
        this.#received++;
        this.route(bufferOf(data));
      }
      if (!this.#ackScheduled) {
        this.#ackScheduled = true;
        setImmediate(() => this.flushAck());
      }
    });
  }

  /** A binary frame from the msgqueue packs several messages (see packBatches). */
  #routeBatch(ws: WebSocket, batch: Buffer): void {
    const frames = unpackBatch(batch);
    if (frames === undefined) {
      // The ack count would no longer match: start over on a fresh connection.
      this.#options.logger.error('invalid batch from the msgqueue');
      ws.terminate();
      return;
    }
    this.#received += frames.length;
    for (const frame of frames) this.route(frame);
  }

  /** Sends the pending cumulative ack now (also used on shutdown). */
  flushAck(): void {
    this.#ackScheduled = false;
    if (this.#ws?.readyState === WebSocket.OPEN) this.#ws.send(encodeHopAck(this.#received));
  }

  /**
   * Sends the last ack and routes nothing more (shutdown): what the msgqueue sends after it
   * stays unacknowledged, and the msgqueue hands it to the group's next consumer.
   */
  stop(): void {
    this.flushAck();
    this.#ws = undefined;
  }

  /** Sends the frame as it came, framed once for every socket: it is already a delivery. */
  route(frame: Buffer): void {
    const queued = readQueued(frame.toString());
    if (queued === undefined) {
      // One bad message must not stop delivery for everyone: drop it and go on.
      this.#options.logger.warn(
        { frame: frame.subarray(0, 64).toString() },
        'dropping a queued message without a valid topic',
      );
      return;
    }
    if (this.#isRedelivery(queued)) {
      this.#options.counters.redeliveriesDropped.inc();
      return;
    }
    const { counters } = this.#options;
    counters.routed.inc();
    if (queued.time !== undefined) counters.latency.observe(Math.max(0, Date.now() - queued.time) / 1000);
    const sockets = this.#topics.subscribers(queued.topic);
    if (sockets === undefined) return;
    let wire: Buffer | undefined;
    let sent = 0;
    const anyHeld = this.#held.size > 0;
    for (const ws of sockets) {
      if (ws.readyState !== WebSocket.OPEN) continue;
      const held = anyHeld ? this.#held.get(ws)?.get(queued.topic) : undefined;
      if (held !== undefined) {
        held.push(frame);
        continue;
      }
      wire ??= serverTextFrame(frame);
      if (this.#sendOnce(ws, queued, { wire, record: false })) sent++;
    }
    // One update per message, not per socket: fan-out is the hot path.
    this.#options.counters.deliveries.inc(sent);
  }

  /**
   * Sends a delivery unless this socket already has that seq of the topic (a replayed message
   * that the msgqueue also redelivers live, say). Returns whether it was sent. Positions are
   * kept only for topics a socket resumed (`record` on replay and release): for live-only
   * subscriptions the global redelivery check already sends each message once, and fan-out
   * to thousands of sockets should not touch a map per socket.
   */
  #sendOnce(ws: WebSocket, queued: QueuedMessage, { wire, record }: { wire: Buffer; record: boolean }): boolean {
    const { topic, seq, epoch } = queued;
    if (seq !== undefined && epoch !== undefined) {
      const topics = record ? this.#positions(ws) : this.#sent.get(ws);
      const last = topics?.get(topic);
      if (last !== undefined && last.epoch === epoch && seq <= last.seq) return false;
      if (last !== undefined) {
        last.epoch = epoch;
        last.seq = seq;
      } else if (record) topics?.set(topic, { epoch, seq });
    }
    return this.#outbox.write(ws, wire);
  }

  /**
   * Records that a resuming socket already has everything of `topic` up to `seq`, so a late
   * redelivery of an older message cannot reach it again.
   */
  startAt(ws: WebSocket, topic: string, position: { epoch: string; seq: number }): void {
    this.#positions(ws).set(topic, { ...position });
  }

  #positions(ws: WebSocket): Map<string, { epoch: string; seq: number }> {
    let topics = this.#sent.get(ws);
    if (topics === undefined) this.#sent.set(ws, (topics = new Map<string, { epoch: string; seq: number }>()));
    return topics;
  }

  /** Sends replayed history frames to one socket, oldest first. */
  replay(ws: WebSocket, frames: readonly string[]): void {
    let sent = 0;
    for (const frame of frames) {
      const queued = readQueued(frame);
      if (queued !== undefined && this.#sendOnce(ws, queued, { wire: serverTextFrame(frame), record: true })) sent++;
    }
    this.#options.counters.deliveries.inc(sent);
  }

  /** Holds live messages of `topic` for `ws` until `release`, while its history is replayed. */
  hold(ws: WebSocket, topic: string): void {
    let topics = this.#held.get(ws);
    if (topics === undefined) this.#held.set(ws, (topics = new Map<string, Buffer[]>()));
    topics.set(topic, []);
  }

  /**
   * Sends what was held, minus what the replay already sent, and goes live: no gap and no
   * duplicate at the switch.
   */
  release(ws: WebSocket, topic: string): void {
    const topics = this.#held.get(ws);
    const held = topics?.get(topic);
    topics?.delete(topic);
    if (topics?.size === 0) this.#held.delete(ws);
    let sent = 0;
    for (const frame of held ?? []) {
      const queued = readQueued(frame.toString());
      if (queued !== undefined && this.#sendOnce(ws, queued, { wire: serverTextFrame(frame), record: true })) sent++;
    }
    this.#options.counters.deliveries.inc(sent);
  }

  forget(ws: WebSocket): void {
    this.#held.delete(ws);
  }

  /** The epoch of the msgqueue's history as last seen on a delivery. */
  get epoch(): string | undefined {
    return this.#epoch;
  }

  /**
   * The msgqueue delivers again what it cannot prove was acknowledged (after a crash, a lost
   * connection or a lease expiry). Seqs only grow within a topic and epoch, so a seq at or below
   * the last one routed was routed already: clients get each message once.
   */
  #isRedelivery({ topic, seq, epoch }: QueuedMessage): boolean {
    if (epoch !== undefined && epoch !== this.#epoch) {
      if (this.#epoch !== undefined)
        this.#options.logger.warn({ epoch, previous: this.#epoch }, 'msgqueue history was reset');
      this.#epoch = epoch;
      this.#lastSeq.clear();
    }
    if (seq === undefined) return false;
    const last = this.#lastSeq.get(topic);
    if (last !== undefined && seq <= last) {
      this.#options.logger.debug({ topic, seq }, 'dropped a redelivered message');
      return true;
    }
    this.#lastSeq.set(topic, seq);
    return false;
  }
}
