import { silentLogger, type Logger } from '@pubsub/log';
import * as msgqueue from '@pubsub/msgqueue';
import { connect, tempDir, testCertificate, type TestClient } from '@pubsub/testkit';
import { loadConfig, start } from '../src/server.js';

/** A subscriber on a msgqueue of its own (memory store, port 0), with a hop client pushing into the msgqueue. */
export interface SubscriberRig {
  readonly ca: string;
  readonly subscribeUrl: string;
  /** A `/subscribe` client (Basic Auth `auth`, else the development user), closed with the rig. */
  client(auth?: string): Promise<TestClient>;
  /** Pushes frames straight into the msgqueue, as the publisher service would, and waits until it has stored them. */
  push(...frames: string[]): Promise<void>;
  [Symbol.asyncDispose](): Promise<void>;
}

export interface RigOptions {
  /** Environment of both services (a users file, say). */
  shared?: Record<string, string>;
  /** Environment of the subscriber only. */
  subscriber?: Record<string, string>;
  /** The hop client's Basic Auth on `/pushmsg` (the development user by default). */
  hopAuth?: string;
  /** The subscriber's logger (the msgqueue's is silent). */
  logger?: Logger;
}

export async function startRig(options: RigOptions = {}): Promise<SubscriberRig> {
  const { certDir, ca } = await testCertificate();
  const base = { WS_CERT_DIR: certDir, MSGQUEUE_STORE: 'memory', UPSTREAM_BACKOFF_MAX_MS: '100', ...options.shared };
  const queue = await msgqueue.start(msgqueue.loadConfig({ ...base, MSGQUEUE_PORT: '0' }), { logger: silentLogger() });
  const subscriber = await start(
    loadConfig({
      ...base,
      SUBSCRIBER_PORT: '0',
      SUBSCRIBER_DATA_DIR: tempDir('subscriber'),
      SUBSCRIBER_QUEUE_URL: `wss://localhost:${queue.port}/popmsg`,
      ...options.subscriber,
    }),
    { logger: options.logger ?? silentLogger() },
  );
  const pusher = await connect(`wss://localhost:${queue.port}/pushmsg`, {
    ca,
    ...(options.hopAuth !== undefined && { auth: options.hopAuth }),
  });
  const clients: TestClient[] = [pusher];
  const subscribeUrl = `wss://localhost:${subscriber.port}/subscribe`;
  let pushed = 0;
  return {
    ca,
    subscribeUrl,
    async client(auth) {
      const client = await connect(subscribeUrl, { ca, ...(auth !== undefined && { auth }) });
      clients.push(client);
      return client;
    },
    async push(...frames) {
      for (const frame of frames) pusher.send(frame);
      pushed += frames.length;
      while ((await pusher.next<{ ack: number }>()).ack < pushed);
    },
    async [Symbol.asyncDispose]() {
      await Promise.all(clients.map((client) => client.close()));
      await subscriber.close();
      await queue.close();
    },
  };
}
