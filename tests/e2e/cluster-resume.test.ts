/**
 * Issue 18, "Many nodes": a client that was on subscriber node A resumes on node B with no gap
 * and no duplicate. Two msgqueue nodes share one Redis, each subscriber node drains its own
 * node group through a different msgqueue node, and positions (seq, epoch, log offsets) mean
 * the same everywhere.
 */
import { silentLogger } from '@pubsub/log';
import * as msgqueue from '@pubsub/msgqueue';
import * as publisher from '@pubsub/publisher';
import type { ServiceHandle } from '@pubsub/service';
import * as subscriber from '@pubsub/subscriber';
import {
  captureLogs,
  connect,
  openEvents,
  serverAvailable,
  tempDir,
  testCertificate,
  type TestClient,
} from '@pubsub/testkit';
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import {
  baseEnv,
  subscribe,
  ownRedisPossible,
  startTestRedis,
  type Frame,
  type TestRedis,
} from '@pubsub/testkit-chain';

interface Cluster {
  readonly ca: string;
  readonly subscriberPorts: readonly [number, number];
  publish(topic: string, count: number): Promise<void>;
  [Symbol.asyncDispose](): Promise<void>;
}

const redisAtHand = ownRedisPossible() || (await serverAvailable('redis'));
let redis: TestRedis;
beforeAll(async () => {
  if (redisAtHand) redis = await startTestRedis();
});
afterAll(() => redis?.stop());

/** msgqueue A and B on one Redis prefix; subscriber node a on A, node b on B; a publisher on A. */
async function startCluster(): Promise<Cluster> {
  const { certDir, ca } = await testCertificate();
  const logger = silentLogger();
  const handles: ServiceHandle[] = [];
  const queueEnv = {
    WS_CERT_DIR: certDir,
    MSGQUEUE_PORT: '0',
    MSGQUEUE_STORE: 'redis',
    MSGQUEUE_REDIS_URL: redis.url,
    MSGQUEUE_REDIS_PREFIX: `test:cluster-resume:${randomBytes(6).toString('hex')}:`,
    MSGQUEUE_NODE_GROUPS: 'true',
  };
  const queues = [
    await msgqueue.start(msgqueue.loadConfig(queueEnv), { logger }),
    await msgqueue.start(msgqueue.loadConfig(queueEnv), { logger }),
  ];
  const subscriberPorts: number[] = [];
  for (const [index, id] of ['a', 'b'].entries()) {
    const logs = captureLogs('subscriber');
    const node = await subscriber.start(
      subscriber.loadConfig({
        ...(await baseEnv()),
        SUBSCRIBER_PORT: '0',
        SUBSCRIBER_DATA_DIR: tempDir(`subscriber-${id}`),
        SUBSCRIBER_NODE_ID: id,
        SUBSCRIBER_QUEUE_URL: `wss://localhost:${queues[index]?.port}/popmsg`,
      }),
      { logger: logs.logger },
    );
    // Its group is made when it first connects: only what is pushed after that is its.
    await logs.waitFor((line) => line.msg === 'upstream connected');
    handles.push(node);
    subscriberPorts.push(node.port);
  }
  const pub = await publisher.start(
    publisher.loadConfig({
      ...(await baseEnv()),
      PUBLISHER_PORT: '0',
      PUBLISHER_QUEUE_URL: `wss://localhost:${queues[0]?.port}/pushmsg`,
    }),
    { logger },
  );
  handles.unshift(pub);
  handles.push(...queues);
  return {
    ca,
    subscriberPorts: subscriberPorts as [number, number],
    async publish(topic, count) {
      const client = await connect(`wss://localhost:${pub.port}/publish`, { ca });
      for (let n = 0; n < count; n++)
        client.send({ topic, content: n, id: `${topic}-${randomBytes(4).toString('hex')}` });
      for (let n = 0; n < count; n++) expect(await client.next()).toMatchObject({ type: 'ack' });
      await client.close();
    },
    async [Symbol.asyncDispose]() {
      for (const handle of handles) await handle.close();
    },
  };
}

async function nextDeliveries(client: TestClient, count: number): Promise<Frame[]> {
  const got: Frame[] = [];
  while (got.length < count) got.push(await client.next<Frame>());
  return got;
}

describe.runIf(redisAtHand)('a client moves from subscriber node a to node b', () => {
  test('sub <topic> from <seq> <epoch> on b goes on right after what it had on a, with no gap and no duplicate', async () => {
    await using cluster = await startCluster();
    const [portA, portB] = cluster.subscriberPorts;
    const onA = await connect(`wss://localhost:${portA}/subscribe`, { ca: cluster.ca });
    await subscribe(onA, 'news');
    await cluster.publish('news', 5);
    // It reads three on node a, then goes away (its node may have sent more it never read).
    const firstThree = await nextDeliveries(onA, 3);
    expect(firstThree.map((message) => message.seq)).toEqual([1, 2, 3]);
    await onA.close();
    const { epoch } = firstThree[2] as Frame;

    const onB = await connect(`wss://localhost:${portB}/subscribe`, { ca: cluster.ca });
    onB.send(`sub news from 3 ${epoch}`);
    expect(await onB.next()).toMatchObject({ type: 'subscribed', topic: 'news', recovered: true, epoch, replayed: 2 });
    await cluster.publish('news', 2);
    const rest = await nextDeliveries(onB, 4);
    expect(rest.map((message) => [message.seq, message.epoch])).toEqual([4, 5, 6, 7].map((seq) => [seq, epoch]));
    await onB.close();
  });

  test('an event stream resumes on b with the Last-Event-ID it had from a', async () => {
    await using cluster = await startCluster();
    const [portA, portB] = cluster.subscriberPorts;
    const onA = await openEvents({ port: portA, ca: cluster.ca }, '?topic=news');
    // Subscribed once the stream has begun (its retry line).
    await onA.stream.until(() => onA.stream.retry !== undefined);
    await cluster.publish('news', 4);
    await onA.stream.until(() => onA.stream.messages().length >= 2);
    const had = onA.stream.messages().slice(0, 2);
    onA.stream.close();

    const onB = await openEvents({ port: portB, ca: cluster.ca }, '?topic=news', {
      headers: { 'Last-Event-ID': had[1]?.eventId ?? '' },
    });
    expect(onB.status).toBe(200);
    await cluster.publish('news', 1);
    await onB.stream.until(() => onB.stream.messages().length >= 3);
    expect(onB.stream.messages().map((message) => message.seq)).toEqual([3, 4, 5]);
    onB.stream.close();
  });
});
