/** The burst module's printed rows and its targets, from the medians of its runs. */
import type { ExtraRow } from '../report.js';
import { median, formatMs, formatRate, formatRatio, ratio } from '../stats.js';
import type { BurstRecord } from './run.js';
import type { SocketIntegrity } from './types.js';

const RSS_RATIO_MAX = 1.5;
const P99_RATIO_MAX = 2;

const mib = (bytes: number) => `${(bytes / 2 ** 20).toFixed(1)} MiB`;

/** The median, with the range when there are several runs. */
function cell(values: readonly number[], format: (n: number) => string): string {
  const finite = values.filter(Number.isFinite);
  if (finite.length === 0) return '–';
  if (finite.length === 1) return format(finite[0] as number);
  return `${format(median(finite))} (${format(Math.min(...finite))}–${format(Math.max(...finite))})`;
}

function clean(socket: SocketIntegrity, count: number): boolean {
  return (
    socket.closedWith === undefined &&
    socket.lost === 0 &&
    socket.duplicated === 0 &&
    socket.reordered === 0 &&
    socket.received === count
  );
}

const normalClean = (r: BurstRecord) => !r.burst.timedOut && clean(r.catchUp.normal, r.spec.count);
const stalledClean = (r: BurstRecord) => !r.catchUp.timedOut && clean(r.catchUp.stalled, r.spec.count);

/** `20,000/20,000, 0 lost / 0 dup / 0 reordered` over all runs, and any close codes. */
function integrity(records: readonly BurstRecord[], pick: (r: BurstRecord) => SocketIntegrity): string {
  const sum = (key: 'received' | 'lost' | 'duplicated' | 'reordered') =>
    records.reduce((total, r) => total + pick(r)[key], 0);
  const expected = records.reduce((total, r) => total + r.spec.count, 0);
  const closed = records.flatMap((r) => pick(r).closedWith ?? []);
  const closes = closed.length === 0 ? 'never closed' : `CLOSED with ${closed.join(', ')}`;
  return `${sum('received')}/${expected}; lost ${sum('lost')} / dup ${sum('duplicated')} / reordered ${sum('reordered')}; ${closes}`;
}

/** The stalled runs of one size (the control runs have nobody stalled). */
const bySize = (records: readonly BurstRecord[], count: number) =>
  records.filter((r) => r.spec.count === count && r.spec.stall);
const controls = (records: readonly BurstRecord[]) => records.filter((r) => !r.spec.stall);
const repeatOf = (r: BurstRecord) => r.spec.label.slice(r.spec.label.lastIndexOf('r'));

/** Median over repeats of a's RSS growth ÷ b's for runs of the same repeat (the label's `r<n>`). */
function pairedRssRatio(a: readonly BurstRecord[], b: readonly BurstRecord[]): number {
  const partners = new Map(b.map((r) => [repeatOf(r), r.rss.growth]));
  const values = a.map((r) => ratio(r.rss.growth, partners.get(repeatOf(r))));
  return median(values.filter(Number.isFinite));
}

function p99Ratios(records: readonly BurstRecord[]): number[] {
  return records.flatMap((r) => (r.steady === undefined ? [] : [ratio(r.steady.during.p99, r.steady.without.p99)]));
}

