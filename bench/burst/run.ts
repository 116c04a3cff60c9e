/**
 * One burst on a fresh chain (our three services, durable store, defaults): the backlog child's
 * stall and catch-up, the subscriber's RSS around it, and optionally the latency of an unrelated
 * topic's reader during the catch-up and, right after, without it for as long.
 */
import { DEV_AUTH } from '@pubsub/testkit';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { setTimeout as delay } from 'node:timers/promises';
import { reported, told } from '../child.js';
import { cpuTimeOf, failRun, TsChild } from '../process.js';
import { Suite } from '../services.js';
import { countersDiff, subscriberCounters, type SubscriberCounters } from './metrics.js';
import { rssOf, RssPeak } from './rss.js';
import {
  type BacklogConfig,
  type BurstResult,
  type CatchUpResult,
  type Endpoints,
  type SteadyConfig,
  type SteadyResult,
} from './types.js';

export interface BurstSpec {
  /** Unique per run (`burst20kr0`): no `-`. */
  readonly label: string;
  readonly count: number;
  readonly warmup: number;
  /** Also measure the unrelated reader's latency during this catch-up, and without one. */
  readonly latency: boolean;
  /** False for the control run: the same burst with both readers reading. */
  readonly stall: boolean;
}

export interface BurstContext {
  readonly work: string;
  readonly certDir: string;
  readonly ca: string;
  readonly caFile: string;
}

export interface BurstRecord {
  readonly spec: BurstSpec;
  readonly burst: BurstResult;
  readonly catchUp: CatchUpResult;
  /** The subscriber's VmRSS before the burst and its peak until the stalled reader had everything. */
  readonly rss: {
    readonly before: number;
    /** The peak until the resume: while the burst is routed live past the stalled reader. */
    readonly peakBeforeResume: number;
    readonly peak: number;
    readonly growth: number;
    readonly samples: number;
  };
  readonly steady?: {
    readonly during: SteadyResult;
    readonly without: SteadyResult;
    /** CPU ms per second of wall time of the subscriber and the msgqueue in each window. */
    readonly cpu: { readonly during: ChainCpu; readonly without: ChainCpu };
  };
  /** The subscriber's counters over the burst and catch-up (catch-up pages, 4100s), if /metrics answered. */
  readonly subscriber: SubscriberCounters | undefined;
  /** Warnings, errors and stderr of the services beyond the usual start-up lines (a 4100 is logged). */
  readonly unexpectedLogLines: ReturnType<Suite['unexpectedLogLines']>;
}

/**
 * The stalled reader reads nothing for as long as the burst takes: 40–70 s for 200,000 durable
 * messages on this shared machine. At the defaults the heartbeat (30 s: no pong by the next
 * round) terminates it first, and the stall timeout (60 s, 4100) would next; this scenario is
 * about the catch-up, so both are set beyond any burst. See bench/README.md ("Burst").
 */
export const BURST_ENV = { HEARTBEAT_INTERVAL_MS: '600000', SUBSCRIBER_STALL_TIMEOUT_MS: '600000' } as const;
const STEADY_RATE = 1_000;
/** The unrelated reader's window never shorter than this: p99 over at least ~3,000 samples. */
const MIN_WINDOW_MS = 3_000;
const STEADY_MAX_MS = 120_000;
/** A burst that cannot finish at 2,000 msg/s is broken, not slow: bound each phase. */
const timeoutOf = (count: number) => 30_000 + count / 2;

export interface ChainCpu {
  readonly subscriber: number;
  readonly msgqueue: number;
}

/** CPU ms of the subscriber and the msgqueue so far, and the wall clock, to difference later. */
async function cpuNow(suite: Suite): Promise<ChainCpu & { at: number }> {
  const ms = async (child: TsChild) => {
    const time = await cpuTimeOf(child.pid);
    return time === undefined ? Number.NaN : time.userMs + time.systemMs;
  };
  const [subscriber, msgqueue] = await Promise.all([ms(suite.children.subscriber), ms(suite.children.msgqueue)]);
  return { subscriber, msgqueue, at: performance.now() };
}

/** CPU ms per second of wall time between two readings (1000 = one core busy). */
function cpuRate(a: ChainCpu & { at: number }, b: ChainCpu & { at: number }): ChainCpu {
  const seconds = (b.at - a.at) / 1000;
  return { subscriber: (b.subscriber - a.subscriber) / seconds, msgqueue: (b.msgqueue - a.msgqueue) / seconds };
}

function steadyChild(endpoints: Endpoints, label: string, maxMs: number): TsChild {
  const config: SteadyConfig = { ...endpoints, label, topic: 'steady', rate: STEADY_RATE, maxMs };
  return new TsChild(`steady ${label}`, { entry: 'bench/burst/steady.ts', argv: [JSON.stringify(config)] }, {});
}

