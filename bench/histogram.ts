import * as hdr from 'hdr-histogram-js';
import type { LatencySummary } from './types.js';

/**
 * Records latencies (ms) in an HDR histogram of whole µs and reads the percentiles from it:
 * constant memory and cost per sample whatever the rate, 3 significant digits (±0.1 %), up to an
 * hour. The encoded histogram is kept so that runs can be merged later.
 */
export function latencySummary(valuesMs: Iterable<number>): LatencySummary {
  const histogram = hdr.build({
    lowestDiscernibleValue: 1,
    highestTrackableValue: 3_600_000_000,
    numberOfSignificantValueDigits: 3,
  });
  try {
    for (const ms of valuesMs) histogram.recordValue(Math.max(0, Math.round(ms * 1000)));
    const empty = histogram.totalCount === 0;
    const at = (percentile: number) => (empty ? Number.NaN : histogram.getValueAtPercentile(percentile) / 1000);
    return {
      samples: histogram.totalCount,
      p50: at(50),
      p90: at(90),
      p99: at(99),
      p999: at(99.9),
      max: empty ? Number.NaN : histogram.maxValue / 1000,
      mean: empty ? Number.NaN : histogram.mean / 1000,
      hdr: hdr.encodeIntoCompressedBase64(histogram),
    };
  } finally {
    histogram.destroy();
  }
}
