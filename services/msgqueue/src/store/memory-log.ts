import { randomBytes } from 'node:crypto';
import type { MessageLog } from './log.js';
import { LogState, stateReads } from './log-state.js';

export interface MemoryLogOptions {
  dedupeWindowMs: number;
  dedupeMaxIds: number;
  /** Entries are dropped once they are older than this and no consumer group needs them. */
  retentionMs: number;
  retentionBytes: number;
}

/**
 * A log in process memory: for tests and throwaway use. Everything is gone when the process
 * stops, so every start is a new epoch.
 */
export function createMemoryLog(options: MemoryLogOptions): MessageLog {
  const state = new LogState({
    epoch: randomBytes(6).toString('hex'),
    dedupeWindowMs: options.dedupeWindowMs,
    dedupeMaxIds: options.dedupeMaxIds,
  });
  return {
    get epoch() {
      return state.epoch;
    },
    get firstOffset() {
      return state.firstOffset;
    },
    get nextOffset() {
      return state.nextOffset;
    },
    // Kept as soon as appended.
    get committedOffset() {
      return state.nextOffset;
    },
    get bytes() {
      return state.bytes;
    },
    failure: undefined,
    append(inputs) {
      const { results } = state.assign(inputs);
      state.retain(options);
      return Promise.resolve(results);
    },
    ...stateReads(state),
    setGroupFloor: (group, floor) => state.setGroupFloor(group, floor),
    releaseGroup: (group) => state.releaseGroup(group),
    deleteGroup: (group) => state.deleteGroup(group),
    close: () => Promise.resolve(),
  };
}
