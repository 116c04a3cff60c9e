import type { Plan } from './plan.js';
import {
  COMPARISONS,
  PERCENTILES,
  representative,
  runsOf,
  type BenchReport,
  type ExtraRow,
  type LatencyKey,
  type ModuleReport,
  type Range,
  type ScenarioRecord,
  type SystemRecord,
  type Target,
  type ThroughputKey,
} from './report.js';
import { formatMs, formatRate, formatRatio, ratio } from './stats.js';
import { SYSTEMS, type SystemId } from './systems.js';
import type { ScenarioSpec } from './types.js';

/** Rows padded into a Markdown table (first row: the heading). */
export function markdown(rows: readonly (readonly string[])[]): string {
  const widths = (rows[0] ?? []).map((_cell, column) => Math.max(...rows.map((row) => (row[column] ?? '').length)));
  const line = (row: readonly string[]) =>
    `| ${widths.map((width, column) => (row[column] ?? '').padEnd(width)).join(' | ')} |`;
  const separator = `|${widths.map((width) => '-'.repeat(width + 2)).join('|')}|`;
  return [line(rows[0] ?? []), separator, ...rows.slice(1).map(line)].join('\n');
}

function rangeCell(range: Range | undefined, format: (n: number) => string): string {
  if (range === undefined) return '–';
  if (range.runs === 1) return format(range.median);
  return `${format(range.median)} (${format(range.min)}–${format(range.max)})`;
}

function integrityCell(runs: readonly ScenarioRecord[]): string {
  if (runs.length === 0) return '–';
  const sum = (pick: (record: ScenarioRecord) => number) => runs.reduce((total, run) => total + pick(run), 0);
  const refused = sum((r) => Object.values(r.result.integrity.refused).reduce((total, n) => total + n, 0));
  const unanswered = sum((r) => r.result.integrity.unanswered);
  const unacked = sum((r) => r.result.integrity.deliveredUnacked);
  const timedOut = runs.filter((r) => r.result.integrity.timedOut || r.fanout?.timedOut === true).length;
  const closed = sum((r) => Object.values(r.fanout?.closed ?? {}).reduce((total, n) => total + n, 0));
  const extra = [
    refused > 0 ? `refused ${refused}` : '',
    unanswered > 0 ? `unanswered ${unanswered}` : '',
    unacked > 0 ? `delivered-unacked ${unacked}` : '',
    closed > 0 ? `${closed} sockets closed` : '',
    timedOut > 0 ? `${timedOut} TIMED OUT` : '',
  ].filter(Boolean);
  const lost = sum((r) => r.result.integrity.lost + (r.fanout?.lost ?? 0));
  const duplicated = sum((r) => r.result.integrity.duplicated + (r.fanout?.extra ?? 0));
  const reordered = sum((r) => r.result.integrity.reordered + (r.fanout?.reordered ?? 0));
  const sockets = 1 + (runs[0]?.fanout?.sockets ?? 0);
  const of =
    sockets > 1
      ? `${sum((r) => r.result.integrity.acked)} acked × ${sockets} sockets`
      : `${sum((r) => r.result.integrity.acked)} acked`;
  return `${lost} / ${duplicated} / ${reordered} of ${of}${extra.length > 0 ? ` (${extra.join(', ')})` : ''}`;
}

function cpuCell(record: ScenarioRecord | undefined): string {
  if (record === undefined) return '–';
  const c = record.cpuUsPerMessage;
  const load = (c.load ?? 0) + (c.sinks ?? 0);
  return [c.msgqueue, c.publisher, c.subscriber, load]
    .map((us) => (us === undefined ? '–' : us.toFixed(0)))
    .join(' / ');
}

function fsyncCell(record: ScenarioRecord | undefined): string {
  const f = record?.fsync;
  if (f === undefined || f.counters.commits === 0) return '–';
  return `${f.commitsPerSec.toFixed(0)}/s, ${f.messagesPerCommit.toFixed(0)} msg each, ${formatMs(f.meanCommitMs)} ms, busy ${f.commitBusyPct.toFixed(0)} %`;
}

function describeSpec(spec: ScenarioSpec): string {
  if (spec.kind === 'latency') return `${formatRate(spec.rate)} msg/s for ${spec.durationMs / 1000} s`;
  return `${formatRate(spec.count)} msgs, ${spec.publishers} pub → ${spec.subscribers} sub, window ${spec.window}`;
}

const THROUGHPUT_FIGURES: readonly (readonly [ThroughputKey, string])[] = [
  ['ackedPerSec', 'acked msg/s'],
  ['deliveredPerSec', 'delivered msg/s'],
  ['deliveriesPerSec', 'deliveries/s (all sockets)'],
];

const LATENCY_FIGURES: readonly (readonly [LatencyKey, string])[] = [
  ['delivery', 'publish→delivery p50 / p99 / p99.9 ms, from intended send'],
  ['ack', 'publish→ack p50 / p99 / p99.9 ms, from intended send'],
  ['deliveryFromActualSend', 'publish→delivery p50 / p99 / p99.9 ms, from actual send'],
];

