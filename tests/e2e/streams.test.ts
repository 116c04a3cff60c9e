import { hashPassword } from '@pubsub/auth';
import {
  captureLogs,
  connect,
  DEV_AUTH,
  handshakeRejection,
  writeUsersFile,
  type TestClient,
  post,
} from '@pubsub/testkit';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, test } from 'vitest';
import { allAcknowledged, startChain, subscribe, type Chain } from '@pubsub/testkit-chain';

interface Created {
  id: string;
  url: string;
  topics: string[];
  ordinal: number;
  connections: number;
}

async function api(chain: Chain, request: { method: string; path: string; body?: unknown; auth?: string }) {
  const answer = await post(chain.subscriber.port, request.path, {
    ca: chain.ca,
    auth: request.auth ?? DEV_AUTH,
    method: request.method,
    ...(request.body !== undefined && { body: JSON.stringify(request.body) }),
  });
  return { status: answer.status, json: answer.body === '' ? undefined : (JSON.parse(answer.body) as unknown) };
}

async function createStream(chain: Chain, topics: string[], auth?: string): Promise<Created> {
  const { status, json } = await api(chain, {
    method: 'POST',
    path: '/api/streams',
    body: { topics },
    ...(auth && { auth }),
  });
  expect(status, JSON.stringify(json)).toBe(201);
  return json as Created;
}

async function publish(chain: Chain, messages: [topic: string, id: string][]): Promise<void> {
  const pub = await chain.publishClient();
  for (const [topic, id] of messages) pub.send({ topic, content: id, id });
  for (let i = 0; i < messages.length; i++) expect(await pub.next()).toMatchObject({ type: 'ack' });
  await pub.close();
}

/** Opens a stream's URL as a browser or a device would: no credentials at all. */
const follow = (chain: Chain, url: string) => connect(url, { ca: chain.ca, auth: null });

async function take(client: TestClient, count: number): Promise<Record<string, unknown>[]> {
  const frames: Record<string, unknown>[] = [];
  while (frames.length < count) frames.push(await client.next());
  return frames;
}

const idsAndOrdinals = (frames: Record<string, unknown>[]) => frames.map((frame) => [frame.id, frame.ordinal]);

