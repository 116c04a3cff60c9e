import { silentLogger, type Logger } from '@pubsub/log';
import { serviceHandle, type ServiceHandle } from '@pubsub/service';
import { connect, serverUrl, testCertificate, type ConnectOptions, type TestClient } from '@pubsub/testkit';
import { Redis } from 'ioredis';
import { randomBytes } from 'node:crypto';
import { loadConfig, start } from '../src/server.js';

export interface TestMsgqueue extends ServiceHandle {
  url(path: string): string;
  /** A client of this msgqueue; it is closed before the msgqueue when the handle is disposed. */
  client(path: string, options?: Partial<ConnectOptions>): Promise<TestClient>;
}

/**
 * The store the service tests run on: `memory`, or with `TEST_MSGQUEUE_STORE=redis` a Redis
 * store under a prefix of its own (`TEST_REDIS_URL`, see serverUrl), its keys removed after.
 */
function testStore(): { env: Record<string, string>; cleanup: () => Promise<void> } {
  if (process.env.TEST_MSGQUEUE_STORE !== 'redis')
    return { env: { MSGQUEUE_STORE: 'memory' }, cleanup: async () => {} };
  const prefix = redisTestPrefix();
  return {
    env: { MSGQUEUE_STORE: 'redis', MSGQUEUE_REDIS_URL: serverUrl('redis'), MSGQUEUE_REDIS_PREFIX: prefix },
    cleanup: () => removeRedisKeys(prefix),
  };
}

/** A key prefix no other test uses. */
export const redisTestPrefix = () => `test:msgqueue:${randomBytes(6).toString('hex')}:`;

/** Removes every key under the prefix. */
export async function removeRedisKeys(prefix: string): Promise<void> {
  const redis = new Redis(serverUrl('redis'));
  try {
    const keys = await redis.keys(`${prefix}*`);
    if (keys.length > 0) await redis.del(...keys);
  } finally {
    redis.disconnect();
  }
}

export async function startMsgqueue(
  env: Record<string, string> = {},
  logger: Logger = silentLogger(),
): Promise<TestMsgqueue> {
  const { certDir, ca } = await testCertificate();
  const store = testStore();
  const queue = await start(loadConfig({ WS_CERT_DIR: certDir, ...store.env, MSGQUEUE_PORT: '0', ...env }), {
    logger,
  });
  const clients: TestClient[] = [];
  const url = (path: string) => `wss://localhost:${queue.port}${path}`;
  const handle = serviceHandle(queue.port, async () => {
    await Promise.all(clients.map((client) => client.close()));
    await queue.close();
    await store.cleanup();
  });
  return {
    ...handle,
    url,
    async client(path, options = {}) {
      const client = await connect(url(path), { ca, ...options });
      clients.push(client);
      return client;
    },
  };
}