/**
 * One scenario kind (throughput or latency) over the given systems: their figures side by side,
 * then the ratios of the pairs in COMPARISONS that both ran.
 */
function comparisonTable(report: BenchReport, list: readonly Plan[], ids: readonly SystemId[]): string | undefined {
  const systems = ids.flatMap((id) => report.systems.find((system) => system.id === id) ?? []);
  const present = systems.filter((system) => list.some((plan) => runsOf(system, plan.name).length > 0));
  if (present.length === 0) return undefined;
  const pairs = COMPARISONS.filter(([a, b]) => present.some((s) => s.id === a) && present.some((s) => s.id === b));
  const rows: string[][] = [
    [
      'scenario: figure',
      ...present.map((system) => system.title),
      ...pairs.map(([a, b]) => `${SYSTEMS[a].short} ÷ ${SYSTEMS[b].short}`),
    ],
  ];
  const blank = pairs.map(() => '');
  for (const plan of list) {
    const title = `${plan.name} (${describeSpec(plan.spec)})`;
    if (plan.spec.kind === 'throughput') {
      const figures = report.summary.throughput[plan.name] ?? {};
      const fanout = plan.spec.subscribers > 1;
      for (const [key, what] of THROUGHPUT_FIGURES) {
        if (key === 'deliveriesPerSec' && !fanout) continue;
        rows.push([
          `${title}: ${what}`,
          ...present.map((system) => rangeCell(figures[system.id]?.[key], formatRate)),
          ...pairs.map(([a, b]) => formatRatio(ratio(figures[a]?.[key].median, figures[b]?.[key].median))),
        ]);
      }
    } else {
      const figures = report.summary.latency[plan.name] ?? {};
      for (const [key, what] of LATENCY_FIGURES) {
        const triple = (id: SystemId) => PERCENTILES.map((p) => figures[id]?.[key][p].median);
        rows.push([
          `${title}: ${what}`,
          ...present.map((system) =>
            triple(system.id)
              .map((v) => (v === undefined ? '–' : formatMs(v)))
              .join(' / '),
          ),
          ...pairs.map(([a, b]) => {
            const [ta, tb] = [triple(a), triple(b)];
            return ta.map((v, i) => formatRatio(ratio(v, tb[i]))).join(' / ');
          }),
        ]);
      }
    }
    const detail = (what: string, cell: (system: SystemRecord) => string) =>
      rows.push([`  ${plan.name}: ${what}`, ...present.map(cell), ...blank]);
    detail('lost / duplicated / reordered (all runs)', (system) => integrityCell(runsOf(system, plan.name)));
    detail('CPU µs/msg msgqueue (B) / publisher (A) / subscriber (C) / clients', (system) =>
      cpuCell(representative(system, plan.name)),
    );
    detail('CPU-s per 1M deliveries, all processes (chain + clients)', (system) => {
      const value = representative(system, plan.name)?.cpuSecondsPerMillionDeliveries;
      return value === undefined || !Number.isFinite(value) ? '–' : value.toFixed(1);
    });
    if (present.some((system) => system.id === 'file')) {
      detail('msgqueue group commits', (system) => fsyncCell(representative(system, plan.name)));
    }
  }
  return markdown(rows);
}

function targetsTable(targets: readonly Target[]): string {
  return markdown([
    ['target', 'goal', 'measured', 'result'],
    ...targets.map((target) => [target.name, target.goal, target.measured, target.pass ? 'PASS' : 'FAIL']),
  ]);
}

/** A section's figure/value rows as a table, or nothing when the section did not run. */
function rowsTable(rows: readonly ExtraRow[]): string | undefined {
  return rows.length === 0 ? undefined : markdown([['figure', 'value'], ...rows.map((row) => [row.label, row.value])]);
}

export type ModuleName = 'fanout' | 'burst' | 'http' | 'bridge' | 'webhook' | 'peers' | 'go';

/** Each module's table heading and its name in the footer's failures, in the order they print. */
const MODULES: Readonly<Record<ModuleName, { readonly heading: string; readonly failed: string }>> = {
  fanout: { heading: 'Fan-out (bench/fanout)', failed: 'fan-out module' },
  burst: {
    heading: 'Burst (bench/burst): a stalled reader; durable store, heartbeat and stall timeout raised',
    failed: 'burst',
  },
  http: {
    heading: 'HTTP and SSE (bench/http): one durable chain, ratios to the wss figure of the same run',
    failed: 'http',
  },
  bridge: {
    heading:
      'Bridges (bench/bridge): PostgreSQL outbox and RabbitMQ queue into a wss subscriber, ratios to wss publish of the same run',
    failed: 'bridge',
  },
  webhook: {
    heading: 'Webhooks (bench/webhook): one durable chain, a local receiver, ratio to wss delivery of the same run',
    failed: 'webhook',
  },
  peers: {
    heading: 'Peers (bench/peers): durable acked publishes, same client concurrency, CPU of every process from /proc',
    failed: 'peers',
  },
  go: {
    heading:
      'The original Go implementation (bench/peers/go-original.ts): same ports, same client, 1→1, window 1,000 undelivered, the three services’ CPU from /proc',
    failed: 'go',
  },
};

