import { hashPassword } from '@pubsub/auth';
import { DEV_AUTH, writeUsersFile, type TestClient, post, ready, type PostOptions, openEvents } from '@pubsub/testkit';
import { describe, expect, test } from 'vitest';
import { startChain, subscribe, type Chain } from '@pubsub/testkit-chain';

/** `POST /api/messages` with `body` (JSON-encoded unless a string), as the development user. */
async function publish(chain: Chain, body: unknown, options: Omit<PostOptions, 'ca' | 'body'> = {}) {
  const answer = await post(chain.publisher.port, '/api/messages', {
    ca: chain.ca,
    auth: DEV_AUTH,
    ...options,
    body: typeof body === 'string' ? body : JSON.stringify(body),
  });
  return { ...answer, json: JSON.parse(answer.body) as unknown };
}

async function subscriber(chain: Chain, topic: string): Promise<TestClient> {
  const client = await chain.subscribeClient();
  await subscribe(client, topic);
  return client;
}

describe('POST /api/messages', () => {
  test('answers {id, seq} once stored; wss and SSE subscribers get the message', async () => {
    await using chain = await startChain();
    const ws = await subscriber(chain, 'news');
    const sse = await openEvents({ port: chain.subscriber.port, ca: chain.ca }, '?topic=news');
    // `retry:` comes after the subscription is registered.
    await sse.stream.until(() => sse.stream.retry !== undefined);
    const answer = await publish(chain, { topic: 'news', content: 'hi', id: 'h1' });
    expect(answer.status).toBe(200);
    expect(answer.json).toEqual({ id: 'h1', seq: 1 });
    expect(await ws.next()).toMatchObject({ topic: 'news', id: 'h1', content: 'hi', seq: 1 });
    await sse.stream.until(() => sse.stream.messages().length >= 1);
    expect(sse.stream.messages()[0]).toMatchObject({ topic: 'news', id: 'h1', content: 'hi', seq: 1 });
    sse.stream.close();
    await ws.close();
  });

  test('without an id the publisher names the message', async () => {
    await using chain = await startChain();
    const answer = await publish(chain, { topic: 'news', content: 1 });
    expect(answer.json).toMatchObject({ id: expect.stringMatching(/^[0-9a-f-]{36}$/) as unknown, seq: 1 });
  });

  test('an array is a batch: answered in order, delivered in order', async () => {
    await using chain = await startChain();
    const ws = await subscriber(chain, 'b');
    const batch = [1, 2, 3].map((n) => ({ topic: 'b', content: n, id: `b${n}` }));
    const answer = await publish(chain, batch);
    expect(answer.status).toBe(200);
    expect(answer.json).toEqual([
      { id: 'b1', seq: 1 },
      { id: 'b2', seq: 2 },
      { id: 'b3', seq: 3 },
    ]);
    for (const n of [1, 2, 3]) expect(await ws.next()).toMatchObject({ id: `b${n}`, content: n });
    await ws.close();
  });

  test('content travels byte for byte: a big integer keeps its digits', async () => {
    await using chain = await startChain();
    const ws = await subscriber(chain, 'big');
    const answer = await publish(chain, '[{"topic":"big","content":{"n":12345678901234567890, "e":1.0E+2}}]');
    expect(answer.status).toBe(200);
    expect(await ws.nextText()).toContain('"content":{"n":12345678901234567890, "e":1.0E+2}');
    await ws.close();
  });

  test('a resend with the same id gets the first copy’s seq and is delivered once', async () => {
    await using chain = await startChain();
    const ws = await subscriber(chain, 'once');
    const first = await publish(chain, { topic: 'once', content: 'a', id: 'same' });
    const again = await publish(chain, { topic: 'once', content: 'a', id: 'same' });
    expect(again.json).toEqual({ ...(first.json as object), duplicate: true });
    expect(first.json).not.toHaveProperty('duplicate');
    await publish(chain, { topic: 'once', content: 'b', id: 'next' });
    expect(await ws.next()).toMatchObject({ id: 'same' });
    expect(await ws.next()).toMatchObject({ id: 'next', seq: 2 });
    await ws.close();
  });

  test('a batch with one bad message is refused whole, naming its index; nothing is forwarded', async () => {
    await using chain = await startChain();
    const ws = await subscriber(chain, 'whole');
    const answer = await publish(chain, [
      { topic: 'whole', content: 1, id: 'w1' },
      { topic: 'bad topic', content: 2, id: 'w2' },
    ]);
    expect(answer.status).toBe(400);
    expect(answer.json).toMatchObject({ code: 'TOPIC_INVALID', index: 1, id: 'w2' });
    await publish(chain, { topic: 'whole', content: 3, id: 'w3' });
    expect(await ws.next()).toMatchObject({ id: 'w3', seq: 1 });
    await ws.close();
  });

  describe('refusals: a status and a JSON {code, message}', () => {
    test('400, 401, 403 origin, 413 and 415', async () => {
      await using chain = await startChain({ env: { MAX_PAYLOAD_BYTES: '1024', PUBLISHER_HTTP_MAX_BATCH: '3' } });
      const json = { 'Content-Type': 'application/json' };
      const cases: [string, unknown, Omit<PostOptions, 'ca' | 'body'>, number, string][] = [
        ['not JSON', '{"topic":', {}, 400, 'BAD_JSON'],
        ['no content', { topic: 'a' }, {}, 400, 'CONTENT_MISSING'],
        ['bad id', { topic: 'a', content: 1, id: '' }, {}, 400, 'ID_INVALID'],
        ['empty batch', [], {}, 400, 'BAD_MESSAGE'],
        ['no credentials', { topic: 'a', content: 1 }, { auth: '' }, 401, 'AUTH_FAILED'],
        [
          'foreign origin',
          { topic: 'a', content: 1 },
          { headers: { ...json, Origin: 'https://evil.example' } },
          403,
          'ORIGIN_FORBIDDEN',
        ],
        ['message too big', { topic: 'a', content: 'x'.repeat(2_000) }, {}, 413, 'PAYLOAD_TOO_LARGE'],
        ['batch too long', [1, 2, 3, 4].map((n) => ({ topic: 'a', content: n })), {}, 413, 'PAYLOAD_TOO_LARGE'],
        ['body too big', `[${'1,'.repeat(600_000)}1]`, {}, 413, 'PAYLOAD_TOO_LARGE'],
        ['not JSON media', 'hi', { headers: { 'Content-Type': 'text/plain' } }, 415, 'UNSUPPORTED_MEDIA_TYPE'],
      ];
      for (const [what, body, options, status, code] of cases) {
        const answer = await publish(chain, body, options);
        expect(answer.status, what).toBe(status);
        expect(answer.json, what).toMatchObject({ code, message: expect.any(String) as unknown });
        if (status === 401) expect(answer.headers['www-authenticate'], what).toMatch(/^Basic realm="publisher"/);
      }
    });

    test('403 TOPIC_FORBIDDEN for a topic outside the user’s publish rights', async () => {
      const usersFile = writeUsersFile([
        { name: 'orders-app', password: await hashPassword('pw'), role: 'client', publish: ['orders.>'] },
      ]);
      await using chain = await startChain({
        env: { USERS_FILE: usersFile, MSGQUEUE_USERS: DEV_AUTH, PUBLISHER_USERS: DEV_AUTH, SUBSCRIBER_USERS: DEV_AUTH },
      });
      const allowed = await publish(chain, { topic: 'orders.eu', content: 1 }, { auth: 'orders-app:pw' });
      expect(allowed.status).toBe(200);
      const refused = await publish(chain, { topic: 'news', content: 1, id: 'n' }, { auth: 'orders-app:pw' });
      expect(refused.status).toBe(403);
      expect(refused.json).toMatchObject({ code: 'TOPIC_FORBIDDEN', id: 'n' });
    });

    test('429 RATE_LIMITED with Retry-After, per user across requests', async () => {
      await using chain = await startChain({ env: { PUBLISHER_RATE_LIMIT: '0.01', PUBLISHER_RATE_BURST: '1' } });
      expect((await publish(chain, { topic: 'r', content: 1 })).status).toBe(200);
      // Another request (and connection) of the same user shares the bucket.
      const limited = await publish(chain, { topic: 'r', content: 2, id: 'r2' });
      expect(limited.status).toBe(429);
      expect(limited.json).toMatchObject({ code: 'RATE_LIMITED', id: 'r2' });
      expect(limited.headers['retry-after']).toBe('100');
    });

    test('503 UNAVAILABLE with Retry-After while the msgqueue is down and the buffer full', async () => {
      await using chain = await startChain({ env: { PUBLISHER_BUFFER_MESSAGES: '1', SHUTDOWN_TIMEOUT_MS: '200' } });
      await chain.msgqueue.close();
      // Until the publisher has seen its hop close, messages would still be buffered for it.
      while ((await ready(chain.publisher.port, chain.ca)).status !== 503);
      // The first message fills the buffer and waits there; its request is left open.
      void publish(chain, { topic: 'u', content: 1 }).catch(() => undefined);
      const refused = await publish(chain, [{ topic: 'u', content: 2, id: 'u2' }]);
      expect(refused.status).toBe(503);
      expect(refused.json).toMatchObject({ code: 'UNAVAILABLE', index: 0, id: 'u2' });
      expect(refused.headers['retry-after']).toBe('1');
    });
  });

  describe('CORS for pages on an allowed origin', () => {
    test('a preflight is answered and the origin echoed with credentials; others get no CORS headers', async () => {
      await using chain = await startChain({ env: { ALLOWED_ORIGINS: 'https://app.example' } });
      const preflight = await post(chain.publisher.port, '/api/messages', {
        ca: chain.ca,
        method: 'OPTIONS',
        headers: { Origin: 'https://app.example', 'Access-Control-Request-Method': 'POST' },
      });
      expect(preflight.status).toBe(204);
      expect(preflight.headers['access-control-allow-origin']).toBe('https://app.example');
      expect(preflight.headers['access-control-allow-credentials']).toBe('true');
      expect(preflight.headers['access-control-allow-headers']).toMatch(/Authorization/);
      const answer = await publish(
        chain,
        { topic: 'c', content: 1 },
        { headers: { 'Content-Type': 'application/json', Origin: 'https://app.example' } },
      );
      expect(answer.status).toBe(200);
      expect(answer.headers['access-control-allow-origin']).toBe('https://app.example');
      const foreign = await post(chain.publisher.port, '/api/messages', {
        ca: chain.ca,
        method: 'OPTIONS',
        headers: { Origin: 'https://evil.example', 'Access-Control-Request-Method': 'POST' },
      });
      expect(foreign.status).toBe(403);
      expect(foreign.headers['access-control-allow-origin']).toBeUndefined();
    });
  });
});
