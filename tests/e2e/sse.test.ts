import { describe, expect, test } from 'vitest';
import { startChain, type Chain } from '@pubsub/testkit-chain';
import { openEvents } from '@pubsub/testkit';

const open = (chain: Chain, query: string, options?: Parameters<typeof openEvents>[2]) =>
  openEvents({ port: chain.subscriber.port, ca: chain.ca }, query, options);

async function publish(chain: Chain, messages: { topic: string; content: unknown; id: string }[]): Promise<void> {
  const pub = await chain.publishClient();
  for (const message of messages) pub.send(message);
  for (let i = 0; i < messages.length; i++) expect(await pub.next()).toMatchObject({ type: 'ack' });
  await pub.close();
}

describe('Server-Sent Events on GET /events', () => {
  test('streams the wss delivery frames as events, with ids, retry and the headers proxies need', async () => {
    await using chain = await startChain();
    const { status, headers, stream } = await open(chain, '?topic=news&topic=orders.*');
    expect(status).toBe(200);
    expect(headers['content-type']).toMatch(/^text\/event-stream/);
    expect(headers['cache-control']).toMatch(/no-cache/);
    expect(headers['x-accel-buffering']).toBe('no');
    await stream.until(() => stream.retry !== undefined);
    expect(stream.retry).toBe(2000);
    // Multi-line JSON content keeps its layout (EventSource joins data lines with \n).
    await publish(chain, [
      { topic: 'news', content: 'one', id: 'n1' },
      { topic: 'other', content: 'not for it', id: 'x1' },
      { topic: 'orders.new', content: { multi: ['line'] }, id: 'o1' },
    ]);
    await stream.until(() => stream.messages().length >= 2);
    const [first, second] = stream.messages();
    expect(first).toMatchObject({ topic: 'news', id: 'n1', content: 'one', seq: 1 });
    expect(second).toMatchObject({ topic: 'orders.new', id: 'o1', content: { multi: ['line'] } });
    expect(first?.eventId).toMatch(/^[0-9a-f]+-\d+$/);
    stream.close();
  });

  test('Last-Event-ID resumes exactly after it, across topics and a subscriber restart', async () => {
    await using chain = await startChain();
    const first = await open(chain, '?topic=a&topic=b');
    await publish(chain, [
      { topic: 'a', content: 1, id: 'a1' },
      { topic: 'b', content: 2, id: 'b1' },
      { topic: 'a', content: 3, id: 'a2' },
    ]);
    await first.stream.until(() => first.stream.messages().length >= 2);
    const lastSeen = first.stream.messages()[1];
    first.stream.close();
    // Gone for a while: the subscriber restarts and more is published meanwhile.
    await chain.restartSubscriber(() =>
      publish(chain, [
        { topic: 'b', content: 4, id: 'b2' },
        { topic: 'a', content: 5, id: 'a3' },
      ]),
    );
    const again = await open(chain, '?topic=a&topic=b', { headers: { 'Last-Event-ID': lastSeen?.eventId ?? '' } });
    expect(again.status).toBe(200);
    await again.stream.until(() => again.stream.messages().length >= 3);
    await publish(chain, [{ topic: 'b', content: 6, id: 'b3' }]);
    await again.stream.until(() => again.stream.messages().length >= 4);
    expect(again.stream.messages().map((message) => message.id)).toEqual(['a2', 'b2', 'a3', 'b3']);
    again.stream.close();
  });

  test('a fresh stream can start from a position with ?from=', async () => {
    await using chain = await startChain();
    const witness = await open(chain, '?topic=t');
    await publish(
      chain,
      [1, 2, 3].map((n) => ({ topic: 't', content: n, id: `t${n}` })),
    );
    await witness.stream.until(() => witness.stream.messages().length >= 3);
    const from = witness.stream.messages()[0]?.eventId ?? '';
    witness.stream.close();
    const later = await open(chain, `?topic=t&from=${from}`);
    await later.stream.until(() => later.stream.messages().length >= 2);
    expect(later.stream.messages().map((message) => message.id)).toEqual(['t2', 't3']);
    later.stream.close();
  });

  test('an idle stream gets a comment every heartbeat', async () => {
    await using chain = await startChain({ env: { HEARTBEAT_INTERVAL_MS: '30' } });
    const { stream } = await open(chain, '?topic=quiet');
    await stream.until(() => stream.comments >= 2);
    stream.close();
  });

  describe('bad requests', () => {
    test('get a status and a JSON {code, message}', async () => {
      await using chain = await startChain();
      const cases: [string, { auth?: string | null; headers?: Record<string, string> }, number, string][] = [
        ['', {}, 400, 'TOPIC_MISSING'],
        ['?topic=a%20b', {}, 400, 'TOPIC_INVALID'],
        ['?topic=a', { headers: { 'Last-Event-ID': 'nope' } }, 400, 'RESUME_INVALID'],
        ['?topic=a', { auth: null }, 401, 'AUTH_FAILED'],
        ['?topic=a', { auth: 'hello:wrong' }, 401, 'AUTH_FAILED'],
        ['?topic=a', { headers: { Origin: 'https://evil.example' } }, 403, 'ORIGIN_FORBIDDEN'],
      ];
      for (const [query, options, status, code] of cases) {
        const res = await open(chain, query, options);
        expect(res.status, `${query} ${JSON.stringify(options)}`).toBe(status);
        expect(JSON.parse(await res.body()), query).toMatchObject({ code });
      }
    });
  });
});
