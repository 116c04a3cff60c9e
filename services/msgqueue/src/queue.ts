import type { Logger } from '@pubsub/log';
import { CloseCode, encodeBatch, isNodeGroup, planBatches, type BatchLimits } from '@pubsub/protocol';
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
  /** A group without a consumer for this long stops holding the backlog and retention back. */
  groupIdleMs: number;
  /** Most groups at once, node groups included. */
  maxGroups: number;
}

/** Groups of subscriber nodes (`node.<id>`), made by their first consumer and removed when idle. */
export interface NodeGroups {
  /** A node group without a consumer on this msgqueue for this long is removed. */
  readonly expireMs: number;
}

/** Whether a consumer may use a group: it exists (or may be made), or why not. */
export type GroupAdmission = 'open' | 'unknown' | 'full';

/** Where a consumer of a node group has had the log up to, so a group made for it starts there. */
export interface ConsumerStart {
  /** The first offset it has not had. */
  readonly offset: number;
  /** The log's epoch it was counting in: an offset of another history means nothing here. */
  readonly epoch: string;
}

/** What `GET /groups` shows of one group. */
export interface GroupInfo {
  readonly name: string;
  /** Every offset below this is acknowledged. */
  readonly floor: number;
  /** Messages appended that the group has not acknowledged. */
  readonly backlog: number;
  readonly consumers: number;
  /** False once idle for `groupIdleMs`: its backlog no longer pauses pushers. */
  readonly holding: boolean;
  /** Milliseconds without a consumer, 0 while one is connected. */
  readonly idleMs: number;
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
  /** When its last consumer left (or the queue started), while it has none. */
  idleSince: number | undefined;
  /** Whether its backlog counts toward the limits and holds retention back (false once idle). */
  holding: boolean;
  /** A node group: made by its first consumer, and removed once idle for `NodeGroups.expireMs`. */
  readonly node: boolean;
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
  readonly #timers: NodeJS.Timeout[];
  readonly #nodeGroups: NodeGroups | undefined;
  #full = false;