export function burstRows(records: readonly BurstRecord[]): ExtraRow[] {
  const rows: ExtraRow[] = [];
  const sizes = [...new Set(records.filter((r) => r.spec.stall).map((r) => r.spec.count))].sort((a, b) => a - b);
  for (const count of sizes) {
    const runs = bySize(records, count);
    const name = `burst ${formatRate(count)} × ~1 KB`;
    rows.push(
      {
        label: `${name}: normal reader, deliveries/s during the burst (publisher acked msg/s)`,
        value: `${cell(
          runs.map((r) => r.burst.normalPerSec),
          formatRate,
        )} (${cell(
          runs.map((r) => r.burst.ackedPerSec),
          formatRate,
        )})`,
      },
      { label: `${name}: normal reader, all runs`, value: integrity(runs, (r) => r.catchUp.normal) },
      { label: `${name}: stalled reader after resuming, all runs`, value: integrity(runs, (r) => r.catchUp.stalled) },
      {
        label: `${name}: stalled reader's catch-up, s (deliveries/s)`,
        value: `${cell(
          runs.map((r) => (r.catchUp.lastAt - r.catchUp.resumedAt) / 1000),
          (s) => s.toFixed(1),
        )} (${cell(
          runs.map((r) => r.catchUp.perSec),
          formatRate,
        )})`,
      },
      {
        label: `${name}: subscriber's counters, catch-up pages read from the log / readers closed with 4100`,
        value: `${cell(
          runs.map((r) => r.subscriber?.catchUpPages ?? Number.NaN),
          String,
        )} / ${cell(
          runs.map((r) => r.subscriber?.slowConsumers ?? Number.NaN),
          String,
        )}`,
      },
      {
        label: `${name}: subscriber VmRSS growth, before → peak of the backlog (→ peak before the resume)`,
        value: `${cell(
          runs.map((r) => r.rss.growth),
          mib,
        )} (${cell(
          runs.map((r) => r.rss.peakBeforeResume - r.rss.before),
          mib,
        )}; from ${cell(
          runs.map((r) => r.rss.before),
          mib,
        )})`,
      },
    );
  }
  if (sizes.includes(20_000) && sizes.includes(200_000)) {
    rows.push({
      label: 'subscriber VmRSS growth, 200k ÷ 20k backlog (paired by repeat)',
      value: formatRatio(pairedRssRatio(bySize(records, 200_000), bySize(records, 20_000))),
    });
  }
  const control = controls(records);
  if (control.length > 0) {
    rows.push({
      label: 'control: the 200k burst with both readers reading, subscriber VmRSS growth (200k stalled ÷ control)',
      value: `${cell(
        control.map((r) => r.rss.growth),
        mib,
      )} (${formatRatio(pairedRssRatio(bySize(records, 200_000), control))})`,
    });
  }
  const steady = records.flatMap((r) => (r.steady === undefined ? [] : [r.steady]));
  if (steady.length > 0) {
    rows.push({
      label:
        'unrelated topic (1k msg/s), p99 publish→delivery from intended send: during a 200k catch-up / without, ms',
      value: `${cell(
        steady.map((s) => s.during.p99),
        formatMs,
      )} / ${cell(
        steady.map((s) => s.without.p99),
        formatMs,
      )}; ratio ${cell(p99Ratios(records), formatRatio)}`,
    });
    const cpu = (pick: (s: (typeof steady)[number]) => number) => cell(steady.map(pick), (n) => n.toFixed(0));
    rows.push({
      label: 'CPU ms/s (1000 = a core) of subscriber / msgqueue: during the 200k catch-up / without',
      value: `${cpu((s) => s.cpu.during.subscriber)} / ${cpu((s) => s.cpu.during.msgqueue)}; ${cpu(
        (s) => s.cpu.without.subscriber,
      )} / ${cpu((s) => s.cpu.without.msgqueue)}`,
    });
  }
  return rows;
}

export function burstTargets(
  records: readonly BurstRecord[],
  { quick }: { quick: boolean },
): { name: string; goal: string; measured: string; pass: boolean }[] {
  if (records.length === 0) return [];
  const targets = [
    {
      name: 'burst: normal reader not cut off, every message once and in order (must)',
      goal: 'no close, 0 lost / dup / reordered',
      measured: integrity(records, (r) => r.catchUp.normal),
      pass: records.every(normalClean),
    },
    {
      name: 'burst: stalled reader has every message once and in order after resuming (must)',
      goal: 'no 4100, 0 lost / dup / reordered',
      measured: integrity(records, (r) => r.catchUp.stalled),
      pass: records.every(stalledClean),
    },
  ];
  if (quick) return targets;
  const rss = pairedRssRatio(bySize(records, 200_000), bySize(records, 20_000));
  targets.push({
    name: 'burst: subscriber VmRSS growth, 200k ÷ 20k backlog',
    goal: `≤ ${formatRatio(RSS_RATIO_MAX)}`,
    measured: `${formatRatio(rss)} (${mib(median(bySize(records, 200_000).map((r) => r.rss.growth)))} vs ${mib(median(bySize(records, 20_000).map((r) => r.rss.growth)))})`,
    pass: rss <= RSS_RATIO_MAX,
  });
  const p99 = median(p99Ratios(records).filter(Number.isFinite));
  targets.push({
    name: "burst: unrelated topic's p99 during a 200k catch-up ÷ without",
    goal: `≤ ${formatRatio(P99_RATIO_MAX)}`,
    measured: formatRatio(p99),
    pass: p99 <= P99_RATIO_MAX,
  });
  return targets;
}
