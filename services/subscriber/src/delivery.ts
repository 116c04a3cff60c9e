import type { Logger } from '@pubsub/log';
import { encodeHopAck, readQueued, unpackPositioned, type QueuedMessage } from '@pubsub/protocol';
import { bufferOf, type Upstream } from '@pubsub/service';
import type { Counter, Histogram } from 'prom-client';
import { WebSocket, type RawData } from 'ws';
import type { Reader } from './reader.js';
import type { Framing } from './sink.js';
import type { TopicRates } from './topic-rates.js';
import type { TopicRegistry } from './topics.js';

/** Where the live stream is: what a reader that falls behind has had up to. */
export interface LiveStream {
  /** The highest log offset routed so far (in `epoch`). */
  readonly routedThrough: number;
  /** The msgqueue's epoch, as last seen on a delivery. */
  readonly epoch: string | undefined;
  seed(position: { floor: number; epoch: string }): void;
}

export interface DeliveryOptions {
  logger: Logger;
  counters: DeliveryCounters;
  /** Messages routed per topic, for `GET /api/stats`. */
  rates: TopicRates;
  /** Unsent bytes above which a reader leaves the live stream and is filled from the log. */
  highWaterBytes: number;
  /** Called when a live reader passes the high-water mark, with its position. */
  onBehind(reader: Reader, position: { offset: number; epoch: string | undefined }): void;
}

/** What delivery counts for /metrics. */
export interface DeliveryCounters {
  /** Messages taken from the msgqueue and routed. */
  readonly routed: Counter;
  /** Frames sent to subscribers (one message to three sockets counts three). */
  readonly deliveries: Counter;
  /** Messages the msgqueue delivered again that had already been routed. */
  readonly redeliveriesDropped: Counter;
  /** From the publisher accepting a message to its routing here, in seconds. */
  readonly latency: Histogram;
}

/** A message taken into the live stream, and where a reader falling behind at it is left. */
interface Routed {
  readonly offset: number;
  readonly frame: Buffer;
  readonly queued: QueuedMessage;
  readonly behindAt: { readonly offset: number; readonly epoch: string | undefined };
}

/**
 * How long an ack waits for more messages to count: far below any lease. The msgqueue sends
 * nothing more once a consumer holds its prefetch unacknowledged, so a backlog of
 * ACK_PROMPTLY_MESSAGES is acknowledged in its turn; only a prefetch below that (1,000 by
 * default) waits out the delay.
 */
const ACK_DELAY_MS = 5;
const ACK_PROMPTLY_MESSAGES = 64;

/**
 * Drains `/popmsg` (positioned: each message with its log offset): each message is routed to
 * every live reader subscribed to its topic, framed once per framing and written to all of
 * them, and acknowledged once routed. Acks are cumulative: sent in the turn once a batch's worth
 * waits, otherwise within ACK_DELAY_MS, so a message that comes alone does not cost an ack of
 * its own (a write here and a read, an ack and a dispatch in the msgqueue). A reader
 * whose sink holds more than the high-water mark is not written to but handed to `onBehind`,
 * so it never holds up the others and never costs unbounded memory.
 */
export class Delivery implements LiveStream {
  readonly #topics: TopicRegistry<Reader>;
  readonly #options: DeliveryOptions;
  /** The last seq routed per topic in the msgqueue's current epoch, to drop redeliveries. */
  readonly #lastSeq = new Map<string, number>();
  #epoch: string | undefined;
  #routedThrough = 0;
  #received = 0;
  /** What the last ack sent counted. */
  #ackedCount = 0;
  #ackTimer: NodeJS.Timeout | undefined;
  #ackImmediate: NodeJS.Immediate | undefined;
  #ws: WebSocket | undefined;

