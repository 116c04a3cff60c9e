import { describe, expect, test } from 'vitest';
import {
  startChain,
  subscribe,
  type Chain,
  type Env,
  startReceiver,
  subscriptionsApi,
  verifySignature,
} from '@pubsub/testkit-chain';
import { get } from '@pubsub/testkit';

/** Loopback receivers allowed, and retries quick: tests wait on requests, never on the clock. */
const WEBHOOK_ENV: Env = {
  SUBSCRIBER_WEBHOOK_ALLOW_PRIVATE: '127.0.0.0/8',
  SUBSCRIBER_WEBHOOK_ATTEMPTS: '4',
  SUBSCRIBER_WEBHOOK_BACKOFF_BASE_MS: '5',
  SUBSCRIBER_WEBHOOK_BACKOFF_MAX_MS: '20',
  SUBSCRIBER_WEBHOOK_TIMEOUT_MS: '2000',
};

/** Publishes and waits for the acks; the ids are `<topic>-<first + n>`, unique over a test's calls when `first` is. */
async function publishAll(chain: Chain, topic: string, batch: { contents: readonly unknown[]; first?: number }) {
  const { contents, first = 0 } = batch;
  const pub = await chain.publishClient();
  for (const [n, content] of contents.entries()) pub.send({ topic, content, id: `${topic}-${first + n}` });
  for (let n = 0; n < contents.length; n++) expect(await pub.next()).toMatchObject({ type: 'ack' });
  await pub.close();
}