/** Opens a steady child's window (it is ready, warmed up). */
function openWindow(child: TsChild): void {
  child.child.kill('SIGUSR2');
}

/** Closes the window once `until` settles (and MIN_WINDOW_MS have passed): the child's result. */
async function closeWindow(child: TsChild, until: Promise<unknown>): Promise<SteadyResult> {
  await Promise.all([until, delay(MIN_WINDOW_MS)]);
  const result = reported<SteadyResult>(child);
  child.child.kill('SIGTERM');
  return result;
}

const ready = (child: TsChild) => told(child, 'ready');

export async function runBurst(spec: BurstSpec, context: BurstContext): Promise<BurstRecord> {
  const dataDir = join(context.work, `data-burst-${spec.label}`);
  mkdirSync(dataDir);
  const suite = await Suite.start({
    store: 'file',
    certDir: context.certDir,
    ca: context.ca,
    dataDir,
    logLevel: 'warn',
    env: BURST_ENV,
  });
  const endpoints: Endpoints = {
    publishUrl: `wss://127.0.0.1:${suite.publishPort}/publish`,
    subscribeUrl: `wss://127.0.0.1:${suite.subscribePort}/subscribe`,
    caFile: context.caFile,
    auth: DEV_AUTH,
  };
  const config: BacklogConfig = {
    ...endpoints,
    label: spec.label,
    topic: 'burst',
    count: spec.count,
    warmup: spec.warmup,
    window: 1_000,
    pause: spec.stall,
    timeoutMs: timeoutOf(spec.count),
  };
  const children: TsChild[] = [];
  const backlog = new TsChild('burst backlog', { entry: 'bench/burst/backlog.ts', argv: [JSON.stringify(config)] }, {});
  children.push(backlog);
  const guard = setTimeout(() => children.forEach((child) => child.child.kill('SIGKILL')), 3 * timeoutOf(spec.count));
  try {
    const during = spec.latency ? steadyChild(endpoints, `${spec.label}s`, STEADY_MAX_MS) : undefined;
    if (during !== undefined) children.push(during);
    await Promise.all([ready(backlog), during === undefined ? undefined : ready(during)]);
    const pid = suite.children.subscriber.pid;
    const metricsOf = () => subscriberCounters(suite.subscribePort, { ca: context.ca, auth: DEV_AUTH });
    const counters = await metricsOf();
    const before = (await rssOf(pid)) ?? Number.NaN;
    const peak = new RssPeak(pid);

    const burstLine = told<BurstResult>(backlog, 'burst');
    backlog.child.kill('SIGUSR2');
    const burst = await burstLine;
    const caughtUp = reported<CatchUpResult>(backlog);
    // The unrelated reader's window opens just before the resume and closes when the catch-up is done.
    await peak.sample();
    const peakBeforeResume = peak.peak;
    const cpu0 = await cpuNow(suite);
    if (during !== undefined) openWindow(during);
    backlog.child.kill('SIGUSR2');
    const duringResult = during === undefined ? undefined : closeWindow(during, caughtUp);
    // Handled below; should the catch-up fail first, its rejection is not an unhandled one.
    duringResult?.catch(() => undefined);
    const catchUp = await caughtUp;
    const cpu1 = await cpuNow(suite);
    const peakRss = await peak.stop();
    const subscriber = countersDiff(counters, await metricsOf());

    let steady: BurstRecord['steady'];
    if (duringResult !== undefined) {
      const duringFigures = await duringResult;
      // Without a catch-up, on the same chain, for as long.
      const without = steadyChild(endpoints, `${spec.label}q`, STEADY_MAX_MS);
      children.push(without);
      await ready(without);
      openWindow(without);
      const cpu2 = await cpuNow(suite);
      const withoutFigures = await closeWindow(without, delay(duringFigures.windowMs));
      const cpu3 = await cpuNow(suite);
      steady = {
        during: duringFigures,
        without: withoutFigures,
        cpu: { during: cpuRate(cpu0, cpu1), without: cpuRate(cpu2, cpu3) },
      };
    }
    const codes = await Promise.all(children.map((child) => child.exited));
    if (codes.some((code) => code !== 0)) throw new Error(`a burst child exited ${codes.join(', ')}`);
    return {
      spec,
      burst,
      catchUp,
      rss: { before, peakBeforeResume, peak: peakRss, growth: peakRss - before, samples: peak.samples },
      ...(steady === undefined ? {} : { steady }),
      subscriber,
      unexpectedLogLines: suite.unexpectedLogLines(),
    };
  } catch (err) {
    return await failRun(spec.label, children, err);
  } finally {
    clearTimeout(guard);
    await suite.stop();
  }
}
