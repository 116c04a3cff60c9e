import type { Logger } from '@pubsub/log';
import type { AppendInput, AppendResult, MessageLog } from './log.js';
import { stateReads, type LogState } from './log-state.js';

/**
 * Where a log's messages are made durable: the one part each store writes. Everything else —
 * the retained messages in memory, group commit, the rule that nothing leaves before it is
 * durable, retention and group positions — is the log core's (`createLog`), the same for every
 * store.
 */
export interface LogBackend {
  /**
   * Makes one group commit durable and resolves once it is, with each input's outcome. A store
   * that is the only writer numbers the inputs with `state.assign`; a shared one numbers them
   * where they are kept and adds them to the state itself. The core calls it again only after it
   * has settled. Rejecting with `StoreUnavailableError` fails these appends only; any other error
   * fails the log (a write that may be half done cannot be followed by more).
   */
  commit(inputs: readonly AppendInput[]): Promise<AppendResult[]>;
  /**
   * For a store other processes append to as well: adds their messages to the state as they
   * arrive and calls `advanced` after each addition (everything in the state is then durable).
   */
  follow?(advanced: () => void): void;
  /** Persists the group positions; absent for a store that keeps none. */
  saveGroups?(save: GroupsSave): Promise<void>;
  /**
   * Set by a store several nodes share: the core then calls saveGroups every second, changed or
   * not, so the groups held here stay marked in use for the other nodes.
   */
  readonly sharesGroups?: boolean;
  /** Retention dropped everything below `firstKept` from the state: remove it from the store too. */
  trim?(firstKept: number): Promise<void>;
  /** Set while the store cannot take appends for now (a lost connection): readiness reports it. */
  readonly unavailable?: Error | undefined;
  close(): Promise<void>;
}

export interface GroupsSave {
  readonly floors: ReadonlyMap<string, number>;
  /** Groups deleted everywhere since the last save. */
  readonly removed: ReadonlySet<string>;
  /** Groups that hold retention back on this node (not released). */
  readonly held: readonly string[];
}

/** A commit refused for now (the store is unreachable): only its appends fail; the pusher resends them. */
export class StoreUnavailableError extends Error {
  override name = 'StoreUnavailableError';
}

export interface LogCoreOptions {
  retentionMs: number;
  retentionBytes: number;
  logger: Logger;
}

const GROUPS_FLUSH_MS = 1_000;
const RETENTION_CHECK_MS = 10_000;

interface Pending {
  readonly inputs: readonly AppendInput[];
  readonly done: (results: AppendResult[]) => void;
  readonly fail: (err: Error) => void;
}

/**
 * A MessageLog over `state` and a backend. Appends are committed in groups: all that arrive while
 * one commit is on its way share the next, so durability costs one write (or one round trip) per
 * batch, not per message. An append resolves only after its commit, and no reader sees its
 * messages before: one delivered ahead of its commit could be lost in a crash after a consumer
 * saw it, and its seq given to another message. A resend is numbered in the commit after the one
 * carrying what it duplicates, so its answer too waits for that to be durable.
 */
export function createLog(state: LogState, backend: LogBackend, options: LogCoreOptions): MessageLog {
  const { logger: log } = options;
  let pending: Pending[] = [];
  let flushing = false;
  let closed = false;
  let failure: Error | undefined;
  // Entries of the state at or above this offset are not durable yet.
  let committed = state.nextOffset;
  const listeners: (() => void)[] = [];
  const removedGroups = new Set<string>();
  let groupsDirty = false;
  let trimming = Promise.resolve();
  let trimmedBelow = state.firstOffset;

  const advanced = () => {
    if (state.nextOffset <= committed) return;
    committed = state.nextOffset;
    for (const listener of listeners) listener();
  };

  const retain = () => {
    const firstKept = state.retain(options);
    if (backend.trim === undefined || firstKept <= trimmedBelow) return;
    trimmedBelow = firstKept;
    const trim = backend.trim.bind(backend);
    trimming = trimming.then(() => trim(firstKept)).catch((err: unknown) => log.error({ err }, 'retention failed'));
  };

  const flush = async () => {
    flushing = true;
    while (pending.length > 0) {
      const batch = pending;
      pending = [];
      try {
        if (failure) throw failure;
        const inputs = batch.length === 1 ? (batch[0] as Pending).inputs : batch.flatMap((item) => item.inputs);
        const results = await backend.commit(inputs);
        advanced();
        if (batch.length === 1) (batch[0] as Pending).done(results);
        else {
          let next = 0;
          for (const item of batch) {
            item.done(results.slice(next, next + item.inputs.length));
            next += item.inputs.length;
          }
        }
        retain();
      } catch (err) {
        if (err instanceof StoreUnavailableError) {
          batch.forEach((item) => item.fail(err));
          continue;
        }
        // A failed write leaves the store in an unknown state: refuse every later append rather
        // than acknowledge anything that might not be kept.
        failure ??= err as Error;
        log.error({ err: failure }, 'log write failed; refusing appends');
        batch.forEach((item) => item.fail(failure as Error));
      }
    }
    flushing = false;
  };

  const saveGroups = async () => {
    if (backend.saveGroups === undefined || !(groupsDirty || backend.sharesGroups)) return;
    groupsDirty = false;
    const removed = new Set(removedGroups);
    removedGroups.clear();
    await backend.saveGroups({ floors: state.groups(), removed, held: state.heldGroups() });
  };

  const timers = [
    setInterval(
      () => void saveGroups().catch((err: unknown) => log.error({ err }, 'cannot save group positions')),
      GROUPS_FLUSH_MS,
    ),
    setInterval(retain, RETENTION_CHECK_MS),
  ];
  timers.forEach((timer) => timer.unref());
  backend.follow?.(advanced);

  const reads = stateReads(state);
  return {
    epoch: state.epoch,
    get firstOffset() {
      return state.firstOffset;
    },
    get nextOffset() {
      return state.nextOffset;
    },
    get committedOffset() {
      return committed;
    },
    get bytes() {
      return state.bytes;
    },
    get failure() {
      return failure ?? backend.unavailable;
    },
    append(inputs) {
      if (closed) return Promise.reject(new Error('log is closed'));
      if (failure) return Promise.reject(failure);
      return new Promise<AppendResult[]>((done, fail) => {
        pending.push({ inputs, done, fail });
        if (!flushing) void flush();
      });
    },
    onCommitted(listener) {
      listeners.push(listener);
    },
    ...reads,
    topicHistory: (topic, { afterSeq, limit }) =>
      state.topicHistory(topic, { afterSeq, limit, beforeOffset: committed }),
    scan: (query) => state.scan({ ...query, beforeOffset: Math.min(query.beforeOffset ?? Infinity, committed) }),
    topicPosition: (topic, afterSeq) => state.topicPosition(topic, afterSeq, committed),
    setGroupFloor(group, floor) {
      if (state.groups().get(group) !== floor) groupsDirty = true;
      removedGroups.delete(group);
      state.setGroupFloor(group, floor);
    },
    releaseGroup: (group) => state.releaseGroup(group),
    deleteGroup(group, scope = 'everywhere') {
      if ((scope === 'everywhere' || !backend.sharesGroups) && state.groups().has(group)) {
        groupsDirty = true;
        removedGroups.add(group);
      }
      state.deleteGroup(group);
    },
    async close() {
      if (closed) return;
      closed = true;
      timers.forEach((timer) => clearInterval(timer));
      while (flushing || pending.length > 0) await new Promise((resolveTick) => setImmediate(resolveTick));
      await trimming;
      await saveGroups();
      await backend.close();
    },
  };
}