describe('webhook subscriptions', () => {
  test('each message is POSTed in order as the wss delivery, signed, with its id, topic, seq and epoch', async () => {
    await using chain = await startChain({ env: WEBHOOK_ENV });
    await using receiver = await startReceiver();
    const api = subscriptionsApi(chain.subscriber.port, chain.ca);
    const secret = 'a-secret-of-twenty-chars';
    const created = await api.create({ topic: 'orders.new', url: receiver.url, secret });
    expect(created.status).toBe(201);
    expect(created.headers.location).toBe(`/api/subscriptions/${created.json.id}`);
    expect(created.json).toMatchObject({
      topic: 'orders.new',
      url: receiver.url,
      user: 'hello',
      secret,
      state: 'live',
    });
    const { id } = created.json as { id: string };
    const witness = await chain.subscribeClient();
    await subscribe(witness, 'orders.new');

    await publishAll(chain, 'orders.new', { contents: [{ n: 1 }, 'two', 3] });
    const [first, second, third] = await receiver.until(3);
    const viaWss = await witness.next<{ seq: number; epoch: string }>();
    expect(JSON.parse(first?.body ?? '')).toEqual(viaWss);
    expect([first, second, third].map((got) => got?.json.content)).toEqual([{ n: 1 }, 'two', 3]);
    for (const [n, got] of [first, second, third].entries()) {
      expect(got?.headers).toMatchObject({
        'content-type': 'application/json; charset=utf-8',
        'x-pubsub-subscription': id,
        'x-pubsub-id': `orders.new-${n}`,
        'x-pubsub-topic': 'orders.new',
        'x-pubsub-seq': String(viaWss.seq + n),
        'x-pubsub-epoch': viaWss.epoch,
        'x-pubsub-attempt': '1',
      });
      expect(verifySignature(secret, got?.body ?? '', got?.headers['x-pubsub-signature'])).toBe(true);
      expect(verifySignature('another-secret-entirely', got?.body ?? '', got?.headers['x-pubsub-signature'])).toBe(
        false,
      );
    }
    const view = await api.until(id, (each) => each.delivered === 3);
    expect(view).toMatchObject({ state: 'live', queued: 0, attempt: 0, lastError: null, nextAttemptAt: null });
    expect(view.position?.epoch).toBe(viaWss.epoch);
    expect((await api.list()).json.subscriptions?.map((each) => each.id)).toEqual([id]);
    // The secret is shown once, at creation.
    expect(view).not.toHaveProperty('secret');
  });

  test('a receiver that fails three times gets the message once it recovers, and the next only after it', async () => {
    await using chain = await startChain({ env: WEBHOOK_ENV });
    await using receiver = await startReceiver((_got, n) =>
      n < 3 ? { status: 503, headers: n === 1 ? { 'Retry-After': '0' } : {} } : { status: 200 },
    );
    const api = subscriptionsApi(chain.subscriber.port, chain.ca);
    const { json } = await api.create({ pattern: 'jobs.*', url: receiver.url });
    expect(json.pattern).toBe('jobs.*');
    expect(json.secret).toMatch(/^[A-Za-z0-9_-]{43}$/);
    await publishAll(chain, 'jobs.a', { contents: ['first', 'second'] });
    const got = await receiver.until(5);
    expect(got.map((each) => [each.json.content, each.status, each.headers['x-pubsub-attempt']])).toEqual([
      ['first', 503, '1'],
      ['first', 503, '2'],
      ['first', 503, '3'],
      ['first', 200, '4'],
      ['second', 200, '1'],
    ]);
    expect(new Set(got.slice(0, 4).map((each) => each.headers['x-pubsub-id'])).size).toBe(1);
    const view = await api.until(json.id as string, (each) => each.delivered === 2);
    expect(view).toMatchObject({ deadLettered: 0, lastError: null });
  });

  test('after its attempts a message goes to the dead-letter topic with the reason, and delivery goes on', async () => {
    await using chain = await startChain({ env: WEBHOOK_ENV });
    await using receiver = await startReceiver((got) => ({ status: got.json.content === 'doomed' ? 500 : 200 }));
    const api = subscriptionsApi(chain.subscriber.port, chain.ca);
    const { json } = await api.create({ topic: 'mail', url: receiver.url });
    const { id, deadLetterTopic } = json as { id: string; deadLetterTopic: string };
    expect(deadLetterTopic).toBe(`deadletter.${id}`);
    await publishAll(chain, 'mail', { contents: ['doomed', 'fine'] });
    const got = await receiver.until(5);
    expect(got.map((each) => [each.json.content, each.status])).toEqual([
      ['doomed', 500],
      ['doomed', 500],
      ['doomed', 500],
      ['doomed', 500],
      ['fine', 200],
    ]);
    const view = await api.until(id, (each) => each.delivered === 1);
    expect(view.deadLettered).toBe(1);

    // It is stored in the msgqueue: a client reads it back from the log.
    const reader = await chain.subscribeClient();
    reader.send(`sub ${deadLetterTopic} from 0`);
    expect(await reader.next()).toMatchObject({ type: 'subscribed', topic: deadLetterTopic, replayed: 1 });
    const letter = await reader.next<{ topic: string; content: Record<string, unknown> }>();
    expect(letter.topic).toBe(deadLetterTopic);
    expect(letter.content).toMatchObject({
      subscription: id,
      url: receiver.url,
      reason: 'answered 500: receiver says no',
      status: 500,
      attempts: 4,
      topic: 'mail',
      id: 'mail-0',
      seq: 1,
      message: { type: 'message', topic: 'mail', id: 'mail-0', content: 'doomed', seq: 1 },
    });
    const metrics = await get(chain.subscriber.port, '/metrics', { ca: chain.ca, auth: 'hello:test' });
    expect(metrics.body).toMatch(
      /pubsub_subscriber_webhook_deliveries_total\{outcome="dead_lettered",service="subscriber"\} 1/,
    );
    expect(metrics.body).toMatch(
      /pubsub_subscriber_webhook_deliveries_total\{outcome="failed",service="subscriber"\} 4/,
    );
  });

  test('subscriptions and their positions survive a restart: what was published meanwhile is delivered', async () => {
    await using chain = await startChain({ env: WEBHOOK_ENV });
    await using receiver = await startReceiver();
    const api = subscriptionsApi(chain.subscriber.port, chain.ca);
    const { json } = await api.create({ topic: 'restart', url: receiver.url });
    await publishAll(chain, 'restart', { contents: [1, 2] });
    await receiver.until(2);
    await api.until(json.id as string, (each) => each.delivered === 2);
    await chain.restartSubscriber(() => publishAll(chain, 'restart', { contents: [3, 4], first: 2 }));
    const got = await receiver.until(4);
    expect(got.map((each) => each.json.content)).toEqual([1, 2, 3, 4]);
    const again = subscriptionsApi(chain.subscriber.port, chain.ca);
    expect((await again.get(json.id as string)).json).toMatchObject({ id: json.id, topic: 'restart' });
  });

  test('a dead receiver holds up neither wss clients nor other webhooks, and the stall timeout leaves it retrying', async () => {
    await using chain = await startChain({
      env: {
        ...WEBHOOK_ENV,
        SUBSCRIBER_WEBHOOK_ATTEMPTS: '1000',
        SUBSCRIBER_WEBHOOK_BACKOFF_MAX_MS: '40',
        // Small enough that the dead one falls behind the live stream, and would be closed as stalled were it a socket.
        SUBSCRIBER_MAX_BUFFERED_BYTES: '1024',
        SUBSCRIBER_STALL_TIMEOUT_MS: '20',
      },
    });
    await using dead = await startReceiver(() => ({ status: 500 }));
    await using alive = await startReceiver();
    const api = subscriptionsApi(chain.subscriber.port, chain.ca);
    const deadHook = await api.create({ topic: 'shared', url: dead.url });
    await api.create({ topic: 'shared', url: alive.url });
    const client = await chain.subscribeClient();
    await subscribe(client, 'shared');
    const contents = Array.from({ length: 50 }, (_, n) => `message ${n} ${'x'.repeat(64)}`);
    await publishAll(chain, 'shared', { contents });
    expect((await alive.until(50)).map((each) => each.json.content)).toEqual(contents);
    for (const content of contents) expect(await client.next()).toMatchObject({ content });
    const behind = await api.until(deadHook.json.id as string, (each) => each.state === 'behind');
    expect(behind).toMatchObject({ delivered: 0, lastError: { status: 500 } });
    // Ten more tries take longer than the stall timeout many times over: it is still at it.
    await dead.until(dead.received.length + 10);
    const view = (await api.get(deadHook.json.id as string)).json;
    expect(view).toMatchObject({ state: 'behind', delivered: 0 });
    expect(view.attempt).toBeGreaterThan(10);
    expect(new Set(dead.received.map((each) => each.json.content))).toEqual(new Set([contents[0]]));
  });
});

