/**
 * One number of sockets S, both systems: start the suite and the Socket.IO peer, open S sink
 * sockets to each (timing the set-up), read each server's memory before and after, warm up,
 * then `repeat` fan-out runs per system, alternating which goes first so that a drift in the
 * machine's background load hits both alike. Everything is stopped before it returns or throws.
 */
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { performance } from 'node:perf_hooks';
import { cpuTimeOf } from '../process.js';
import { assertOpenFiles, probeMemory } from './memory.js';
import { SinkGroup, type OpenSummary } from './sinks.js';
import { startSocketIo } from './socketio-server.js';
import { startSuite } from './suite-server.js';
import type { MemorySnapshot } from '../types.js';
import type { CountResult, Publisher, ServerUnderTest, System } from './types.js';

export interface ScaleSpec {
  readonly sockets: number;
  /** Messages per run (M). */
  readonly messages: number;
  readonly warmupMessages: number;
  readonly repeat: number;
  readonly sinkProcesses: number;
  /** Handshakes in flight while opening, over all sink processes. */
  readonly inFlight: number;
  /** Idle time between the last subscription and the memory reading. */
  readonly settleMs: number;
}

export interface RunRecord {
  readonly label: string;
  readonly expected: number;
  readonly delivered: number;
  /** Deliveries ÷ (last message received − first send). */
  readonly deliveriesPerSec: number;
  readonly spanMs: number;
  /** First send → first message at a sink: the path's latency before the fan-out starts. */
  readonly toFirstDeliveryMs: number;
  /** Every socket got exactly the messages published, no more, no less. */
  readonly complete: boolean;
  /** Gave up waiting: no new delivery for STALL_MS. */
  readonly stalled: boolean;
  readonly publish: { readonly acked: number; readonly refused: number; readonly toLastAckMs: number };
  readonly sinks: CountResult;
  /** CPU (user + system) of the fan-out process and of the sinks during the run, per delivery. */
  readonly serverCpuUsPerDelivery: number;
  readonly sinkCpuUsPerDelivery: number;
  /** Every server process (ours: msgqueue + publisher + subscriber) per delivery: µs, i.e. CPU-s per 1M deliveries. */
  readonly serversCpuUsPerDelivery: number;
}

export interface SystemRecord {
  readonly system: System;
  readonly settings: Record<string, unknown>;
  readonly openFilesLimit: number | undefined;
  readonly connect: OpenSummary;
  /** The server's memory after start and once the S sockets are idle; per socket is the difference ÷ S. */
  readonly memory: {
    readonly before: MemorySnapshot;
    readonly after: MemorySnapshot;
    readonly rssPerSocket: number;
    readonly heapPerSocket: number;
  };
  /** The sinks' RSS (all their sockets, of both systems) once this system's were open. */
  readonly sinkRss: number;
  readonly warmup: RunRecord;
  readonly runs: RunRecord[];
  readonly unexpectedLines: string[];
}

export interface ScaleRecord extends ScaleSpec {
  readonly wallMs: number;
  /** Until the servers and the sink processes were up. */
  readonly startMs: number;
  readonly systems: SystemRecord[];
}

const POLL_MS = 200;
const STALL_MS = 10_000;
/** Wait after completion for copies that should not come. */
const GRACE_MS = 200;

export async function runScale(
  spec: ScaleSpec,
  context: { certDir: string; ca: string; work: string },
): Promise<ScaleRecord> {
  const { work, ...tls } = context;
  const dataDir = join(work, `data-fanout-${spec.sockets}`);
  mkdirSync(dataDir);
  const wallStart = performance.now();
  const [sinksStarted, ...serversStarted] = await Promise.allSettled([
    SinkGroup.start(spec.sinkProcesses),
    startSuite({ ...tls, sockets: spec.sockets, dataDir }),
    startSocketIo(tls),
  ]);
  const sinks = sinksStarted.status === 'fulfilled' ? sinksStarted.value : undefined;
  const servers = serversStarted.flatMap((result) => (result.status === 'fulfilled' ? [result.value] : []));
  const publishers: Publisher[] = [];
  try {
    const failure = [sinksStarted, ...serversStarted].find((result) => result.status === 'rejected');
    if (failure !== undefined || sinks === undefined) throw failure?.reason;
    const startMs = performance.now() - wallStart;
    // Each sink holds its share of the sockets of both systems at once.
    const perSink = Math.ceil(spec.sockets / spec.sinkProcesses) * servers.length;
    for (const pid of sinks.pids) await assertOpenFiles({ name: `sink ${pid}`, pid }, perSink);
    const connected: Connected[] = [];
    for (const server of servers) connected.push(await openSockets(server, { spec, sinks, ca: tls.ca }));
    await delay(spec.settleMs);
    const measured: Measured[] = [];
    for (const state of connected) {
      const after = await probeMemory(state.server.fanout);
      const publisher = await state.server.openPublisher();
      publishers.push(publisher);
      const target = { server: state.server, publisher, sinks, sockets: state.connect.opened };
      const run = (messages: number, label: string) => measureRun(target, { messages, label });
      measured.push({ ...state, after, run, warmup: await run(spec.warmupMessages, 'w'), runs: [] });
    }
    for (let r = 0; r < spec.repeat; r++) {
      const order = r % 2 === 0 ? measured : [...measured].reverse();
      for (const state of order) state.runs.push(await state.run(spec.messages, `r${r}`));
    }
    return { ...spec, wallMs: performance.now() - wallStart, startMs, systems: measured.map(recordOf) };
  } finally {
    await sinks?.closeSockets().catch(() => undefined);
    await Promise.all(publishers.map((publisher) => publisher.close().catch(() => undefined)));
    await Promise.all(servers.map((server) => server.stop()));
    await sinks?.stop();
  }
}

