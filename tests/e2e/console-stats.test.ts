import { hashPassword } from '@pubsub/auth';
import { connect, DEV_AUTH, writeUsersFile, get } from '@pubsub/testkit';
import { describe, expect, test } from 'vitest';
import { startChain, subscribe, type Chain } from '@pubsub/testkit-chain';

interface Stats {
  service: string;
  user: string;
  topics: { topic: string; subscribers: number; messagesPerSecond: number }[];
  readers: { live: number; behind: number };
  msgqueue: { depth: number; groups: { name: string; backlog: number; consumers: number }[] } | null;
  uptimeSeconds: number;
}

async function stats(chain: Chain, auth = DEV_AUTH): Promise<Stats> {
  const res = await get(chain.subscriber.port, '/api/stats', { ca: chain.ca, auth });
  expect(res.status).toBe(200);
  return JSON.parse(res.body) as Stats;
}

/** Publishes and waits for every ack. */
async function publishAll(chain: Chain, messages: { topic: string; content: string }[], auth = DEV_AUTH) {
  const pub = await connect(chain.publishUrl, { ca: chain.ca, auth });
  messages.forEach((message, i) => pub.send({ ...message, id: `m${i}` }));
  for (let i = 0; i < messages.length; i++) expect(await pub.next()).toMatchObject({ type: 'ack' });
  await pub.close();
}

describe('GET /api/stats', () => {
  test('topics with subscribers and rates, readers, the msgqueue depth and groups; Basic Auth first', async () => {
    await using chain = await startChain();
    expect((await get(chain.subscriber.port, '/api/stats', { ca: chain.ca })).status).toBe(401);
    const sub = await chain.subscribeClient();
    await subscribe(sub, 'news');
    await subscribe(sub, 'orders.*');
    await publishAll(chain, [
      { topic: 'news', content: '"a"' },
      { topic: 'news', content: '"b"' },
      { topic: 'orders.new', content: '"c"' },
      { topic: 'other', content: '"d"' },
    ]);
    for (let i = 0; i < 3; i++) await sub.next();
    const body = await stats(chain);
    expect(body).toMatchObject({ service: 'subscriber', user: 'hello', readers: { live: 1, behind: 0 } });
    expect(body.uptimeSeconds).toBeGreaterThanOrEqual(0);
    const byTopic = new Map(body.topics.map((row) => [row.topic, row]));
    // Within the first second of counting the rates are the counts themselves.
    expect(byTopic.get('news')).toMatchObject({ subscribers: 1 });
    expect(byTopic.get('orders.*')).toMatchObject({ subscribers: 1 });
    expect(byTopic.get('orders.new')).toMatchObject({ subscribers: 0 });
    expect(byTopic.get('other')).toMatchObject({ subscribers: 0 });
    const rate = (topic: string) => byTopic.get(topic)?.messagesPerSecond ?? 0;
    expect(rate('news')).toBeGreaterThan(rate('orders.new'));
    expect(rate('orders.*')).toBe(rate('orders.new'));
    expect(rate('other')).toBeGreaterThan(0);
    expect(body.msgqueue?.groups).toEqual([expect.objectContaining({ name: 'default', consumers: 1 })]);
    expect(body.msgqueue?.depth).toBeGreaterThanOrEqual(0);
  });

  test('a popper hop account reads the msgqueue part; a client limited by the users file sees only its topics', async () => {
    const password = await hashPassword('pw');
    const usersFile = writeUsersFile([
      { name: 'pub-hop', password, role: 'pusher' },
      { name: 'sub-hop', password, role: 'popper' },
      { name: 'all', password, role: 'client', publish: ['>'], subscribe: ['>'] },
      { name: 'news-reader', password, role: 'client', subscribe: ['news'] },
      { name: 'prometheus', password, role: 'monitor' },
    ]);
    await using chain = await startChain({
      env: {
        USERS_FILE: usersFile,
        PUBLISHER_QUEUE_USER: 'pub-hop',
        PUBLISHER_QUEUE_PASSWORD: 'pw',
        SUBSCRIBER_QUEUE_USER: 'sub-hop',
        SUBSCRIBER_QUEUE_PASSWORD: 'pw',
      },
    });
    const sub = await connect(chain.subscribeUrl, { ca: chain.ca, auth: 'all:pw' });
    await subscribe(sub, 'secret.plans');
    await publishAll(chain, [{ topic: 'news', content: '1' }], 'all:pw');
    const reader = await stats(chain, 'news-reader:pw');
    expect(reader.user).toBe('news-reader');
    expect(reader.topics.map((row) => row.topic)).toEqual(['news']);
    expect(reader.msgqueue?.groups.map((group) => group.name)).toEqual(['default']);
    expect((await stats(chain, 'all:pw')).topics.map((row) => row.topic).sort()).toEqual(['news', 'secret.plans']);
    expect((await get(chain.subscriber.port, '/api/stats', { ca: chain.ca, auth: 'prometheus:pw' })).status).toBe(403);
  });
});

describe('the web console files', () => {
  test('are served under /console/ behind Basic Auth; nothing outside the directory', async () => {
    await using chain = await startChain();
    const { port } = chain.subscriber;
    const { ca } = chain;
    expect((await get(port, '/console/', { ca })).status).toBe(401);
    const page = await get(port, '/console/', { ca, auth: DEV_AUTH });
    expect(page.status).toBe(200);
    expect(page.body).toContain('<script type="module" src="console.js">');
    expect((await get(port, '/console/console.js', { ca, auth: DEV_AUTH })).body).toContain('/api/stats');
    expect((await get(port, '/console', { ca, auth: DEV_AUTH })).status).toBe(301);
    expect((await get(port, '/console/../src/server.ts', { ca, auth: DEV_AUTH })).status).toBe(404);
    expect((await get(port, '/console/%2e%2e/src/server.ts', { ca, auth: DEV_AUTH })).status).toBe(404);
  });
});
