import { silentLogger } from '@pubsub/log';
import * as msgqueue from '@pubsub/msgqueue';
import { dial } from '@pubsub/service';
import { TlsSetupError } from '@pubsub/tls';
import { bareWssServer, connect, handshakeRejection, testCertificate } from '@pubsub/testkit';
import { describe, expect, test } from 'vitest';
import { loadConfig, start } from '../src/server.js';
import { startRig } from './rig.js';

describe('publisher', () => {
  test('fails clearly without a certificate directory', async () => {
    const config = loadConfig({ WS_CERT_DIR: '/nonexistent/certs', PUBLISHER_PORT: '0' });
    await expect(start(config, { logger: silentLogger() })).rejects.toThrow(TlsSetupError);
  });

  test('rejects invalid credentials with 401 before upgrading', async () => {
    await using rig = await startRig();
    for (const auth of ['fail:test', 'hello:tes', 'hello:test:x', null]) {
      const res = await handshakeRejection(rig.publishUrl, { ca: rig.ca, auth });
      expect(res.status).toBe(401);
      expect(res.headers['www-authenticate']).toMatch(/^Basic realm="publisher"/);
    }
  });

  test('accepts users with scrypt-hashed passwords', async () => {
    const { hashPassword } = await import('@pubsub/auth');
    await using rig = await startRig({ publisher: { PUBLISHER_USERS: `alice:${await hashPassword('s3cret')}` } });
    const alice = await connect(rig.publishUrl, { ca: rig.ca, auth: 'alice:s3cret' });
    await alice.close();
    expect((await handshakeRejection(rig.publishUrl, { ca: rig.ca, auth: 'hello:test' })).status).toBe(401);
  });

  test('dialing an invalid address fails', async () => {
    const { ca } = await testCertificate();
    const options = { user: 'hello', password: 'test', ca, maxPayloadBytes: 1024 };
    await expect(dial({ ...options, url: 'wss://invalid address:1/pushmsg' })).rejects.toThrow();
    await expect(dial({ ...options, url: 'wss://localhost:1/pushmsg' })).rejects.toThrow(/ECONNREFUSED/);
  });

  test('roundtrip: forwards the message with its id and acknowledges it once queued', async () => {
    await using rig = await startRig();
    const pop = await rig.popClient();
    const client = await rig.publishClient();
    client.send('{"Topic":"news","Content":"hello team!","id":"m1"}');
    expect(await client.next()).toEqual({ type: 'ack', id: 'm1', seq: 1 });
    const forwarded = await pop.nextText();
    // What the publisher pushed (with the time it accepted it), plus the seq and epoch the
    // msgqueue adds at the end.
    expect(forwarded).toMatch(
      /^\{"type":"message","topic":"news","id":"m1","time":\d{13},"content":"hello team!","seq":1,"epoch":"[0-9a-f]+"\}$/,
    );
  });

  test("a resend of an id is acknowledged with the first copy's seq and marked duplicate", async () => {
    await using rig = await startRig();
    const client = await rig.publishClient();
    client.send('{"topic":"news","content":1,"id":"m1"}');
    expect(await client.next()).toEqual({ type: 'ack', id: 'm1', seq: 1 });
    client.send('{"topic":"news","content":1,"id":"m1"}');
    expect(await client.next()).toEqual({ type: 'ack', id: 'm1', seq: 1, duplicate: true });
  });

  test('gives a message without an id one of its own', async () => {
    await using rig = await startRig();
    const pop = await rig.popClient();
    const client = await rig.publishClient();
    client.send({ topic: 'news', content: [1, 2] });
    const ack = await client.next<{ type: string; id: string }>();
    expect(ack.type).toBe('ack');
    expect(ack.id).toMatch(/^[0-9a-f-]{36}$/);
    expect(JSON.parse(await pop.nextText())).toMatchObject({
      type: 'message',
      topic: 'news',
      id: ack.id,
      content: [1, 2],
    });
  });

  describe('bad input', () => {
    const cases: [string, string][] = [
      ['not json', 'BAD_JSON'],
      ['[1,2]', 'BAD_MESSAGE'],
      ['null', 'BAD_MESSAGE'],
      ['{"content":"x"}', 'TOPIC_MISSING'],
      ['{"topic":"","content":"x"}', 'TOPIC_MISSING'],
      ['{"topic":"a b","content":"x"}', 'TOPIC_INVALID'],
      ['{"topic":7,"content":"x"}', 'TOPIC_INVALID'],
      [JSON.stringify({ topic: 't'.repeat(257), content: 'x' }), 'TOPIC_TOO_LONG'],
      ['{"topic":"news"}', 'CONTENT_MISSING'],
      ['{"topic":"news","content":1,"id":""}', 'ID_INVALID'],
      [`{"topic":"news","content":${'['.repeat(70)}${']'.repeat(70)}}`, 'TOO_DEEP'],
    ];

    test('answers each malformed publish with its error code, forwards none, and stays open', async () => {
      await using rig = await startRig();
      const pop = await rig.popClient();
      const client = await rig.publishClient();
      for (const [frame, code] of cases) {
        client.send(frame);
        expect(await client.next(), frame).toMatchObject({ type: 'error', code });
      }
      client.send('{"topic":"news","content":"valid","id":"ok"}');
      expect(await client.next()).toMatchObject({ type: 'ack', id: 'ok' });
      // The first and only frame the msgqueue got is the valid one.
      expect(JSON.parse(await pop.nextText())).toMatchObject({ id: 'ok' });
    });

    test('names the message in the error when it had an id', async () => {
      await using rig = await startRig();
      const client = await rig.publishClient();
      client.send('{"topic":"a b","content":"x","id":"mine"}');
      expect(await client.next()).toMatchObject({ type: 'error', code: 'TOPIC_INVALID', id: 'mine' });
    });

    test('closes a binary frame with 1003, invalid UTF-8 with 1007, an oversized frame with 1009', async () => {
      await using rig = await startRig({ publisher: { MAX_PAYLOAD_BYTES: '1024' } });
      const binary = await rig.publishClient();
      binary.ws.send(Buffer.from('{}'), { binary: true });
      expect(await binary.next()).toMatchObject({ type: 'error', code: 'BINARY_UNSUPPORTED' });
      expect((await binary.closed()).code).toBe(1003);
      const utf8 = await rig.publishClient();
      utf8.ws.send(Buffer.from([0x7b, 0xed, 0xa0, 0x80, 0x7d]), { binary: false });
      expect((await utf8.closed()).code).toBe(1007);
      const big = await rig.publishClient();
      big.send(JSON.stringify({ topic: 'news', content: 'x'.repeat(1024) }));
      expect((await big.closed()).code).toBe(1009);
      const after = await rig.publishClient();
      after.send('{"topic":"news","content":"still up","id":"after"}');
      expect(await after.next()).toMatchObject({ type: 'ack', id: 'after' });
    });
  });

  test('while the msgqueue is down, buffers up to its limit, refuses the rest, and delivers the buffer later', async () => {
    const { certDir, ca } = await testCertificate();
    const logger = silentLogger();
    const queueEnv = { WS_CERT_DIR: certDir, MSGQUEUE_STORE: 'memory', MSGQUEUE_PORT: '0' };
    // Learn a free port, then leave it closed while the publisher starts.
    const probe = await msgqueue.start(msgqueue.loadConfig(queueEnv), { logger });
    const queuePort = probe.port;
    await probe.close();
    await using publisher = await start(
      loadConfig({
        WS_CERT_DIR: certDir,
        MSGQUEUE_STORE: 'memory',
        PUBLISHER_PORT: '0',
        PUBLISHER_QUEUE_URL: `wss://localhost:${queuePort}/pushmsg`,
        PUBLISHER_BUFFER_MESSAGES: '2',
        UPSTREAM_BACKOFF_MAX_MS: '50',
      }),
      { logger },
    );
    const client = await connect(`wss://localhost:${publisher.port}/publish`, { ca });
    for (const id of ['a', 'b', 'c']) client.send({ topic: 'news', content: id, id });
    expect(await client.next()).toMatchObject({ type: 'error', code: 'UNAVAILABLE', id: 'c' });

    await using queue = await msgqueue.start(msgqueue.loadConfig({ ...queueEnv, MSGQUEUE_PORT: String(queuePort) }), {
      logger,
    });
    expect(await client.next()).toMatchObject({ type: 'ack', id: 'a' });
    expect(await client.next()).toMatchObject({ type: 'ack', id: 'b' });
    const pop = await connect(`wss://localhost:${queue.port}/popmsg`, { ca });
    expect(JSON.parse(await pop.nextText())).toMatchObject({ id: 'a' });
    expect(JSON.parse(await pop.nextText())).toMatchObject({ id: 'b' });
    await Promise.all([pop.close(), client.close()]);
  });

  test('fails over to the next msgqueue of PUBLISHER_QUEUE_URL and resends there what the first never acknowledged', async () => {
    const { certDir, ca } = await testCertificate();
    const logger = silentLogger();
    // The first node takes messages and dies before acknowledging any.
    let onFirstMessage!: (text: string) => void;
    const firstMessage = new Promise<string>((resolveMessage) => (onFirstMessage = resolveMessage));
    const first = await bareWssServer((ws) => ws.once('message', (data: Buffer) => onFirstMessage(data.toString())));
    await using second = await msgqueue.start(
      msgqueue.loadConfig({ WS_CERT_DIR: certDir, MSGQUEUE_STORE: 'memory', MSGQUEUE_PORT: '0' }),
      { logger },
    );
    await using publisher = await start(
      loadConfig({
        WS_CERT_DIR: certDir,
        PUBLISHER_PORT: '0',
        PUBLISHER_QUEUE_URL: `${first.url('/pushmsg')},wss://localhost:${second.port}/pushmsg`,
        UPSTREAM_BACKOFF_MAX_MS: '50',
        HOP_BATCH_MESSAGES: '1',
      }),
      { logger },
    );
    const client = await connect(`wss://localhost:${publisher.port}/publish`, { ca });
    client.send({ topic: 'news', content: 'a', id: 'a' });
    expect(JSON.parse(await firstMessage)).toMatchObject({ id: 'a' });
    await first.kill();

    expect(await client.next()).toMatchObject({ type: 'ack', id: 'a', seq: 1 });
    client.send({ topic: 'news', content: 'b', id: 'b' });
    expect(await client.next()).toMatchObject({ type: 'ack', id: 'b', seq: 2 });
    const pop = await connect(`wss://localhost:${second.port}/popmsg`, { ca });
    expect(JSON.parse(await pop.nextText())).toMatchObject({ id: 'a' });
    expect(JSON.parse(await pop.nextText())).toMatchObject({ id: 'b' });
    await Promise.all([pop.close(), client.close()]);
  });

  test('terminates a client that stops answering pings', async () => {
    await using rig = await startRig({ publisher: { HEARTBEAT_INTERVAL_MS: '20' } });
    const silent = await connect(rig.publishUrl, { ca: rig.ca, autoPong: false });
    expect((await silent.closed()).code).toBe(1006);
  });

  test('on shutdown, closes clients with 1001 after the msgqueue acknowledged what they sent', async () => {
    const { certDir, ca } = await testCertificate();
    const logger = silentLogger();
    await using queue = await msgqueue.start(
      msgqueue.loadConfig({ WS_CERT_DIR: certDir, MSGQUEUE_STORE: 'memory', MSGQUEUE_PORT: '0' }),
      {
        logger,
      },
    );
    const publisher = await start(
      loadConfig({
        WS_CERT_DIR: certDir,
        MSGQUEUE_STORE: 'memory',
        PUBLISHER_PORT: '0',
        PUBLISHER_QUEUE_URL: `wss://localhost:${queue.port}/pushmsg`,
      }),
      { logger },
    );
    const client = await connect(`wss://localhost:${publisher.port}/publish`, { ca });
    client.send({ topic: 'news', content: 'x', id: 'x' });
    expect(await client.next()).toMatchObject({ type: 'ack', id: 'x' });
    const closed = client.closed();
    await publisher.close();
    expect((await closed).code).toBe(1001);
  });
});