describe('streams with capability URLs', () => {
  test('a created stream is followed without credentials, its messages numbered 1, 2, 3 with the wss fields kept', async () => {
    await using chain = await startChain();
    const stream = await createStream(chain, ['news', 'orders.*']);
    expect(stream.id).toMatch(/^[A-Za-z0-9_-]{32}$/);
    expect(stream.url).toBe(`wss://localhost:${chain.subscriber.port}/streams/${stream.id}`);
    expect(stream).toMatchObject({ topics: ['news', 'orders.*'], ordinal: 0, connections: 0 });
    const client = await follow(chain, stream.url);
    await publish(chain, [
      ['news', 'n1'],
      ['other', 'x1'],
      ['orders.new', 'o1'],
      ['news', 'n2'],
    ]);
    const frames = await take(client, 3);
    expect(idsAndOrdinals(frames)).toEqual([
      ['n1', 1],
      ['o1', 2],
      ['n2', 3],
    ]);
    expect(frames[0]).toMatchObject({ type: 'message', topic: 'news', content: 'n1', seq: 1 });
    expect(typeof frames[0]?.epoch).toBe('string');
    expect(typeof frames[0]?.time).toBe('number');
    // A stream is read-only.
    client.send('sub other');
    expect(await client.next()).toMatchObject({ type: 'error', code: 'UNKNOWN_COMMAND' });
    await client.close();
  });

  test('messages published before the stream was created are not in it', async () => {
    await using chain = await startChain();
    await publish(chain, [['news', 'old']]);
    const stream = await createStream(chain, ['news']);
    await publish(chain, [['news', 'new']]);
    const client = await follow(chain, `${stream.url}?from=0`);
    expect(idsAndOrdinals(await take(client, 1))).toEqual([['new', 1]]);
    await client.roundTrip();
    expect(client.buffered).toEqual([]);
    await client.close();
  });

  test('?from=<n> replays what follows ordinal n, and a reconnect without it goes on after the last one sent, across a subscriber restart', async () => {
    await using chain = await startChain();
    const stream = await createStream(chain, ['a', 'b.>']);
    const first = await follow(chain, stream.url);
    await publish(chain, [
      ['a', 'a1'],
      ['b.x', 'b1'],
      ['c', 'c1'],
      ['a', 'a2'],
    ]);
    expect(idsAndOrdinals(await take(first, 3))).toEqual([
      ['a1', 1],
      ['b1', 2],
      ['a2', 3],
    ]);
    await first.close();
    // Published while nobody is connected: kept for the stream.
    await publish(chain, [
      ['b.y.z', 'b2'],
      ['a', 'a3'],
    ]);
    const again = await follow(chain, stream.url);
    expect(idsAndOrdinals(await take(again, 2))).toEqual([
      ['b2', 4],
      ['a3', 5],
    ]);
    await again.close();

    await chain.restartSubscriber(() => publish(chain, [['a', 'a4']]));
    const replay = await follow(chain, `${stream.url}?from=1`);
    expect(idsAndOrdinals(await take(replay, 5))).toEqual([
      ['b1', 2],
      ['a2', 3],
      ['b2', 4],
      ['a3', 5],
      ['a4', 6],
    ]);
    // Then live, numbered on.
    await publish(chain, [['b.q', 'b3']]);
    expect(idsAndOrdinals(await take(replay, 1))).toEqual([['b3', 7]]);
    // An ordinal the client claims to have but the stream has not given yet is counted up to, not sent.
    const ahead = await follow(chain, `${stream.url}?from=8`);
    await publish(chain, [
      ['a', 'a5'],
      ['a', 'a6'],
    ]);
    expect(idsAndOrdinals(await take(ahead, 1))).toEqual([['a6', 9]]);
    expect(idsAndOrdinals(await take(replay, 2))).toEqual([
      ['a5', 8],
      ['a6', 9],
    ]);
    await Promise.all([replay.close(), ahead.close()]);

    const listed = await api(chain, { method: 'GET', path: '/api/streams' });
    expect(listed.json).toMatchObject({ streams: [{ id: stream.id, ordinal: 9, connections: 0 }] });
  });

  test('what retention removed before the stream was read is told with a gap notice; ordinals go on, none given twice', async () => {
    await using chain = await startChain({ env: { MSGQUEUE_RETENTION_BYTES: '1' } });
    const stream = await createStream(chain, ['news']);
    const first = await follow(chain, stream.url);
    await publish(chain, [['news', 'n1']]);
    expect(idsAndOrdinals(await take(first, 1))).toEqual([['n1', 1]]);
    await first.close();
    const witness = await chain.subscribeClient();
    await subscribe(witness, 'news');
    await publish(chain, [
      ['news', 'n2'],
      ['news', 'n3'],
      ['news', 'n4'],
    ]);
    await take(witness, 3);
    await allAcknowledged(chain);
    // Acknowledged by the only group, so this append lets retention drop all before it.
    await publish(chain, [['news', 'n5']]);
    await take(witness, 1);
    const again = await follow(chain, stream.url);
    const notice = await again.next();
    expect(notice).toMatchObject({ type: 'subscribed', topic: 'news', recovered: false, gap: true });
    await publish(chain, [['news', 'live']]);
    const frames: Record<string, unknown>[] = [];
    while (frames.at(-1)?.id !== 'live') frames.push(await again.next());
    expect(frames.length).toBeLessThan(5);
    expect(frames.map((frame) => frame.ordinal)).toEqual(frames.map((_, index) => 2 + index));
    await Promise.all([again.close(), witness.close()]);
  });

  test('an idle stream expires, and its URL is refused as gone before the upgrade', async () => {
    const logs = captureLogs('subscriber');
    // Long enough for the first stream to be connected to before its clock runs out, on a busy machine too.
    await using chain = await startChain({ env: { SUBSCRIBER_STREAM_IDLE_TIMEOUT_MS: '1500' }, logger: logs.logger });
    const kept = await createStream(chain, ['news']);
    const client = await follow(chain, kept.url);
    const idle = await createStream(chain, ['news']);
    await logs.waitFor((line) => line.msg === 'stream expired' && line.stream === `${idle.id.slice(0, 6)}…`);
    const refused = await handshakeRejection(idle.url, { ca: chain.ca, auth: null });
    expect(refused.status).toBe(410);
    const body = JSON.parse(refused.body) as { code: string; message: string };
    expect(body.code).toBe('STREAM_GONE');
    expect(body.message).toMatch(/expired/);
    // One with a connection open does not expire.
    const listed = await api(chain, { method: 'GET', path: '/api/streams' });
    expect((listed.json as { streams: Created[] }).streams.map((stream) => stream.id)).toEqual([kept.id]);
    await publish(chain, [['news', 'n1']]);
    expect(idsAndOrdinals(await take(client, 1))).toEqual([['n1', 1]]);
    await client.close();
    // The logs name streams by a prefix only: the id is the credential.
    expect(JSON.stringify(logs.lines)).not.toContain(idle.id);
  });

  test('streams survive a restart, and the idle clock goes on across it', async () => {
    const logs = captureLogs('subscriber');
    const dataDir = mkdtempSync(join(tmpdir(), 'pubsub-streams-'));
    await using chain = await startChain({
      env: { SUBSCRIBER_DATA_DIR: dataDir, SUBSCRIBER_STREAM_IDLE_TIMEOUT_MS: '3600000' },
      logger: logs.logger,
    });
    const stream = await createStream(chain, ['news']);
    const old = await createStream(chain, ['news']);
    await chain.restartSubscriber(() => {
      // As if the subscriber had been down for longer than the idle timeout since `old` was last used.
      const path = join(dataDir, 'streams.json');
      const state = JSON.parse(readFileSync(path, 'utf8')) as { streams: { id: string; lastActiveAt: number }[] };
      for (const saved of state.streams) if (saved.id === old.id) saved.lastActiveAt -= 3_600_000;
      writeFileSync(path, JSON.stringify(state));
      return Promise.resolve();
    });
    await logs.waitFor((line) => line.msg === 'stream expired' && line.stream === `${old.id.slice(0, 6)}…`);
    const listed = await api(chain, { method: 'GET', path: '/api/streams' });
    expect(listed.json).toMatchObject({ streams: [{ id: stream.id, topics: ['news'] }] });
    expect((listed.json as { streams: unknown[] }).streams).toHaveLength(1);
    const client = await follow(chain, stream.url);
    await publish(chain, [['news', 'n1']]);
    expect(idsAndOrdinals(await take(client, 1))).toEqual([['n1', 1]]);
    await client.close();
    expect((await handshakeRejection(old.url, { ca: chain.ca, auth: null })).status).toBe(410);
  });

  test('a wrong id, a bad from and a stream path without an upgrade are refused with a status and JSON', async () => {
    await using chain = await startChain();
    const stream = await createStream(chain, ['news']);
    const base = `wss://localhost:${chain.subscriber.port}/streams`;
    const cases: [string, number, string][] = [
      [`${base}/${'A'.repeat(32)}`, 404, 'STREAM_UNKNOWN'],
      [`${base}/nope`, 404, 'STREAM_UNKNOWN'],
      [`${stream.url}?from=-1`, 400, 'RESUME_INVALID'],
      [`${stream.url}?from=abc`, 400, 'RESUME_INVALID'],
    ];
    for (const [url, status, code] of cases) {
      const refused = await handshakeRejection(url, { ca: chain.ca, auth: null });
      expect(refused.status, url).toBe(status);
      expect(JSON.parse(refused.body), url).toMatchObject({ code });
    }
    const plain = await post(chain.subscriber.port, `/streams/${stream.id}`, { ca: chain.ca, method: 'GET' });
    expect(plain.status).toBe(426);
  });

  test('creation needs credentials, a valid body and the right to every topic', async () => {
    const password = await hashPassword('pw');
    const usersFile = writeUsersFile([
      { name: 'orders-app', password, role: 'client', subscribe: ['orders.>'] },
      { name: 'news-app', password, role: 'client', subscribe: ['news'] },
    ]);
    await using chain = await startChain({
      env: {
        USERS_FILE: usersFile,
        SUBSCRIBER_USERS: DEV_AUTH,
        MSGQUEUE_USERS: DEV_AUTH,
        PUBLISHER_USERS: DEV_AUTH,
        SUBSCRIBER_MAX_USER_STREAMS: '2',
      },
    });
    const auth = 'orders-app:pw';
    const cases: [unknown, string | undefined, number, string][] = [
      [{ topics: ['orders.*'] }, 'orders-app:wrong', 401, 'AUTH_FAILED'],
      [{ topics: ['orders.new', 'news'] }, auth, 403, 'TOPIC_FORBIDDEN'],
      [{ topics: ['>'] }, auth, 403, 'TOPIC_FORBIDDEN'],
      [{ topics: [] }, auth, 400, 'BAD_MESSAGE'],
      [{ topic: 'orders.new' }, auth, 400, 'BAD_MESSAGE'],
      [{ topics: ['orders*'] }, auth, 400, 'TOPIC_INVALID'],
    ];
    for (const [body, user, status, code] of cases) {
      const answer = await api(chain, { method: 'POST', path: '/api/streams', body, ...(user && { auth: user }) });
      expect(answer.status, JSON.stringify(body)).toBe(status);
      expect(answer.json, JSON.stringify(body)).toMatchObject({ code });
    }
    await createStream(chain, ['orders.*'], auth);
    await createStream(chain, ['orders.>'], auth);
    const third = await api(chain, { method: 'POST', path: '/api/streams', body: { topics: ['orders.eu'] }, auth });
    expect(third).toMatchObject({ status: 429, json: { code: 'TOO_MANY_STREAMS' } });
    // Each user lists its own.
    const mine = await api(chain, { method: 'GET', path: '/api/streams', auth: 'news-app:pw' });
    expect(mine.json).toEqual({ streams: [] });
  });

  test('DELETE ends the stream, for its creator or an admin: open connections close with 4410, its URL answers 410', async () => {
    const password = await hashPassword('pw');
    const usersFile = writeUsersFile([
      { name: 'other', password, role: 'client', subscribe: ['>'] },
      { name: 'ops', password, role: 'admin' },
    ]);
    await using chain = await startChain({
      env: { USERS_FILE: usersFile, SUBSCRIBER_USERS: DEV_AUTH, MSGQUEUE_USERS: DEV_AUTH, PUBLISHER_USERS: DEV_AUTH },
    });
    const stream = await createStream(chain, ['news']);
    const client = await follow(chain, stream.url);
    const path = `/api/streams/${stream.id}`;
    expect(await api(chain, { method: 'DELETE', path, auth: 'other:pw' })).toMatchObject({
      status: 403,
      json: { code: 'STREAM_FORBIDDEN' },
    });
    const closed = client.closed();
    expect((await api(chain, { method: 'DELETE', path })).status).toBe(204);
    expect(await client.next()).toMatchObject({ type: 'error', code: 'STREAM_GONE' });
    expect(await closed).toMatchObject({ code: 4410 });
    expect(await api(chain, { method: 'DELETE', path })).toMatchObject({ status: 410, json: { code: 'STREAM_GONE' } });
    expect(await api(chain, { method: 'DELETE', path: `/api/streams/${'B'.repeat(32)}` })).toMatchObject({
      status: 404,
      json: { code: 'STREAM_UNKNOWN' },
    });
    const refused = await handshakeRejection(stream.url, { ca: chain.ca, auth: null });
    expect(refused.status).toBe(410);
    const body = JSON.parse(refused.body) as { code: string; message: string };
    expect(body.code).toBe('STREAM_GONE');
    expect(body.message).toMatch(/deleted/);
    // An admin user may end anyone's stream, but has none of its own.
    const second = await createStream(chain, ['news']);
    expect((await api(chain, { method: 'DELETE', path: `/api/streams/${second.id}`, auth: 'ops:pw' })).status).toBe(
      204,
    );
    const byAdmin = await api(chain, {
      method: 'POST',
      path: '/api/streams',
      body: { topics: ['news'] },
      auth: 'ops:pw',
    });
    expect(byAdmin).toMatchObject({ status: 403, json: { code: 'FORBIDDEN' } });
    // Gone across a restart too.
    await chain.restartSubscriber();
    expect((await handshakeRejection(stream.url, { ca: chain.ca, auth: null })).status).toBe(410);
  });

  test('a request on a stream, refused or admitted, is logged by its route, never with the id (the credential)', async () => {
    const usersFile = writeUsersFile([{ name: 'watch', password: await hashPassword('pw'), role: 'monitor' }]);
    const logs = captureLogs('subscriber');
    await using chain = await startChain({
      logger: logs.logger,
      env: { USERS_FILE: usersFile, SUBSCRIBER_USERS: DEV_AUTH, MSGQUEUE_USERS: DEV_AUTH, PUBLISHER_USERS: DEV_AUTH },
    });
    const stream = await createStream(chain, ['news']);
    const path = `/api/streams/${stream.id}`;
    const answer = await api(chain, { method: 'DELETE', path, auth: 'hello:wrong' });
    expect(answer).toMatchObject({ status: 401, json: { code: 'AUTH_FAILED' } });
    const line = await logs.waitFor((entry) => entry.msg === 'authentication failed');
    expect(line.path).toBe('/api/streams/:id');
    // A user without the right: the FORBIDDEN answer's reason is logged too.
    expect(await api(chain, { method: 'DELETE', path, auth: 'watch:pw' })).toMatchObject({
      status: 403,
      json: { code: 'FORBIDDEN' },
    });
    await logs.waitFor((entry) => entry.code === 'FORBIDDEN');
    expect((await api(chain, { method: 'DELETE', path, auth: DEV_AUTH })).status).toBe(204);
    expect(logs.lines.filter((entry) => JSON.stringify(entry).includes(stream.id))).toEqual([]);
  });
});
