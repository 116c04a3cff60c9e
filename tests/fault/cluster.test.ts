/**
 * Issue 18, "Show it": a cluster on this machine — its own Redis (`appendfsync always`), 2 msgqueue,
 * 2 publisher and 3 subscriber processes — with clients spread over the nodes and a steady load.
 * One node of each kind is killed with SIGKILL during the run and started again on its port. The
 * checker counts every acknowledged message at every subscribed client: none may be missing or
 * out of order per topic; duplicates are counted and reported.
 */
import { check, formatReport, HistoryRecorder, serverAvailable, tempDir, within } from '@pubsub/testkit';
import { randomBytes } from 'node:crypto';
import { describe, expect, test } from 'vitest';
import {
  PublishingClient,
  SubscribingClient,
  childEnv,
  childServices,
  ownRedisPossible,
  queueUrlEnv,
  startNode,
  startTestRedis,
  type ServiceNode,
} from '@pubsub/testkit-chain';

const run = childServices();

const TOPICS = ['red', 'blue', 'green'];
/** One message per publishing client and this many ms (four clients: 200 messages a second). */
const INTERVAL_MS = 20;
const WINDOW = 50;
/** Acks between one fault and the next, so each one hits a stream in full flow. */
const ACKS_BETWEEN_FAULTS = 300;

/** Rotates a list so that it starts at `first`: each node and client starts on a different peer. */
const from = <T>(list: readonly T[], first: number): T[] => [...list.slice(first), ...list.slice(0, first)];

/** SIGKILL, then the same service again on the same port; resolves once it listens. */
async function killAndRestart(node: ServiceNode): Promise<{ downMs: number }> {
  const killedAt = Date.now();
  expect(await node.proc.kill('SIGKILL')).toBeNull();
  await node.restart();
  return { downMs: Date.now() - killedAt };
}

