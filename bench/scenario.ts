import { performance } from 'node:perf_hooks';
import { DEV_AUTH } from '@pubsub/testkit';
import { reported, told } from './child.js';
import { cpuTimeOf, failRun, TsChild, type CpuTime } from './process.js';
import type { FanoutIntegrity, FsyncActivity, ScenarioRecord, ThroughputFigures } from './report.js';
import { perSecond } from './stats.js';
import { ROLES, type Role, type System } from './systems.js';
import {
  type FsyncCounters,
  type LoadConfig,
  type LoadResult,
  type ScenarioSpec,
  type SinkConfig,
  type SinkResult,
  type ThroughputResult,
} from './types.js';

/** Processes the fan-out sockets (all but the load generator's one) are spread over. */
export const SINK_PROCESSES = 1;

/**
 * Messages a fresh chain is sent before it is measured. V8 is still compiling our services' code
 * after 2,000 (they then cost two to three times their steady CPU per message; the Go
 * side-by-side found it, docs/performance.md), and the longer a system's code path the longer
 * that lasts, so a short warm-up measures the compiler, not the system.
 */
const WARMUP_MESSAGES = 10_000;

/**
 * Warm-up before each measurement (same processes, not measured): the services' JIT and the
 * connections are warm, and the chain is known to be connected end to end. Fan-out scenarios
 * warm up with fewer messages: each is a hundred deliveries.
 */
export function warmupFor(spec: ScenarioSpec): { warmup: number; warmupWindow: number } {
  if (spec.kind === 'latency') return { warmup: WARMUP_MESSAGES, warmupWindow: 100 };
  const warmup = spec.subscribers > 1 ? Math.max(200, spec.count / 5) : WARMUP_MESSAGES;
  return { warmup, warmupWindow: spec.window };
}

function diffCounters(after: FsyncCounters, before: FsyncCounters): FsyncCounters {
  const keys = Object.keys(after) as (keyof FsyncCounters)[];
  return Object.fromEntries(keys.map((key) => [key, after[key] - before[key]])) as unknown as FsyncCounters;
}

function fsyncActivity(
  counters: { before: FsyncCounters | undefined; after: FsyncCounters | undefined },
  wallMs: number,
  messages: number,
): FsyncActivity | undefined {
  if (counters.before === undefined || counters.after === undefined) return undefined;
  const diff = diffCounters(counters.after, counters.before);
  return {
    counters: diff,
    commitsPerSec: (diff.commits * 1000) / wallMs,
    messagesPerCommit: diff.commits > 0 ? messages / diff.commits : 0,
    meanCommitMs: diff.commits > 0 ? diff.commitMs / diff.commits : 0,
    commitBusyPct: (100 * diff.commitMs) / wallMs,
  };
}

/** CPU time of the chain's processes so far. */
async function chainCpu(system: System): Promise<Partial<Record<Role, CpuTime>>> {
  const times = await Promise.all(
    ROLES.map(async (role) => [role, await cpuTimeOf(system.children[role].pid)] as const),
  );
  return Object.fromEntries(times.filter(([, time]) => time !== undefined));
}

/**
 * CPU ms the sinks used from `before` until they reported: a sink may have exited by the time the
 * driver could read /proc again.
 */
function sinksCpuMs(before: readonly (CpuTime | undefined)[], results: readonly SinkResult[]): number | undefined {
  let sum = 0;
  for (const [k, result] of results.entries()) {
    const start = before[k];
    if (start === undefined) return undefined;
    sum += result.cpuMs - start.userMs - start.systemMs;
  }
  return results.length > 0 ? sum : undefined;
}

