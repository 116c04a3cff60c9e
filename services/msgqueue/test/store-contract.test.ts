import { silentLogger } from '@pubsub/log';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openFileLog } from '../src/store/file-log.js';
import { createMemoryLog } from '../src/store/memory-log.js';
import { describeMessageLog, type StoreOptions } from './store-contract.js';

const defaults = {
  dedupeWindowMs: 120_000,
  dedupeMaxIds: 1_000_000,
  retentionMs: 3_600_000,
  retentionBytes: 1024 * 1024 * 1024,
};

describeMessageLog('memory', () =>
  Promise.resolve({
    durable: false,
    open: (options: StoreOptions = {}) => Promise.resolve(createMemoryLog({ ...defaults, ...options })),
    cleanup: () => Promise.resolve(),
  }),
);

describeMessageLog('file', () => {
  const dir = mkdtempSync(join(tmpdir(), 'pubsub-contract-'));
  return Promise.resolve({
    durable: true,
    // One segment per commit, so retention can remove every message it may.
    open: (options: StoreOptions = {}) =>
      openFileLog({ ...defaults, ...options, dir, segmentBytes: 1, logger: silentLogger() }),
    cleanup: () => Promise.resolve(rmSync(dir, { recursive: true, force: true })),
  });
});
