import type { Logger } from '@pubsub/log';
import { isNodeGroup } from '@pubsub/protocol';
import { eventWithin } from '@pubsub/service';
import { EventEmitter } from 'node:events';
import { ConsumerGroup, type Consumer, type ConsumerSink } from './consumer-group.js';
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
 * The msgqueue's logic over its log: appends and backpressure on pushers, which groups exist
 * (declared, node groups made and expired, idle ones released), and dispatch of each group's
 * messages to its consumers' sinks whenever something moves (a commit, an ack, a consumer
 * joining or leaving, a lease running out). What one group owes whom is ConsumerGroup's.
 */
export class MessageQueue extends EventEmitter<QueueEvents> {
  readonly #log: MessageLog;
  readonly #limits: QueueLimits;
  readonly #groups = new Map<string, ConsumerGroup>();
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
    for (const consumer of group.consumers) consumer.sink.groupRemoved(name);
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
    sink: ConsumerSink,
    { group: groupName, start }: { group: string; start?: ConsumerStart | undefined },
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
    const consumer = group.join(sink);
    this.#dispatch(group);
    return consumer;
  }

  /** Puts the consumer's unacknowledged messages back for the rest of its group. */
  removeConsumer(consumer: Consumer): void {
    const { group } = consumer;
    if (!group.consumers.has(consumer)) return;
    const released = group.leave(consumer);
    if (released > 0) {
      this.emit('requeued', released);
      this.logger.info({ group: group.name, count: released }, 'requeued unacknowledged messages');
    }
    this.#settled();
    this.#dispatch(group);
  }

  /** Applies a cumulative ack; false when it acknowledges more than was sent or goes backwards. */
  ack(consumer: Consumer, count: number): boolean {
    const { group } = consumer;
    const before = consumer.acked;
    if (!group.ack(consumer, count)) return false;
    // An ack on its way while the group was removed: nothing to record it in.
    if (count === before || this.#groups.get(group.name) !== group) return true;
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

  #group(name: string, floor: number, { node = false } = {}): ConsumerGroup {
    const group = new ConsumerGroup(name, floor, node);
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
  #hold(group: ConsumerGroup): void {
    group.resume(this.#log.firstOffset);
    this.#log.setGroupFloor(group.name, group.floor);
    this.logger.info({ group: group.name, floor: group.floor }, 'consumer group back; it holds messages again');
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

  /** Hands each consumer of the group what its credit allows, in one call per consumer. */
  #dispatch(group: ConsumerGroup): void {
    const { prefetch, leaseMs } = this.#limits;
    for (const [consumer, offsets] of group.assign(this.#log, { prefetch, leaseMs })) {
      consumer.sink.deliver(offsets, this.#log);
    }
  }

  #expireLeases(): void {
    const now = Date.now();
    for (const group of this.#groups.values()) {
      const expired = group.expireLeases(now);
      if (expired === 0) continue;
      this.emit('requeued', expired);
      this.logger.warn({ group: group.name, count: expired }, 'leases expired; delivering again');
      this.#dispatch(group);
    }
  }
}
