import Denque from 'denque';
import type { MessageLog } from './store/log.js';

/** Where a sink reads the frames of the messages it is handed. */
export type FrameSource = Pick<MessageLog, 'frameBytes' | 'copyFrame'>;

/**
 * The far end of one consumer, whatever carries it (a `/popmsg` WebSocket today): the group
 * decides what it gets, the sink only writes it out.
 */
export interface ConsumerSink {
  /** False once it can take nothing more (its connection is closing). */
  readonly open: boolean;
  /** Writes out the messages at `offsets`, in order, now leased to it; their frames are in `frames`. */
  deliver(offsets: readonly number[], frames: FrameSource): void;
  /** Its group was removed: it will get nothing more and should end. */
  groupRemoved(group: string): void;
}

/** One consumer of a group: what was sent to it and not yet acknowledged. */
export interface Consumer {
  readonly sink: ConsumerSink;
  readonly group: ConsumerGroup;
  /** Offsets sent to it and not yet acknowledged, in order (acks count messages). */
  readonly sent: Denque<number>;
  acked: number;
}

/** What dispatch reads of the log. */
type DispatchLog = Pick<MessageLog, 'committedOffset' | 'frameBytes'>;

/**
 * Consumers that share the work: each message goes to one of them, each group gets every
 * message. The state machine of one group (cursor, floor, leases, redelivery); it does no I/O
 * and knows nothing of the log's other groups.
 */
export class ConsumerGroup {
  /** Next offset never dispatched to this group. */
  cursor: number;
  /** Every offset below this is acknowledged. */
  floor: number;
  /** Acknowledged offsets above the floor (acks out of order, across consumers). */
  readonly #acked = new Set<number>();
  /** Offsets to send again (released or lease expired), oldest first. */
  readonly #redeliver: number[] = [];
  readonly #inFlight = new Map<number, { consumer: Consumer; deadline: number }>();
  readonly consumers = new Set<Consumer>();
  /** When its last consumer left (or the queue started), while it has none. */
  idleSince: number | undefined = Date.now();
  /** Whether its backlog counts toward the limits and holds retention back (false once idle). */
  holding = true;

  constructor(
    readonly name: string,
    floor: number,
    /** A node group: made by its first consumer, and removed once idle for a while. */
    readonly node: boolean,
  ) {
    this.cursor = floor;
    this.floor = floor;
  }

  join(sink: ConsumerSink): Consumer {
    const consumer: Consumer = { sink, group: this, sent: new Denque(), acked: 0 };
    this.consumers.add(consumer);
    this.idleSince = undefined;
    return consumer;
  }

  /** Takes the consumer out; returns how many of its messages go back for the others. */
  leave(consumer: Consumer): number {
    if (!this.consumers.delete(consumer)) return 0;
    if (this.consumers.size === 0) this.idleSince = Date.now();
    let released = 0;
    for (const offset of consumer.sent.toArray()) {
      if (this.#inFlight.get(offset)?.consumer !== consumer) continue;
      this.#inFlight.delete(offset);
      this.#redeliver.push(offset);
      released++;
    }
    if (released > 0) this.#redeliver.sort((a, b) => a - b);
    return released;
  }

  /**
   * Applies a consumer's cumulative ack of `count` messages; false when it acknowledges more than
   * was sent to it or goes backwards.
   */
  ack(consumer: Consumer, count: number): boolean {
    const newly = count - consumer.acked;
    if (newly < 0 || newly > consumer.sent.length) return false;
    for (let i = 0; i < newly; i++) {
      const offset = consumer.sent.shift() as number;
      this.#inFlight.delete(offset);
      // In order with nothing acknowledged ahead (the usual case): the floor just moves.
      if (offset === this.floor && this.#acked.size === 0) this.floor++;
      else if (offset >= this.floor) this.#acked.add(offset);
    }
    consumer.acked = count;
    while (this.#acked.delete(this.floor)) this.floor++;
    return true;
  }

  /** A released group's consumer is back: it resumes at `firstOffset` if retention took what it had not. */
  resume(firstOffset: number): void {
    this.floor = Math.max(this.floor, firstOffset);
    this.cursor = Math.max(this.cursor, this.floor);
    for (const offset of this.#acked) if (offset < this.floor) this.#acked.delete(offset);
    this.holding = true;
  }

  /** Puts every message whose lease ended by `now` back for delivery; returns how many. */
  expireLeases(now: number): number {
    let expired = 0;
    for (const [offset, lease] of this.#inFlight) {
      if (lease.deadline > now) continue;
      this.#inFlight.delete(offset);
      this.#redeliver.push(offset);
      expired++;
    }
    if (expired > 0) this.#redeliver.sort((a, b) => a - b);
    return expired;
  }

  /**
   * Leases to each open consumer, round the group, what its credit (`prefetch`) allows: first
   * redeliveries, then committed messages never dispatched. Returns the offsets per consumer.
   */
  assign(log: DispatchLog, { prefetch, leaseMs }: { prefetch: number; leaseMs: number }): Map<Consumer, number[]> {
    const outgoing = new Map<Consumer, number[]>();
    const deadline = Date.now() + leaseMs;
    let progressed = true;
    while (progressed) {
      progressed = false;
      for (const consumer of this.consumers) {
        if (consumer.sent.length >= prefetch || !consumer.sink.open) continue;
        const offset = this.#next(log);
        if (offset === undefined) return outgoing;
        if (log.frameBytes(offset) === undefined) {
          // Removed by retention before this group took it: nothing to deliver, count it done.
          this.#acked.add(offset);
          progressed = true;
          continue;
        }
        consumer.sent.push(offset);
        this.#inFlight.set(offset, { consumer, deadline });
        const offsets = outgoing.get(consumer);
        if (offsets === undefined) outgoing.set(consumer, [offset]);
        else offsets.push(offset);
        progressed = true;
      }
    }
    return outgoing;
  }

  #next(log: DispatchLog): number | undefined {
    while (this.#redeliver.length > 0) {
      const offset = this.#redeliver.shift() as number;
      if (offset >= this.floor && !this.#acked.has(offset) && !this.#inFlight.has(offset)) return offset;
    }
    if (this.cursor < log.committedOffset) return this.cursor++;
    return undefined;
  }
}
