/**
 * The peers section: durable acked publishes per second with 1 and 16 publishers, and the CPU
 * time of every process per delivered message, for our chain (file store, defaults) against NATS
 * JetStream (file storage, one replica) and Redis Streams (`XADD`, `appendfsync always`), in one
 * run, in the same layout: a publisher process, the broker (our three services, or the one
 * server), a subscriber process. See bench/README.md ("Peers").
 */
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { reported, told } from '../child.js';
import { cpuTimeOf, failRun, TsChild } from '../process.js';
import type { ExtraRow, ModuleReport, Target } from '../report.js';
import type { ModuleOptions } from '../section.js';
import { Suite } from '../services.js';
import { formatRate, formatRatio, median, perSecond, ratio } from '../stats.js';
import type { FsyncCounters } from '../types.js';
import { binaryFor, startNats, startRedis, type Broker, type BrokerId, type BrokerOptions } from './brokers.js';
import {
  PEER_IDS,
  type PeerClientConfig,
  type PeerEndpoint,
  type PeerId,
  type PublishResult,
  type SubscribeResult,
} from './types.js';

const USER = 'hello';
const PASSWORD = 'test';
export const NAMES: Record<PeerId, string> = {
  suite: 'ours (durable)',
  jetstream: 'NATS JetStream',
  redis: 'Redis Streams',
};
/** Publisher counts and the window per publisher connection: the same client concurrency on every system. */
const SHAPES = [
  { publishers: 1, window: 1_000 },
  { publishers: 16, window: 100 },
] as const;

/** One run: one system, one publisher count. */
export interface PeerRun {
  readonly system: PeerId;
  readonly publishers: number;
  readonly window: number;
  readonly repeat: number;
  readonly publish: PublishResult;
  readonly subscribe: SubscribeResult;
  /** Distinct deliveries ÷ (first send → last delivery). */
  readonly deliveredPerSec: number;
  /** CPU ms (user + system, /proc) of each process from the first measured send until both clients reported. */
  readonly cpuMs: Record<string, number>;
  /** Every process's CPU, in seconds per million delivered messages. */
  readonly cpuSecondsPerMillion: number;
  /** The servers' part (ours: msgqueue + publisher + subscriber), µs per message, and per server process on the path. */
  readonly serverUsPerMessage: number;
  readonly serverUsPerMessagePerHop: number;
  /** Ours: the msgqueue's group commits (one O_DSYNC writev each) per delivered message, from fsync-counter.ts. */
  readonly commitsPerMessage?: number;
}

interface Target0 {
  readonly system: PeerId;
  readonly endpoint: PeerEndpoint;
  /** The server processes: name → pid. */
  readonly pids: () => Record<string, number>;
  /** Ours only: the msgqueue's commit counters. */
  readonly fsyncCounters?: () => Promise<FsyncCounters | undefined>;
  stop(): Promise<unknown>;
}

async function startSystem(id: PeerId, options: ModuleOptions): Promise<Target0> {
  const dir = join(options.work, `peers-${id}`);
  mkdirSync(dir, { recursive: true });
  if (id === 'suite') {
    const suite = await Suite.start({
      store: 'file',
      certDir: options.certDir,
      ca: options.ca,
      dataDir: dir,
      logLevel: 'warn',
      env: {},
    });
    return {
      system: id,
      endpoint: {
        system: 'suite',
        publishUrl: `wss://127.0.0.1:${suite.publishPort}/publish`,
        subscribeUrl: `wss://127.0.0.1:${suite.subscribePort}/subscribe`,
        topic: 'peers',
      },
      pids: () => Object.fromEntries(Object.entries(suite.children).map(([role, child]) => [role, child.pid])),
      fsyncCounters: () => suite.fsyncCounters(),
      stop: () => suite.stop(),
    };
  }
  const binary = await binaryFor(id);
  if ('missing' in binary) throw new NotMeasured(binary.missing);
  const brokerOptions: BrokerOptions = {
    dir,
    certFile: join(options.certDir, 'server.crt'),
    keyFile: join(options.certDir, 'server.key'),
    user: USER,
    password: PASSWORD,
  };
  const broker: Broker = await (id === 'jetstream' ? startNats : startRedis)(binary.path, brokerOptions);
  brokers.set(id, broker);
  return {
    system: id,
    endpoint:
      id === 'jetstream'
        ? { system: 'jetstream', port: broker.port, stream: 'PEERS', subject: 'peers.bench' }
        : { system: 'redis', port: broker.port, key: 'peers' },
    pids: () => ({ [id === 'jetstream' ? 'nats-server' : 'redis-server']: broker.pid }),
    stop: () => broker.stop(),
  };
}

