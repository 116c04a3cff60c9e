/**
 * kill -9 of the bridge mid-stream, then a restart: from an outbox table and from a RabbitMQ queue,
 * every message reaches the subscriber exactly once and in order. What the msgqueue had stored
 * when the bridge died (row not yet deleted, delivery not yet acked) is sent again with the same
 * id, and the msgqueue's dedupe window keeps the copy from being stored twice.
 */
import { connect as amqpConnect } from 'amqplib';
import { connect, serverAvailable, serverUrl, tempDir, within, type TestClient } from '@pubsub/testkit';
import { setImmediate as nextTurn } from 'node:timers/promises';
import { describe, expect, test } from 'vitest';
import { outboxSql, pgClient, subscribe, uniqueName, type Delivered } from '../bridge/rig.js';
import { childEnv, childServices, queueUrlEnv, startNode, type Env, type ServiceNode } from '@pubsub/testkit-chain';

const run = childServices();
const postgres = await serverAvailable('postgres');
const rabbitmq = await serverAvailable('rabbitmq');

const TOTAL = 2_000;
const KILL_AFTER = 400;

interface Rig {
  readonly ca: string;
  readonly bridgeEnv: Env;
  readonly subscriber: TestClient;
}

/** msgqueue (file store) and subscriber as processes, and a wss client subscribed to `topic`. */
async function startChain(topic: string): Promise<Rig> {
  const { ca, env } = await childEnv();
  const queue = await startNode(run, 'msgqueue', { ...env, MSGQUEUE_DATA_DIR: tempDir('bridge-fault') });
  const sub = await startNode(run, 'subscriber', {
    ...env,
    ...queueUrlEnv('subscriber', [queue.port]),
    SUBSCRIBER_DATA_DIR: tempDir('bridge-fault-subscriber'),
  });
  const subscriber = await connect(`wss://localhost:${sub.port}/subscribe`, { ca });
  await subscribe(subscriber, topic);
  return { ca, subscriber, bridgeEnv: { ...env, ...queueUrlEnv('bridge', [queue.port]) } };
}

/** Every delivery's id, in order; resolves `whenAt(n)` once n have come. */
function recordDeliveries(client: TestClient) {
  const ids: string[] = [];
  const waiters: { count: number; resolve: () => void }[] = [];
  client.ws.on('message', (data) => {
    const frame = JSON.parse((data as Buffer).toString()) as Delivered;
    if (frame.type !== 'message') return;
    ids.push(frame.id);
    for (const waiter of waiters.filter((w) => ids.length >= w.count)) {
      waiters.splice(waiters.indexOf(waiter), 1);
      waiter.resolve();
    }
  });
  const whenAt = (count: number) =>
    within(
      ids.length >= count ? Promise.resolve() : new Promise<void>((resolve) => waiters.push({ count, resolve })),
      60_000,
      () => `${ids.length} of ${count} deliveries`,
    );
  return { ids, whenAt };
}

/** SIGKILLs the bridge once `whenAt` resolves, and starts it again on its port. */
async function killAndRestart(bridge: ServiceNode, whenAt: Promise<void>): Promise<void> {
  await whenAt;
  await bridge.proc.kill('SIGKILL');
  await bridge.restart();
}

describe('kill -9 of the bridge mid-stream', () => {
  test.runIf(postgres)('outbox table: zero loss, none twice, in key order', { timeout: 120_000 }, async () => {
    const url = serverUrl('postgres');
    const table = uniqueName('outbox');
    const topic = `pg.${table}`;
    await using db = await pgClient(url);
    await db.query(outboxSql(table).create);
    try {
      const rig = await startChain(topic);
      const env = { ...rig.bridgeEnv, BRIDGE_PG_URL: url, BRIDGE_PG_OUTBOX_TABLE: table, BRIDGE_PG_BATCH: '50' };
      const { ids, whenAt } = recordDeliveries(rig.subscriber);
      const bridge = await startNode(run, 'bridge', env);
      // Rows keep coming, 10 per statement, while the bridge dies and comes back.
      const writing = (async () => {
        for (let n = 0; n < TOTAL; n += 10) {
          await db.query(
            `INSERT INTO ${table} (topic, payload) SELECT $1, to_jsonb(n) FROM generate_series($2::int, $3::int) n`,
            [topic, n + 1, n + 10],
          );
        }
      })();
      await killAndRestart(bridge, whenAt(KILL_AFTER));
      await writing;
      await whenAt(TOTAL);
      const keys = ids.map((id) => Number(id.slice(table.length + 1)));
      expect(keys).toEqual(Array.from({ length: TOTAL }, (_, i) => i + 1));
      await rig.subscriber.roundTrip();
      expect(ids.length).toBe(TOTAL);
      await expect
        .poll(async () => (await db.query<{ n: number }>(`SELECT count(*)::int AS n FROM ${table}`)).rows[0]?.n)
        .toBe(0);
    } finally {
      await db.query(outboxSql(table).drop);
    }
  });

  test.runIf(rabbitmq)('RabbitMQ queue: zero loss, none twice, in order', { timeout: 120_000 }, async () => {
    const amqp = await amqpConnect(serverUrl('rabbitmq'));
    const channel = await amqp.createConfirmChannel();
    const queue = uniqueName('bridge');
    const topic = `amqp.${queue}`;
    try {
      await channel.assertQueue(queue, { durable: true });
      const rig = await startChain(topic);
      const env = {
        ...rig.bridgeEnv,
        BRIDGE_AMQP_URL: serverUrl('rabbitmq'),
        BRIDGE_AMQP_QUEUE: queue,
        BRIDGE_AMQP_TOPICS: `${queue}=${topic}`,
      };
      const { ids, whenAt } = recordDeliveries(rig.subscriber);
      const bridge = await startNode(run, 'bridge', env);
      const sending = (async () => {
        for (let n = 1; n <= TOTAL; n++) {
          channel.sendToQueue(queue, Buffer.from(String(n)), { messageId: `m${n}`, persistent: true });
          if (n % 10 === 0) await nextTurn();
        }
        await channel.waitForConfirms();
      })();
      await killAndRestart(bridge, whenAt(KILL_AFTER));
      await sending;
      await whenAt(TOTAL);
      expect(ids).toEqual(Array.from({ length: TOTAL }, (_, i) => `m${i + 1}`));
      await rig.subscriber.roundTrip();
      expect(ids.length).toBe(TOTAL);
    } finally {
      await channel.deleteQueue(queue);
      await channel.deleteQueue(`${queue}.dead`);
      await channel.deleteExchange(`${queue}.dead`);
      await amqp.close();
    }
  });
});
