import { silentLogger } from '@pubsub/log';
import * as msgqueue from '@pubsub/msgqueue';
import * as publisher from '@pubsub/publisher';
import { captureLogs, testCertificate } from '@pubsub/testkit';
import { request } from 'node:https';
import { describe, expect, test } from 'vitest';
import { baseEnv, startChain } from '@pubsub/testkit-chain';

function probe(port: number, path: string, ca: string): Promise<{ status: number; body: Record<string, unknown> }> {
  return new Promise((resolveProbe, reject) => {
    request(`https://localhost:${port}${path}`, { ca }, (res) => {
      let body = '';
      res.on('data', (chunk: Buffer) => (body += chunk.toString()));
      res.on('end', () =>
        resolveProbe({ status: res.statusCode ?? 0, body: JSON.parse(body) as Record<string, unknown> }),
      );
    })
      .on('error', reject)
      .end();
  });
}

describe('health and readiness probes', () => {
  test('every service answers /health and, with its hops up, /ready — without credentials', async () => {
    await using chain = await startChain();
    for (const service of [chain.msgqueue, chain.publisher, chain.subscriber]) {
      expect(await probe(service.port, '/health', chain.ca)).toMatchObject({ status: 200, body: { status: 'ok' } });
    }
    // The msgqueue is ready at once; the others once their hop is connected, which a delivery proves.
    const sub = await chain.subscribeClient();
    sub.send('sub probe');
    await sub.next();
    const pub = await chain.publishClient();
    pub.send({ topic: 'probe', content: 1 });
    await pub.next();
    await sub.next();
    for (const service of [chain.msgqueue, chain.publisher, chain.subscriber]) {
      expect(await probe(service.port, '/ready', chain.ca)).toMatchObject({ status: 200, body: { status: 'ready' } });
    }
  });

  test('a publisher whose msgqueue is unreachable is not ready, and says why, until it connects', async () => {
    const { ca } = await testCertificate();
    const env = await baseEnv({ UPSTREAM_BACKOFF_MAX_MS: '50' });
    const probeQueue = await msgqueue.start(msgqueue.loadConfig({ ...env, MSGQUEUE_PORT: '0' }), {
      logger: silentLogger(),
    });
    const queuePort = probeQueue.port;
    await probeQueue.close();
    const logs = captureLogs('publisher');
    await using pub = await publisher.start(
      publisher.loadConfig({
        ...env,
        PUBLISHER_PORT: '0',
        PUBLISHER_QUEUE_URL: `wss://localhost:${queuePort}/pushmsg`,
      }),
      { logger: logs.logger },
    );
    expect(await probe(pub.port, '/ready', ca)).toEqual({
      status: 503,
      body: { status: 'not ready', service: 'publisher', reason: 'msgqueue unreachable' },
    });
    await using queue = await msgqueue.start(msgqueue.loadConfig({ ...env, MSGQUEUE_PORT: String(queuePort) }), {
      logger: silentLogger(),
    });
    await logs.waitFor((line) => line.msg === 'upstream connected');
    expect((await probe(pub.port, '/ready', ca)).status).toBe(200);
    expect(queue.port).toBe(queuePort);
  });
});
