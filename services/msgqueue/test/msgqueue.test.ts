import { silentLogger } from '@pubsub/log';
import { TlsSetupError } from '@pubsub/tls';
import { captureLogs, connect, handshakeRejection, testCertificate, type TestClient } from '@pubsub/testkit';
import { request } from 'node:https';
import { describe, expect, test } from 'vitest';
import { encodeDelivery, packBatches, unpackBatch } from '@pubsub/protocol';
import { WebSocket } from 'ws';
import { loadConfig, start } from '../src/server.js';
import { HISTORY_PAGE } from '../src/history.js';
import { createMemoryLog } from '../src/store/memory-log.js';
import { startMsgqueue } from './helpers.js';

/** A frame as the publisher service pushes it. */
const frame = (id: string, topic = 't') => encodeDelivery({ topic, id, content: JSON.stringify(id) });

/** The id and seq a popped frame carries. */
/** GET over https from a msgqueue URL (`wss://…`), as a hop user unless `auth` says otherwise. */
function httpsGet(url: string, { ca, auth = 'hello:test' }: { ca: string; auth?: string }) {
  return new Promise<{ status: number; body: string }>((resolveGet, reject) => {
    request(url.replace('wss:', 'https:'), { ca, auth }, (res) => {
      let body = '';
      res.on('data', (chunk: Buffer) => (body += chunk.toString()));
      res.on('end', () => resolveGet({ status: res.statusCode ?? 0, body }));
    })
      .on('error', reject)
      .end();
  });
}

async function popped(client: TestClient): Promise<{ id: string; seq: number; topic: string }> {
  return client.next<{ id: string; seq: number; topic: string }>();
}

