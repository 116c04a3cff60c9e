import { silentLogger } from '@pubsub/log';
import * as msgqueue from '@pubsub/msgqueue';
import * as publisher from '@pubsub/publisher';
import * as subscriber from '@pubsub/subscriber';
import { connect, testCertificate } from '@pubsub/testkit';
import { request } from 'node:https';
import { describe, expect, test } from 'vitest';
import { baseEnv, startChain, subscribe } from '@pubsub/testkit-chain';

function plainGet(url: string, ca: string): Promise<number> {
  return new Promise((resolveGet, reject) => {
    request(url, { ca, auth: 'hello:test' }, (res) => {
      res.resume();
      resolveGet(res.statusCode ?? 0);
    })
      .on('error', reject)
      .end();
  });
}

describe('start order and plain HTTP', () => {
  test('publisher and subscriber started before the msgqueue connect once it is up, and the chain delivers', async () => {
    const { ca } = await testCertificate();
    const env = await baseEnv({ UPSTREAM_BACKOFF_MAX_MS: '50' });
    const logger = silentLogger();
    // A port that is free now and stays closed until the msgqueue starts on it.
    const probe = await msgqueue.start(msgqueue.loadConfig({ ...env, MSGQUEUE_PORT: '0' }), { logger });
    const queuePort = probe.port;
    await probe.close();
    await using pub = await publisher.start(
      publisher.loadConfig({
        ...env,
        PUBLISHER_PORT: '0',
        PUBLISHER_QUEUE_URL: `wss://localhost:${queuePort}/pushmsg`,
      }),
      { logger },
    );
    await using sub = await subscriber.start(
      subscriber.loadConfig({
        ...env,
        SUBSCRIBER_PORT: '0',
        SUBSCRIBER_QUEUE_URL: `wss://localhost:${queuePort}/popmsg`,
      }),
      { logger },
    );
    const reader = await connect(`wss://localhost:${sub.port}/subscribe`, { ca });
    await subscribe(reader, 'late');
    const writer = await connect(`wss://localhost:${pub.port}/publish`, { ca });
    writer.send({ topic: 'late', content: 'queued before the msgqueue existed', id: 'early' });
    await using queue = await msgqueue.start(msgqueue.loadConfig({ ...env, MSGQUEUE_PORT: String(queuePort) }), {
      logger,
    });
    expect(await writer.next()).toMatchObject({ type: 'ack', id: 'early' });
    expect(await reader.next()).toMatchObject({ id: 'early', content: 'queued before the msgqueue existed' });
    expect(queue.port).toBe(queuePort);
    await Promise.all([reader.close(), writer.close()]);
  });

  test('every WebSocket endpoint answers a plain GET with 426', async () => {
    await using chain = await startChain();
    const httpsUrl = (url: string) => url.replace('wss:', 'https:');
    expect(await plainGet(httpsUrl(chain.publishUrl), chain.ca)).toBe(426);
    expect(await plainGet(httpsUrl(chain.subscribeUrl), chain.ca)).toBe(426);
    expect(await plainGet(`https://localhost:${chain.msgqueue.port}/popmsg`, chain.ca)).toBe(426);
    expect(await plainGet(`https://localhost:${chain.publisher.port}/subscribe`, chain.ca)).toBe(404);
  });
});
