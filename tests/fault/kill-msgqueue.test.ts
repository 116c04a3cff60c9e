import { check, connect, formatReport, HistoryRecorder, testCertificate, type TestClient } from '@pubsub/testkit';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, test } from 'vitest';
import { subscribe } from '../support/chain.js';
import { TsProcess } from '../support/process.js';

const started: TsProcess[] = [];
afterEach(async () => {
  await Promise.all(started.splice(0).map((proc) => proc.kill('SIGKILL')));
});

function run(service: string, env: Record<string, string>): TsProcess {
  const proc = new TsProcess(`services/${service}/src/main.ts`, env);
  started.push(proc);
  return proc;
}

async function listening(proc: TsProcess): Promise<number> {
  return (await proc.waitForLog('listening')).port as number;
}

describe('kill -9 of the msgqueue under load', () => {
  test('loses no acknowledged message, duplicates none, and keeps per-topic order', async () => {
    const { certDir, ca } = await testCertificate();
    const dataDir = mkdtempSync(join(tmpdir(), 'pubsub-fault-'));
    const base = { WS_CERT_DIR: certDir, UPSTREAM_BACKOFF_MAX_MS: '200', LOG_LEVEL: 'info' };
    const queueEnv = { ...base, MSGQUEUE_PORT: '0', MSGQUEUE_DATA_DIR: dataDir, MSGQUEUE_STORE: process.env.FAULT_STORE ?? 'file' };
    let queue = run('msgqueue', queueEnv);
    const queuePort = await listening(queue);
    const publisher = run('publisher', {
      ...base,
      PUBLISHER_PORT: '0',
      PUBLISHER_QUEUE_URL: `wss://localhost:${queuePort}/pushmsg`,
    });
    const subscriberService = run('subscriber', {
      ...base,
      SUBSCRIBER_PORT: '0',
      SUBSCRIBER_QUEUE_URL: `wss://localhost:${queuePort}/popmsg`,
    });
    const [publishPort, subscribePort] = await Promise.all([listening(publisher), listening(subscriberService)]);

    const history = new HistoryRecorder();
    const topics = ['red', 'blue'];
    const subscribers = new Map<string, TestClient>();
    for (const name of ['s1', 's2']) {
      const client = await connect(`wss://localhost:${subscribePort}/subscribe`, { ca });
      for (const topic of topics) {
        await subscribe(client, topic);
        history.subscribed({ subscriber: name, topic });
      }
      client.ws.on('message', (data) => {
        const frame = JSON.parse((data as Buffer).toString()) as {
          type: string;
          topic: string;
          id: string;
          content: string;
          seq: number;
        };
        if (frame.type === 'message')
          history.delivered({
            subscriber: name,
            topic: frame.topic,
            id: frame.id,
            body: frame.content,
            seq: frame.seq,
          });
      });
      subscribers.set(name, client);
    }

    const perPublisher = 400;
    const total = 2 * perPublisher;
    let replies = 0;
    let acked = 0;
    let killAt: (() => void) | undefined;
    const killPoint = new Promise<void>((resolveKill) => (killAt = resolveKill));
    let allReplied: () => void = () => undefined;
    const done = new Promise<void>((resolveDone) => (allReplied = resolveDone));
    const publishers = await Promise.all(
      ['p1', 'p2'].map(async (name) => {
        const client = await connect(`wss://localhost:${publishPort}/publish`, { ca });
        client.ws.on('message', (data) => {
          const reply = JSON.parse((data as Buffer).toString()) as { type: string; id: string };
          if (reply.type === 'ack') {
            history.publishOk({ publisher: name, id: reply.id });
            // Killed from inside the ack stream, with messages in flight on every hop.
            if (++acked === total / 4) {
              queue.child.kill('SIGKILL');
              killAt?.();
            }
          } else history.publishFailed({ publisher: name, id: reply.id });
          if (++replies === total) allReplied();
        });
        return { name, client };
      }),
    );

    const send = (n: number) => {
      for (const { name, client } of publishers) {
        const topic = topics[n % 2] as string;
        const id = `${name}-${n}`;
        history.publishInvoked({ publisher: name, topic, id, body: id });
        client.send({ topic, content: id, id });
      }
    };
    // A steady stream with up to 60 messages in flight, going on through the kill.
    let next = 0;
    const pump = () => {
      while (next < perPublisher && 2 * next - replies < 60) send(next++);
    };
    for (const { client } of publishers) client.ws.on('message', pump);
    pump();
    await killPoint;
    expect(await queue.exited).toBeNull();
    const sentAtKill = next;
    queue = run('msgqueue', { ...queueEnv, MSGQUEUE_PORT: String(queuePort) });
    await listening(queue);
    await done;
    expect(sentAtKill).toBeLessThan(perPublisher);

    // Every acknowledged message must arrive at both subscribers; wait for the last of them.
    const expected = history.events.filter((event) => event.kind === 'publish' && event.outcome === 'ok').length;
    await new Promise<void>((resolveAll, reject) => {
      const timer = setTimeout(() => reject(new Error(`timed out:\n${formatReport(check(history.events))}`)), 15_000);
      const poll = () => {
        const report = check(history.events);
        if (report.counts.deliveries >= expected * subscribers.size && report.lost.length === 0) {
          clearTimeout(timer);
          resolveAll();
        }
      };
      for (const client of subscribers.values()) client.ws.on('message', poll);
      poll();
    });
    const report = check(history.events);
    expect(report.ok, formatReport(report)).toBe(true);
    expect(report.counts.acked).toBe(total);
    expect(report.duplicated).toEqual([]);
    expect(queue.lines.some((line) => line.includes('"msg":"recovered the log"'))).toBe(true);
    process.stderr.write(`kill -9 msgqueue: ${formatReport(report).split('\n')[0]}\n`);
    await Promise.all([...subscribers.values(), ...publishers.map((p) => p.client)].map((client) => client.close()));
  });
});
