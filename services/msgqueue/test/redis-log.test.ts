import { silentLogger } from '@pubsub/log';
import { serverAvailable, serverUrl } from '@pubsub/testkit';
import { Redis } from 'ioredis';
import { encodeDelivery } from '@pubsub/protocol';
import { captureLogs } from '@pubsub/testkit';
import { afterEach, describe, expect, test } from 'vitest';
import type { MessageLog } from '../src/store/log.js';
import { openRedisLog, type RedisLogOptions } from '../src/store/redis-log.js';
import { removeRedisKeys, redisTestPrefix, startMsgqueue } from './helpers.js';
import { describeMessageLog, type StoreOptions } from './store-contract.js';

const available = await serverAvailable('redis');

const frame = (topic: string, id: string) => encodeDelivery({ topic, id, content: JSON.stringify(id) });

describe.runIf(available)('redis store', () => {
  const prefixes: string[] = [];
  const logs: MessageLog[] = [];
  const open = async (prefix: string, options: Partial<RedisLogOptions> = {}) => {
    const log = await openRedisLog({
      url: serverUrl('redis'),
      keyPrefix: prefix,
      dedupeWindowMs: 120_000,
      retentionMs: 3_600_000,
      retentionBytes: 1024 * 1024 * 1024,
      logger: silentLogger(),
      ...options,
    });
    logs.push(log);
    return log;
  };
  const newPrefix = () => {
    const prefix = redisTestPrefix();
    prefixes.push(prefix);
    return prefix;
  };
  afterEach(async () => {
    await Promise.all(logs.splice(0).map((log) => log.close()));
    await Promise.all(prefixes.splice(0).map(removeRedisKeys));
  });

  test('nodes on one Redis number messages as one log and see each other’s appends as they are made', async () => {
    const prefix = newPrefix();
    const [a, b] = [await open(prefix), await open(prefix)];
    expect(b.epoch).toBe(a.epoch);
    const seen = new Promise<void>((resolveSeen) => b.onCommitted(() => b.committedOffset > 2 && resolveSeen()));
    expect(
      await a.append([
        { topic: 't', id: 'a1', frame: frame('t', 'a1') },
        { topic: 'u', id: 'a2', frame: frame('u', 'a2') },
      ]),
    ).toEqual([
      { seq: 1, duplicate: false },
      { seq: 1, duplicate: false },
    ]);
    await seen;
    expect(b.read(1)?.frame).toBe(a.read(1)?.frame);
    // Numbering continues across nodes, and an id is known to both.
    expect(
      await b.append([
        { topic: 't', id: 'b1', frame: frame('t', 'b1') },
        { topic: 't', id: 'a1', frame: frame('t', 'a1') },
      ]),
    ).toEqual([
      { seq: 2, duplicate: false },
      { seq: 1, duplicate: true },
    ]);
    expect(b.read(3)).toMatchObject({ offset: 3, topic: 't', seq: 2 });
    // a appends next without having seen b's message yet, or after: either way it reads it back in order.
    await a.append([{ topic: 't', id: 'a3', frame: frame('t', 'a3') }]);
    expect(a.topicHistory('t', { afterSeq: 0, limit: 10 }).map((entry) => [entry.offset, entry.seq])).toEqual([
      [1, 1],
      [3, 2],
      [4, 3],
    ]);
  });

  test('group positions only move forward, whichever node saves them, and hold retention in Redis back', async () => {
    const prefix = newPrefix();
    const a = await open(prefix);
    a.setGroupFloor('g', 3);
    await a.close();
    const b = await open(prefix);
    expect(b.groups().get('g')).toBe(3);
    b.setGroupFloor('g', 2);
    await b.close();
    const c = await open(prefix);
    expect(c.groups().get('g')).toBe(3);
  });

  const appendThree = (log: MessageLog) =>
    log.append(['m1', 'm2', 'm3'].map((id) => ({ topic: 't', id, frame: frame('t', id) })));
  const firstInRedis = async (prefix: string) => {
    const redis = new Redis(serverUrl('redis'));
    try {
      const [[id] = []] = (await redis.xrange(`${prefix}log`, '-', '+', 'COUNT', 1)) as [string, string[]][];
      return { id, floors: await redis.hgetall(`${prefix}groups`) };
    } finally {
      redis.disconnect();
    }
  };

  test('a node that expires a group another node holds forgets it itself only: its floor still holds retention in Redis back', async () => {
    const prefix = newPrefix();
    const serving = await open(prefix);
    serving.setGroupFloor('node.a', 1);
    await appendThree(serving);
    await serving.close();
    // Retention on the other node would drop everything it does not need itself.
    const other = await open(prefix, { retentionBytes: 1, nodeGroupExpireMs: 0 });
    expect(other.groups().get('node.a')).toBe(1);
    other.deleteGroup('node.a', 'here');
    await other.append([{ topic: 't', id: 'm4', frame: frame('t', 'm4') }]);
    await other.close();
    expect(await firstInRedis(prefix)).toEqual({ id: '1-0', floors: { 'node.a': '1' } });
  });

  test('a group no node holds any more stops holding retention back, and a node group is forgotten after its expiry', async () => {
    const prefix = newPrefix();
    const before = await open(prefix);
    before.setGroupFloor('node.gone', 1);
    before.setGroupFloor('declared', 1);
    await appendThree(before);
    await before.close();
    // The stamps as they are long after the nodes that held these groups stopped.
    const redis = new Redis(serverUrl('redis'));
    await redis.hset(`${prefix}held`, 'node.gone', 0, 'declared', 0);
    redis.disconnect();
    const log = await open(prefix, { retentionBytes: 1, nodeGroupExpireMs: 60_000 });
    log.releaseGroup('declared');
    log.deleteGroup('node.gone', 'here');
    await log.append([{ topic: 't', id: 'm4', frame: frame('t', 'm4') }]);
    await log.close();
    // Retention on this node (one byte) dropped all four, and nothing held them in Redis.
    const { id, floors } = await firstInRedis(prefix);
    expect(id).toBeUndefined();
    // A declared group keeps its position for its next consumer; only node groups expire.
    expect(floors).toEqual({ declared: '1' });
  });

  test('refuses to append once Redis lost the log, rather than give its offsets and seqs again', async () => {
    const prefix = newPrefix();
    const log = await open(prefix);
    await log.append([{ topic: 't', id: 'kept', frame: frame('t', 'kept') }]);
    // What a Redis without persistence looks like after a restart.
    await removeRedisKeys(prefix);
    await expect(log.append([{ topic: 't', id: 'lost', frame: frame('t', 'lost') }])).rejects.toThrow(
      /Redis no longer holds this log/,
    );
    expect(log.failure?.message).toMatch(/restart the msgqueue/);
    const fresh = await open(prefix);
    expect(fresh.epoch).not.toBe(log.epoch);
  });

  test('says at start whether acks are fsync-backed, from the server’s own settings', async () => {
    const redis = new Redis(serverUrl('redis'));
    const [, appendonly] = (await redis.config('GET', 'appendonly')) as string[];
    const [, appendfsync] = (await redis.config('GET', 'appendfsync')) as string[];
    redis.disconnect();
    const logs = captureLogs('msgqueue');
    await open(newPrefix(), { logger: logs.logger });
    const line = logs.lines.find((entry) => entry.appendonly !== undefined);
    expect(line).toMatchObject({ appendonly, appendfsync });
    if (appendonly === 'yes' && appendfsync === 'always') expect(line?.msg).toMatch(/acks are fsync-backed/);
    else
      expect(line).toMatchObject({ level: 'warn', msg: expect.stringMatching(/acks are not fsync-backed/) as unknown });
  });

  describeMessageLog('redis', () => {
    // Each test has keys of its own, so runs in parallel (and other suites) share the server.
    const prefix = redisTestPrefix();
    return Promise.resolve({
      durable: true,
      open: (options: StoreOptions = {}) =>
        openRedisLog({
          url: serverUrl('redis'),
          keyPrefix: prefix,
          dedupeWindowMs: 120_000,
          retentionMs: 3_600_000,
          retentionBytes: 1024 * 1024 * 1024,
          logger: silentLogger(),
          ...options,
        }),
      cleanup: () => removeRedisKeys(prefix),
    });
  });

  test('two msgqueue nodes on one Redis: a message pushed to either is delivered by both, numbered as one log', async () => {
    const env = { MSGQUEUE_STORE: 'redis', MSGQUEUE_REDIS_URL: serverUrl('redis'), MSGQUEUE_REDIS_PREFIX: newPrefix() };
    await using one = await startMsgqueue(env);
    await using two = await startMsgqueue(env);
    const [popOne, popTwo] = [await one.client('/popmsg'), await two.client('/popmsg')];
    const pushOne = await one.client('/pushmsg');
    pushOne.send(frame('news', 'n1'));
    expect(await pushOne.next()).toEqual({ ack: 1, seq: [1] });
    const first = await popTwo.next();
    expect(first).toMatchObject({ id: 'n1', topic: 'news', seq: 1 });
    expect(await popOne.next()).toEqual(first);
    const pushTwo = await two.client('/pushmsg');
    pushTwo.send(frame('news', 'n2'));
    expect(await pushTwo.next()).toEqual({ ack: 1, seq: [2] });
    expect(await popOne.next()).toMatchObject({ id: 'n2', seq: 2, epoch: first.epoch });
    expect(await popTwo.next()).toMatchObject({ id: 'n2', seq: 2 });
  });
});
