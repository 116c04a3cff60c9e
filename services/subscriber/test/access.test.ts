import { hashPassword } from '@pubsub/auth';
import { encodeDelivery } from '@pubsub/protocol';
import { captureLogs, handshakeRejection, writeUsersFile, type TestClient } from '@pubsub/testkit';
import { beforeAll, describe, expect, test } from 'vitest';
import { loadConfig } from '../src/server.js';
import { startRig } from './rig.js';

/** Frames of messages `[topic, id]`, as the publisher would push them. */
function deliveries(...messages: [topic: string, id: string][]): string[] {
  return messages.map(([topic, id]) => encodeDelivery({ topic, id, content: '0' }));
}

async function send(client: TestClient, command: string): Promise<Record<string, unknown>> {
  client.send(command);
  return client.next();
}

/** The ids of the next `count` deliveries. */
async function ids(client: TestClient, count: number): Promise<unknown[]> {
  const frames: Record<string, unknown>[] = [];
  for (let i = 0; i < count; i++) frames.push(await client.next());
  return frames.map((frame) => frame.id);
}

let usersFile: string;
beforeAll(async () => {
  const password = await hashPassword('pw');
  usersFile = writeUsersFile([
    { name: 'hop', password, role: 'popper' },
    { name: 'pusher', password, role: 'pusher' },
    { name: 'writer', password, role: 'client', publish: ['>'] },
    { name: 'watcher', password, role: 'client', subscribe: ['orders.>', 'news'] },
    { name: 'narrow', password, role: 'client', subscribe: ['orders.new'] },
  ]);
});

const usersEnv = () => ({ USERS_FILE: usersFile, SUBSCRIBER_QUEUE_USER: 'hop', SUBSCRIBER_QUEUE_PASSWORD: 'pw' });

