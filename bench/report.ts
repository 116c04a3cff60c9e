import type { ProfileSummary } from './cpuprofile.js';
import type { Plan } from './plan.js';
import type { FsyncProbe, MachineInfo } from './probe.js';
import { median, ratio } from './stats.js';
import type { Role, SystemId } from './systems.js';
import type { FsyncCounters, LatencyResult, LoadResult, ScenarioSpec } from './types.js';

/** A printable row of a module or section: one figure and its value. */
export interface ExtraRow {
  readonly label: string;
  readonly value: string;
}

/**
 * What a module or section (fan-out, burst, http, bridge, webhook, peers) gives the driver: its
 * rows for its table, its targets, its record in the results file, and what made it fail.
 */
export interface ModuleReport {
  readonly rows: readonly ExtraRow[];
  readonly targets: readonly Target[];
  readonly json: unknown;
  readonly errors: readonly string[];
}

export type ThroughputKey = 'ackedPerSec' | 'deliveredPerSec' | 'deliveriesPerSec';
export type LatencyKey = 'delivery' | 'ack' | 'deliveryFromActualSend';
export type Percentile = 'p50' | 'p99' | 'p999';
export const PERCENTILES: readonly Percentile[] = ['p50', 'p99', 'p999'];

/** The headline rates of a throughput run, over every subscribed socket. */
export interface ThroughputFigures {
  /** Acks ÷ (first send → last ack). */
  readonly ackedPerSec: number;
  /** Deliveries ÷ sockets ÷ (first send → last delivery on any socket): messages through the whole fan-out per second. */
  readonly deliveredPerSec: number;
  /** Frames received on all sockets ÷ the same span. */
  readonly deliveriesPerSec: number;
}

/** What the sink processes' sockets got, against the acked messages (fan-out runs). */
export interface FanoutIntegrity {
  readonly sockets: number;
  readonly deliveries: number;
  /** Acked messages some sink socket did not get, summed over sockets. */
  readonly lost: number;
  /** Frames beyond the acked count, summed over sockets. */
  readonly extra: number;
  readonly reordered: number;
  readonly incompleteSockets: number;
  readonly closed: Record<string, number>;
  readonly timedOut: boolean;
}

/** Processes whose CPU a run records: the chain's three, the load generator and the sinks. */
type Observed = Role | 'load' | 'sinks';

/** One run of a scenario as the driver saw it: the load child's result plus what the chain did meanwhile. */
export interface ScenarioRecord {
  /** The scenario (`tp1x1`, `lat5k`, …); `spec.label` is unique per run (`tp1x1r0`). */
  readonly name: string;
  readonly repeat: number;
  readonly spec: ScenarioSpec;
  readonly result: LoadResult;
  readonly throughput?: ThroughputFigures;
  readonly fanout?: FanoutIntegrity;
  /** Wall time between the load's start event and the end of the last socket's batch. */
  readonly wallMs: number;
  /** CPU ms each process used during the measurement (the load child from its own count). */
  readonly cpuMs: Partial<Record<Observed, number>>;
  /** The system (kernel) part of cpuMs: socket and file syscalls, the log's synchronous writes included. */
  readonly cpuSystemMs: Partial<Record<Observed, number>>;
  /** CPU µs per measured message, per process. */
  readonly cpuUsPerMessage: Partial<Record<Observed, number>>;
  /** Every observed process's CPU (chain, load generator, sinks), seconds per million deliveries. */
  readonly cpuSecondsPerMillionDeliveries?: number;
  /** msgqueue file activity during the measurement (counters differenced). */
  readonly fsync: FsyncActivity | undefined;
}

export interface FsyncActivity {
  readonly counters: FsyncCounters;
  readonly commitsPerSec: number;
  /** Messages measured per group commit. */
  readonly messagesPerCommit: number;
  readonly meanCommitMs: number;
  /** Share of the wall time some commit was running: near 100 % means the disk paces the log. */
  readonly commitBusyPct: number;
}