/** Sink processes holding the fan-out sockets, each subscribed and ready before the load starts. */
async function startSinks(urls: { subscribeUrl: string; caFile: string }, spec: ScenarioSpec): Promise<TsChild[]> {
  if (spec.kind !== 'throughput' || spec.subscribers <= 1) return [];
  const sockets = spec.subscribers - 1;
  const processes = Math.min(SINK_PROCESSES, sockets);
  const sinks = Array.from({ length: processes }, (_v, k) => {
    const config: SinkConfig = {
      ...urls,
      auth: DEV_AUTH,
      sockets: Math.floor(sockets / processes) + (k < sockets % processes ? 1 : 0),
      label: spec.label,
      publishers: spec.publishers,
      expected: spec.count,
      timeoutMs: 2 * timeoutOf(spec) + sinkGraceOf(spec),
    };
    return new TsChild(`sink ${k}`, { entry: 'bench/sink.ts', argv: [JSON.stringify(config)] }, {});
  });
  try {
    await Promise.all(sinks.map((sink) => told(sink, 'ready')));
  } catch (err) {
    await Promise.all(sinks.map((sink) => sink.stop('SIGKILL')));
    throw err;
  }
  return sinks;
}

/**
 * Generous (a path that falls behind still drains, and its lateness is the measurement) but
 * bounded: at least 10,000 deliveries/s, and a broken chain costs a minute at most.
 */
function timeoutOf(spec: ScenarioSpec): number {
  return spec.kind === 'throughput' ? 30_000 + (spec.count * spec.subscribers) / 10 : spec.durationMs * 3 + 30_000;
}

/** How long the sinks may trail the load generator's own socket (at ≥ 20 deliveries per ms). */
function sinkGraceOf(spec: ScenarioSpec): number {
  return spec.kind === 'throughput' ? Math.max(10_000, (spec.count * spec.subscribers) / 20) : 0;
}

/** The sinks' results; those that have not finished within the grace are asked to report now. */
async function sinkResults(sinks: readonly TsChild[], graceMs: number): Promise<SinkResult[]> {
  const results = sinks.map((sink) => reported<SinkResult>(sink));
  const timer = setTimeout(() => sinks.forEach((sink) => sink.child.kill('SIGTERM')), graceMs);
  try {
    return await Promise.all(results);
  } finally {
    clearTimeout(timer);
  }
}

function fanoutOf(results: readonly SinkResult[], acked: number): FanoutIntegrity {
  const counts = results.flatMap((result) => result.counts);
  const closed: Record<string, number> = {};
  for (const result of results) {
    for (const [code, n] of Object.entries(result.closed)) closed[code] = (closed[code] ?? 0) + n;
  }
  return {
    sockets: counts.length,
    deliveries: counts.reduce((sum, n) => sum + n, 0),
    lost: counts.reduce((sum, n) => sum + Math.max(0, acked - n), 0),
    extra: counts.reduce((sum, n) => sum + Math.max(0, n - acked), 0),
    reordered: results.reduce((sum, result) => sum + result.reordered, 0),
    incompleteSockets: counts.filter((n) => n < acked).length,
    closed,
    timedOut: results.some((result) => result.timedOut),
  };
}

/** Messages/s and deliveries/s over every subscribed socket, first send → last delivery anywhere. */
function throughputFigures(result: ThroughputResult, sinks: readonly SinkResult[]): ThroughputFigures {
  const lastAt = Math.max(result.lastDeliveryAt, ...sinks.map((sink) => sink.lastDeliveryAt).filter(Number.isFinite));
  const spanMs = lastAt - result.firstSendAt;
  const deliveries =
    result.integrity.delivered + sinks.reduce((sum, sink) => sum + sink.counts.reduce((a, n) => a + n, 0), 0);
  const sockets = 1 + sinks.reduce((sum, sink) => sum + sink.counts.length, 0);
  const deliveriesPerSec = perSecond(deliveries, spanMs);
  return {
    ackedPerSec: result.ackedPerSec,
    deliveredPerSec: sockets === 1 ? result.deliveredPerSec : deliveriesPerSec / sockets,
    deliveriesPerSec,
  };
}

/**
 * Runs one scenario: the sinks (fan-out only), then a fresh load-generator process, observing the
 * chain's processes around the measurement.
 */
