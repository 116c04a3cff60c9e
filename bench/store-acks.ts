/**
 * What an fsync-backed ack costs on the Redis store: acknowledged pushes per second into one
 * msgqueue, with `MSGQUEUE_STORE=file` as the baseline and the Redis store over a redis-server
 * of its own with `appendfsync always`, `everysec` and no AOF, in one run on this machine.
 *
 *   node --import tsx bench/store-acks.ts [--seconds 5] [--pushers 4] [--batch 64]
 *
 * The msgqueue runs in this process (its store is what differs); each pusher sends a batch of
 * ~150-byte messages on `/pushmsg`, waits for its ack and sends the next. Every redis-server is
 * started here on a free port with a fresh data directory under the system's temp directory and
 * stopped by PID.
 */
import { silentLogger } from '@pubsub/log';
import { loadConfig, start } from '@pubsub/msgqueue';
import { decodeHopAck, encodeDelivery, packBatches } from '@pubsub/protocol';
import { DEV_AUTH } from '@pubsub/testkit';
import { loadServerCertificate } from '@pubsub/tls';
import { once } from 'node:events';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { WebSocket } from 'ws';
import { startBenchRedis } from './redis-server.js';
import { CONTENT } from './types.js';

const { values } = parseArgs({
  options: {
    seconds: { type: 'string', default: '5' },
    pushers: { type: 'string', default: '4' },
    batch: { type: 'string', default: '64' },
  },
});
const SECONDS = Number(values.seconds);
const PUSHERS = Number(values.pushers);
const BATCH = Number(values.batch);

interface Setup {
  readonly name: string;
  /** redis-server settings, or none for the file store. */
  readonly redis?: readonly string[];
}

const SETUPS: readonly Setup[] = [
  { name: 'file store (fsync before every ack)' },
  { name: 'redis, appendfsync always', redis: ['--appendonly', 'yes', '--appendfsync', 'always'] },
  { name: 'redis, appendfsync everysec', redis: ['--appendonly', 'yes', '--appendfsync', 'everysec'] },
  { name: 'redis, appendonly no', redis: ['--appendonly', 'no'] },
];

/** One pusher: batch, ack, batch … until `until`; resolves with the messages acknowledged. */
async function push({ url, ca, id, until }: { url: string; ca: string; id: number; until: number }): Promise<number> {
  const ws = new WebSocket(url, {
    ca,
    headers: { authorization: `Basic ${Buffer.from(DEV_AUTH).toString('base64')}` },
  });
  await once(ws, 'open');
  let sent = 0;
  let acked = 0;
  const sendBatch = () => {
    const frames = Array.from({ length: BATCH }, () =>
      encodeDelivery({ topic: 'bench', id: `p${id}-${sent++}`, content: CONTENT }),
    );
    for (const frame of packBatches(frames, { maxMessages: BATCH, maxBytes: 1024 * 1024 })) ws.send(frame);
  };
  const done = new Promise<void>((resolveDone) => {
    ws.on('message', (data: Buffer) => {
      acked = decodeHopAck(data.toString())?.count ?? acked;
      if (acked < sent) return;
      if (Date.now() < until) sendBatch();
      else resolveDone();
    });
  });
  sendBatch();
  await done;
  ws.close();
  return acked;
}

async function measure(setup: Setup, context: { work: string; certDir: string; ca: string }): Promise<number> {
  const dir = mkdtempSync(join(context.work, 'store-'));
  const redis = setup.redis === undefined ? undefined : await startBenchRedis(dir, setup.redis);
  const queue = await start(
    loadConfig({
      WS_CERT_DIR: context.certDir,
      MSGQUEUE_PORT: '0',
      MSGQUEUE_STORE: redis === undefined ? 'file' : 'redis',
      MSGQUEUE_DATA_DIR: join(dir, 'msgqueue'),
      ...(redis !== undefined && { MSGQUEUE_REDIS_URL: redis.url }),
    }),
    { logger: silentLogger() },
  );
  try {
    const url = `wss://localhost:${queue.port}/pushmsg`;
    // A second of warm-up (JIT, connections), then the measured run.
    await Promise.all(
      Array.from({ length: PUSHERS }, (_, i) =>
        push({ url, ca: context.ca, id: 1_000 + i, until: Date.now() + 1_000 }),
      ),
    );
    const began = Date.now();
    const counts = await Promise.all(
      Array.from({ length: PUSHERS }, (_, i) => push({ url, ca: context.ca, id: i, until: began + SECONDS * 1_000 })),
    );
    return counts.reduce((sum, count) => sum + count, 0) / ((Date.now() - began) / 1_000);
  } finally {
    await queue.close();
    await redis?.stop();
  }
}

const work = mkdtempSync(join(tmpdir(), 'pubsub-store-acks-'));
try {
  const certDir = join(work, 'certs');
  const { cert } = await loadServerCertificate({ certDir, generate: true });
  const rates: [string, number][] = [];
  for (const setup of SETUPS) rates.push([setup.name, await measure(setup, { work, certDir, ca: cert })]);
  const baseline = rates[0]?.[1] ?? 1;
  process.stdout.write(`acked pushes/s, ${PUSHERS} pushers × ${BATCH}-message batches, ${SECONDS} s each\n\n`);
  process.stdout.write('| store | acked msg/s | ÷ file store |\n|---|---|---|\n');
  for (const [name, rate] of rates) {
    process.stdout.write(`| ${name} | ${Math.round(rate)} | ${(rate / baseline).toFixed(2)}× |\n`);
  }
} finally {
  rmSync(work, { recursive: true, force: true });
}
