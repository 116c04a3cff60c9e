import { performance } from 'node:perf_hooks';
import { TsChild } from './process.js';
import type { FsyncActivity, ScenarioRecord } from './report.js';
import type { ServiceName, Suite } from './services.js';
import {
  EVENT_PREFIX,
  RESULT_PREFIX,
  type FsyncCounters,
  type LoadConfig,
  type LoadResult,
  type ScenarioSpec,
} from './types.js';

/**
 * Warm-up before each measurement (same processes, not measured): the services' JIT and the
 * connections are warm, and the chain is known to be connected end to end.
 */
export function warmupFor(spec: ScenarioSpec): { warmup: number; warmupWindow: number } {
  return spec.kind === 'throughput'
    ? { warmup: Math.min(5_000, Math.max(2_000, spec.count / 10)), warmupWindow: spec.window }
    : { warmup: 1_000, warmupWindow: 100 };
}

function diffCounters(after: FsyncCounters, before: FsyncCounters): FsyncCounters {
  const keys = Object.keys(after) as (keyof FsyncCounters)[];
  return Object.fromEntries(keys.map((key) => [key, after[key] - before[key]])) as unknown as FsyncCounters;
}

function fsyncActivity(
  before: FsyncCounters | undefined,
  after: FsyncCounters | undefined,
  wallMs: number,
): FsyncActivity | undefined {
  if (before === undefined || after === undefined) return undefined;
  const counters = diffCounters(after, before);
  return {
    counters,
    datasyncPerSec: (counters.datasync * 1000) / wallMs,
    recordsPerDatasync: counters.datasync > 0 ? counters.writevBuffers / counters.datasync : 0,
    meanDatasyncMs: counters.datasync > 0 ? counters.datasyncMs / counters.datasync : 0,
    datasyncBusyPct: (100 * counters.datasyncMs) / wallMs,
  };
}

function measuredMessages(result: LoadResult): number {
  return result.integrity.sent;
}

/** Runs one scenario in a fresh load-generator process, observing the services around its measurement. */
export async function runScenario(
  suite: Suite,
  spec: ScenarioSpec,
  caFile: string,
): Promise<Omit<ScenarioRecord, 'name' | 'repeat'>> {
  // Generous: a path that falls behind still drains, and its lateness is the measurement.
  const timeoutMs = spec.kind === 'throughput' ? 60_000 + spec.count : spec.durationMs * 3 + 60_000;
  const config: LoadConfig = {
    scenario: spec,
    publishUrl: `wss://127.0.0.1:${suite.publishPort}/publish`,
    subscribeUrl: `wss://127.0.0.1:${suite.subscribePort}/subscribe`,
    caFile,
    auth: 'hello:test',
    ...warmupFor(spec),
    timeoutMs,
  };
  const load = new TsChild(`load ${spec.label}`, { entry: 'bench/load.ts', argv: [JSON.stringify(config)] }, {});
  const guard = setTimeout(() => load.child.kill('SIGKILL'), timeoutMs + 60_000);
  try {
    await load.waitForLine((line) => line === `${EVENT_PREFIX}start`);
    const t0 = performance.now();
    const [cpu0, fsync0] = await Promise.all([suite.cpuTime(), suite.fsyncCounters()]);
    await load.waitForLine((line) => line === `${EVENT_PREFIX}end`);
    const wallMs = performance.now() - t0;
    const [cpu1, fsync1] = await Promise.all([suite.cpuTime(), suite.fsyncCounters()]);
    const line = await load.waitForLine((text) => text.startsWith(RESULT_PREFIX));
    const result = JSON.parse(line.slice(RESULT_PREFIX.length)) as LoadResult;
    const code = await load.exited;
    if (code !== 0) throw new Error(`load generator exited ${code}: ${load.stderr.slice(-10).join('\n')}`);
    const cpuMs: ScenarioRecord['cpuMs'] = { load: result.loadCpuMs };
    const cpuSystemMs: ScenarioRecord['cpuSystemMs'] = {};
    for (const name of ['msgqueue', 'publisher', 'subscriber'] as ServiceName[]) {
      const [before, after] = [cpu0[name], cpu1[name]];
      if (before === undefined || after === undefined) continue;
      cpuMs[name] = after.userMs + after.systemMs - before.userMs - before.systemMs;
      cpuSystemMs[name] = after.systemMs - before.systemMs;
    }
    const messages = measuredMessages(result);
    const cpuUsPerMessage = Object.fromEntries(
      Object.entries(cpuMs).map(([name, ms]) => [name, messages > 0 ? (ms * 1000) / messages : Number.NaN]),
    );
    return { spec, result, wallMs, cpuMs, cpuSystemMs, cpuUsPerMessage, fsync: fsyncActivity(fsync0, fsync1, wallMs) };
  } catch (err) {
    await load.stop('SIGKILL');
    throw new Error(`${spec.label}: ${(err as Error).message}\nload stderr: ${load.stderr.slice(-10).join('\n')}`, {
      cause: err,
    });
  } finally {
    clearTimeout(guard);
  }
}
