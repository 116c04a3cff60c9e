/**
 * The burst module: a reader that stops reading while a publisher sends as fast as it can, on our
 * chain as configured by default. Does the normal reader on the same topic keep its pace and get
 * everything, does the stalled one get everything after it resumes, does the subscriber's memory
 * stay flat however deep the backlog, and what does a catch-up cost an unrelated topic's reader?
 * See bench/README.md ("Burst").
 */
import type { ModuleReport } from '../report.js';
import type { ModuleOptions } from '../section.js';
import { performance } from 'node:perf_hooks';
import { burstRows, burstTargets } from './report.js';
import { runBurst, type BurstRecord, type BurstSpec } from './run.js';

export const SMALL = 20_000;
export const LARGE = 200_000;
/**
 * The warm-up's stall: 10 MB, well past what loopback socket buffers absorb, so the reader does
 * fall behind and the catch-up path runs (compiled, its buffers allocated) before RSS is read.
 */
const WARMUP = 10_000;

/**
 * Each size on a fresh chain: a process whose heap a deeper backlog already grew would show no
 * growth for the next one. The 200,000 one also measures the unrelated reader's latency.
 */
function plan(options: ModuleOptions): BurstSpec[] {
  const runs = options.quick ? 1 : options.repeat;
  const specs: BurstSpec[] = [];
  for (let repeat = 0; repeat < runs; repeat++) {
    specs.push({ label: `burst20kr${repeat}`, count: SMALL, warmup: WARMUP, latency: false, stall: true });
    if (options.quick) continue;
    specs.push({ label: `burst200kr${repeat}`, count: LARGE, warmup: WARMUP, latency: true, stall: true });
    // The control: the same 200,000 with both readers reading, so the RSS the backlog itself costs shows.
    specs.push({ label: `burst200kcr${repeat}`, count: LARGE, warmup: WARMUP, latency: false, stall: false });
  }
  return specs;
}

export async function runBurstModule(options: ModuleOptions, progress: (text: string) => void): Promise<ModuleReport> {
  const records: BurstRecord[] = [];
  const errors: string[] = [];
  for (const spec of plan(options)) {
    const began = performance.now();
    try {
      const record = await runBurst(spec, options);
      records.push(record);
      const { burst, catchUp, rss } = record;
      progress(
        `[burst] ${spec.label}: normal ${burst.normal.received}/${spec.count} at ${burst.normalPerSec.toFixed(0)}/s` +
          `${burst.normal.closedWith === undefined ? '' : ` CLOSED ${burst.normal.closedWith}`}; stalled ${catchUp.stalled.received}/${spec.count}` +
          `${catchUp.stalled.closedWith === undefined ? '' : ` CLOSED ${catchUp.stalled.closedWith}`}` +
          ` (catch-up ${((catchUp.lastAt - catchUp.resumedAt) / 1000).toFixed(1)} s); subscriber RSS +${(rss.growth / 2 ** 20).toFixed(1)} MiB` +
          (record.steady === undefined
            ? ''
            : `; unrelated p99 ${record.steady.during.p99.toFixed(2)} ms during, ${record.steady.without.p99.toFixed(2)} ms without`) +
          ` (${((performance.now() - began) / 1000).toFixed(1)} s)`,
      );
    } catch (err) {
      errors.push((err as Error).message);
      progress(`[burst] ${spec.label} FAILED: ${(err as Error).message}`);
    }
  }
  return {
    rows: burstRows(records),
    targets: burstTargets(records, { quick: options.quick }),
    json: { records, errors },
    errors,
  };
}