/** A peer that cannot be had on this machine: reported, never a failure of the bench. */
class NotMeasured extends Error {}
const brokers = new Map<BrokerId, Broker>();

/** CPU ms (user + system, /proc) of each named process; NaN where it cannot be read. */
export async function cpuOf(pids: Record<string, number>): Promise<Record<string, number>> {
  const entries = await Promise.all(
    Object.entries(pids).map(async ([name, pid]) => {
      const time = await cpuTimeOf(pid);
      return [name, time === undefined ? Number.NaN : time.userMs + time.systemMs] as const;
    }),
  );
  return Object.fromEntries(entries);
}

async function runOnce(
  target: Target0,
  shape: (typeof SHAPES)[number],
  settings: { repeat: number; count: number; warmup: number; caFile: string },
): Promise<PeerRun> {
  const label = `p${shape.publishers}r${settings.repeat}`;
  const timeoutMs = 30_000 + settings.count;
  const config = (role: PeerClientConfig['role']): PeerClientConfig => ({
    role,
    endpoint: target.endpoint,
    caFile: settings.caFile,
    user: USER,
    password: PASSWORD,
    label,
    publishers: shape.publishers,
    window: shape.window,
    count: settings.count,
    warmup: settings.warmup,
    timeoutMs,
  });
  const client = (role: PeerClientConfig['role']) =>
    new TsChild(
      `peers ${role} ${target.system}`,
      { entry: 'bench/peers/client.ts', argv: [JSON.stringify(config(role))] },
      {},
    );
  const subscriber = client('subscribe');
  const children = [subscriber];
  const guard = setTimeout(() => children.forEach((child) => child.child.kill('SIGKILL')), 2 * timeoutMs + 60_000);
  try {
    await told(subscriber, 'ready');
    const publisher = client('publish');
    children.push(publisher);
    await told(publisher, 'start');
    const pids = { 'publishing client': publisher.pid, ...target.pids(), 'subscribing client': subscriber.pid };
    const [before, commits0] = await Promise.all([cpuOf(pids), target.fsyncCounters?.()]);
    const [publish, subscribe] = await Promise.all([
      reported<PublishResult>(publisher),
      reported<SubscribeResult>(subscriber),
    ]);
    const [after, commits1] = await Promise.all([cpuOf(pids), target.fsyncCounters?.()]);
    const codes = await Promise.all(children.map((child) => child.stop('SIGTERM', 5_000)));
    if (codes.some((code) => code !== 0)) throw new Error(`a client exited ${codes.join(', ')}`);
    const cpuMs = Object.fromEntries(
      Object.keys(pids).map((name) => [name, (after[name] ?? NaN) - (before[name] ?? NaN)]),
    );
    const servers = Object.keys(target.pids());
    const serverMs = servers.reduce((sum, name) => sum + (cpuMs[name] ?? NaN), 0);
    const totalMs = Object.values(cpuMs).reduce((sum, ms) => sum + ms, 0);
    const serverUsPerMessage = (serverMs * 1000) / Math.max(1, subscribe.delivered);
    return {
      system: target.system,
      publishers: shape.publishers,
      window: shape.window,
      repeat: settings.repeat,
      publish,
      subscribe,
      deliveredPerSec: perSecond(subscribe.delivered, subscribe.lastDeliveryAt - publish.firstSendAt),
      cpuMs,
      cpuSecondsPerMillion: (totalMs * 1000) / Math.max(1, subscribe.delivered),
      serverUsPerMessage,
      serverUsPerMessagePerHop: serverUsPerMessage / servers.length,
      ...(commits0 === undefined || commits1 === undefined
        ? {}
        : { commitsPerMessage: (commits1.commits - commits0.commits) / Math.max(1, subscribe.delivered) }),
    };
  } catch (err) {
    return await failRun(`peers ${target.system} ${label}`, children, err);
  } finally {
    clearTimeout(guard);
  }
}

/** What a run lacked: loss, duplicates, reordering, a timeout. */
function problems(run: PeerRun, count: number): string[] {
  const { publish, subscribe } = run;
  return [
    publish.acked < count ? `${count - publish.acked} unacked` : '',
    subscribe.delivered < publish.acked ? `${publish.acked - subscribe.delivered} lost` : '',
    subscribe.duplicated > 0 ? `${subscribe.duplicated} duplicated` : '',
    subscribe.reordered > 0 ? `${subscribe.reordered} reordered` : '',
    publish.timedOut || subscribe.timedOut ? 'TIMED OUT' : '',
  ].filter(Boolean);
}