export async function runScenario(
  system: System,
  spec: ScenarioSpec,
  caFile: string,
): Promise<Omit<ScenarioRecord, 'name' | 'repeat'>> {
  const timeoutMs = timeoutOf(spec);
  const urls = {
    subscribeUrl: `wss://127.0.0.1:${system.subscribePort}/subscribe`,
    caFile,
  };
  const sinks = await startSinks(urls, spec);
  const config: LoadConfig = {
    ...urls,
    scenario: spec,
    publishUrl: `wss://127.0.0.1:${system.publishPort}/publish`,
    auth: DEV_AUTH,
    ...warmupFor(spec),
    timeoutMs,
  };
  const load = new TsChild(`load ${spec.label}`, { entry: 'bench/load.ts', argv: [JSON.stringify(config)] }, {});
  const children = [load, ...sinks];
  const guard = setTimeout(
    () => children.forEach((child) => child.child.kill('SIGKILL')),
    2 * timeoutMs + sinkGraceOf(spec) + 60_000,
  );
  try {
    await told(load, 'start');
    const t0 = performance.now();
    const [cpu0, sinkCpu0, fsync0] = await Promise.all([
      chainCpu(system),
      Promise.all(sinks.map((sink) => cpuTimeOf(sink.pid))),
      system.fsyncCounters(),
    ]);
    await told(load, 'end');
    const sinkResultList = await sinkResults(sinks, sinkGraceOf(spec));
    const wallMs = performance.now() - t0;
    const [cpu1, fsync1] = await Promise.all([chainCpu(system), system.fsyncCounters()]);
    const result = await reported<LoadResult>(load);
    const codes = await Promise.all(children.map((child) => child.exited));
    if (codes.some((code) => code !== 0)) {
      throw new Error(`load generator or sink exited ${codes.join(', ')}: ${load.stderr.slice(-10).join('\n')}`);
    }
    const cpuMs: ScenarioRecord['cpuMs'] = { load: result.loadCpuMs };
    const cpuSystemMs: ScenarioRecord['cpuSystemMs'] = {};
    for (const role of ROLES) {
      const [before, after] = [cpu0[role], cpu1[role]];
      if (before === undefined || after === undefined) continue;
      cpuMs[role] = after.userMs + after.systemMs - before.userMs - before.systemMs;
      cpuSystemMs[role] = after.systemMs - before.systemMs;
    }
    const sinksMs = sinksCpuMs(sinkCpu0, sinkResultList);
    if (sinksMs !== undefined) cpuMs.sinks = sinksMs;
    const messages = result.integrity.sent;
    const cpuUsPerMessage = Object.fromEntries(
      Object.entries(cpuMs).map(([name, ms]) => [name, messages > 0 ? (ms * 1000) / messages : Number.NaN]),
    );
    const throughput = result.kind === 'throughput' ? throughputFigures(result, sinkResultList) : undefined;
    const fanout = sinks.length > 0 ? fanoutOf(sinkResultList, result.integrity.acked) : undefined;
    // A healthy reader closed mid-run (4100 or otherwise) fails the scenario (issue #19).
    const closed = Object.entries(fanout?.closed ?? {});
    if (closed.length > 0) {
      throw new Error(
        `the subscriber closed healthy sockets mid-run: ${closed.map(([code, n]) => `${n} × ${code}`).join(', ')}`,
      );
    }
    const deliveries = result.integrity.delivered + (fanout?.deliveries ?? 0);
    const allCpuMs = Object.values(cpuMs).reduce((sum, ms) => sum + ms, 0);
    return {
      spec,
      result,
      ...(throughput === undefined ? {} : { throughput }),
      ...(fanout === undefined ? {} : { fanout }),
      wallMs,
      cpuMs,
      cpuSystemMs,
      cpuUsPerMessage,
      cpuSecondsPerMillionDeliveries: deliveries > 0 ? (allCpuMs * 1000) / deliveries : Number.NaN,
      fsync: fsyncActivity({ before: fsync0, after: fsync1 }, wallMs, messages),
    };
  } catch (err) {
    return await failRun(spec.label, children, err);
  } finally {
    clearTimeout(guard);
  }
}