describe('the subscriptions API', () => {
  test('refuses bad bodies, unsafe targets and other users’ ids with JSON errors', async () => {
    await using chain = await startChain({ env: { SUBSCRIBER_USERS: 'hello:test,other:pass' } });
    const api = subscriptionsApi(chain.subscriber.port, chain.ca);
    const cases: [unknown, number, string][] = [
      ['{"topic":', 400, 'BAD_JSON'],
      [[1], 400, 'WEBHOOK_INVALID'],
      [{ url: 'https://example.com/' }, 400, 'WEBHOOK_INVALID'],
      [{ topic: 'a', pattern: 'a.*', url: 'https://example.com/' }, 400, 'WEBHOOK_INVALID'],
      [{ topic: 'a', url: 'https://example.com/', extra: 1 }, 400, 'WEBHOOK_INVALID'],
      [{ topic: 'a', url: 'https://example.com/', secret: 'short' }, 400, 'WEBHOOK_INVALID'],
      [{ topic: 'a.*', url: 'https://example.com/' }, 400, 'TOPIC_INVALID'],
      [{ topic: 'a', url: 'ftp://example.com/' }, 400, 'WEBHOOK_URL_INVALID'],
      [{ topic: 'a', url: 'https://user:pw@example.com/' }, 400, 'WEBHOOK_URL_INVALID'],
      [{ topic: 'a', url: 'not a url' }, 400, 'WEBHOOK_URL_INVALID'],
      [{ topic: 'a', url: 'http://127.0.0.1:9/' }, 403, 'WEBHOOK_TARGET_FORBIDDEN'],
      [{ topic: 'a', url: 'http://localhost:9/' }, 403, 'WEBHOOK_TARGET_FORBIDDEN'],
      [{ topic: 'a', url: 'http://[::1]/' }, 403, 'WEBHOOK_TARGET_FORBIDDEN'],
      [{ topic: 'a', url: 'http://[::ffff:127.0.0.1]/' }, 403, 'WEBHOOK_TARGET_FORBIDDEN'],
      [{ topic: 'a', url: 'http://10.1.2.3/' }, 403, 'WEBHOOK_TARGET_FORBIDDEN'],
      [{ topic: 'a', url: 'http://169.254.169.254/latest/meta-data' }, 403, 'WEBHOOK_TARGET_FORBIDDEN'],
      [{ topic: 'a', url: 'http://[fd00::1]/' }, 403, 'WEBHOOK_TARGET_FORBIDDEN'],
    ];
    for (const [body, status, code] of cases) {
      const answer = await api.create(body);
      expect([answer.status, answer.json.code], JSON.stringify(body)).toEqual([status, code]);
      expect(typeof answer.json.message).toBe('string');
    }
    const missing = await api.get('00000000-0000-4000-8000-000000000000');
    expect([missing.status, missing.json.code]).toEqual([404, 'WEBHOOK_NOT_FOUND']);
    const unauthenticated = await subscriptionsApi(chain.subscriber.port, chain.ca, 'hello:wrong').list();
    expect(unauthenticated.status).toBe(401);
  });

  test('a user sees, and deletes, only its own subscriptions; GET /api/topics counts them', async () => {
    await using chain = await startChain({ env: { ...WEBHOOK_ENV, SUBSCRIBER_USERS: 'hello:test,other:pass' } });
    await using receiver = await startReceiver();
    const mine = subscriptionsApi(chain.subscriber.port, chain.ca);
    const theirs = subscriptionsApi(chain.subscriber.port, chain.ca, 'other:pass');
    const { json } = await mine.create({ topic: 'counted', url: receiver.url });
    expect((await theirs.list()).json.subscriptions).toEqual([]);
    expect((await theirs.get(json.id as string)).status).toBe(404);
    expect((await theirs.delete(json.id as string)).status).toBe(404);
    const topics = (await mine.topics()).json.topics as { topic: string; webhooks: number; subscribers: number }[];
    expect(topics.find((row) => row.topic === 'counted')).toMatchObject({ webhooks: 1, subscribers: 1 });
    expect((await mine.delete(json.id as string)).status).toBe(204);
    expect((await mine.get(json.id as string)).status).toBe(404);
    expect((await mine.list()).json.subscriptions).toEqual([]);
  });
});
