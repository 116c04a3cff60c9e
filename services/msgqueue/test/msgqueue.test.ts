import { silentLogger } from '@pubsub/log';
import { TlsSetupError } from '@pubsub/tls';
import { captureLogs, connect, handshakeRejection, testCertificate, type TestClient } from '@pubsub/testkit';
import { once } from 'node:events';
import { request } from 'node:https';
import { describe, expect, test } from 'vitest';
import { loadConfig, start } from '../src/server.js';
import { startMsgqueue } from './helpers.js';

/** Frames sent before the pong are read before it: a sync point proving nothing else was sent. */
async function roundTrip(client: TestClient): Promise<void> {
  const pong = once(client.ws, 'pong');
  client.ws.ping();
  await pong;
}

describe('msgqueue', () => {
  test('starts on a free port and logs it', async () => {
    const logs = captureLogs('msgqueue');
    const { certDir } = await testCertificate();
    await using queue = await start(loadConfig({ WS_CERT_DIR: certDir, MSGQUEUE_PORT: '0' }), { logger: logs.logger });
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

  test('roundtrip: a pushed message pops out unchanged and the push is acknowledged', async () => {
    await using queue = await startMsgqueue();
    const pop = await queue.client('/popmsg');
    const push = await queue.client('/pushmsg');
    push.send('hello team!');
    expect(await pop.nextText()).toBe('hello team!');
    expect(await push.next()).toEqual({ ack: 1 });
  });

  test('keeps FIFO order and acknowledges cumulatively', async () => {
    await using queue = await startMsgqueue();
    const push = await queue.client('/pushmsg');
    for (let i = 0; i < 500; i++) push.send(`m${i}`);
    let acked = 0;
    while (acked < 500) {
      const { ack } = await push.next<{ ack: number }>();
      expect(ack).toBeGreaterThan(acked);
      acked = ack;
    }
    const pop = await queue.client('/popmsg');
    for (let i = 0; i < 500; i++) expect(await pop.nextText()).toBe(`m${i}`);
  });

  test('redelivers what a consumer did not acknowledge, in order, to the next consumer', async () => {
    await using queue = await startMsgqueue();
    const push = await queue.client('/pushmsg');
    const first = await queue.client('/popmsg');
    for (let i = 0; i < 5; i++) push.send(`m${i}`);
    for (let i = 0; i < 5; i++) expect(await first.nextText()).toBe(`m${i}`);
    first.send('{"ack":2}');
    await roundTrip(first);
    await first.close();
    const second = await queue.client('/popmsg');
    for (let i = 2; i < 5; i++) expect(await second.nextText()).toBe(`m${i}`);
  });

  test('sends a consumer no more than its prefetch until it acknowledges', async () => {
    await using queue = await startMsgqueue({ MSGQUEUE_PREFETCH: '2' });
    const pop = await queue.client('/popmsg');
    const push = await queue.client('/pushmsg');
    for (let i = 0; i < 3; i++) push.send(`m${i}`);
    expect(await push.next()).toEqual({ ack: 3 });
    expect(await pop.nextText()).toBe('m0');
    expect(await pop.nextText()).toBe('m1');
    await roundTrip(pop);
    expect(pop.buffered).toEqual([]);
    pop.send('{"ack":1}');
    expect(await pop.nextText()).toBe('m2');
  });

  test('holds pushes beyond its limit without dropping any, and delivers them all', async () => {
    await using queue = await startMsgqueue({ MSGQUEUE_MAX_MESSAGES: '3' });
    const push = await queue.client('/pushmsg');
    for (let i = 0; i < 20; i++) push.send(`m${i}`);
    const pop = await queue.client('/popmsg');
    for (let i = 0; i < 20; i++) {
      expect(await pop.nextText()).toBe(`m${i}`);
      pop.send(JSON.stringify({ ack: i + 1 }));
    }
    let acked = 0;
    while (acked < 20) acked = (await push.next<{ ack: number }>()).ack;
    expect(acked).toBe(20);
  });

  describe('bad input', () => {
    test('closes a binary push with 1003', async () => {
      await using queue = await startMsgqueue();
      const push = await queue.client('/pushmsg');
      push.ws.send(Buffer.from('x'), { binary: true });
      expect(await push.next()).toMatchObject({ type: 'error', code: 'BINARY_UNSUPPORTED' });
      expect((await push.closed()).code).toBe(1003);
    });

    test('closes invalid UTF-8 with 1007 and keeps serving others', async () => {
      await using queue = await startMsgqueue();
      const push = await queue.client('/pushmsg');
      push.ws.send(Buffer.from([0xc0, 0xaf]), { binary: false });
      expect((await push.closed()).code).toBe(1007);
      const other = await queue.client('/pushmsg');
      other.send('still here');
      expect(await other.next()).toEqual({ ack: 1 });
    });

    test('closes a frame over the hop limit with 1009', async () => {
      await using queue = await startMsgqueue({ MAX_PAYLOAD_BYTES: '1024' });
      const push = await queue.client('/pushmsg');
      push.send('x'.repeat(1024 * 1024));
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
    const env = { WS_CERT_DIR: certDir, MSGQUEUE_PORT: '0', MSGQUEUE_PREFETCH: '1' };
    const queue = await start(loadConfig(env), { logger: silentLogger() });
    const push = await connect(`wss://localhost:${queue.port}/pushmsg`, { ca });
    const pop = await connect(`wss://localhost:${queue.port}/popmsg`, { ca });
    push.send('first');
    push.send('second');
    expect(await push.next()).toEqual({ ack: 2 });
    expect(await pop.nextText()).toBe('first');
    const pushClosed = push.closed();
    const popClosed = pop.closed();
    const closing = queue.close();
    // 'second' is still queued behind the prefetch window: shutdown must wait to hand it over.
    pop.send('{"ack":1}');
    expect(await pop.nextText()).toBe('second');
    pop.send('{"ack":2}');
    await closing;
    expect((await pushClosed).code).toBe(1001);
    expect((await popClosed).code).toBe(1001);
  });
});
