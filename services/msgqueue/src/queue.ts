import type { Logger } from '@pubsub/log';
import { encodeBatch, planBatches, type BatchLimits } from '@pubsub/protocol';
import { eventWithin } from '@pubsub/service';
import Denque from 'denque';
import { EventEmitter } from 'node:events';
import { WebSocket } from 'ws';
import type { AppendInput, AppendResult, MessageLog } from './store/log.js';

export interface QueueLimits {
  /** Above this many messages not yet acknowledged by every group, pushers are paused until 90 %. */
  maxMessages: number;
  /** The same bound in bytes of those messages. */
  maxBytes: number;
  /** Most messages one consumer may hold unacknowledged. */
  prefetch: number;
  /** A delivered message not acknowledged within this is delivered again. */
  leaseMs: number;
}

/** A `/popmsg` connection in a consumer group. */
export interface Consumer {
  readonly ws: WebSocket;
  readonly group: Group;
  /** Offsets sent on this connection and not yet acknowledged, in order (acks count frames). */
  readonly sent: Denque<number>;
  acked: number;
  /** How many messages, in how many bytes, one frame to this consumer may carry. */
  readonly batch: BatchLimits;
}

/** Consumers that share the work: each message goes to one of them; each group gets every message. */
export interface Group {
  readonly name: string;
  /** Next offset never dispatched to this group. */
  cursor: number;
  /** Every offset below this is acknowledged. */
  floor: number;
  readonly acked: Set<number>;
  /** Offsets to send again (released or lease expired), oldest first. */
  readonly redeliver: number[];
  readonly inFlight: Map<number, { consumer: Consumer; deadline: number }>;
  readonly consumers: Set<Consumer>;
}

interface QueueEvents {
  full: [];
  drain: [];
  /** Messages were acknowledged or a consumer left. */
  settled: [];
  /** A push was appended: new messages and deduplicated resends. */
  stored: [added: number, duplicates: number];
  /** Messages handed back for delivery again (consumer gone, lease expired). */
  requeued: [count: number];
}

const RESUME_RATIO = 0.9;

/**
 * The msgqueue's logic over its log: appends, consumer groups with competing consumers,
 * credit-based dispatch, cumulative acks, leases and redelivery, and backpressure on pushers.
 */
export class MessageQueue extends EventEmitter<QueueEvents> {
  readonly #log: MessageLog;
  readonly #limits: QueueLimits;
  readonly #groups = new Map<string, Group>();
  readonly #leaseTimer: NodeJS.Timeout;
  #full = false;

