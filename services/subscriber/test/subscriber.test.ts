import { silentLogger } from '@pubsub/log';
import * as msgqueue from '@pubsub/msgqueue';
import { encodeBatch, encodeDelivery, planBatches } from '@pubsub/protocol';
import { TlsSetupError } from '@pubsub/tls';
import {
  bareWssServer,
  captureLogs,
  connect,
  handshakeRejection,
  latch,
  tempDir,
  testCertificate,
  type TestClient,
} from '@pubsub/testkit';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, test, vi } from 'vitest';
import { EventEmitter } from 'node:events';
import { ServiceMetrics, type Upstream } from '@pubsub/service';
import { Delivery } from '../src/delivery.js';
import { TopicRates } from '../src/topic-rates.js';
import { Reader } from '../src/reader.js';
import { loadConfig, start } from '../src/server.js';
import { startRig } from './rig.js';
import type { Sink } from '../src/sink.js';
import { TopicRegistry } from '../src/topics.js';

const message = (topic: string, id: string, content = `"${id}"`) => encodeDelivery({ topic, id, content });

/** Delivery on its own, with a stand-in sink that records what it is written. */
function deliveryRig(upstream = new EventEmitter() as Upstream) {
  const logs = captureLogs('subscriber');
  const topics = new TopicRegistry<Reader>();
  const metrics = new ServiceMetrics('test');
  const behind: number[] = [];
  const delivery = new Delivery(upstream, topics, {
    logger: logs.logger,
    counters: {
      routed: metrics.counter({ name: 'routed', help: 'routed' }),
      deliveries: metrics.counter({ name: 'deliveries', help: 'deliveries' }),
      redeliveriesDropped: metrics.counter({ name: 'dropped', help: 'dropped' }),
      latency: metrics.histogram({ name: 'latency', help: 'latency', buckets: [1] }),
    },
    rates: new TopicRates(),
    highWaterBytes: 1024,
    onBehind: (_reader, position) => behind.push(position.offset),
  });
  const sent: string[] = [];
  const sink: Sink & { bufferedBytes: number } = {
    framing: { frame: (message) => message.frame },
    open: true,
    bufferedBytes: 0,
    write: (framed) => sent.push(framed.toString()),
    reply: (text) => sent.push(text),
    onDrain: (callback) => callback(),
    close: () => undefined,
  };
  const reader = new Reader(sink);
  let offset = 0;
  const route = (frame: string, at = ++offset) => delivery.route([at], [Buffer.from(frame)]);
  return { logs, topics, delivery, sent, sink, reader, route, behind };
}

/** The hop socket the rig's delivery drains: it records the acks it is sent. */
function hopRig() {
  const upstream = new EventEmitter();
  const { delivery } = deliveryRig(upstream as Upstream);
  const ws = Object.assign(new EventEmitter(), { readyState: 1, acks: [] as string[] });
  Object.assign(ws, { send: (ack: string) => ws.acks.push(ack) });
  upstream.emit('open', ws);
  let offset = 0;
  /** The msgqueue sends `count` messages in one positioned batch. */
  const deliver = (count: number) => {
    const frames = Array.from({ length: count }, (_, i) => Buffer.from(message('news', `m${offset + i}`)));
    const first = offset + 1;
    offset += count;
    const [plan] = planBatches(count, (i) => (frames[i] as Buffer).length, {
      maxMessages: count,
      maxBytes: 1 << 20,
      positioned: true,
    });
    const batch = encodeBatch(plan!, {
      bytesOf: (i) => (frames[i] as Buffer).length,
      write: (i, target, at) => (frames[i] as Buffer).copy(target, at),
      offsetOf: (i) => first + i,
    });
    ws.emit('message', batch, true);
  };
  return { delivery, ws, deliver };
}

async function send(client: TestClient, command: string): Promise<Record<string, unknown>> {
  client.send(command);
  return client.next();
}

