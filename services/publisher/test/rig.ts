import { silentLogger } from '@pubsub/log';
import * as msgqueue from '@pubsub/msgqueue';
import { connect, get, testCertificate, type TestClient } from '@pubsub/testkit';
import { loadConfig, start } from '../src/server.js';

/** A publisher wired to a msgqueue of its own (memory store, port 0), and raw /popmsg consumers to see what it forwards. */
export interface PublisherRig {
  readonly ca: string;
  readonly publishUrl: string;
  /** A `/publish` client (Basic Auth `auth`, else the development user), closed with the rig. */
  publishClient(auth?: string): Promise<TestClient>;
  /** A `/popmsg` consumer of the msgqueue, closed with the rig. */
  popClient(auth?: string): Promise<TestClient>;
  /** The publisher's `/metrics` text. */
  metrics(auth: string): Promise<string>;
  [Symbol.asyncDispose](): Promise<void>;
}

export interface RigOptions {
  /** Environment of both services (a users file, say). */
  shared?: Record<string, string>;
  /** Environment of the publisher only. */
  publisher?: Record<string, string>;
}

export async function startRig(options: RigOptions = {}): Promise<PublisherRig> {
  const { certDir, ca } = await testCertificate();
  const base = { WS_CERT_DIR: certDir, MSGQUEUE_STORE: 'memory', UPSTREAM_BACKOFF_MAX_MS: '100', ...options.shared };
  const logger = silentLogger();
  const queue = await msgqueue.start(msgqueue.loadConfig({ ...base, MSGQUEUE_PORT: '0' }), { logger });
  const publisher = await start(
    loadConfig({
      ...base,
      PUBLISHER_PORT: '0',
      PUBLISHER_QUEUE_URL: `wss://localhost:${queue.port}/pushmsg`,
      ...options.publisher,
    }),
    { logger },
  );
  const clients: TestClient[] = [];
  const track = async (url: string, auth: string | undefined) => {
    const client = await connect(url, { ca, ...(auth !== undefined && { auth }) });
    clients.push(client);
    return client;
  };
  const publishUrl = `wss://localhost:${publisher.port}/publish`;
  return {
    ca,
    publishUrl,
    publishClient: (auth) => track(publishUrl, auth),
    popClient: (auth) => track(`wss://localhost:${queue.port}/popmsg`, auth),
    metrics: async (auth) => (await get(publisher.port, '/metrics', { ca, auth })).body,
    async [Symbol.asyncDispose]() {
      await Promise.all(clients.map((client) => client.close()));
      await publisher.close();
      await queue.close();
    },
  };
}