/** The modules that ran, in MODULES' order. */
export type ModuleReports = Partial<Record<ModuleName, ModuleReport | undefined>>;

const ran = (modules: ModuleReports) =>
  (Object.keys(MODULES) as ModuleName[]).flatMap((name) => {
    const report = modules[name];
    return report === undefined ? [] : [{ ...MODULES[name], report }];
  });

/** Every table of the run, with a heading each, ready to paste. */
export function renderTables(report: BenchReport, list: readonly Plan[], modules: ModuleReports): string {
  const has = (plan: Plan, id: SystemId) => plan.systems.includes(id);
  const compared: SystemId[] = ['file', 'memory', 'ceiling'];
  const throughput = list.filter((plan) => plan.spec.kind === 'throughput' && compared.some((id) => has(plan, id)));
  const latency = list.filter((plan) => plan.spec.kind === 'latency' && compared.some((id) => has(plan, id)));
  const optimised = list.filter((plan) => has(plan, 'memory-unopt'));
  const runs = report.settings.repeat as number;
  const parts: [string, string | undefined][] = [
    [`Throughput (median of ${runs} run(s), min–max in brackets)`, comparisonTable(report, throughput, compared)],
    [`Latency (median of ${runs} run(s))`, comparisonTable(report, latency, compared)],
    [
      `Optimisations: memory store with defaults vs ${Object.entries(SYSTEMS['memory-unopt'].env)
        .map(([key, value]) => `${key}=${value}`)
        .join(' ')} (throughput: above 1× is faster; latency: below 1× is faster)`,
      comparisonTable(report, optimised, ['memory', 'memory-unopt']),
    ],
    ...ran(modules).map(({ heading, report: { rows } }): [string, string | undefined] => [heading, rowsTable(rows)]),
    ['Targets', report.targets.length === 0 ? undefined : targetsTable(report.targets)],
  ];
  return parts
    .filter((part): part is [string, string] => part[1] !== undefined)
    .map(([heading, table]) => `### ${heading}\n\n${table}`)
    .join('\n\n');
}

export function renderHeader(report: BenchReport): string {
  const m = report.machine;
  const probe = report.fsyncProbe;
  const lines = [
    `Pub/sub benchmark — ${report.date}${report.quick ? ' (quick)' : ''}`,
    `machine: ${m.cpuModel} × ${m.cpuCount}, ${(m.totalMemoryBytes / 2 ** 30).toFixed(1)} GiB, Node ${m.node}, ${m.platform}, load avg at start ${m.loadAverageAtStart.map((n) => n.toFixed(2)).join(' ')}`,
  ];
  if (probe !== undefined) {
    lines.push(
      `fsync probe (${probe.filesystem ?? probe.dir}): ${probe.commitsPerSec.toFixed(0)} O_DSYNC appends/s of ${probe.bytesPerWrite} B, p50 ${formatMs(probe.latencyMs.p50)} ms, p99 ${formatMs(probe.latencyMs.p99)} ms`,
    );
  }
  return lines.join('\n');
}

/** Paired ratios, failures, unexpected log lines and profiles: what the tables do not show. */
export function renderFooter(report: BenchReport, modules: ModuleReports): string {
  const lines: string[] = [];
  const paired = Object.entries(report.summary.ratios).filter(
    ([key]) => key.endsWith('.paired') && key.includes('.deliveredPerSec.'),
  );
  if (paired.length > 0) {
    lines.push(
      `paired ratios, delivered msg/s (median over runs done back to back): ${paired
        .map(([key, value]) => `${key.replace('.deliveredPerSec', '').replace('.paired', '')} ${formatRatio(value)}`)
        .join(', ')}`,
    );
  }
  for (const { failed, report: module } of ran(modules))
    for (const error of module.errors) lines.push(`${failed} FAILED: ${error}`);
  for (const system of report.systems) {
    for (const error of system.errors) lines.push(`${system.id}: FAILED: ${error}`);
    for (const chain of system.chains) {
      const where = `${system.id} chain #${chain.generation}`;
      for (const [role, found] of Object.entries(chain.unexpectedLogLines)) {
        lines.push(`${where}: ${role} logged ${found.length} unexpected line(s), first: ${found[0]?.slice(0, 300)}`);
      }
      const bad = Object.entries(chain.exitCodes).filter(([, code]) => code !== 0);
      if (bad.length > 0) lines.push(`${where}: exit codes ${bad.map(([name, code]) => `${name}=${code}`).join(', ')}`);
    }
    for (const profile of system.chains.flatMap((chain) => chain.profiles ?? [])) {
      lines.push(
        `${system.id}: CPU profile ${profile.file}: busy ${formatMs(profile.busyMs)} ms of ${formatMs(profile.wallMs)} ms (GC ${formatMs(profile.gcMs)} ms); by area: ${profile.byArea
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
