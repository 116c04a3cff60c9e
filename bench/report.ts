import type { ProfileSummary } from './cpuprofile.js';
import type { FsyncProbe, MachineInfo } from './probe.js';
import type { ServiceName, Store } from './services.js';
import { formatMs, formatRate, formatRatio, median, ratio } from './stats.js';
import type { FsyncCounters, LatencyResult, LoadResult, ScenarioSpec, ThroughputResult } from './types.js';

/** One run of a scenario as the driver saw it: the load child's result plus what the services did meanwhile. */
export interface ScenarioRecord {
  /** The scenario (`tp1`, `lat1k`, …); `spec.label` is unique per run (`tp1r0`). */
  readonly name: string;
  readonly repeat: number;
  readonly spec: ScenarioSpec;
  readonly result: LoadResult;
  /** Wall time between the child's start and end events, as the driver saw them. */
  readonly wallMs: number;
  /** CPU ms each service used during the measurement (and the load child, from its own count). */
  readonly cpuMs: Partial<Record<ServiceName | 'load', number>>;
  /** The system (kernel) part of cpuMs, per service: socket and file syscalls, fdatasync included. */
  readonly cpuSystemMs: Partial<Record<ServiceName, number>>;
  /** CPU µs per measured message, per process. */
  readonly cpuUsPerMessage: Partial<Record<ServiceName | 'load', number>>;
  /** msgqueue file activity during the measurement (counters differenced). */
  readonly fsync: FsyncActivity | undefined;
}

export interface FsyncActivity {
  readonly counters: FsyncCounters;
  readonly datasyncPerSec: number;
  /** Log records written per group commit (writev buffers / datasync calls). */
  readonly recordsPerDatasync: number;
  readonly meanDatasyncMs: number;
  /** Share of the wall time some datasync was running: near 100 % means the disk paces the log. */
  readonly datasyncBusyPct: number;
}

/** One msgqueue + publisher + subscriber, from start to stop. */
export interface ChainRecord {
  readonly generation: number;
  /** Messages (warm-up included) the load generators sent through it. */
  readonly messages: number;
  readonly exitCodes: Record<ServiceName, number | null>;
  /** Warnings and errors other than the usual start-up ones, and stderr lines. */
  readonly unexpectedLogLines: Partial<Record<ServiceName, string[]>>;
  readonly profiles?: ProfileSummary[];
}

export interface SuiteRecord {
  readonly store: Store;
  readonly scenarios: ScenarioRecord[];
  readonly chains: ChainRecord[];
  readonly errors: string[];
}

export interface Range {
  readonly median: number;
  readonly min: number;
  readonly max: number;
  readonly runs: number;
}

export interface BenchReport {
  readonly name: 'durable-message-path';
  readonly date: string;
  readonly quick: boolean;
  readonly machine: MachineInfo;
  readonly settings: Record<string, unknown>;
  readonly fsyncProbe: FsyncProbe | undefined;
  readonly suites: SuiteRecord[];
  /** Medians per store and scenario of the throughput figures. */
  readonly throughput: Record<string, Record<string, { ackedPerSec: Range; deliveredPerSec: Range }>>;
  readonly ratios: Record<string, number>;
  readonly target: { readonly ackedPerSec: number; readonly durableBest: number; readonly reached: boolean };
}

const runsOf = (suite: SuiteRecord | undefined, name: string) =>
  suite?.scenarios.filter((record) => record.name === name) ?? [];

const throughputRuns = (suite: SuiteRecord | undefined, name: string) =>
  runsOf(suite, name).filter(
    (record): record is ScenarioRecord & { result: ThroughputResult } => record.result.kind === 'throughput',
  );

function rangeOf(values: number[]): Range | undefined {
  if (values.length === 0) return undefined;
  return { median: median(values), min: Math.min(...values), max: Math.max(...values), runs: values.length };
}

export function throughputRange(
  suite: SuiteRecord | undefined,
  name: string,
  key: 'ackedPerSec' | 'deliveredPerSec',
): Range | undefined {
  return rangeOf(throughputRuns(suite, name).map((record) => record.result[key]));
}

/** The run whose acked rate is the median (throughput), or the first run (latency): its details are shown. */
function representative(suite: SuiteRecord | undefined, name: string): ScenarioRecord | undefined {
  const runs = throughputRuns(suite, name);
  if (runs.length === 0) return runsOf(suite, name)[0];
  const sorted = [...runs].sort((a, b) => a.result.ackedPerSec - b.result.ackedPerSec);
  return sorted[Math.floor((sorted.length - 1) / 2)];
}

const latencyOf = (suite: SuiteRecord | undefined, name: string) => {
  const result = runsOf(suite, name)[0]?.result;
  return result?.kind === 'latency' ? result : undefined;
};

/**
 * durable / memory for the headline figures (throughput: below 1 is slower; latency: above 1 is
 * slower). `.paired` is the median of the ratios of runs done back to back, which cancels slow
 * drifts of the machine's background load.
 */
