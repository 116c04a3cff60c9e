/**
 * Preloaded into the server under test (`--expose-gc --import ./bench/fanout/memory-probe.ts`),
 * not part of it: on SIGWINCH runs a full GC and prints process.memoryUsage() as
 * `FANOUT_MEMORY <json>` on stderr. GC first so that the before/after difference is live memory,
 * not garbage that happens to be waiting for the collector. SIGWINCH because the services stop
 * on SIGTERM/SIGINT and nothing here uses it otherwise.
 */
import { getHeapSpaceStatistics } from 'node:v8';
import { MEMORY_PREFIX, type MemorySnapshot } from '../types.js';

const collect = (globalThis as { gc?: () => void }).gc;

process.on('SIGWINCH', () => {
  collect?.();
  const usage = process.memoryUsage();
  const snapshot: MemorySnapshot = {
    rss: usage.rss,
    heapUsed: usage.heapUsed,
    heapTotal: usage.heapTotal,
    external: usage.external,
    arrayBuffers: usage.arrayBuffers,
    newSpace: getHeapSpaceStatistics().find((space) => space.space_name === 'new_space')?.space_size ?? 0,
    gc: collect !== undefined,
  };
  process.stderr.write(`${MEMORY_PREFIX}${JSON.stringify(snapshot)}\n`);
});
