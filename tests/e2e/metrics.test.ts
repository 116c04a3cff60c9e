import { request } from 'node:https';
import { describe, expect, test } from 'vitest';
import { startChain, subscribe } from '@pubsub/testkit-chain';

function scrape(port: number, ca: string, auth?: string): Promise<{ status: number; body: string }> {
  return new Promise((resolveScrape, reject) => {
    request(`https://localhost:${port}/metrics`, { ca, ...(auth ? { auth } : {}) }, (res) => {
      let body = '';
      res.on('data', (chunk: Buffer) => (body += chunk.toString()));
      res.on('end', () => resolveScrape({ status: res.statusCode ?? 0, body }));
    })
      .on('error', reject)
      .end();
  });
}

/** The value of one sample line, e.g. `pubsub_rejected_total{code="TOPIC_INVALID",service="publisher"} 1`. */
function sample(text: string, metric: string, labels = ''): number | undefined {
  const line = text.split('\n').find((l) => l.startsWith(`${metric}{`) && l.includes(labels));
  return line === undefined ? undefined : Number(line.slice(line.lastIndexOf(' ') + 1));
}

describe('GET /metrics', () => {
  test('counts the traffic of every service, in the Prometheus format, behind Basic Auth', async () => {
    await using chain = await startChain();
    const sub = await chain.subscribeClient();
    await subscribe(sub, 'm');
    const pub = await chain.publishClient();
    pub.send({ topic: 'm', content: 1, id: 'a' });
    pub.send({ topic: 'm', content: 2, id: 'a' });
    pub.send('{"topic":"bad topic","content":1}');
    for (let i = 0; i < 3; i++) await pub.next();
    await sub.next();

    const publisher = (await scrape(chain.publisher.port, chain.ca, 'hello:test')).body;
    expect(sample(publisher, 'pubsub_publisher_acked_total')).toBe(2);
    expect(sample(publisher, 'pubsub_rejected_total', 'code="TOPIC_INVALID"')).toBe(1);
    expect(sample(publisher, 'pubsub_connections', 'path="/publish"')).toBe(1);
    expect(sample(publisher, 'pubsub_publisher_upstream_connected')).toBe(1);
    expect(publisher).toContain('pubsub_nodejs_eventloop_lag_seconds');

    const queue = (await scrape(chain.msgqueue.port, chain.ca, 'hello:test')).body;
    expect(sample(queue, 'pubsub_msgqueue_stored_total')).toBe(1);
    expect(sample(queue, 'pubsub_msgqueue_duplicates_total')).toBe(1);
    expect(sample(queue, 'pubsub_msgqueue_consumers')).toBe(1);

    const subscriber = (await scrape(chain.subscriber.port, chain.ca, 'hello:test')).body;
    expect(sample(subscriber, 'pubsub_subscriber_deliveries_total')).toBe(1);
    expect(sample(subscriber, 'pubsub_subscriber_topics')).toBe(1);

    const refused = await scrape(chain.publisher.port, chain.ca, 'hello:wrong');
    expect(refused.status).toBe(401);
    expect(
      sample((await scrape(chain.publisher.port, chain.ca, 'hello:test')).body, 'pubsub_auth_failures_total'),
    ).toBe(1);
  });
});
