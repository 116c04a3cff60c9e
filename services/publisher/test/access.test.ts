import { hashPassword } from '@pubsub/auth';
import { connect, handshakeRejection, writeUsersFile } from '@pubsub/testkit';
import { beforeAll, describe, expect, test } from 'vitest';
import { loadConfig } from '../src/server.js';
import { startRig } from './rig.js';

let usersFile: string;
beforeAll(async () => {
  const password = await hashPassword('pw');
  usersFile = writeUsersFile([
    { name: 'pub-hop', password, role: 'pusher' },
    { name: 'sub-hop', password, role: 'popper' },
    { name: 'orders-app', password, role: 'client', publish: ['orders.>'] },
    { name: 'reader', password, role: 'client', subscribe: ['>'] },
  ]);
});

const usersEnv = () => ({ USERS_FILE: usersFile, PUBLISHER_QUEUE_USER: 'pub-hop', PUBLISHER_QUEUE_PASSWORD: 'pw' });

describe('publisher access', () => {
  test('a hop user is refused on /publish with 403 and a code', async () => {
    await using rig = await startRig({ shared: usersEnv() });
    const res = await handshakeRejection(rig.publishUrl, { ca: rig.ca, auth: 'pub-hop:pw' });
    expect(res.status).toBe(403);
    expect(JSON.parse(res.body)).toMatchObject({ statusCode: 403, code: 'FORBIDDEN' });
  });

  test('a client without any publish right is refused on /publish with 403, not let on to be refused each time', async () => {
    await using rig = await startRig({ shared: usersEnv() });
    const res = await handshakeRejection(rig.publishUrl, { ca: rig.ca, auth: 'reader:pw' });
    expect(res.status).toBe(403);
    const body = JSON.parse(res.body) as { code: string; message: string };
    expect(body.code).toBe('FORBIDDEN');
    expect(body.message).toContain('publish right');
  });

  test('a browser Origin is refused by default; the service own origin and ALLOWED_ORIGINS pass', async () => {
    await using rig = await startRig({ shared: { ALLOWED_ORIGINS: 'https://app.example.com' } });
    const origin = (value: string) => ({ ca: rig.ca, auth: 'hello:test', headers: { Origin: value } });
    for (const foreign of ['https://evil.example', 'null', 'http://localhost', 'https://app.example.com:8443']) {
      const res = await handshakeRejection(rig.publishUrl, origin(foreign));
      expect(res.status, foreign).toBe(403);
      expect(JSON.parse(res.body)).toMatchObject({ code: 'ORIGIN_FORBIDDEN' });
    }
    const own = new URL(rig.publishUrl).origin.replace('wss:', 'https:');
    await (await connect(rig.publishUrl, origin(own))).close();
    // The same origin spelled differently is the same origin.
    await (await connect(rig.publishUrl, origin('https://APP.example.com:443'))).close();
    // Clients that are not browsers send no Origin.
    await (await rig.publishClient('hello:test')).close();
  });

  test('a publish outside the user rights gets TOPIC_FORBIDDEN, is not forwarded, and the connection stays', async () => {
    await using rig = await startRig({ shared: usersEnv() });
    const pop = await rig.popClient('sub-hop:pw');
    const client = await rig.publishClient('orders-app:pw');
    client.send({ topic: 'news', content: 1, id: 'n1' });
    expect(await client.next()).toMatchObject({ type: 'error', code: 'TOPIC_FORBIDDEN', id: 'n1' });
    client.send({ topic: 'orders', content: 2, id: 'o0' });
    expect(await client.next()).toMatchObject({ type: 'error', code: 'TOPIC_FORBIDDEN', id: 'o0' });
    client.send({ topic: 'orders.new.eu', content: 3, id: 'o1' });
    expect(await client.next()).toMatchObject({ type: 'ack', id: 'o1', seq: 1 });
    // An allowed topic opens no other (the guard remembers the last allowed one).
    client.send({ topic: 'news', content: 4, id: 'n2' });
    expect(await client.next()).toMatchObject({ type: 'error', code: 'TOPIC_FORBIDDEN', id: 'n2' });
    // The first frame the msgqueue got is the allowed one.
    expect(await pop.next()).toMatchObject({ topic: 'orders.new.eu', id: 'o1' });
  });

  test('publishes are limited by default (1000/s per connection, burst 1000); 0 turns the limit off', () => {
    expect(loadConfig({}).rateLimit).toEqual({ perSecond: 1_000, burst: 1_000 });
    expect(loadConfig({ PUBLISHER_RATE_LIMIT: '0' }).rateLimit).toBeUndefined();
  });

  test('over PUBLISHER_RATE_LIMIT a message gets RATE_LIMITED and is not forwarded; the connection stays', async () => {
    // One token per 1000 s: only the burst passes while the test runs.
    await using rig = await startRig({ shared: { PUBLISHER_RATE_LIMIT: '0.001', PUBLISHER_RATE_BURST: '2' } });
    const pop = await rig.popClient('hello:test');
    const client = await rig.publishClient('hello:test');
    for (const id of ['m1', 'm2', 'm3']) client.send({ topic: 't', content: id, id });
    // The refusal is immediate and may overtake the acks: match by id.
    const replies = [await client.next(), await client.next(), await client.next()];
    expect(Object.fromEntries(replies.map((reply) => [reply.id, reply.type === 'ack' ? 'ack' : reply.code]))).toEqual({
      m1: 'ack',
      m2: 'ack',
      m3: 'RATE_LIMITED',
    });
    client.send('not json');
    expect(await client.next()).toMatchObject({ code: 'BAD_JSON' });
    // Another connection has its own bucket; its message comes right after m2.
    const other = await rig.publishClient('hello:test');
    other.send({ topic: 't', content: 'x', id: 'x1' });
    expect(await other.next()).toMatchObject({ type: 'ack', id: 'x1' });
    expect([await pop.next(), await pop.next(), await pop.next()].map((frame) => frame.id)).toEqual(['m1', 'm2', 'x1']);
    expect(await rig.metrics('hello:test')).toMatch(
      /pubsub_rejected_total\{code="RATE_LIMITED",service="publisher"\} 1/,
    );
  });
});
