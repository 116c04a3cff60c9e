import { silentLogger, type Logger } from '@pubsub/log';
import { randomBytes } from 'node:crypto';
import type { MessageLog } from './log.js';
import { createLog, type LogBackend } from './log-core.js';
import { LogState } from './log-state.js';

export interface MemoryLogOptions {
  dedupeWindowMs: number;
  dedupeMaxIds: number;
  /** Entries are dropped once they are older than this and no consumer group needs them. */
  retentionMs: number;
  retentionBytes: number;
  /** Where retention's problems go; a memory log has no writes to fail. */
  logger?: Logger;
  /** The clock for message times (retention by age). */
  now?: () => number;
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
    ...(options.now ? { now: options.now } : {}),
  });
  // Kept as soon as numbered.
  const backend: LogBackend = {
    commit: (inputs) => Promise.resolve(state.assign(inputs).results),
    close: () => Promise.resolve(),
  };
  return createLog(state, backend, { ...options, logger: options.logger ?? silentLogger() });
}