export function computeRatios(
  durable: SuiteRecord | undefined,
  memory: SuiteRecord | undefined,
  names: readonly string[],
): Record<string, number> {
  const ratios: Record<string, number> = {};
  for (const name of names) {
    for (const key of ['ackedPerSec', 'deliveredPerSec'] as const) {
      const [d, m] = [throughputRange(durable, name, key), throughputRange(memory, name, key)];
      if (d === undefined && m === undefined) continue;
      ratios[`${name}.${key}`] = ratio(d?.median, m?.median);
      const memoryRuns = throughputRuns(memory, name);
      const paired = throughputRuns(durable, name)
        .map((run) => ratio(run.result[key], memoryRuns.find((other) => other.repeat === run.repeat)?.result[key]))
        .filter(Number.isFinite);
      if (paired.length > 1) ratios[`${name}.${key}.paired`] = median(paired);
    }
    const [dl, ml] = [latencyOf(durable, name), latencyOf(memory, name)];
    if (dl === undefined && ml === undefined) continue;
    for (const p of ['p50', 'p99', 'p999'] as const) {
      ratios[`${name}.delivery.${p}`] = ratio(dl?.delivery[p], ml?.delivery[p]);
      ratios[`${name}.ack.${p}`] = ratio(dl?.ack[p], ml?.ack[p]);
    }
  }
  return ratios;
}

function integrityCell(runs: ScenarioRecord[]): string {
  if (runs.length === 0) return 'failed';
  const sum = (pick: (result: LoadResult) => number) => runs.reduce((total, run) => total + pick(run.result), 0);
  const refused = sum((result) => Object.values(result.integrity.refused).reduce((total, n) => total + n, 0));
  const unanswered = sum((result) => result.integrity.unanswered);
  const unacked = sum((result) => result.integrity.deliveredUnacked);
  const timedOut = runs.filter((run) => run.result.integrity.timedOut).length;
  const extra = [
    refused > 0 ? `refused ${refused}` : '',
    unanswered > 0 ? `unanswered ${unanswered}` : '',
    unacked > 0 ? `delivered-unacked ${unacked}` : '',
    timedOut > 0 ? `${timedOut} TIMED OUT` : '',
  ].filter(Boolean);
  const counts = `${sum((r) => r.integrity.lost)} / ${sum((r) => r.integrity.duplicated)} / ${sum((r) => r.integrity.reordered)}`;
  return `${counts} of ${sum((r) => r.integrity.acked)} acked${extra.length > 0 ? ` (${extra.join(', ')})` : ''}`;
}

function rangeCell(range: Range | undefined): string {
  if (range === undefined) return 'failed';
  if (range.runs === 1) return formatRate(range.median);
  return `${formatRate(range.median)} (${formatRate(range.min)}–${formatRate(range.max)}, n=${range.runs})`;
}

function triple(values: (number | undefined)[], format: (n: number) => string): string {
  return values.map((value) => (value === undefined ? '–' : format(value))).join(' / ');
}

function ratioTriple(d: (number | undefined)[], m: (number | undefined)[]): string {
  return d.map((value, index) => formatRatio(ratio(value, m[index]))).join(' / ');
}

function cpuCell(record: ScenarioRecord | undefined): string {
  if (record === undefined) return '–';
  const c = record.cpuUsPerMessage;
  return [c.msgqueue, c.publisher, c.subscriber, c.load]
    .map((us) => (us === undefined ? '–' : us.toFixed(0)))
    .join(' / ');
}

function fsyncCell(record: ScenarioRecord | undefined): string {
  const f = record?.fsync;
  if (f === undefined) return '–';
  if (f.counters.datasync === 0) return 'none';
  return `${f.datasyncPerSec.toFixed(0)}/s, ${f.recordsPerDatasync.toFixed(0)} msg each, ${formatMs(f.meanDatasyncMs)} ms, busy ${f.datasyncBusyPct.toFixed(0)} %`;
}

function specOf(report: BenchReport, name: string): ScenarioSpec | undefined {
  for (const suite of report.suites) {
    const found = suite.scenarios.find((record) => record.name === name);
    if (found !== undefined) return found.spec;
  }
  return undefined;
}