  /**
   * Only `declaredGroups` exist, and with `nodeGroups` the node groups: a position saved for any
   * other group (declared once, or made up by a consumer before groups had to be declared) is
   * dropped, so it no longer holds anything.
   */
  constructor(
    log: MessageLog,
    options: { limits: QueueLimits; declaredGroups: readonly string[]; nodeGroups?: NodeGroups; logger: Logger },
  ) {
    super();
    this.#log = log;
    this.#limits = options.limits;
    this.#nodeGroups = options.nodeGroups;
    this.logger = options.logger;
    const saved = log.groups();
    const kept: string[] = [];
    for (const name of [...saved.keys()]) {
      if (options.declaredGroups.includes(name)) continue;
      if (this.#nodeGroups !== undefined && isNodeGroup(name)) {
        kept.push(name);
        continue;
      }
      log.deleteGroup(name);
      this.logger.warn({ group: name }, 'dropped the saved position of a group not in MSGQUEUE_GROUPS');
    }
    // A group declared for the first time starts at the end of the log, not at its retained
    // history: in a new data directory that is the very first message.
    for (const name of options.declaredGroups) this.#group(name, saved.get(name) ?? log.nextOffset);
    // A node group's position outlives a restart, like its subscriber node; its clock starts now.
    for (const name of kept) this.#group(name, saved.get(name) as number, { node: true });
    const idleCheckMs = Math.min(options.limits.groupIdleMs, this.#nodeGroups?.expireMs ?? Infinity);
    // Whatever becomes committed goes out: this node's appends, and another's on a shared store.
    log.onCommitted(() => {
      for (const group of this.#groups.values()) this.#dispatch(group);
    });
    this.#timers = [
      setInterval(() => this.#expireLeases(), Math.max(10, options.limits.leaseMs / 4)),
      setInterval(() => this.#releaseIdleGroups(), Math.max(10, Math.min(10_000, idleCheckMs / 4))),
    ];
    this.#timers.forEach((timer) => timer.unref());
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
    for (const group of this.#groups.values()) if (group.holding) needed = Math.min(needed, group.floor);
    return needed;
  }

  hasGroup(name: string): boolean {
    return this.#groups.has(name);
  }

  /** Whether a consumer may use the group: declared or existing, a node group that may be made, or neither. */
  admission(name: string): GroupAdmission {
    if (this.#groups.has(name)) return 'open';
    if (this.#nodeGroups === undefined || !isNodeGroup(name)) return 'unknown';
    return this.#groups.size < this.#limits.maxGroups ? 'open' : 'full';
  }

  groupInfo(): GroupInfo[] {
    const now = Date.now();
    return [...this.#groups.values()].map((group) => ({
      name: group.name,
      floor: group.floor,
      backlog: this.#log.nextOffset - group.floor,
      consumers: group.consumers.size,
      holding: group.holding,
      idleMs: group.idleSince === undefined ? 0 : now - group.idleSince,
    }));
  }

  /**
   * Removes a group until the next start: its consumers are closed (4410), its position is
   * forgotten and it holds nothing back any more. False when there is no such group.
   */
  removeGroup(name: string, by: string): boolean {
    const group = this.#groups.get(name);
    if (group === undefined) return false;
    this.#groups.delete(name);
    this.#log.deleteGroup(name);
    for (const consumer of group.consumers) consumer.ws.close(CloseCode.GROUP_REMOVED, `group "${name}" was removed`);
    group.consumers.clear();
    this.logger.warn(
      { group: name, user: by, backlog: this.#log.nextOffset - group.floor },
      'removed a consumer group',
    );
    this.#settled();
    return true;
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
      // Name who holds the backlog: a pause nobody can trace to its group is a silent stop.
      const holding = this.groupInfo().filter((group) => group.holding && group.backlog > 0);
      this.logger.warn(
        {
          backlog: this.backlog,
          backlogBytes: this.#log.bytesFrom(this.#neededFrom()),
          groups: holding.map(({ name, backlog, consumers }) => ({ name, backlog, consumers })),
        },
        'queue full, pausing pushers',
      );
      this.emit('full');
    }
    return results;
  }

  /**
   * Adds a consumer to a group, or returns undefined when the group does not exist and may not be
   * made. A node group that does not exist is made, starting where the consumer says it has had
   * the log up to (`start`, in this epoch), or at the end of the log: on a cluster's shared
   * store a subscriber node that fails over to a msgqueue node that never saw its group goes on
   * where it was, with no gap.
   */
  addConsumer(
    ws: WebSocket,
    { group: groupName, batch, start }: { group: string; batch: BatchLimits; start?: ConsumerStart | undefined },
  ): Consumer | undefined {
    let group = this.#groups.get(groupName);
    if (group === undefined) {
      if (this.admission(groupName) !== 'open') return undefined;
      const log = this.#log;
      const from =
        start?.epoch === log.epoch ? Math.min(Math.max(start.offset, log.firstOffset), log.nextOffset) : undefined;
      group = this.#group(groupName, from ?? log.nextOffset, { node: true });
      this.logger.info({ group: groupName, floor: group.floor }, 'made a node group for its first consumer');
    }
    if (!group.holding) this.#hold(group);
    group.idleSince = undefined;
    const consumer: Consumer = { ws, group, sent: new Denque(), acked: 0, batch };
    group.consumers.add(consumer);
    this.#dispatch(group);
    return consumer;
  }

  /** Puts the consumer's unacknowledged messages back for the rest of its group. */
  removeConsumer(consumer: Consumer): void {
    const { group } = consumer;
    if (!group.consumers.delete(consumer)) return;
    if (group.consumers.size === 0) group.idleSince = Date.now();
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
    const { group } = consumer;
    // An ack on its way while the group was removed: nothing to record it in.
    if (newly === 0 || this.#groups.get(group.name) !== group) return true;
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
    this.#timers.forEach((timer) => clearInterval(timer));
  }

  #group(name: string, floor: number, { node = false } = {}): Group {
    const group: Group = {
      name,
      cursor: floor,
      floor,
      acked: new Set(),
      redeliver: [],
      inFlight: new Map(),
      consumers: new Set(),
      idleSince: Date.now(),
      holding: true,
      node,
    };
    this.#groups.set(name, group);
    this.#log.setGroupFloor(name, floor);
    return group;
  }

  /**
   * A group idle for `groupIdleMs` stops holding the backlog and retention back, so one absent
   * consumer cannot stop every producer; its position is kept for its next consumer.
   */
  #releaseIdleGroups(): void {
    const now = Date.now();
    let released = false;
    this.#expireNodeGroups(now);
    for (const group of this.#groups.values()) {
      if (!group.holding || group.idleSince === undefined || now - group.idleSince < this.#limits.groupIdleMs) continue;
      group.holding = false;
      this.#log.releaseGroup(group.name);
      released = true;
      this.logger.warn(
        { group: group.name, idleMs: now - group.idleSince, backlog: this.#log.nextOffset - group.floor },
        'consumer group idle; it no longer holds messages back (retention may remove what it has not taken)',
      );
    }
    if (released) this.#settled();
  }

  /**
   * A node group without a consumer here for `expireMs` is removed, as `DELETE /groups` would:
   * a subscriber node gone for good leaves nothing behind. On a cluster's shared store this node
   * only forgets it: its position stays for a msgqueue node that still serves it, and the store
   * forgets it once no node has held it for as long; a consumer's start puts it back where it was
   * if it comes here again.
   */
  #expireNodeGroups(now: number): void {
    const expireMs = this.#nodeGroups?.expireMs;
    if (expireMs === undefined) return;
    for (const group of [...this.#groups.values()]) {
      if (!group.node || group.idleSince === undefined || now - group.idleSince < expireMs) continue;
      this.#groups.delete(group.name);
      this.#log.deleteGroup(group.name, 'here');
      this.logger.warn(
        { group: group.name, idleMs: now - group.idleSince, backlog: this.#log.nextOffset - group.floor },
        'removed a node group without consumers for MSGQUEUE_GROUP_EXPIRE_MS',
      );
      this.#settled();
    }
  }

  /** A released group's consumer is back: it resumes where retention left it and holds again. */
  #hold(group: Group): void {
    const floor = Math.max(group.floor, this.#log.firstOffset);
    group.floor = floor;
    group.cursor = Math.max(group.cursor, floor);
    for (const offset of group.acked) if (offset < floor) group.acked.delete(offset);
    group.holding = true;
    this.#log.setGroupFloor(group.name, floor);
    this.logger.info({ group: group.name, floor }, 'consumer group back; it holds messages again');
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
