/**
 * Throughput against the number of nodes, in one run on this machine (docs/scaling.md): the
 * chain on the file store, the same on the Redis store (`appendfsync always`), then 2 msgqueue
 * nodes against 1 (with 2 publisher nodes both times) and 2 and 3 subscriber nodes against 1.
 *
 *   node --import tsx bench/scaling.ts [--seconds 6] [--rounds 2] [--publishers 4] [--window 200]
 *
 * Every node is a process of its own; the clients run in this process: `publishers` publishing
 * clients spread over the publisher nodes, each keeping `window` publishes unacknowledged, and one
 * subscribing client per subscriber node (every node gets every message: node groups). Each
 * layout runs once per round, rounds in rotated order, after a second of warm-up. Reported per
 * layout (median of the rounds): acknowledged publishes/s, deliveries/s over all subscriber
 * nodes, and CPU µs per acknowledged message of all nodes and of Redis, from /proc.
 */
import { DEV_AUTH } from '@pubsub/testkit';
import { loadServerCertificate } from '@pubsub/tls';
import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { mkdtempSync, rmSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { parseArgs } from 'node:util';
import { WebSocket } from 'ws';
import { cpuTimeOf, TsChild } from './process.js';
import { startBenchRedis, type BenchRedis } from './redis-server.js';
import { CONTENT } from './types.js';
import { listeningPort } from './services.js';

const { values } = parseArgs({
  options: {
    seconds: { type: 'string', default: '6' },
    rounds: { type: 'string', default: '2' },
    publishers: { type: 'string', default: '4' },
    window: { type: 'string', default: '200' },
  },
});
const SECONDS = Number(values.seconds);
const ROUNDS = Number(values.rounds);
const PUBLISHING_CLIENTS = Number(values.publishers);
const WINDOW = Number(values.window);

interface Layout {
  readonly name: string;
  readonly store: 'file' | 'redis';
  readonly queues: number;
  readonly publishers: number;
  readonly subscribers: number;
}

const LAYOUTS: readonly Layout[] = [
  { name: 'file store, 1 msgqueue', store: 'file', queues: 1, publishers: 1, subscribers: 1 },
  { name: 'redis, 1 msgqueue · 1 publisher · 1 subscriber', store: 'redis', queues: 1, publishers: 1, subscribers: 1 },
  { name: 'redis, 1 msgqueue · 2 publishers', store: 'redis', queues: 1, publishers: 2, subscribers: 1 },
  { name: 'redis, 2 msgqueues · 2 publishers', store: 'redis', queues: 2, publishers: 2, subscribers: 1 },
  { name: 'redis, 2 subscriber nodes', store: 'redis', queues: 1, publishers: 1, subscribers: 2 },
  { name: 'redis, 3 subscriber nodes', store: 'redis', queues: 1, publishers: 1, subscribers: 3 },
];

/** Which layout each ratio compares with which, by index in LAYOUTS. */
const RATIOS: readonly { readonly what: string; readonly ours: number; readonly base: number }[] = [
  { what: 'Redis store ÷ file store, 1→1', ours: 1, base: 0 },
  { what: '2 msgqueue nodes ÷ 1 (2 publisher nodes)', ours: 3, base: 2 },
  { what: '2 subscriber nodes ÷ 1', ours: 4, base: 1 },
  { what: '3 subscriber nodes ÷ 1', ours: 5, base: 1 },
];

interface Figures {
  readonly acked: number;
  readonly delivered: number;
  /** CPU µs per acknowledged message: all service nodes, and Redis. */
  readonly nodesCpu: number;
  readonly redisCpu: number;
}

interface Context {
  readonly work: string;
  readonly certDir: string;
  readonly ca: string;
  readonly redis: BenchRedis;
}

/** Rotates a list so that it starts at `first`: each node dials a different peer first. */
const from = <T>(list: readonly T[], first: number): T[] => [...list.slice(first), ...list.slice(0, first)];

async function startLayout(layout: Layout, context: Context) {
  const children: TsChild[] = [];
  const node = async (service: string, name: string, env: Record<string, string>) => {
    // At info, for the `listening` line with the port.
    const child = new TsChild(
      name,
      { entry: `services/${service}/src/main.ts` },
      {
        WS_CERT_DIR: context.certDir,
        LOG_LEVEL: 'info',
        ...env,
      },
    );
    children.push(child);
    return listeningPort(child);
  };
  try {
    const prefix = `bench:scaling:${randomBytes(6).toString('hex')}:`;
    const queuePorts = await Promise.all(
      Array.from({ length: layout.queues }, (_, i) =>
        node('msgqueue', `mq${i + 1}`, {
          MSGQUEUE_PORT: '0',
          MSGQUEUE_NODE_GROUPS: 'true',
          ...(layout.store === 'redis'
            ? { MSGQUEUE_STORE: 'redis', MSGQUEUE_REDIS_URL: context.redis.url, MSGQUEUE_REDIS_PREFIX: prefix }
            : { MSGQUEUE_STORE: 'file', MSGQUEUE_DATA_DIR: mkdtempSync(join(context.work, 'mq-')) }),
        }),
      ),
    );
    const urls = (path: string) => queuePorts.map((port) => `wss://localhost:${port}${path}`);
    const publishPorts = await Promise.all(
      Array.from({ length: layout.publishers }, (_, i) =>
        node('publisher', `pub${i + 1}`, {
          PUBLISHER_PORT: '0',
          PUBLISHER_RATE_LIMIT: '0',
          PUBLISHER_QUEUE_URL: from(urls('/pushmsg'), i % layout.queues).join(','),
        }),
      ),
    );
    const subscribePorts = await Promise.all(
      Array.from({ length: layout.subscribers }, (_, i) =>
        node('subscriber', `sub${i + 1}`, {
          SUBSCRIBER_PORT: '0',
          SUBSCRIBER_NODE_ID: `sub${i + 1}`,
          SUBSCRIBER_DATA_DIR: mkdtempSync(join(context.work, 'sub-')),
          SUBSCRIBER_QUEUE_URL: from(urls('/popmsg'), i % layout.queues).join(','),
        }),
      ),
    );
    await Promise.all(
      children.filter((child) => child.name.startsWith('sub')).map((child) => child.waitForLog('upstream connected')),
    );
    return { children, publishPorts, subscribePorts };
  } catch (err) {
    await Promise.all(children.map((child) => child.stop('SIGKILL')));
    throw err;
  }
}

async function connect(url: string, ca: string): Promise<WebSocket> {
  const ws = new WebSocket(url, {
    ca,
    headers: { authorization: `Basic ${Buffer.from(DEV_AUTH).toString('base64')}` },
  });
  await once(ws, 'open');
  return ws;
}

/** Counts one subscribing client's deliveries of topic `topic`. */
async function subscribe(url: string, ca: string, topic: string) {
  const ws = await connect(url, ca);
  const counter = { delivered: 0, ws };
  const subscribed = new Promise<void>((resolveSubscribed) => {
    ws.on('message', (data: Buffer) => {
      // Only the first frame is parsed: counting, not parsing, is what this client is for.
      if (counter.delivered === 0 && data.includes('"subscribed"')) return resolveSubscribed();
      counter.delivered++;
    });
  });
  ws.send(`sub ${topic}`);
  await subscribed;
  return counter;
}

/** One publishing client: keeps `WINDOW` publishes unacknowledged until `stop()`; counts acks. */
async function publish(url: string, ca: string, { topic, client }: { topic: string; client: number }) {
  const ws = await connect(url, ca);
  let sent = 0;
  let stopped = false;
  const counter = { acked: 0, stop: () => (stopped = true), ws };
  const send = () => ws.send(`{"topic":"${topic}","content":${CONTENT},"id":"c${client}-${sent++}"}`);
  ws.on('message', () => {
    counter.acked++;
    if (!stopped) send();
  });
  for (let i = 0; i < WINDOW; i++) send();
  return counter;
}

async function cpuMs(pids: readonly number[]): Promise<number> {
  const times = await Promise.all(pids.map(cpuTimeOf));
  return times.reduce((sum, time) => sum + (time === undefined ? 0 : time.userMs + time.systemMs), 0);
}

async function measure(layout: Layout, context: Context): Promise<Figures> {
  const { children, publishPorts, subscribePorts } = await startLayout(layout, context);
  try {
    const topic = `bench-${randomBytes(4).toString('hex')}`;
    const readers = await Promise.all(
      subscribePorts.map((port) => subscribe(`wss://localhost:${port}/subscribe`, context.ca, topic)),
    );
    const writers = await Promise.all(
      Array.from({ length: PUBLISHING_CLIENTS }, (_, i) =>
        publish(`wss://localhost:${publishPorts[i % publishPorts.length]}/publish`, context.ca, { topic, client: i }),
      ),
    );
    await delay(1_000);
    const pids = children.map((child) => child.child.pid as number);
    const sum = <T>(list: readonly T[], of: (item: T) => number) => list.reduce((total, item) => total + of(item), 0);
    const at = async () => ({
      time: performance.now(),
      acked: sum(writers, (writer) => writer.acked),
      delivered: sum(readers, (reader) => reader.delivered),
      nodes: await cpuMs(pids),
      redis: await cpuMs([context.redis.pid]),
    });
    const first = await at();
    await delay(SECONDS * 1_000);
    const last = await at();
    writers.forEach((writer) => writer.stop());
    [...writers, ...readers].forEach(({ ws }) => ws.close());
    const seconds = (last.time - first.time) / 1_000;
    const acked = last.acked - first.acked;
    return {
      acked: acked / seconds,
      delivered: (last.delivered - first.delivered) / seconds,
      nodesCpu: ((last.nodes - first.nodes) * 1_000) / acked,
      redisCpu: ((last.redis - first.redis) * 1_000) / acked,
    };
  } finally {
    await Promise.all(children.map((child) => child.stop()));
  }
}

const median = (values: readonly number[]) => {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = sorted.length / 2;
  return sorted.length % 2 === 1
    ? (sorted[Math.floor(middle)] as number)
    : ((sorted[middle - 1] as number) + (sorted[middle] as number)) / 2;
};

const work = mkdtempSync(join(tmpdir(), 'pubsub-scaling-'));
const redis = await startBenchRedis(work, ['--appendonly', 'yes', '--appendfsync', 'always']);
try {
  const certDir = join(work, 'certs');
  const { cert } = await loadServerCertificate({ certDir, generate: true });
  const context: Context = { work, certDir, ca: cert, redis };
  const runs = LAYOUTS.map((): Figures[] => []);
  for (let round = 0; round < ROUNDS; round++) {
    for (const index of from(
      LAYOUTS.map((_, i) => i),
      round % LAYOUTS.length,
    )) {
      const layout = LAYOUTS[index] as Layout;
      const figures = await measure(layout, context);
      (runs[index] as Figures[]).push(figures);
      process.stderr.write(
        `round ${round + 1} ${layout.name}: acked ${Math.round(figures.acked)}/s, delivered ${Math.round(figures.delivered)}/s\n`,
      );
    }
  }
  const medians = runs.map((list) => ({
    acked: median(list.map((figures) => figures.acked)),
    delivered: median(list.map((figures) => figures.delivered)),
    nodesCpu: median(list.map((figures) => figures.nodesCpu)),
    redisCpu: median(list.map((figures) => figures.redisCpu)),
  }));
  const out = (line: string) => process.stdout.write(`${line}\n`);
  out(
    `machine: ${cpus().length} cores, load average ${loadavg()
      .map((load) => load.toFixed(1))
      .join(' ')} at the end`,
  );
  out(
    `${PUBLISHING_CLIENTS} publishing clients × window ${WINDOW}, 100-byte messages, one topic, ${SECONDS} s per run, median of ${ROUNDS} rounds\n`,
  );
  out('| layout | acked msg/s | deliveries/s (all subscriber nodes) | CPU µs per acked msg: nodes / Redis |');
  out('|---|---|---|---|');
  LAYOUTS.forEach((layout, i) => {
    const figures = medians[i] as Figures;
    out(
      `| ${layout.name} | ${Math.round(figures.acked)} | ${Math.round(figures.delivered)} | ${figures.nodesCpu.toFixed(0)} / ${figures.redisCpu.toFixed(0)} |`,
    );
  });
  out('\n| ratio | acked msg/s | deliveries/s |\n|---|---|---|');
  for (const { what, ours, base } of RATIOS) {
    const [a, b] = [medians[ours] as Figures, medians[base] as Figures];
    out(`| ${what} | ${(a.acked / b.acked).toFixed(2)}× | ${(a.delivered / b.delivered).toFixed(2)}× |`);
  }
} finally {
  await redis.stop();
  rmSync(work, { recursive: true, force: true });
}