interface Figures {
  readonly acked: number;
  readonly delivered: number;
  readonly cpu: number;
  readonly serverUs: number;
  readonly perHopUs: number;
  readonly messagesPerCommit: number | undefined;
}

function figuresOf(runs: readonly PeerRun[]): Figures | undefined {
  if (runs.length === 0) return undefined;
  const m = (pick: (run: PeerRun) => number) => median(runs.map(pick));
  return {
    acked: m((run) => run.publish.ackedPerSec),
    delivered: m((run) => run.deliveredPerSec),
    cpu: m((run) => run.cpuSecondsPerMillion),
    serverUs: m((run) => run.serverUsPerMessage),
    perHopUs: m((run) => run.serverUsPerMessagePerHop),
    messagesPerCommit: runs.every((run) => run.commitsPerMessage !== undefined)
      ? 1 / m((run) => run.commitsPerMessage ?? Number.NaN)
      : undefined,
  };
}

/** The median over repeats of ours ÷ theirs, runs done back to back (undefined with fewer than two pairs). */
export function paired<R extends { readonly system: string; readonly repeat: number }>(
  runs: readonly R[],
  pair: { readonly ours: R['system']; readonly theirs: R['system'] },
  pick: (run: R) => number,
): number | undefined {
  const ours = new Map(runs.filter((run) => run.system === pair.ours).map((run) => [run.repeat, run]));
  const values = runs
    .filter((run) => run.system === pair.theirs)
    .map((run) => {
      const mine = ours.get(run.repeat);
      return ratio(mine === undefined ? undefined : pick(mine), pick(run));
    })
    .filter(Number.isFinite);
  return values.length > 1 ? median(values) : undefined;
}

export async function runPeersModule(options: ModuleOptions, progress: (text: string) => void): Promise<ModuleReport> {
  const count = options.quick ? 5_000 : 30_000;
  const warmup = options.quick ? 1_000 : 3_000;
  const repeats = options.quick ? 1 : options.repeat;
  const began = performance.now();
  const errors: string[] = [];
  const notMeasured: Partial<Record<PeerId, string>> = {};
  const failures: string[] = [];
  const started = new Map<PeerId, Target0>();
  const runs: PeerRun[] = [];
  try {
    const results = await Promise.allSettled(PEER_IDS.map((id) => startSystem(id, options)));
    for (const [k, result] of results.entries()) {
      const id = PEER_IDS[k] as PeerId;
      if (result.status === 'fulfilled') started.set(id, result.value);
      else if (result.reason instanceof NotMeasured || id !== 'suite')
        notMeasured[id] = (result.reason as Error).message;
      else errors.push(`our chain did not start: ${(result.reason as Error).message}`);
    }
    for (const [id, why] of Object.entries(notMeasured))
      progress(`[peers] ${NAMES[id as PeerId]} not measured: ${why}`);
    if (!started.has('suite')) throw new Error(errors[0] ?? 'our chain did not start');
    for (let repeat = 0; repeat < repeats; repeat++) {
      for (const shape of SHAPES) {
        const ids = [...started.keys()];
        const shift = repeat % ids.length;
        for (const id of [...ids.slice(shift), ...ids.slice(0, shift)]) {
          const where = `[peers] ${NAMES[id]}, ${shape.publishers} publisher(s) #${repeat + 1}`;
          try {
            const run = await runOnce(started.get(id) as Target0, shape, {
              repeat,
              count,
              warmup,
              caFile: options.caFile,
            });
            runs.push(run);
            const bad = problems(run, count);
            // Loss, duplicates or a timeout on our chain fail its scenario; on a peer they are reported.
            if (bad.length > 0) (id === 'suite' ? errors : failures).push(`${where}: ${bad.join(', ')}`);
            progress(
              `${where}: acked ${formatRate(run.publish.ackedPerSec)}/s, delivered ${formatRate(run.deliveredPerSec)}/s, ${run.cpuSecondsPerMillion.toFixed(1)} CPU-s per 1M delivered${bad.length > 0 ? `; ${bad.join(', ')}` : ''}`,
            );
          } catch (err) {
            const text = `${where} FAILED: ${(err as Error).message}`;
            (id === 'suite' ? errors : failures).push(text);
            progress(text);
          }
        }
      }
    }
  } catch (err) {
    progress(`[peers] FAILED: ${(err as Error).message}`);
    if (errors.length === 0) errors.push((err as Error).message);
  } finally {
    await Promise.all([...started.values()].map((target) => target.stop().catch(() => undefined)));
  }
  const { rows, targets } = tables(runs, notMeasured);
  progress(`[peers] done (${((performance.now() - began) / 1000).toFixed(1)} s)`);
  return {
    rows,
    targets,
    errors,
    json: {
      settings: { count, warmup, repeats, shapes: SHAPES, content: '100 characters, as the chain scenarios' },
      brokers: Object.fromEntries(
        [...brokers.values()].map((broker) => [
          broker.id,
          { version: broker.version, settings: broker.settings, output: broker.output.slice(0, 20) },
        ]),
      ),
      notMeasured,
      failures,
      errors,
      runs,
    },
  };
}