/** One chain (three processes), from start to stop. */
export interface ChainRecord {
  readonly generation: number;
  /** Messages (warm-up included) the load generators sent through it. */
  readonly messages: number;
  readonly exitCodes: Record<Role, number | null>;
  /** Warnings and errors other than the usual start-up ones, and stderr lines. */
  readonly unexpectedLogLines: Partial<Record<Role, string[]>>;
  readonly profiles?: ProfileSummary[];
}

export interface SystemRecord {
  readonly id: SystemId;
  readonly title: string;
  readonly env: Record<string, string>;
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

export interface Target {
  readonly name: string;
  readonly goal: string;
  readonly measured: string;
  readonly pass: boolean;
  /** For bench/results/summary.json: the figure checked against the goal, ours and the baseline's. */
  readonly ratio?: number;
  readonly ours?: number;
  readonly baseline?: number;
  readonly unit?: string;
}

/** Medians over the runs, per scenario and system, and the ratios between systems. */
export interface Summary {
  readonly throughput: Record<string, Partial<Record<SystemId, Record<ThroughputKey, Range>>>>;
  readonly latency: Record<string, Partial<Record<SystemId, Record<LatencyKey, Record<Percentile, Range>>>>>;
  /**
   * `<scenario>.<figure>.<a>/<b>`: ratio of the medians; with `.paired`, the median of the
   * ratios of runs done back to back (cancels slow drifts of the machine's load).
   */
  readonly ratios: Record<string, number>;
}

export interface BenchReport {
  readonly name: 'pubsub-bench';
  readonly date: string;
  readonly quick: boolean;
  readonly machine: MachineInfo;
  readonly settings: Record<string, unknown>;
  readonly fsyncProbe: FsyncProbe | undefined;
  readonly systems: SystemRecord[];
  readonly summary: Summary;
  readonly targets: Target[];
  /** The fan-out module's own JSON, or why it did not run. */
  readonly fanout: unknown;
  /** The burst module's runs (bench/burst), and any that could not run. */
  readonly burst: unknown;
  /** The HTTP section's run (bench/http): its figures, the ratios to wss, or why it could not run. */
  readonly http: unknown;
  /** The bridge section's run (bench/bridge): each source's msg/s into a subscriber, the ratios to wss, what was skipped. */
  readonly bridge: unknown;
  /** The webhook section's run (bench/webhook): webhook and wss deliveries/s and their ratio. */
  readonly webhook: unknown;
  /** The peers section (bench/peers): JetStream and Redis Streams beside our chain, or why not. */
  readonly peers?: unknown;
  /** The original Go implementation beside ours (bench/peers/go-original.ts), or why it was skipped. */
  readonly go?: unknown;
  readonly durationS: number;
}

/** Pairs of systems compared in the tables and the ratios: first ÷ second. */
export const COMPARISONS: readonly (readonly [SystemId, SystemId])[] = [
  ['file', 'ceiling'],
  ['memory', 'ceiling'],
  ['file', 'memory'],
  ['memory', 'memory-unopt'],
];

export const runsOf = (system: SystemRecord | undefined, name: string): ScenarioRecord[] =>
  system?.scenarios.filter((record) => record.name === name) ?? [];

const latencyOf = (record: ScenarioRecord): LatencyResult | undefined =>
  record.result.kind === 'latency' ? record.result : undefined;

export function rangeOf(values: readonly number[]): Range | undefined {
  const finite = values.filter(Number.isFinite);
  if (finite.length === 0) return undefined;
  return { median: median(finite), min: Math.min(...finite), max: Math.max(...finite), runs: finite.length };
}

/** The run whose acked rate is the median (throughput), or the median p99 (latency): its details are shown. */
export function representative(system: SystemRecord | undefined, name: string): ScenarioRecord | undefined {
  const key = (record: ScenarioRecord) => record.throughput?.ackedPerSec ?? latencyOf(record)?.delivery.p99 ?? 0;
  const sorted = [...runsOf(system, name)].sort((a, b) => key(a) - key(b));
  return sorted[Math.floor((sorted.length - 1) / 2)];
}

function throughputSummary(system: SystemRecord, name: string): Record<ThroughputKey, Range> | undefined {
  const runs = runsOf(system, name).flatMap((record) => (record.throughput === undefined ? [] : [record.throughput]));
  const [acked, delivered, deliveries] = (['ackedPerSec', 'deliveredPerSec', 'deliveriesPerSec'] as const).map((key) =>
    rangeOf(runs.map((figures) => figures[key])),
  );
  if (acked === undefined || delivered === undefined || deliveries === undefined) return undefined;
  return { ackedPerSec: acked, deliveredPerSec: delivered, deliveriesPerSec: deliveries };
}

function latencySummary(system: SystemRecord, name: string): Record<LatencyKey, Record<Percentile, Range>> | undefined {
  const runs = runsOf(system, name).flatMap((record) => latencyOf(record) ?? []);
  const of = (key: LatencyKey) => {
    const entries = PERCENTILES.map((p) => [p, rangeOf(runs.map((result) => result[key][p]))] as const);
    return entries.every(([, range]) => range !== undefined)
      ? (Object.fromEntries(entries) as Record<Percentile, Range>)
      : undefined;
  };
  const [delivery, ack, actual] = [of('delivery'), of('ack'), of('deliveryFromActualSend')];
  if (delivery === undefined || ack === undefined || actual === undefined) return undefined;
  return { delivery, ack, deliveryFromActualSend: actual };
}

/** The median of a ÷ b over the runs of `name` done back to back (same repeat). */
function pairedRatio(
  pair: readonly [SystemRecord, SystemRecord],
  name: string,
  pick: (r: ScenarioRecord) => number | undefined,
) {
  const [a, b] = pair;
  const partners = new Map(runsOf(b, name).map((run) => [run.repeat, run]));
  const values = runsOf(a, name)
    .map((run) => {
      const partner = partners.get(run.repeat);
      return partner === undefined ? Number.NaN : ratio(pick(run), pick(partner));
    })
    .filter(Number.isFinite);
  return values.length > 1 ? median(values) : undefined;
}

export function summarize(systems: readonly SystemRecord[], list: readonly Plan[]): Summary {
  const summary: Summary = { throughput: {}, latency: {}, ratios: {} };
  const byId = new Map(systems.map((system) => [system.id, system]));
  for (const plan of list) {
    const throughput: Summary['throughput'][string] = {};
    const latency: Summary['latency'][string] = {};
    for (const system of systems) {
      const t = throughputSummary(system, plan.name);
      const l = latencySummary(system, plan.name);
      if (t !== undefined) throughput[system.id] = t;
      if (l !== undefined) latency[system.id] = l;
    }
    if (plan.spec.kind === 'throughput') summary.throughput[plan.name] = throughput;
    else summary.latency[plan.name] = latency;
    for (const [a, b] of COMPARISONS) {
      const [ra, rb] = [byId.get(a), byId.get(b)];
      if (ra === undefined || rb === undefined) continue;
      const fanout = plan.spec.kind === 'throughput' && plan.spec.subscribers > 1;
      // With one socket, deliveries/s is delivered msg/s again.
      const keys = fanout
        ? (['ackedPerSec', 'deliveredPerSec', 'deliveriesPerSec'] as const)
        : (['ackedPerSec', 'deliveredPerSec'] as const);
      for (const key of keys) {
        const [ta, tb] = [throughput[a]?.[key], throughput[b]?.[key]];
        if (ta === undefined || tb === undefined) continue;
        summary.ratios[`${plan.name}.${key}.${a}/${b}`] = ratio(ta.median, tb.median);
        const paired = pairedRatio([ra, rb], plan.name, (run) => run.throughput?.[key]);
        if (paired !== undefined) summary.ratios[`${plan.name}.${key}.${a}/${b}.paired`] = paired;
      }
      for (const p of PERCENTILES) {
        const [la, lb] = [latency[a]?.delivery[p], latency[b]?.delivery[p]];
        if (la !== undefined && lb !== undefined) {
          summary.ratios[`${plan.name}.delivery.${p}.${a}/${b}`] = ratio(la.median, lb.median);
        }
      }
    }
  }
  return summary;
}