  constructor(log: MessageLog, options: { limits: QueueLimits; declaredGroups: readonly string[]; logger: Logger }) {
    super();
    this.#log = log;
    this.#limits = options.limits;
    this.logger = options.logger;
    for (const [name, floor] of log.groups()) this.#group(name, floor);
    // A group declared for the first time starts at the end of the log, not at its retained
    // history: in a new data directory that is the very first message.
    for (const name of options.declaredGroups) {
      if (!this.#groups.has(name)) this.#group(name, log.nextOffset);
    }
    this.#leaseTimer = setInterval(() => this.#expireLeases(), Math.max(10, options.limits.leaseMs / 4));
    this.#leaseTimer.unref();
  }

  readonly logger: Logger;

  get full(): boolean {
    return this.#full;
  }

  /** Messages some group has not acknowledged yet. */
  get backlog(): number {
    return this.#log.nextOffset - this.#neededFrom();
  }

  #neededFrom(): number {
    let needed = this.#log.nextOffset;
    for (const group of this.#groups.values()) needed = Math.min(needed, group.floor);
    return needed;
  }

  get consumerCount(): number {
    let count = 0;
    for (const group of this.#groups.values()) count += group.consumers.size;
    return count;
  }

  async push(inputs: readonly AppendInput[]): Promise<AppendResult[]> {
    const results = await this.#log.append(inputs);
    const duplicates = results.filter((result) => result.duplicate).length;
    this.emit('stored', results.length - duplicates, duplicates);
    if (!this.#full && this.#overLimit(1)) {
      this.#full = true;
      this.logger.warn(
        { backlog: this.backlog, backlogBytes: this.#log.bytesFrom(this.#neededFrom()) },
        'queue full, pausing pushers',
      );
      this.emit('full');
    }
    for (const group of this.#groups.values()) this.#dispatch(group);
    return results;
  }

  addConsumer(ws: WebSocket, groupName: string, batch: BatchLimits): Consumer {
    const group = this.#groups.get(groupName) ?? this.#group(groupName, this.#log.nextOffset);
    const consumer: Consumer = { ws, group, sent: new Denque(), acked: 0, batch };
    group.consumers.add(consumer);
    this.#dispatch(group);
    return consumer;
  }

  /** Puts the consumer's unacknowledged messages back for the rest of its group. */
  removeConsumer(consumer: Consumer): void {
    const { group } = consumer;
    if (!group.consumers.delete(consumer)) return;
    let released = 0;
    for (const offset of consumer.sent.toArray()) {
      if (group.inFlight.get(offset)?.consumer !== consumer) continue;
      group.inFlight.delete(offset);
      group.redeliver.push(offset);
      released++;
    }
    if (released > 0) {
      this.emit('requeued', released);
      group.redeliver.sort((a, b) => a - b);
      this.logger.info({ group: group.name, count: released }, 'requeued unacknowledged messages');
    }
    this.#settled();
    this.#dispatch(group);
  }

  /** Applies a cumulative ack; false when it acknowledges more than was sent or goes backwards. */
  ack(consumer: Consumer, count: number): boolean {
    const newly = count - consumer.acked;
    if (newly < 0 || newly > consumer.sent.length) return false;
    if (newly === 0) return true;
    const { group } = consumer;
    for (let i = 0; i < newly; i++) {
      const offset = consumer.sent.shift() as number;
      group.inFlight.delete(offset);
      // In order with nothing acknowledged ahead (the usual case): the floor just moves.
      if (offset === group.floor && group.acked.size === 0) group.floor++;
      else if (offset >= group.floor) group.acked.add(offset);
    }
    consumer.acked = count;
    while (group.acked.delete(group.floor)) group.floor++;
    this.#log.setGroupFloor(group.name, group.floor);
    this.#settled();
    this.#dispatch(group);
    return true;
  }

  /**
   * Resolves once consumers hold nothing back: every group with consumers has acknowledged
   * everything, or no consumer is left. Gives up after `deadlineMs`.
   */
  async handedOver(deadlineMs: number): Promise<void> {
    const done = () =>
      [...this.#groups.values()].every((group) => group.consumers.size === 0 || group.floor >= this.#log.nextOffset);
    const deadline = Date.now() + deadlineMs;
    while (!done() && Date.now() < deadline) {
      await eventWithin(this, 'settled', deadline - Date.now());
    }
  }

  close(): void {
    clearInterval(this.#leaseTimer);
  }

  #group(name: string, floor: number): Group {
    const group: Group = {
      name,
      cursor: floor,
      floor,
      acked: new Set(),
      redeliver: [],
      inFlight: new Map(),
      consumers: new Set(),
    };
    this.#groups.set(name, group);
    this.#log.setGroupFloor(name, floor);
    return group;
  }

  #overLimit(ratio: number): boolean {
    // Only what some group still needs counts: acknowledged messages kept for history are
    // bounded by retention, not by these limits.
    const needed = this.#neededFrom();
    return (
      this.#log.nextOffset - needed >= this.#limits.maxMessages * ratio ||
      this.#log.bytesFrom(needed) >= this.#limits.maxBytes * ratio
    );
  }

  #settled(): void {
    if (this.#full && !this.#overLimit(RESUME_RATIO)) {
      this.#full = false;
      this.logger.info({ backlog: this.backlog }, 'queue below limits, resuming pushers');
      this.emit('drain');
    }
    this.emit('settled');
  }

  /** The next offset the group should send: redeliveries first, then new committed messages. */
  #nextFor(group: Group): number | undefined {
    while (group.redeliver.length > 0) {
      const offset = group.redeliver.shift() as number;
      if (offset >= group.floor && !group.acked.has(offset) && !group.inFlight.has(offset)) return offset;
    }
    if (group.cursor < this.#log.committedOffset) return group.cursor++;
    return undefined;
  }

  /** Sends each consumer of the group what its credit allows, batched per consumer. */
  #dispatch(group: Group): void {
    const outgoing = new Map<Consumer, number[]>();
    this.#assign(group, outgoing);
    for (const [consumer, offsets] of outgoing) this.#send(consumer, offsets);
  }

  /** Writes the frames at `offsets` straight from the log into the consumer's hop frames. */
  #send(consumer: Consumer, offsets: readonly number[]): void {
    const log = this.#log;
    const sizes = offsets.map((offset) => log.frameBytes(offset) as number);
    const bytesOf = (index: number) => sizes[index] as number;
    const write = (index: number, target: Buffer, at: number) => log.copyFrame(offsets[index] as number, target, at);
    const positioned = consumer.batch.positioned === true;
    const entries = { bytesOf, write, ...(positioned && { offsetOf: (index: number) => offsets[index] as number }) };
    for (const plan of planBatches(offsets.length, bytesOf, consumer.batch)) {
      if (plan.count > 1 || positioned) {
        consumer.ws.send(encodeBatch(plan, entries), { binary: true });
        continue;
      }
      const frame = Buffer.allocUnsafe(bytesOf(plan.first));
      write(plan.first, frame, 0);
      consumer.ws.send(frame, { binary: false });
    }
  }

  #assign(group: Group, outgoing: Map<Consumer, number[]>): void {
    const deadline = Date.now() + this.#limits.leaseMs;
    let progressed = true;
    while (progressed) {
      progressed = false;
      for (const consumer of group.consumers) {
        if (consumer.sent.length >= this.#limits.prefetch || consumer.ws.readyState !== WebSocket.OPEN) continue;
        const offset = this.#nextFor(group);
        if (offset === undefined) return;
        if (this.#log.frameBytes(offset) === undefined) {
          // Removed by retention before this group took it: nothing to deliver, count it done.
          group.acked.add(offset);
          progressed = true;
          continue;
        }
        consumer.sent.push(offset);
        group.inFlight.set(offset, { consumer, deadline });
        const offsets = outgoing.get(consumer);
        if (offsets === undefined) outgoing.set(consumer, [offset]);
        else offsets.push(offset);
        progressed = true;
      }
    }
  }

  #expireLeases(): void {
    const now = Date.now();
    for (const group of this.#groups.values()) {
      let expired = 0;
      for (const [offset, lease] of group.inFlight) {
        if (lease.deadline > now) continue;
        group.inFlight.delete(offset);
        group.redeliver.push(offset);
        expired++;
      }
      if (expired > 0) {
        this.emit('requeued', expired);
        group.redeliver.sort((a, b) => a - b);
        this.logger.warn({ group: group.name, count: expired }, 'leases expired; delivering again');
        this.#dispatch(group);
      }
    }
  }
}