  constructor(upstream: Upstream, topics: TopicRegistry<Reader>, options: DeliveryOptions) {
    this.#topics = topics;
    this.#options = options;
    upstream.on('open', (ws) => this.#onOpen(ws));
  }

  get routedThrough(): number {
    return this.#routedThrough;
  }

  get epoch(): string | undefined {
    return this.#epoch;
  }

  /**
   * What the msgqueue said of the live stream before it delivered anything: the group has
   * acknowledged everything below `floor`, so live messages start at or after it. A fresh
   * subscriber (nothing routed yet) learns from this where "now" is for a reader leaving live.
   */
  seed({ floor, epoch }: { floor: number; epoch: string }): void {
    if (this.#epoch !== undefined && this.#epoch !== epoch) return;
    this.#epoch = epoch;
    this.#routedThrough = Math.max(this.#routedThrough, floor - 1);
  }

  #onOpen(ws: WebSocket): void {
    this.#ws = ws;
    this.#received = 0;
    this.#ackedCount = 0;
    ws.on('message', (data: RawData, isBinary: boolean) => {
      if (ws !== this.#ws) return;
      const batch = isBinary ? unpackPositioned(bufferOf(data)) : undefined;
      if (batch === undefined) {
        // The ack count would no longer match: start over on a fresh connection.
        this.#options.logger.error('invalid positioned batch from the msgqueue');
        ws.terminate();
        return;
      }
      this.#received += batch.frames.length;
      this.route(batch.offsets, batch.frames);
      this.#scheduleAck();
    });
  }

  #scheduleAck(): void {
    if (this.#received - this.#ackedCount >= ACK_PROMPTLY_MESSAGES) {
      this.#ackImmediate ??= setImmediate(() => this.flushAck());
    } else {
      this.#ackTimer ??= setTimeout(() => this.flushAck(), ACK_DELAY_MS);
    }
  }

  /** Sends the pending cumulative ack now (also used on shutdown). */
  flushAck(): void {
    clearTimeout(this.#ackTimer);
    clearImmediate(this.#ackImmediate);
    this.#ackTimer = undefined;
    this.#ackImmediate = undefined;
    if (this.#ws?.readyState !== WebSocket.OPEN) return;
    this.#ws.send(encodeHopAck(this.#received));
    this.#ackedCount = this.#received;
  }

  /**
   * Sends the last ack and routes nothing more (shutdown): what the msgqueue sends after it
   * stays unacknowledged, and the msgqueue hands it to the group's next consumer.
   */
  stop(): void {
    this.flushAck();
    this.#ws = undefined;
  }

  /**
   * Routes a batch of the log's messages (`offsets[i]` is `frames[i]`'s) to the live readers of
   * their topics. The counters are updated once per batch: prom-client costs a label lookup per call.
   */
  route(offsets: readonly number[], frames: readonly Buffer[]): void {
    const routed: Routed[] = [];
    for (let i = 0; i < frames.length; i++) {
      const message = this.#admit(offsets[i] as number, frames[i] as Buffer);
      if (message !== undefined) routed.push(message);
    }
    let sent = 0;
    for (let start = 0; start < routed.length;) {
      const topic = (routed[start] as Routed).queued.topic;
      let end = start + 1;
      while (end < routed.length && (routed[end] as Routed).queued.topic === topic) end++;
      sent += this.#deliver(routed.slice(start, end));
      start = end;
    }
    this.#options.rates.flush();
    if (routed.length > 0) this.#options.counters.routed.inc(routed.length);
    if (sent > 0) this.#options.counters.deliveries.inc(sent);
  }

  /** Reads one message's routing and takes it into the live stream; undefined when it is not routed. */
  #admit(offset: number, frame: Buffer): Routed | undefined {
    const queued = readQueued(frame.toString());
    if (queued === undefined) {
      // One bad message must not stop delivery for everyone: drop it and go on.
      this.#options.logger.warn(
        { frame: frame.subarray(0, 64).toString() },
        'dropping a queued message without a valid topic',
      );
      return undefined;
    }
    if (this.#isRedelivery(queued)) {
      this.#options.counters.redeliveriesDropped.inc();
      return undefined;
    }
    this.#options.rates.note(queued.topic);
    if (queued.time !== undefined) this.#options.counters.latency.observe(Math.max(0, Date.now() - queued.time) / 1000);
    // A reader falling behind at this message has had everything up to the previous one.
    const previous = this.#routedThrough;
    this.#routedThrough = Math.max(previous, offset);
    return { offset, frame, queued, behindAt: { offset: previous, epoch: this.#epoch } };
  }

  /**
   * Writes consecutive messages of one topic to its live readers, reader by reader: a reader's
   * and its socket's state are then read once per run of messages, not once per message across
   * every socket of the topic (docs/performance.md, "Fan-out reader by reader": 20–30 % less CPU
   * per delivery at 10,000 sockets). Each message is framed once per framing, and only if some
   * reader takes it. Returns how many writes were made.
   */
  #deliver(run: readonly Routed[]): number {
    const readers = this.#topics.subscribers((run[0] as Routed).queued.topic);
    if (readers === undefined) return 0;
    const { highWaterBytes } = this.#options;
    const framedBy: { framing: Framing; frames: (Buffer | undefined)[] }[] = [];
    let sent = 0;
    for (const reader of readers) {
      const { sink } = reader;
      let framed = framedBy.find((entry) => entry.framing === sink.framing)?.frames;
      for (let i = 0; i < run.length; i++) {
        const message = run[i] as Routed;
        if (!reader.live) continue;
        if (reader.floor !== 0 && message.offset <= reader.floor && reader.floorEpoch === message.queued.epoch)
          continue;
        if (!sink.open) continue;
        if (sink.bufferedBytes > highWaterBytes) {
          this.#options.onBehind(reader, message.behindAt);
          continue;
        }
        if (framed === undefined) {
          framed = [];
          framedBy.push({ framing: sink.framing, frames: framed });
        }
        let bytes = framed[i];
        if (bytes === undefined) {
          const { offset, frame, queued } = message;
          bytes = sink.framing.frame({ offset, topic: queued.topic, seq: queued.seq, epoch: queued.epoch, frame });
          framed[i] = bytes;
        }
        sink.write(bytes);
        sent++;
      }
    }
    return sent;
  }

  /**
   * The msgqueue delivers again what it cannot prove was acknowledged (after a crash, a lost
   * connection or a lease expiry). Seqs only grow within a topic and epoch, so a seq at or below
   * the last one routed was routed already: readers get each message once.
   */
  #isRedelivery({ topic, seq, epoch }: QueuedMessage): boolean {
    if (epoch !== undefined && epoch !== this.#epoch) {
      if (this.#epoch !== undefined)
        this.#options.logger.warn({ epoch, previous: this.#epoch }, 'msgqueue history was reset');
      this.#epoch = epoch;
      this.#lastSeq.clear();
      // Offsets start over in a new history.
      this.#routedThrough = 0;
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