describe('subscriber', () => {
  test('fails clearly without a certificate directory', async () => {
    const config = loadConfig({ WS_CERT_DIR: '/nonexistent/certs', SUBSCRIBER_PORT: '0' });
    await expect(start(config, { logger: silentLogger() })).rejects.toThrow(TlsSetupError);
  });

  test('rejects invalid credentials with 401 and unknown paths with 404', async () => {
    await using rig = await startRig();
    for (const auth of ['fail:test', 'hello:wrong', null]) {
      const res = await handshakeRejection(rig.subscribeUrl, { ca: rig.ca, auth });
      expect(res.status).toBe(401);
      expect(res.headers['www-authenticate']).toMatch(/^Basic realm="subscriber"/);
    }
    expect((await handshakeRejection(rig.subscribeUrl.replace('/subscribe', '/publish'), { ca: rig.ca })).status).toBe(
      404,
    );
  });

  test('acknowledges sub and unsub in both the text and the JSON form', async () => {
    await using rig = await startRig();
    const client = await rig.client();
    expect(await send(client, 'sub news')).toEqual({ type: 'subscribed', topic: 'news' });
    expect(await send(client, ' unsub\tnews\r\n')).toEqual({ type: 'unsubscribed', topic: 'news' });
    expect(await send(client, '{"Topic":"sport","Content":"sub"}')).toEqual({ type: 'subscribed', topic: 'sport' });
    expect(await send(client, '{"topic":"sport","content":"unsub","id":"r2"}')).toEqual({
      type: 'unsubscribed',
      topic: 'sport',
      id: 'r2',
    });
  });

  test('roundtrip: routes a queued message to its subscriber, byte for byte', async () => {
    await using rig = await startRig();
    const client = await rig.client();
    await send(client, 'sub news');
    const frame = message('news', 'm1', '{"big":12345678901234567890}');
    await rig.push(frame);
    expect(await client.nextText()).toMatch(
      new RegExp(`^${frame.slice(0, -1).replace(/[{}[\]]/g, '\\$&')},"seq":1,"epoch":"[0-9a-f]+"\\}$`),
    );
  });

  test('routes messages in the original Go format unchanged', async () => {
    await using rig = await startRig();
    const client = await rig.client();
    await send(client, '{"Topic":"news","Content":"sub"}');
    await rig.push('{"Topic":"news","Content":"m1"}');
    expect(await client.nextText()).toMatch(/^\{"Topic":"news","Content":"m1","seq":1,"epoch":"[0-9a-f]+"\}$/);
  });

  test('delivers to every subscriber of the topic and to no one else', async () => {
    await using rig = await startRig();
    const [a, b, other] = await Promise.all([rig.client(), rig.client(), rig.client()]);
    await send(a, 'sub news');
    await send(b, 'sub news');
    await send(other, 'sub sport');
    await rig.push(message('news', 'n1'), message('sport', 's1'));
    expect(JSON.parse(await a.nextText())).toMatchObject({ id: 'n1' });
    expect(JSON.parse(await b.nextText())).toMatchObject({ id: 'n1' });
    expect(JSON.parse(await other.nextText())).toMatchObject({ id: 's1' });
  });

  test('after an unsub is acknowledged, no message of that topic arrives', async () => {
    await using rig = await startRig();
    const client = await rig.client();
    await send(client, 'sub a');
    await send(client, 'sub b');
    expect(await send(client, 'unsub a')).toMatchObject({ type: 'unsubscribed' });
    await rig.push(message('a', 'a1'), message('b', 'b1'));
    // Queue order is a1 then b1: had a1 been delivered, it would have come first.
    expect(JSON.parse(await client.nextText())).toMatchObject({ id: 'b1' });
  });

  test('drops a queued frame without a valid topic and goes on delivering', () => {
    // The msgqueue refuses such frames; this guards the subscriber should one get through.
    const { logs, topics, sent, reader, route } = deliveryRig();
    topics.subscribe(reader, 'news');
    for (const frame of ['hello not json', '{"content":"no topic"}', message('news', 'after')]) route(frame);
    expect(sent).toEqual([message('news', 'after')]);
    expect(logs.lines.filter((line) => line.msg === 'dropping a queued message without a valid topic')).toHaveLength(2);
  });

  test('routes a redelivered message once, and starts counting again when the epoch changes', () => {
    const { logs, topics, sent, reader, route } = deliveryRig();
    topics.subscribe(reader, 'news');
    const stamped = (id: string, seq: number, epoch: string) =>
      `${message('news', id).slice(0, -1)},"seq":${seq},"epoch":"${epoch}"}`;
    for (const frame of [
      stamped('a', 1, 'e1'),
      stamped('b', 2, 'e1'),
      stamped('a', 1, 'e1'),
      stamped('b', 2, 'e1'),
      stamped('c', 3, 'e1'),
      stamped('fresh', 1, 'e2'),
    ]) {
      route(frame);
    }
    expect(sent.map((frame) => (JSON.parse(frame) as { id: string }).id)).toEqual(['a', 'b', 'c', 'fresh']);
    expect(logs.lines.some((line) => line.msg === 'msgqueue history was reset')).toBe(true);
  });

  test('acknowledges messages that come alone, turn after turn, together shortly after, and a batch of many in its turn', () => {
    vi.useFakeTimers();
    try {
      const { ws, deliver } = hopRig();
      for (let i = 0; i < 3; i++) {
        deliver(1);
        vi.advanceTimersByTime(0);
      }
      expect(ws.acks).toEqual([]);
      vi.advanceTimersToNextTimer();
      expect(ws.acks).toEqual(['{"ack":3}']);
      deliver(200);
      vi.advanceTimersByTime(0);
      expect(ws.acks).toEqual(['{"ack":3}', '{"ack":203}']);
    } finally {
      vi.useRealTimers();
    }
  });

  test('sends the pending ack when it stops', () => {
    vi.useFakeTimers();
    try {
      const { delivery, ws, deliver } = hopRig();
      deliver(2);
      delivery.stop();
      expect(ws.acks).toEqual(['{"ack":2}']);
      vi.runAllTimers();
      expect(ws.acks).toEqual(['{"ack":2}']);
    } finally {
      vi.useRealTimers();
    }
  });

  test('a reader that caught up from the log skips live messages the log already gave it', () => {
    const { topics, sent, reader, route } = deliveryRig();
    const stamped = (id: string, seq: number) => `${message('news', id).slice(0, -1)},"seq":${seq},"epoch":"e1"}`;
    topics.subscribe(reader, 'news');
    reader.floor = 7;
    reader.floorEpoch = 'e1';
    for (const [id, seq] of [
      ['six', 6],
      ['seven', 7],
      ['eight', 8],
      ['nine', 9],
    ] as const) {
      route(stamped(id, seq), seq);
    }
    expect(sent.map((frame) => (JSON.parse(frame) as { seq: number }).seq)).toEqual([8, 9]);
  });

  test('a reader over the high-water mark is handed over with its position and not written to', () => {
    const { topics, sent, sink, reader, route, behind } = deliveryRig();
    topics.subscribe(reader, 'news');
    route(message('news', 'a'), 10);
    sink.bufferedBytes = 2048;
    route(message('news', 'b'), 11);
    expect(sent.map((frame) => (JSON.parse(frame) as { id: string }).id)).toEqual(['a']);
    expect(behind).toEqual([10]);
  });

  describe('bad input', () => {
    test('answers each bad command with its error code and keeps the subscriptions as they were', async () => {
      await using rig = await startRig();
      const client = await rig.client();
      await send(client, 'sub news');
      const cases: [string, string][] = [
        ['foo x', 'UNKNOWN_COMMAND'],
        ['SUB x', 'UNKNOWN_COMMAND'],
        ['sub', 'TOPIC_MISSING'],
        ['sub a b', 'TOPIC_INVALID'],
        ['sub a*', 'TOPIC_INVALID'],
        ['sub a\u0000', 'TOPIC_INVALID'],
        [`sub ${'t'.repeat(257)}`, 'TOPIC_TOO_LONG'],
        ['{"topic":"news","content":"SUB"}', 'UNKNOWN_COMMAND'],
        ['{"topic":"news"', 'BAD_JSON'],
        ['{"content":"unsub"}', 'TOPIC_MISSING'],
        ['', 'UNKNOWN_COMMAND'],
      ];
      for (const [frame, code] of cases) {
        expect(await send(client, frame), frame).toMatchObject({ type: 'error', code });
      }
      expect(await send(client, '{"topic":"a b","content":"sub","id":"r1"}')).toMatchObject({
        code: 'TOPIC_INVALID',
        id: 'r1',
      });
      await rig.push(message('news', 'still'));
      expect(JSON.parse(await client.nextText())).toMatchObject({ id: 'still' });
    });

    test('closes a binary frame with 1003 and invalid UTF-8 with 1007', async () => {
      await using rig = await startRig();
      const binary = await rig.client();
      binary.ws.send(Buffer.from('sub news'), { binary: true });
      expect(await binary.next()).toMatchObject({ type: 'error', code: 'BINARY_UNSUPPORTED' });
      expect((await binary.closed()).code).toBe(1003);
      const utf8 = await rig.client();
      utf8.ws.send(Buffer.from([0x73, 0x75, 0x62, 0x20, 0xff]), { binary: false });
      expect((await utf8.closed()).code).toBe(1007);
    });
  });

  test('a burst: the reader that keeps up gets every message live, the one that stopped gets all of them once it reads again', async () => {
    const logs = captureLogs('subscriber');
    await using rig = await startRig({ logger: logs.logger });
    const normal = await rig.client();
    const stalled = await rig.client();
    await send(normal, 'sub burst');
    await send(stalled, 'sub burst');
    const stalledSocket = (stalled.ws as unknown as { _socket: { pause(): void; resume(): void } })._socket;
    stalledSocket.pause();
    // 20,000 messages of about 1 KB: 20 times the default high-water mark (1 MiB).
    const total = 20_000;
    const content = JSON.stringify('x'.repeat(1000));
    const seqsOf = (client: TestClient, count: number) => {
      const seqs: number[] = [];
      const done = latch(count, { name: 'deliveries', ms: 60_000 });
      client.ws.on('message', (data) => {
        seqs.push((JSON.parse((data as Buffer).toString()) as { seq: number }).seq);
        done.countDown();
      });
      return { seqs, done: done.done };
    };
    const normalSeen = seqsOf(normal, total);
    for (let i = 0; i < total; i += 1_000)
      await rig.push(...Array.from({ length: 1_000 }, (_, j) => message('burst', `m${i + j}`, content)));
    await normalSeen.done;
    const inOrder = Array.from({ length: total }, (_, i) => i + 1);
    expect(normalSeen.seqs).toEqual(inOrder);
    expect(normal.ws.readyState).toBe(normal.ws.OPEN);
    // The stalled reader left the live stream instead of growing the subscriber's memory.
    expect(logs.lines.some((line) => line.msg === 'reader behind the live stream; filling from the log')).toBe(true);
    const stalledSeen = seqsOf(stalled, total);
    stalledSocket.resume();
    await stalledSeen.done;
    expect(stalledSeen.seqs).toEqual(inOrder);
    expect(logs.lines.filter((line) => line.msg === 'closing slow consumer')).toEqual([]);
  });

  test('keeps serving clients while the msgqueue is unreachable', async () => {
    const { certDir, ca } = await testCertificate();
    const logs = captureLogs('subscriber');
    await using subscriber = await start(
      loadConfig({
        WS_CERT_DIR: certDir,
        MSGQUEUE_STORE: 'memory',
        SUBSCRIBER_PORT: '0',
        SUBSCRIBER_DATA_DIR: tempDir('subscriber'),
        SUBSCRIBER_QUEUE_URL: 'wss://localhost:1/popmsg',
      }),
      { logger: logs.logger },
    );
    await logs.waitFor((line) => line.msg === 'cannot reach upstream');
    const client = await connect(`wss://localhost:${subscriber.port}/subscribe`, { ca });
    expect(await send(client, 'sub news')).toEqual({ type: 'subscribed', topic: 'news' });
    await client.close();
  });

  test('fails over to the next msgqueue of SUBSCRIBER_QUEUE_URL, whose log goes on where the first one stopped', async () => {
    const { certDir, ca } = await testCertificate();
    const logger = silentLogger();
    // Two nodes over one store, one after the other: the second opens the data directory the first left.
    const queueEnv = {
      WS_CERT_DIR: certDir,
      MSGQUEUE_PORT: '0',
      MSGQUEUE_DATA_DIR: mkdtempSync(join(tmpdir(), 'pubsub-subscriber-failover-')),
    };
    const first = await msgqueue.start(msgqueue.loadConfig(queueEnv), { logger });
    const standby = await bareWssServer();
    const secondPort = Number(new URL(standby.url('/')).port);
    await standby.kill();
    await using subscriber = await start(
      loadConfig({
        WS_CERT_DIR: certDir,
        SUBSCRIBER_PORT: '0',
        SUBSCRIBER_DATA_DIR: tempDir('subscriber'),
        SUBSCRIBER_QUEUE_URL: `wss://localhost:${first.port}/popmsg,wss://localhost:${secondPort}/popmsg`,
        UPSTREAM_BACKOFF_MAX_MS: '50',
      }),
      { logger },
    );
    const client = await connect(`wss://localhost:${subscriber.port}/subscribe`, { ca });
    expect(await send(client, 'sub news')).toEqual({ type: 'subscribed', topic: 'news' });
    const push = async (port: number, id: string) => {
      const pusher = await connect(`wss://localhost:${port}/pushmsg`, { ca });
      pusher.send(message('news', id));
      await pusher.next();
      await pusher.close();
    };
    await push(first.port, 'm1');
    const m1 = await client.next<{ seq: number; epoch: string }>();
    expect(m1).toMatchObject({ type: 'message', id: 'm1', seq: 1 });
    await first.close();

    await using second = await msgqueue.start(msgqueue.loadConfig({ ...queueEnv, MSGQUEUE_PORT: String(secondPort) }), {
      logger,
    });
    await push(second.port, 'm2');
    expect(await client.next()).toMatchObject({ type: 'message', id: 'm2', seq: 2, epoch: m1.epoch });
    // A resume reads the log from the node that answers ("waiting" while it still asks the first).
    const resumed = await connect(`wss://localhost:${subscriber.port}/subscribe`, { ca });
    let reply = await send(resumed, `sub news from 1 ${m1.epoch}`);
    if (reply.type === 'waiting') reply = await resumed.next();
    expect(reply).toMatchObject({ type: 'subscribed', recovered: true });
    expect(await resumed.next()).toMatchObject({ type: 'message', id: 'm2', seq: 2 });
    await Promise.all([client.close(), resumed.close()]);
  });

  test('terminates a client that stops answering pings', async () => {
    await using rig = await startRig({ subscriber: { HEARTBEAT_INTERVAL_MS: '20' } });
    const silent = await connect(rig.subscribeUrl, { ca: rig.ca, autoPong: false });
    expect((await silent.closed()).code).toBe(1006);
  });
});