const us = (value: number) => `${value.toFixed(1)} µs`;

function tables(
  runs: readonly PeerRun[],
  notMeasured: Partial<Record<PeerId, string>>,
): Pick<ModuleReport, 'rows' | 'targets'> {
  const rows: ExtraRow[] = [];
  const targets: Target[] = [];
  for (const shape of SHAPES) {
    const of = (id: PeerId) => runs.filter((run) => run.system === id && run.publishers === shape.publishers);
    const head = `${shape.publishers} publisher(s), window ${shape.window} each`;
    const ours = figuresOf(of('suite'));
    for (const id of PEER_IDS) {
      const figures = figuresOf(of(id));
      rows.push({
        label: `${head}: ${NAMES[id]}`,
        value:
          figures === undefined
            ? `not measured${notMeasured[id] === undefined ? '' : `: ${notMeasured[id]}`}`
            : `acked ${formatRate(figures.acked)}/s, delivered ${formatRate(figures.delivered)}/s; ${figures.cpu.toFixed(1)} CPU-s per 1M delivered (all processes); servers ${us(figures.serverUs)}/msg, ${us(figures.perHopUs)} per server process${figures.messagesPerCommit === undefined ? '' : `; ${figures.messagesPerCommit.toFixed(0)} messages per group commit`}`,
      });
    }
    for (const peer of ['jetstream', 'redis'] as const) {
      const theirs = figuresOf(of(peer));
      const name = `durable acked publishes/s, ${shape.publishers} publisher(s): ours ÷ ${NAMES[peer]}`;
      if (ours === undefined || theirs === undefined) {
        targets.push({
          name,
          goal: '≥ 1.00×',
          measured: `not measured${notMeasured[peer] ? `: ${notMeasured[peer]}` : ''}`,
          pass: false,
        });
        continue;
      }
      const pairedAcked = paired(
        runs.filter((run) => run.publishers === shape.publishers),
        { ours: 'suite', theirs: peer },
        (run) => run.publish.ackedPerSec,
      );
      const value = pairedAcked ?? ratio(ours.acked, theirs.acked);
      targets.push({
        name,
        goal: '≥ 1.00×',
        measured: `${pairedAcked === undefined ? '' : `paired ${formatRatio(pairedAcked)}; `}medians ${formatRatio(ratio(ours.acked, theirs.acked))} (${formatRate(ours.acked)} vs ${formatRate(theirs.acked)})`,
        pass: value >= 1,
        ratio: value,
        ours: ours.acked,
        baseline: theirs.acked,
        unit: 'msg/s',
      });
      rows.push({
        label: `${head}: ours ÷ ${NAMES[peer]}`,
        value: `acked ${formatRatio(value)}${pairedAcked === undefined ? '' : ' (paired)'}, CPU per delivered message ${formatRatio(ratio(ours.cpu, theirs.cpu))}`,
      });
      if (peer === 'jetstream') {
        const cpuRatio = ratio(ours.cpu, theirs.cpu);
        targets.push({
          name: `CPU-s per 1M delivered, all processes, ${shape.publishers} publisher(s): ours ÷ ${NAMES[peer]}`,
          goal: '≤ 1.00× (lowest)',
          measured: `${formatRatio(cpuRatio)} (${ours.cpu.toFixed(1)} vs ${theirs.cpu.toFixed(1)} s)`,
          pass: cpuRatio <= 1,
          ratio: cpuRatio,
          ours: ours.cpu,
          baseline: theirs.cpu,
          unit: 'CPU-s per 1M',
        });
      }
    }
  }
  return { rows, targets };
}