/** The results as a Markdown table, durable and memory side by side with their ratio. */
export function renderTable(report: BenchReport, names: readonly string[]): string {
  const durable = report.suites.find((suite) => suite.store === 'file');
  const memory = report.suites.find((suite) => suite.store === 'memory');
  const rows: string[][] = [['figure', 'durable (file, fsync)', 'memory', 'durable / memory']];
  for (const name of names) {
    const spec = specOf(report, name);
    if (spec === undefined) {
      rows.push([`${name}`, 'failed', 'failed', '']);
      continue;
    }
    if (spec.kind === 'throughput') {
      const title = `${name}: ${spec.count / 1000}k msgs, ${spec.publishers} pub, window ${spec.window}`;
      for (const key of ['ackedPerSec', 'deliveredPerSec'] as const) {
        const [d, m] = [throughputRange(durable, name, key), throughputRange(memory, name, key)];
        const what = key === 'ackedPerSec' ? 'acked msg/s' : 'delivered msg/s';
        rows.push([`${title}: ${what}`, rangeCell(d), rangeCell(m), formatRatio(ratio(d?.median, m?.median))]);
      }
    } else {
      const [d, m] = [latencyOf(durable, name), latencyOf(memory, name)];
      const title = `${name}: ${formatRate(spec.rate)} msg/s for ${spec.durationMs / 1000} s`;
      const pick = (result: LatencyResult | undefined, key: 'delivery' | 'ack' | 'deliveryFromActualSend') => [
        result?.[key].p50,
        result?.[key].p99,
        result?.[key].p999,
      ];
      for (const [key, what] of [
        ['delivery', 'publish→delivery p50/p99/p99.9 ms, from intended send'],
        ['ack', 'publish→ack p50/p99/p99.9 ms, from intended send'],
        ['deliveryFromActualSend', 'publish→delivery p50/p99/p99.9 ms, from actual send'],
      ] as const) {
        rows.push([
          `${title}: ${what}`,
          triple(pick(d, key), formatMs),
          triple(pick(m, key), formatMs),
          ratioTriple(pick(d, key), pick(m, key)),
        ]);
      }
    }
    rows.push([
      `  ${name}: lost / duplicated / reordered`,
      integrityCell(runsOf(durable, name)),
      integrityCell(runsOf(memory, name)),
      '',
    ]);
    const [dr, mr] = [representative(durable, name), representative(memory, name)];
    rows.push([`  ${name}: CPU µs/msg msgqueue / publisher / subscriber / load`, cpuCell(dr), cpuCell(mr), '']);
    rows.push([`  ${name}: msgqueue fdatasync calls`, fsyncCell(dr), fsyncCell(mr), '']);
  }
  const widths = (rows[0] as string[]).map((_cell, column) =>
    Math.max(...rows.map((row) => (row[column] ?? '').length)),
  );
  const line = (row: string[]) => `| ${row.map((cell, column) => cell.padEnd(widths[column] ?? 0)).join(' | ')} |`;
  const separator = `|${widths.map((width) => '-'.repeat(width + 2)).join('|')}|`;
  return [line(rows[0] as string[]), separator, ...rows.slice(1).map(line)].join('\n');
}

export function renderHeader(report: BenchReport): string {
  const m = report.machine;
  const probe = report.fsyncProbe;
  const lines = [
    `Durable message path benchmark — ${report.date}${report.quick ? ' (quick)' : ''}`,
    `machine: ${m.cpuModel} × ${m.cpuCount}, ${(m.totalMemoryBytes / 2 ** 30).toFixed(1)} GiB, Node ${m.node}, ${m.platform}, load avg at start ${m.loadAverageAtStart.map((n) => n.toFixed(2)).join(' ')}`,
  ];
  if (probe !== undefined) {
    lines.push(
      `fsync probe (${probe.filesystem ?? probe.dir}): ${probe.fdatasyncPerSec.toFixed(0)} append+fdatasync/s of ${probe.bytesPerWrite} B, p50 ${formatMs(probe.latencyMs.p50)} ms, p99 ${formatMs(probe.latencyMs.p99)} ms`,
    );
  }
  return lines.join('\n');
}

export function renderFooter(report: BenchReport): string {
  const lines = [
    `target ≥ ${formatRate(report.target.ackedPerSec)} acked msg/s durable (best median): ${formatRate(report.target.durableBest)} → ${report.target.reached ? 'REACHED' : 'NOT reached'}`,
  ];
  const paired = Object.entries(report.ratios).filter(([key]) => key.endsWith('.paired'));
  if (paired.length > 0) {
    lines.push(
      `paired durable/memory ratios (median of back-to-back runs): ${paired.map(([key, value]) => `${key.replace('.paired', '')} ${formatRatio(value)}`).join(', ')}`,
    );
  }
  for (const suite of report.suites) {
    for (const error of suite.errors) lines.push(`${suite.store}: FAILED: ${error}`);
    for (const chain of suite.chains) {
      const where = `${suite.store} chain #${chain.generation}`;
      for (const [service, found] of Object.entries(chain.unexpectedLogLines)) {
        lines.push(
          `${where}: ${service} logged ${found.length} unexpected warning/error line(s), first: ${found[0]?.slice(0, 300)}`,
        );
      }
      const bad = Object.entries(chain.exitCodes).filter(([, code]) => code !== 0);
      if (bad.length > 0) lines.push(`${where}: exit codes ${bad.map(([name, code]) => `${name}=${code}`).join(', ')}`);
    }
    for (const profile of suite.chains.flatMap((chain) => chain.profiles ?? [])) {
      lines.push(
        `${suite.store}: CPU profile ${profile.file}: busy ${formatMs(profile.busyMs)} ms of ${formatMs(profile.wallMs)} ms (GC ${formatMs(profile.gcMs)} ms); by area: ${profile.byArea
          .slice(0, 8)
          .map(({ area, ms }) => `${area} ${formatMs(ms)}`)
          .join(', ')}`,
      );
      lines.push(
        `  top functions: ${profile.topFunctions
          .slice(0, 8)
          .map(({ fn, ms }) => `${fn} ${formatMs(ms)}`)
          .join('; ')}`,
      );
    }
  }
  return lines.join('\n');
}
