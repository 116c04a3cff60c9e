import type { Summary, Target } from './report.js';
import { formatMs, formatRate, formatRatio } from './stats.js';

/**
 * Goals from issue #4 (and the durable path's earlier one), checked on medians of the runs. The
 * suite-over-ceiling goal is checked on the paired ratio when there are pairs: the median of the
 * ratios of runs done back to back, which cancels the machine's drift between runs that the
 * ratio of two medians keeps (both are shown).
 */
const SUITE_OVER_CEILING = 1.0;
const MEMORY_DELIVERED_PER_SEC = 60_000;
const DURABLE_P99_AT_5K_MS = 20;
const DURABLE_ACKED_PER_SEC = 30_000;
/** Issue #19: durable p99 publish→delivery at 5k msg/s within 1.2× the bare chain's in the same run. */
const DURABLE_P99_OVER_CEILING = 1.2;

/**
 * The chain's targets that this run has data for. They apply to the suite as configured by
 * default, i.e. durable; the memory store's throughput target is the one exception.
 */
export function chainTargets(summary: Summary): Target[] {
  const targets: Target[] = [];
  for (const [name, bySystem] of Object.entries(summary.throughput)) {
    const [file, ceiling] = [bySystem.file?.deliveredPerSec.median, bySystem.ceiling?.deliveredPerSec.median];
    if (file === undefined || ceiling === undefined) continue;
    const ofMedians = file / ceiling;
    const paired = summary.ratios[`${name}.deliveredPerSec.file/ceiling.paired`];
    const value = paired ?? ofMedians;
    const pairedText = paired === undefined ? '' : `paired ${formatRatio(paired)}; `;
    targets.push({
      name: `${name}: durable ÷ bare chain, delivered msg/s`,
      goal: `≥ ${formatRatio(SUITE_OVER_CEILING)}`,
      measured: `${pairedText}medians ${formatRatio(ofMedians)} (${formatRate(file)} vs ${formatRate(ceiling)})`,
      pass: value >= SUITE_OVER_CEILING,
      ratio: value,
      ours: file,
      baseline: ceiling,
      unit: 'msg/s',
    });
  }
  const best = (system: 'file' | 'memory', key: 'ackedPerSec' | 'deliveredPerSec') => {
    const values = Object.values(summary.throughput).flatMap((bySystem) => bySystem[system]?.[key].median ?? []);
    return values.length === 0 ? undefined : Math.max(...values);
  };
  const memory = best('memory', 'deliveredPerSec');
  if (memory !== undefined) {
    targets.push({
      name: 'memory store (durability off), delivered msg/s, best scenario',
      goal: `≥ ${formatRate(MEMORY_DELIVERED_PER_SEC)}`,
      measured: formatRate(memory),
      pass: memory >= MEMORY_DELIVERED_PER_SEC,
      ratio: memory / MEMORY_DELIVERED_PER_SEC,
      ours: memory,
      baseline: MEMORY_DELIVERED_PER_SEC,
      unit: 'msg/s',
    });
  }
  const p99 = summary.latency.lat5k?.file?.delivery.p99.median;
  if (p99 !== undefined) {
    targets.push({
      name: 'lat5k: durable p99 publish→delivery (from intended send)',
      goal: `≤ ${DURABLE_P99_AT_5K_MS} ms`,
      measured: `${formatMs(p99)} ms`,
      pass: p99 <= DURABLE_P99_AT_5K_MS,
      ratio: p99 / DURABLE_P99_AT_5K_MS,
      ours: p99,
      baseline: DURABLE_P99_AT_5K_MS,
      unit: 'ms',
    });
  }
  const ceilingP99 = summary.latency.lat5k?.ceiling?.delivery.p99.median;
  if (p99 !== undefined && ceilingP99 !== undefined) {
    targets.push({
      name: 'lat5k: durable p99 publish→delivery ÷ bare chain p99',
      goal: `≤ ${formatRatio(DURABLE_P99_OVER_CEILING)}`,
      measured: `${formatRatio(p99 / ceilingP99)} (${formatMs(p99)} vs ${formatMs(ceilingP99)} ms)`,
      pass: p99 / ceilingP99 <= DURABLE_P99_OVER_CEILING,
      ratio: p99 / ceilingP99,
      ours: p99,
      baseline: ceilingP99,
      unit: 'ms',
    });
  }
  const durable = best('file', 'ackedPerSec');
  if (durable !== undefined) {
    targets.push({
      name: 'durable acked msg/s, best scenario',
      goal: `≥ ${formatRate(DURABLE_ACKED_PER_SEC)}`,
      measured: formatRate(durable),
      pass: durable >= DURABLE_ACKED_PER_SEC,
      ratio: durable / DURABLE_ACKED_PER_SEC,
      ours: durable,
      baseline: DURABLE_ACKED_PER_SEC,
      unit: 'msg/s',
    });
  }
  return targets;
}
