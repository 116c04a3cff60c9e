/**
 * Preloaded into the msgqueue process by run.ts (`--import ./bench/fsync-counter.ts`), not part
 * of the service: wraps FileHandle.writev (the log's group commits: its segments are opened
 * O_DSYNC, so a writev returns once it is on disk) and FileHandle.sync (meta.json, groups.json,
 * directories) to count calls, bytes and time spent, and prints the counters as
 * `BENCH_FSYNC <json>` on stderr on SIGWINCH. The wrappers add one promise and two clock reads
 * per call — a few hundred calls per second.
 */
import { open, type FileHandle } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { performance } from 'node:perf_hooks';
import { FSYNC_PREFIX, type FsyncCounters } from './types.js';

const counters: FsyncCounters = { commits: 0, commitMs: 0, commitBytes: 0, sync: 0, syncMs: 0 };

const probe = await open(fileURLToPath(import.meta.url), 'r');
const proto = Object.getPrototypeOf(probe) as FileHandle;
await probe.close();

/** The unpatched method, to call with the handle as `this`. */
type Unbound<F> = F extends (...args: infer A) => infer R ? (this: FileHandle, ...args: A) => R : never;
const original = <K extends 'sync' | 'writev'>(name: K) =>
  Reflect.get(proto, name) as unknown as Unbound<FileHandle[K]>;
const originalSync = original('sync');
const originalWritev = original('writev');

proto.sync = async function sync(this: FileHandle): Promise<void> {
  const start = performance.now();
  try {
    await originalSync.call(this);
  } finally {
    counters.sync++;
    counters.syncMs += performance.now() - start;
  }
};

proto.writev = async function writev(this: FileHandle, buffers: readonly NodeJS.ArrayBufferView[], position?: number) {
  const start = performance.now();
  try {
    return await originalWritev.call(this, buffers, position);
  } finally {
    counters.commits++;
    counters.commitMs += performance.now() - start;
    for (const buffer of buffers) counters.commitBytes += buffer.byteLength;
  }
} as FileHandle['writev'];

// Not SIGUSR2: close-with-grace (runService) shuts the service down on it. SIGWINCH is ignored
// by default, so nothing happens if this preload is missing.
process.on('SIGWINCH', () => {
  process.stderr.write(`${FSYNC_PREFIX}${JSON.stringify(counters)}\n`);
});
