import { silentLogger, type Logger } from '@pubsub/log';
import { serviceHandle, type ServiceHandle } from '@pubsub/service';
import { connect, testCertificate, type ConnectOptions, type TestClient } from '@pubsub/testkit';
import { loadConfig, start } from '../src/server.js';

export interface TestMsgqueue extends ServiceHandle {
  url(path: string): string;
  /** A client of this msgqueue; it is closed before the msgqueue when the handle is disposed. */
  client(path: string, options?: Partial<ConnectOptions>): Promise<TestClient>;
}

export async function startMsgqueue(
  env: Record<string, string> = {},
  logger: Logger = silentLogger(),
): Promise<TestMsgqueue> {
  const { certDir, ca } = await testCertificate();
  const queue = await start(
    loadConfig({ WS_CERT_DIR: certDir, MSGQUEUE_STORE: 'memory', MSGQUEUE_PORT: '0', ...env }),
    { logger },
  );
  const clients: TestClient[] = [];
  const url = (path: string) => `wss://localhost:${queue.port}${path}`;
  const handle = serviceHandle(queue.port, async () => {
    await Promise.all(clients.map((client) => client.close()));
    await queue.close();
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