/** One system once its sockets are open. */
interface Connected {
  readonly server: ServerUnderTest;
  readonly openFilesLimit: number | undefined;
  readonly before: MemorySnapshot;
  readonly connect: OpenSummary;
  readonly sinkRss: number;
}

interface Measured extends Connected {
  readonly after: MemorySnapshot;
  readonly run: (messages: number, label: string) => Promise<RunRecord>;
  readonly warmup: RunRecord;
  readonly runs: RunRecord[];
}

/** Opens S sockets to one server and reads its memory just before. */
async function openSockets(
  server: ServerUnderTest,
  context: { spec: ScaleSpec; sinks: SinkGroup; ca: string },
): Promise<Connected> {
  const { spec, sinks } = context;
  const openFilesLimit = await assertOpenFiles({ name: server.system, pid: server.fanout.pid }, spec.sockets);
  const before = await probeMemory(server.fanout);
  const connect = await sinks.open(
    { system: server.system, port: server.sinkPort, ca: context.ca },
    // The sinks give up on a socket after 30 s; this bounds the whole at a crawl of 50 conn/s.
    { count: spec.sockets, inFlight: spec.inFlight, timeoutMs: 60_000 + spec.sockets * 20 },
  );
  if (connect.opened === 0) throw new Error(`${server.system}: no socket opened: ${connect.errors.join('; ')}`);
  const { rss: sinkRss } = await sinks.count(server.system);
  return { server, openFilesLimit, before, connect, sinkRss };
}

function recordOf(state: Measured): SystemRecord {
  const { server, before, after, connect } = state;
  return {
    system: server.system,
    settings: server.settings,
    openFilesLimit: state.openFilesLimit,
    connect,
    memory: {
      before,
      after,
      rssPerSocket: (after.rss - before.rss) / connect.opened,
      heapPerSocket: (after.heapUsed - before.heapUsed) / connect.opened,
    },
    sinkRss: state.sinkRss,
    warmup: state.warmup,
    runs: state.runs,
    unexpectedLines: server.unexpectedLines().slice(0, 20),
  };
}

async function cpuMs(pids: readonly number[]): Promise<number> {
  const times = await Promise.all(pids.map((pid) => cpuTimeOf(pid)));
  return times.reduce((sum, time) => sum + (time === undefined ? 0 : time.userMs + time.systemMs), 0);
}

async function measureRun(
  target: { server: ServerUnderTest; publisher: Publisher; sinks: SinkGroup; sockets: number },
  run: { messages: number; label: string },
): Promise<RunRecord> {
  const { server, sinks } = target;
  const expected = target.sockets * run.messages;
  await sinks.expect(server.system, run.messages);
  const serverPids = server.processes.map((child) => child.pid);
  const cpuBefore = await Promise.all([cpuMs([server.fanout.pid]), cpuMs(sinks.pids), cpuMs(serverPids)]);
  let publishError: unknown;
  const publishing = target.publisher.publish(run.messages, run.label).catch((err: unknown) => {
    publishError = err;
    return undefined;
  });
  const stalled = await waitForDeliveries(sinks, {
    system: server.system,
    expected,
    failed: () => publishError !== undefined,
  });
  const published = await publishing;
  if (published === undefined) throw new Error(`${server.system}: ${(publishError as Error).message}`);
  await delay(GRACE_MS);
  const cpuAfter = await Promise.all([cpuMs([server.fanout.pid]), cpuMs(sinks.pids), cpuMs(serverPids)]);
  const counts = await sinks.count(server.system);
  const spanMs = counts.lastAt - published.firstSendAt;
  const perDelivery = (before: number, after: number) => ((after - before) * 1000) / Math.max(1, counts.messages);
  return {
    label: run.label,
    expected,
    delivered: counts.messages,
    deliveriesPerSec: counts.messages > 0 ? (counts.messages * 1000) / spanMs : 0,
    spanMs,
    toFirstDeliveryMs: counts.firstAt - published.firstSendAt,
    complete: counts.exact === target.sockets && counts.messages === expected,
    stalled,
    publish: {
      acked: published.acked,
      refused: published.refused,
      toLastAckMs: published.lastAnswerAt - published.firstSendAt,
    },
    sinks: counts,
    serverCpuUsPerDelivery: perDelivery(cpuBefore[0], cpuAfter[0]),
    sinkCpuUsPerDelivery: perDelivery(cpuBefore[1], cpuAfter[1]),
    serversCpuUsPerDelivery: perDelivery(cpuBefore[2], cpuAfter[2]),
  };
}

/**
 * Polls the sinks until `expected` messages arrived or publishing `failed()`; true if it gave up
 * because nothing moved.
 */
async function waitForDeliveries(
  sinks: SinkGroup,
  options: { system: System; expected: number; failed: () => boolean },
): Promise<boolean> {
  let last = -1;
  let lastChange = performance.now();
  for (;;) {
    await delay(POLL_MS);
    if (options.failed()) return false;
    const { messages } = await sinks.count(options.system);
    if (messages >= options.expected) return false;
    if (messages !== last) {
      last = messages;
      lastChange = performance.now();
    } else if (performance.now() - lastChange > STALL_MS) return true;
  }
}