describe('msgqueue', () => {
  test('starts on a free port and logs it', async () => {
    const logs = captureLogs('msgqueue');
    const { certDir } = await testCertificate();
    await using queue = await start(
      loadConfig({ WS_CERT_DIR: certDir, MSGQUEUE_STORE: 'memory', MSGQUEUE_PORT: '0' }),
      { logger: logs.logger },
    );
    const line = await logs.waitFor((entry) => entry.msg === 'listening');
    expect(line.port).toBe(queue.port);
    expect(queue.port).toBeGreaterThan(0);
  });

  test('fails clearly without a certificate directory', async () => {
    const config = loadConfig({ WS_CERT_DIR: '/nonexistent/certs', MSGQUEUE_PORT: '0' });
    await expect(start(config, { logger: silentLogger() })).rejects.toThrow(TlsSetupError);
    await expect(start(config, { logger: silentLogger() })).rejects.toThrow(/\/nonexistent\/certs/);
  });

  test.each(['/pushmsg', '/popmsg'])('rejects invalid credentials on %s with 401', async (path) => {
    await using queue = await startMsgqueue();
    const { ca } = await testCertificate();
    for (const auth of ['fail:test', 'hello:wrong', null]) {
      const res = await handshakeRejection(queue.url(path), { ca, auth });
      expect(res.status).toBe(401);
      expect(res.headers['www-authenticate']).toMatch(/^Basic realm="msgqueue"/);
      expect(JSON.parse(res.body)).toMatchObject({ statusCode: 401, code: 'AUTH_FAILED' });
    }
  });

  test('answers a non-upgrade request with 426 and an unknown path with 404', async () => {
    await using queue = await startMsgqueue();
    const { ca } = await testCertificate();
    const get = (path: string) =>
      new Promise<{ status: number; body: string }>((resolveGet, reject) => {
        request(queue.url(path).replace('wss:', 'https:'), { ca, auth: 'hello:test' }, (res) => {
          let body = '';
          res.on('data', (chunk: Buffer) => (body += chunk.toString()));
          res.on('end', () => resolveGet({ status: res.statusCode ?? 0, body }));
        })
          .on('error', reject)
          .end();
      });
    const plain = await get('/pushmsg');
    expect(plain.status).toBe(426);
    expect(JSON.parse(plain.body)).toMatchObject({ code: 'UPGRADE_REQUIRED' });
    expect((await get('/nowhere')).status).toBe(404);
    expect((await handshakeRejection(queue.url('/publish'), { ca })).status).toBe(404);
  });

  test('roundtrip: a pushed message pops out with its topic seq and the log epoch added', async () => {
    await using queue = await startMsgqueue();
    const pop = await queue.client('/popmsg');
    const push = await queue.client('/pushmsg');
    push.send(frame('m1', 'news'));
    const text = await pop.nextText();
    const { epoch } = JSON.parse(text) as { epoch: string };
    expect(epoch).toMatch(/^[0-9a-f]{12}$/);
    expect(text).toBe(`{"type":"message","topic":"news","id":"m1","content":"m1","seq":1,"epoch":"${epoch}"}`);
    expect(await push.next()).toEqual({ ack: 1, seq: [1] });
  });

  test('numbers each topic on its own, keeps FIFO order and acknowledges cumulatively', async () => {
    await using queue = await startMsgqueue();
    const push = await queue.client('/pushmsg');
    for (let i = 0; i < 500; i++) push.send(frame(`m${i}`, i % 2 === 0 ? 'even' : 'odd'));
    const seqs: (number | null)[] = [];
    while (seqs.length < 500) {
      const { ack, seq } = await push.next<{ ack: number; seq: (number | null)[] }>();
      seqs.push(...seq);
      expect(ack).toBe(seqs.length);
    }
    expect(seqs.slice(0, 4)).toEqual([1, 1, 2, 2]);
    const pop = await queue.client('/popmsg');
    for (let i = 0; i < 500; i++) expect(await popped(pop)).toMatchObject({ id: `m${i}`, seq: Math.floor(i / 2) + 1 });
  });

  test('a binary push is a batch: its messages are stored and acknowledged as if sent one by one', async () => {
    await using queue = await startMsgqueue();
    const push = await queue.client('/pushmsg');
    // 200 bytes: a length prefix with a byte above 0x7f, which alone is not UTF-8.
    const long = 'b'.repeat(200);
    const [batch] = packBatches([frame('a'), 'no topic', frame(long)], { maxMessages: 10, maxBytes: 10_000 });
    push.ws.send(batch as Buffer, { binary: true });
    expect(await push.next()).toEqual({ ack: 3, seq: [1, null, 2] });
    const pop = await queue.client('/popmsg');
    expect(await popped(pop)).toMatchObject({ id: 'a', seq: 1 });
    expect(await popped(pop)).toMatchObject({ id: long, seq: 2 });
  });

  test('a consumer asking for batches gets up to that many messages per binary frame', async () => {
    await using queue = await startMsgqueue();
    const push = await queue.client('/pushmsg');
    for (let i = 0; i < 5; i++) push.send(frame(`m${i}`));
    let acked = 0;
    while (acked < 5) acked = (await push.next<{ ack: number }>()).ack;
    const pop = await queue.client('/popmsg?batch=3');
    const batches: string[][] = [];
    await new Promise<void>((resolveAll) => {
      pop.ws.on('message', (data: Buffer, isBinary: boolean) => {
        batches.push(isBinary ? (unpackBatch(data) ?? []).map(String) : [data.toString()]);
        if (batches.flat().length === 5) resolveAll();
      });
    });
    expect(batches.map((batch) => batch.length)).toEqual([3, 2]);
    expect(batches.flat().map((text) => (JSON.parse(text) as { id: string }).id)).toEqual([
      'm0',
      'm1',
      'm2',
      'm3',
      'm4',
    ]);
    // Acks count messages, not frames.
    pop.send('{"ack":5}');
    await pop.roundTrip();
    expect(pop.ws.readyState).toBe(WebSocket.OPEN);
  });

  test('refuses a frame without a valid topic (seq null) and takes the next', async () => {
    await using queue = await startMsgqueue();
    const push = await queue.client('/pushmsg');
    push.send('hello team!');
    push.send(frame('ok'));
    let ack = await push.next<{ ack: number; seq: (number | null)[] }>();
    const seqs = [...ack.seq];
    while (ack.ack < 2) seqs.push(...(ack = await push.next<{ ack: number; seq: (number | null)[] }>()).seq);
    expect(seqs).toEqual([null, 1]);
  });

  test('stores a message id seen within the dedupe window once, and answers with the same seq', async () => {
    await using queue = await startMsgqueue();
    const push = await queue.client('/pushmsg');
    push.send(frame('same'));
    expect(await push.next()).toEqual({ ack: 1, seq: [1] });
    push.send(frame('same'));
    push.send(frame('other'));
    const seqs: (number | null)[] = [];
    while (seqs.length < 2) seqs.push(...(await push.next<{ seq: (number | null)[] }>()).seq);
    expect(seqs).toEqual([1, 2]);
    const pop = await queue.client('/popmsg');
    expect(await popped(pop)).toMatchObject({ id: 'same', seq: 1 });
    expect(await popped(pop)).toMatchObject({ id: 'other', seq: 2 });
  });

  // The Redis store keeps ids in Redis for the window, without this bound (docs/redis-store.md).
  test.skipIf(process.env.TEST_MSGQUEUE_STORE === 'redis')(
    'remembers at most MSGQUEUE_DEDUPE_MAX_IDS ids: the oldest are forgotten before the window ends',
    async () => {
      await using queue = await startMsgqueue({ MSGQUEUE_DEDUPE_MAX_IDS: '2' });
      const push = await queue.client('/pushmsg');
      const seqs: (number | null)[] = [];
      for (const id of ['a', 'b', 'c', 'a', 'c']) {
        push.send(frame(id));
        seqs.push(...(await push.next<{ seq: (number | null)[] }>()).seq);
      }
      // 'a' was forgotten when 'c' came, so it is stored again; 'c' is still remembered.
      expect(seqs).toEqual([1, 2, 3, 4, 3]);
    },
  );

  test('redelivers what a consumer did not acknowledge, in order, to the next consumer', async () => {
    await using queue = await startMsgqueue();
    const push = await queue.client('/pushmsg');
    const first = await queue.client('/popmsg');
    for (let i = 0; i < 5; i++) push.send(frame(`m${i}`));
    for (let i = 0; i < 5; i++) expect(await popped(first)).toMatchObject({ id: `m${i}` });
    first.send('{"ack":2}');
    await first.roundTrip();
    await first.close();
    const second = await queue.client('/popmsg');
    for (let i = 2; i < 5; i++) expect(await popped(second)).toMatchObject({ id: `m${i}` });
  });

  test('redelivers a message whose lease expired', async () => {
    await using queue = await startMsgqueue({ MSGQUEUE_LEASE_MS: '50' });
    const pop = await queue.client('/popmsg');
    const push = await queue.client('/pushmsg');
    push.send(frame('leased'));
    expect(await popped(pop)).toMatchObject({ id: 'leased' });
    expect(await popped(pop)).toMatchObject({ id: 'leased' });
    pop.send('{"ack":2}');
    await pop.roundTrip();
  });

  test('every consumer group gets every message; consumers within a group share them', async () => {
    await using queue = await startMsgqueue({ MSGQUEUE_GROUPS: 'a,b', MSGQUEUE_PREFETCH: '1' });
    const a1 = await queue.client('/popmsg?group=a');
    const a2 = await queue.client('/popmsg?group=a');
    const b = await queue.client('/popmsg?group=b');
    const push = await queue.client('/pushmsg');
    push.send(frame('x'));
    push.send(frame('y'));
    const inA = [await popped(a1), await popped(a2)].map((message) => message.id).sort();
    expect(inA).toEqual(['x', 'y']);
    expect(await popped(b)).toMatchObject({ id: 'x' });
    b.send('{"ack":1}');
    expect(await popped(b)).toMatchObject({ id: 'y' });
  });

  test('a declared group receives what was pushed before it first connected', async () => {
    await using queue = await startMsgqueue({ MSGQUEUE_GROUPS: 'late' });
    const push = await queue.client('/pushmsg');
    push.send(frame('early'));
    expect(await push.next()).toMatchObject({ ack: 1 });
    const pop = await queue.client('/popmsg?group=late');
    expect(await popped(pop)).toMatchObject({ id: 'early' });
  });

  test('sends a consumer no more than its prefetch until it acknowledges', async () => {
    await using queue = await startMsgqueue({ MSGQUEUE_PREFETCH: '2' });
    const pop = await queue.client('/popmsg');
    const push = await queue.client('/pushmsg');
    for (let i = 0; i < 3; i++) push.send(frame(`m${i}`));
    let acked = 0;
    while (acked < 3) acked = (await push.next<{ ack: number }>()).ack;
    expect(await popped(pop)).toMatchObject({ id: 'm0' });
    expect(await popped(pop)).toMatchObject({ id: 'm1' });
    await pop.roundTrip();
    expect(pop.buffered).toEqual([]);
    pop.send('{"ack":1}');
    expect(await popped(pop)).toMatchObject({ id: 'm2' });
  });

  test('holds pushes beyond its limit without dropping any, and delivers them all', async () => {
    await using queue = await startMsgqueue({ MSGQUEUE_MAX_MESSAGES: '3' });
    const push = await queue.client('/pushmsg');
    for (let i = 0; i < 20; i++) push.send(frame(`m${i}`));
    const pop = await queue.client('/popmsg');
    for (let i = 0; i < 20; i++) {
      expect(await popped(pop)).toMatchObject({ id: `m${i}` });
      pop.send(JSON.stringify({ ack: i + 1 }));
    }
    let acked = 0;
    while (acked < 20) acked = (await push.next<{ ack: number }>()).ack;
    expect(acked).toBe(20);
  });

  test("GET /history gives a topic's retained frames after a seq, to hop users only", async () => {
    await using queue = await startMsgqueue();
    const { ca } = await testCertificate();
    const push = await queue.client('/pushmsg');
    for (const id of ['h1', 'h2', 'h3']) push.send(frame(id, 'h'));
    let acked = 0;
    while (acked < 3) acked = (await push.next<{ ack: number }>()).ack;
    const get = (path: string, auth?: string) => httpsGet(queue.url(path), { ca, ...(auth ? { auth } : {}) });
    const page = await get('/history?topic=h&after=1');
    expect(page.status).toBe(200);
    const history = JSON.parse(page.body) as {
      epoch: string;
      first: number;
      last: number;
      more: boolean;
      messages: string[];
    };
    expect(history).toMatchObject({ first: 1, last: 3, more: false });
    expect(history.messages.map((text) => JSON.parse(text) as { id: string; seq: number })).toMatchObject([
      { id: 'h2', seq: 2 },
      { id: 'h3', seq: 3 },
    ]);
    expect((await get('/history?topic=h', 'hello:wrong')).status).toBe(401);
    expect((await get('/history?topic=a%20b')).status).toBe(400);
    expect((await get('/history?topic=h&after=-1')).status).toBe(400);
    expect(JSON.parse((await get('/history?topic=none')).body)).toMatchObject({ first: 1, last: 0, messages: [] });
  });

  test('GET /history answers a long history a page at a time, with `more` until the last page', async () => {
    const { certDir, ca } = await testCertificate();
    const log = createMemoryLog({
      dedupeWindowMs: 60_000,
      dedupeMaxIds: 100_000,
      retentionMs: 3_600_000,
      retentionBytes: 1024 * 1024 * 1024,
    });
    const total = HISTORY_PAGE + 5;
    await log.append(
      Array.from({ length: total }, (_, i) => ({ topic: 'long', id: `m${i}`, frame: frame(`m${i}`, 'long') })),
    );
    await using queue = await start(loadConfig({ WS_CERT_DIR: certDir, MSGQUEUE_PORT: '0' }), {
      logger: silentLogger(),
      log,
    });
    type Page = { first: number; last: number; more: boolean; messages: string[] };
    const page = async (after: number) =>
      JSON.parse(
        (await httpsGet(`wss://localhost:${queue.port}/history?topic=long&after=${after}`, { ca })).body,
      ) as Page;
    const seqs = (answer: Page) => answer.messages.map((text) => (JSON.parse(text) as { seq: number }).seq);

    const first = await page(0);
    expect(first).toMatchObject({ first: 1, last: total, more: true });
    expect(seqs(first)).toEqual(Array.from({ length: HISTORY_PAGE }, (_, i) => i + 1));
    const rest = await page(HISTORY_PAGE);
    expect(rest.more).toBe(false);
    expect(seqs(rest)).toEqual([10_001, 10_002, 10_003, 10_004, 10_005]);
  });

  test('/ready without credentials says only "store failed"; the error with its path is for the log and metrics', async () => {
    const { certDir, ca } = await testCertificate();
    const memory = createMemoryLog({ dedupeWindowMs: 1, dedupeMaxIds: 1, retentionMs: 1, retentionBytes: 1 });
    const failure = new Error('EACCES: permission denied, open /srv/secret/msgqueue/00000000000000000001.seg');
    const log = new Proxy(memory, {
      get: (target, key): unknown => (key === 'failure' ? failure : Reflect.get(target, key)),
    });
    await using queue = await start(loadConfig({ WS_CERT_DIR: certDir, MSGQUEUE_PORT: '0' }), {
      logger: silentLogger(),
      log,
    });
    const ready = await httpsGet(`wss://localhost:${queue.port}/ready`, { ca });
    expect(ready.status).toBe(503);
    expect(JSON.parse(ready.body)).toEqual({ status: 'not ready', service: 'msgqueue', reason: 'store failed' });
    expect(ready.body).not.toContain('/srv');
    const metrics = await httpsGet(`wss://localhost:${queue.port}/metrics`, { ca });
    expect(metrics.body).toMatch(/pubsub_msgqueue_store_failed\{service="msgqueue"\} 1/);
  });

  test('delivered messages kept as history do not count toward the limits that pause pushers', async () => {
    await using queue = await startMsgqueue({ MSGQUEUE_MAX_BYTES: '2000', MSGQUEUE_MAX_MESSAGES: '10' });
    const pop = await queue.client('/popmsg');
    const push = await queue.client('/pushmsg');
    // 60 messages, ~6 KB in all, acknowledged as they arrive: far over both limits in total.
    for (let i = 0; i < 60; i++) {
      push.send(frame(`m${i}`));
      expect(await popped(pop)).toMatchObject({ id: `m${i}` });
      pop.send(JSON.stringify({ ack: i + 1 }));
      let acked = 0;
      while (acked < i + 1) acked = (await push.next<{ ack: number }>()).ack;
    }
  });

  describe('bad input', () => {
    test.each([
      ['lengths that do not add up', Buffer.from('x')],
      ['invalid UTF-8', Buffer.from([0, 0, 0, 2, 0xc0, 0xaf])],
    ])('closes a binary push with %s with 1007', async (_name, data) => {
      await using queue = await startMsgqueue();
      const push = await queue.client('/pushmsg');
      push.ws.send(data, { binary: true });
      expect(await push.closed()).toEqual({
        code: 1007,
        reason: 'binary frames must be message batches of UTF-8 frames',
      });
    });

    test.each(['0', 'x', '1000000'])('refuses a consumer asking for batch=%s with 1008', async (batch) => {
      await using queue = await startMsgqueue();
      const pop = await queue.client(`/popmsg?batch=${batch}`);
      expect(await pop.closed()).toEqual({ code: 1008, reason: 'batch must be a whole number from 1 to 999999' });
    });

    test('closes invalid UTF-8 with 1007 and keeps serving others', async () => {
      await using queue = await startMsgqueue();
      const push = await queue.client('/pushmsg');
      push.ws.send(Buffer.from([0xc0, 0xaf]), { binary: false });
      expect((await push.closed()).code).toBe(1007);
      const other = await queue.client('/pushmsg');
      other.send(frame('still here'));
      expect(await other.next()).toEqual({ ack: 1, seq: [1] });
    });

    test('closes a frame over the hop limit with 1009', async () => {
      await using queue = await startMsgqueue({ MAX_PAYLOAD_BYTES: '1024' });
      const push = await queue.client('/pushmsg');
      push.send(frame('x'.repeat(1024 * 1024)));
      expect((await push.closed()).code).toBe(1009);
    });

    test('closes a consumer that acknowledges what it never received with 1008', async () => {
      await using queue = await startMsgqueue();
      const pop = await queue.client('/popmsg');
      pop.send('{"ack":5}');
      expect((await pop.closed()).code).toBe(1008);
      const garbled = await queue.client('/popmsg');
      garbled.send('ack please');
      expect((await garbled.closed()).code).toBe(1008);
    });
  });

  test('terminates a client that stops answering pings', async () => {
    await using queue = await startMsgqueue({ HEARTBEAT_INTERVAL_MS: '20' });
    const silent = await queue.client('/popmsg', { autoPong: false });
    expect((await silent.closed()).code).toBe(1006);
  });

  test('on shutdown, hands queued messages to its consumers, then closes clients with 1001', async () => {
    const { certDir, ca } = await testCertificate();
    const env = { WS_CERT_DIR: certDir, MSGQUEUE_STORE: 'memory', MSGQUEUE_PORT: '0', MSGQUEUE_PREFETCH: '1' };
    const queue = await start(loadConfig(env), { logger: silentLogger() });
    const push = await connect(`wss://localhost:${queue.port}/pushmsg`, { ca });
    const pop = await connect(`wss://localhost:${queue.port}/popmsg`, { ca });
    push.send(frame('first'));
    push.send(frame('second'));
    let acked = 0;
    while (acked < 2) acked = (await push.next<{ ack: number }>()).ack;
    expect(await popped(pop)).toMatchObject({ id: 'first' });
    const pushClosed = push.closed();
    const popClosed = pop.closed();
    const closing = queue.close();
    // 'second' is still queued behind the prefetch window: shutdown must wait to hand it over.
    pop.send('{"ack":1}');
    expect(await popped(pop)).toMatchObject({ id: 'second' });
    pop.send('{"ack":2}');
    await closing;
    expect((await pushClosed).code).toBe(1001);
    expect((await popClosed).code).toBe(1001);
  });
});