describe.runIf(ownRedisPossible() || (await serverAvailable('redis')))(
  'a cluster: Redis, 2 msgqueue, 2 publisher and 3 subscriber nodes',
  () => {
    test('kill -9 of one node of each kind under load: no acked message lost, per-topic order kept, duplicates counted', async () => {
      const started = Date.now();
      const phase = (what: string) => process.stderr.write(`cluster fault test +${Date.now() - started} ms: ${what}\n`);
      const redis = await startTestRedis();
      phase(`redis at ${redis.url}`);
      try {
        const { ca, env } = await childEnv();
        const queueEnv = {
          ...env,
          MSGQUEUE_STORE: 'redis',
          MSGQUEUE_REDIS_URL: redis.url,
          MSGQUEUE_REDIS_PREFIX: `test:cluster-fault:${randomBytes(6).toString('hex')}:`,
          MSGQUEUE_NODE_GROUPS: 'true',
        };
        const queues = await Promise.all([0, 1].map(() => startNode(run, 'msgqueue', queueEnv)));
        const queuePorts = queues.map((queue) => queue.port);
        const publishers = await Promise.all(
          [0, 1].map((i) =>
            startNode(run, 'publisher', {
              ...env,
              ...queueUrlEnv('publisher', from(queuePorts, i)),
              PUBLISHER_RATE_LIMIT: '0',
            }),
          ),
        );
        const subscribers = await Promise.all(
          ['sub1', 'sub2', 'sub3'].map((name, i) =>
            startNode(run, 'subscriber', {
              ...env,
              ...queueUrlEnv('subscriber', from(queuePorts, i % 2)),
              SUBSCRIBER_NODE_ID: name,
              SUBSCRIBER_DATA_DIR: tempDir(`cluster-${name}`),
            }),
          ),
        );
        // A node's group is made when it first connects: wait for all three before publishing.
        await Promise.all(subscribers.map((node) => node.proc.waitForLog('upstream connected')));
        const bootMs = Date.now() - started;
        phase('nodes up');

        const history = new HistoryRecorder();
        let acked = 0;
        let wake: () => void = () => undefined;
        const onProgress = () => wake();
        const publishUrls = publishers.map((node) => `wss://localhost:${node.port}/publish`);
        const subscribeUrls = subscribers.map((node) => `wss://localhost:${node.port}/subscribe`);
        // Two subscribing clients on each subscriber node, each with the others as fallbacks.
        const readers = subscribeUrls.flatMap((_, i) =>
          [0, 1].map(
            (k) =>
              new SubscribingClient({
                name: `s${i + 1}.${k}`,
                urls: from(subscribeUrls, i),
                ca,
                topics: TOPICS,
                history,
                onDelivery: onProgress,
              }),
          ),
        );
        await within(
          Promise.all(readers.map((reader) => reader.ready)),
          15_000,
          () => 'subscribing clients not subscribed',
        );
        phase('clients subscribed');
        // Two publishing clients on each publisher node.
        const writers = publishUrls.flatMap((_, i) =>
          [0, 1].map(
            (k) =>
              new PublishingClient({
                name: `p${i + 1}.${k}`,
                urls: from(publishUrls, i),
                ca,
                topics: TOPICS,
                intervalMs: INTERVAL_MS,
                window: WINDOW,
                history,
                onAck: () => {
                  acked++;
                  onProgress();
                },
              }),
          ),
        );

        /** Resolves once `done()` holds, checked on every ack and delivery. */
        const until = (done: () => boolean, ms: number, what: () => string) =>
          within(
            new Promise<void>((resolveDone) => {
              wake = () => {
                if (done()) resolveDone();
              };
              wake();
            }),
            ms,
            what,
          );

        // The faults, one kind after the other, each while messages stream through every hop; the
        // load goes on until the last node killed is back, however long restarts take here.
        const faults: string[] = [];
        const inject = async (name: string, node: ServiceNode) => {
          const atAcks = acked + ACKS_BETWEEN_FAULTS;
          await until(
            () => acked >= atAcks,
            30_000,
            () => `${acked} of ${atAcks} acks before killing ${name}`,
          );
          phase(`killing ${name} at ${acked} acks`);
          const { downMs } = await killAndRestart(node);
          phase(`${name} back`);
          faults.push(`${name} at ${atAcks} acks (back after ${downMs} ms)`);
        };
        await inject('mq1', queues[0] as ServiceNode);
        await inject('pub1', publishers[0] as ServiceNode);
        await inject('sub1', subscribers[0] as ServiceNode);
        const tail = acked + ACKS_BETWEEN_FAULTS;
        await until(
          () => acked >= tail,
          30_000,
          () => `${acked} of ${tail} acks after the last fault`,
        );
        await within(
          Promise.all(writers.map((writer) => writer.drain())),
          30_000,
          () => `${acked} acks of ${writers.reduce((sum, writer) => sum + writer.published, 0)} published`,
        );
        const total = writers.reduce((sum, writer) => sum + writer.published, 0);
        expect(acked).toBe(total);
        phase('all acked');
        // Every acknowledged message must reach every subscribing client.
        await until(
          () => readers.every((reader) => reader.ids.size >= total),
          20_000,
          () =>
            `deliveries missing: ${readers.map((reader) => `${reader.name} ${reader.ids.size}/${total}`).join(', ')}\n` +
            formatReport(check(history.events, { allowDuplicates: true })),
        );
        for (const client of [...writers, ...readers]) client.stop();

        const report = check(history.events, { allowDuplicates: true });
        const duplicates = report.duplicated.reduce((sum, entry) => sum + entry.positions.length - 1, 0);
        process.stderr.write(
          [
            `cluster fault test: ${total} messages acked by ${writers.length} publishing clients, ` +
              `${readers.length} subscribing clients each got all of them; ${duplicates} duplicate deliveries`,
            `  faults: ${faults.join('; ')}`,
            `  resent by publishing clients: ${writers.reduce((sum, writer) => sum + writer.resent, 0)}; ` +
              `resumes on another node: ${readers.reduce((sum, reader) => sum + reader.resumes.length, 0)}`,
            `  boot ${bootMs} ms, whole run ${Date.now() - started} ms`,
            `  ${formatReport(report).split('\n')[0]}`,
          ].join('\n') + '\n',
        );
        expect(report.lost, formatReport(report)).toEqual([]);
        expect(report.reordered, formatReport(report)).toEqual([]);
        expect(report.unexpected).toEqual([]);
        expect(report.counts.acked).toBe(total);
        expect(readers.flatMap((reader) => reader.unexpected)).toEqual([]);
        // The clients of the killed subscriber node went on on another node, resuming each topic.
        const moved = readers.filter((reader) => reader.closes.length > 0);
        expect(moved.map((reader) => reader.name)).toEqual(['s1.0', 's1.1']);
        for (const reader of moved) expect(reader.resumes.filter((resume) => resume.recovered)).toHaveLength(3);
      } finally {
        await redis.stop();
      }
      // About 65 CPU-seconds in all, most of it starting ten Node processes: well under a minute
      // on an idle 2-core machine, minutes on a busy one, where restarts take tens of seconds.
    }, 300_000);
  },
);