describe('subscriber access', () => {
  test('a hop user is refused on /subscribe with 403 and a code', async () => {
    await using rig = await startRig({ shared: usersEnv(), hopAuth: 'pusher:pw' });
    const res = await handshakeRejection(rig.subscribeUrl, { ca: rig.ca, auth: 'hop:pw' });
    expect(res.status).toBe(403);
    expect(JSON.parse(res.body)).toMatchObject({ code: 'FORBIDDEN' });
  });

  test('a client without any subscribe right is refused on /subscribe with 403', async () => {
    await using rig = await startRig({ shared: usersEnv(), hopAuth: 'pusher:pw' });
    const res = await handshakeRejection(rig.subscribeUrl, { ca: rig.ca, auth: 'writer:pw' });
    expect(res.status).toBe(403);
    const body = JSON.parse(res.body) as { code: string; message: string };
    expect(body.code).toBe('FORBIDDEN');
    expect(body.message).toContain('subscribe right');
  });

  test('a sub outside the rights gets TOPIC_FORBIDDEN, takes no effect, and the connection stays', async () => {
    await using rig = await startRig({ shared: usersEnv(), hopAuth: 'pusher:pw' });
    const narrow = await rig.client('narrow:pw');
    expect(await send(narrow, 'sub news')).toMatchObject({ type: 'error', code: 'TOPIC_FORBIDDEN' });
    expect(await send(narrow, '{"topic":"orders.old","content":"sub","id":"r1"}')).toMatchObject({
      type: 'error',
      code: 'TOPIC_FORBIDDEN',
      id: 'r1',
    });
    // Rights on orders.new do not cover everything orders.* can match.
    expect(await send(narrow, 'sub orders.*')).toMatchObject({ code: 'TOPIC_FORBIDDEN' });
    expect(await send(narrow, 'sub orders.new')).toEqual({ type: 'subscribed', topic: 'orders.new' });
    await rig.push(...deliveries(['news', 'n1'], ['orders.old', 'o0'], ['orders.new', 'o1']));
    // Had news or orders.old been subscribed, their messages would come first.
    expect(await ids(narrow, 1)).toEqual(['o1']);

    const watcher = await rig.client('watcher:pw');
    // Rights on orders.> cover orders.* and orders.new.>, not everything.
    expect(await send(watcher, 'sub orders.*')).toEqual({ type: 'subscribed', topic: 'orders.*' });
    expect(await send(watcher, 'sub orders.new.>')).toEqual({ type: 'subscribed', topic: 'orders.new.>' });
    for (const subject of ['>', '*', 'news.*', 'orders']) {
      expect(await send(watcher, `sub ${subject}`), subject).toMatchObject({ code: 'TOPIC_FORBIDDEN' });
    }
    // Unsubscribing is never refused.
    expect(await send(watcher, 'unsub sport')).toEqual({ type: 'unsubscribed', topic: 'sport' });
  });

  test('wildcard subscriptions deliver every matching topic, each message once per socket', async () => {
    await using rig = await startRig({ shared: usersEnv(), hopAuth: 'pusher:pw' });
    const one = await rig.client('watcher:pw');
    const tail = await rig.client('watcher:pw');
    await send(one, 'sub orders.*');
    await send(one, 'sub orders.new');
    await send(tail, 'sub orders.>');
    await rig.push(
      ...deliveries(
        ['orders.new', 'a'],
        ['orders.eu.new', 'b'],
        ['orders', 'c'],
        ['orders.old', 'd'],
        ['news', 'e'],
        ['orders.end', 'z'],
      ),
    );
    // orders.new matches two of one's subscriptions and still arrives once.
    expect(await ids(one, 3)).toEqual(['a', 'd', 'z']);
    expect(await ids(tail, 4)).toEqual(['a', 'b', 'd', 'z']);

    expect(await send(one, 'unsub orders.*')).toEqual({ type: 'unsubscribed', topic: 'orders.*' });
    await rig.push(...deliveries(['orders.old', 'f'], ['orders.new', 'g']));
    expect(await ids(one, 1)).toEqual(['g']);
    expect(await ids(tail, 2)).toEqual(['f', 'g']);
  });

  test('resuming is for exact topics: a pattern with "from" gets RESUME_INVALID', async () => {
    await using rig = await startRig({ shared: usersEnv(), hopAuth: 'pusher:pw' });
    const watcher = await rig.client('watcher:pw');
    const reply = await send(watcher, 'sub orders.* from 3');
    expect(reply).toMatchObject({ type: 'error', code: 'RESUME_INVALID' });
    expect(reply.message).toMatch(/exact topic/);
  });

  test('beyond SUBSCRIBER_MAX_USER_SUBSCRIPTIONS, over all of a user sockets, a new sub is refused; other users are not', async () => {
    await using rig = await startRig({
      shared: { SUBSCRIBER_MAX_USER_SUBSCRIPTIONS: '3', SUBSCRIBER_USERS: 'alice:pw,bob:pw' },
      hopAuth: 'hello:test',
    });
    const [first, second] = [await rig.client('alice:pw'), await rig.client('alice:pw')];
    expect(await send(first, 'sub a')).toMatchObject({ type: 'subscribed' });
    expect(await send(first, 'sub b')).toMatchObject({ type: 'subscribed' });
    expect(await send(second, 'sub c')).toMatchObject({ type: 'subscribed' });
    const refused = await send(second, 'sub d');
    expect(refused).toMatchObject({ type: 'error', code: 'TOO_MANY_SUBSCRIPTIONS' });
    expect(refused.message).toMatch(/SUBSCRIBER_MAX_USER_SUBSCRIPTIONS/);
    expect(await send(await rig.client('bob:pw'), 'sub d')).toMatchObject({ type: 'subscribed' });
    expect(await send(first, 'unsub a')).toMatchObject({ type: 'unsubscribed' });
    expect(await send(second, 'sub d')).toMatchObject({ type: 'subscribed', topic: 'd' });
  });

  test("a closed socket gives its subscriptions back to its user's limit, and a resume counts once", async () => {
    const logs = captureLogs('subscriber');
    await using rig = await startRig({
      shared: { SUBSCRIBER_MAX_USER_SUBSCRIPTIONS: '3', SUBSCRIBER_USERS: 'alice:pw' },
      hopAuth: 'hello:test',
      logger: logs.logger,
    });
    const [first, second] = [await rig.client('alice:pw'), await rig.client('alice:pw')];
    expect(await send(first, 'sub a')).toMatchObject({ type: 'subscribed' });
    expect(await send(first, 'sub b')).toMatchObject({ type: 'subscribed' });
    expect(await send(second, 'sub c')).toMatchObject({ type: 'subscribed' });
    expect(await send(second, 'sub d')).toMatchObject({ code: 'TOO_MANY_SUBSCRIPTIONS' });
    await first.close();
    await logs.waitFor((line) => line.msg === 'connection closed');
    expect(await send(second, 'sub d')).toMatchObject({ type: 'subscribed', topic: 'd' });
    expect(await send(second, 'sub e')).toMatchObject({ type: 'subscribed', topic: 'e' });
    expect(await send(second, 'sub c from 0')).toMatchObject({ type: 'subscribed', topic: 'c' });
    expect(await send(second, 'sub f')).toMatchObject({ code: 'TOO_MANY_SUBSCRIPTIONS' });
    expect(await send(second, 'unsub e')).toMatchObject({ type: 'unsubscribed' });
    expect(await send(second, 'sub f')).toMatchObject({ type: 'subscribed', topic: 'f' });
  });

  test('subscriptions are capped per user by default (10,000), and per socket (1,000)', () => {
    expect(loadConfig({})).toMatchObject({ maxSubscriptions: 1_000, maxUserSubscriptions: 10_000 });
  });

  test('beyond SUBSCRIBER_MAX_SUBSCRIPTIONS a new sub gets TOO_MANY_SUBSCRIPTIONS and the connection stays', async () => {
    await using rig = await startRig({ shared: { SUBSCRIBER_MAX_SUBSCRIPTIONS: '2' }, hopAuth: 'hello:test' });
    const client = await rig.client('hello:test');
    expect(await send(client, 'sub a')).toMatchObject({ type: 'subscribed' });
    expect(await send(client, 'sub b.*')).toMatchObject({ type: 'subscribed' });
    expect(await send(client, 'sub c')).toMatchObject({ type: 'error', code: 'TOO_MANY_SUBSCRIPTIONS' });
    // Repeating a subscription it has is not a new one.
    expect(await send(client, 'sub a')).toMatchObject({ type: 'subscribed', topic: 'a' });
    await rig.push(...deliveries(['c', 'c1'], ['b.x', 'b1']));
    expect(await ids(client, 1)).toEqual(['b1']);
    expect(await send(client, 'unsub a')).toMatchObject({ type: 'unsubscribed' });
    expect(await send(client, 'sub c')).toMatchObject({ type: 'subscribed', topic: 'c' });
    await rig.push(...deliveries(['c', 'c2']));
    expect(await ids(client, 1)).toEqual(['c2']);
  });
});
