import type { Logger } from '@pubsub/log';
import { silentLogger } from '@pubsub/log';
import * as msgqueue from '@pubsub/msgqueue';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as publisher from '@pubsub/publisher';
import type { ServiceHandle } from '@pubsub/service';
import * as subscriber from '@pubsub/subscriber';
import { connect, DEV_AUTH, get, testCertificate, type TestClient } from '@pubsub/testkit';

export type Env = Record<string, string>;

/** The three services in this process, on free ports, trusting one test certificate. */
export interface Chain {
  readonly ca: string;
  readonly certDir: string;
  readonly msgqueue: ServiceHandle;
  readonly publisher: ServiceHandle;
  readonly subscriber: ServiceHandle;
  publishUrl: string;
  subscribeUrl: string;
  publishClient(): Promise<TestClient>;
  subscribeClient(): Promise<TestClient>;
  /** Closes the msgqueue and starts a new one on the same port. */
  restartMsgqueue(): Promise<void>;
  /** Closes the subscriber service, runs `whileDown`, and starts a new one on the same port. */
  restartSubscriber(whileDown?: () => Promise<void>): Promise<void>;
  close(): Promise<void>;
  [Symbol.asyncDispose](): Promise<void>;
}

export async function baseEnv(extra: Env = {}): Promise<Env> {
  const { certDir } = await testCertificate();
  return {
    WS_CERT_DIR: certDir,
    MSGQUEUE_STORE: 'memory',
    LOG_LEVEL: 'silent',
    UPSTREAM_BACKOFF_MAX_MS: '200',
    // Each chain's subscriber keeps its state apart from the others' (and from `pnpm start`'s).
    SUBSCRIBER_DATA_DIR: mkdtempSync(join(tmpdir(), 'pubsub-subscriber-')),
    ...extra,
  };
}

export interface ChainOptions {
  /** For all three services. */
  env?: Env;
  /** For the publisher only, over `env`; it starts after the subscriber, so it may name the subscriber's port. */
  publisherEnv?: (ports: { subscriber: number }) => Env;
  logger?: Logger;
}

export async function startChain(options: ChainOptions = {}): Promise<Chain> {
  const { ca, certDir } = await testCertificate();
  const env = await baseEnv(options.env);
  const logger = options.logger ?? silentLogger();
  const queueEnv = { ...env, MSGQUEUE_PORT: '0' };
  let queue = await msgqueue.start(msgqueue.loadConfig(queueEnv), { logger });
  const queuePort = queue.port;
  const subscriberEnv = { ...env, SUBSCRIBER_PORT: '0', SUBSCRIBER_QUEUE_URL: `wss://localhost:${queuePort}/popmsg` };
  let sub = await subscriber.start(subscriber.loadConfig(subscriberEnv), { logger });
  const subscriberPort = sub.port;
  const pub = await publisher.start(
    publisher.loadConfig({
      ...env,
      ...options.publisherEnv?.({ subscriber: subscriberPort }),
      PUBLISHER_PORT: '0',
      PUBLISHER_QUEUE_URL: `wss://localhost:${queuePort}/pushmsg`,
    }),
    { logger },
  );
  const chain: Chain = {
    ca,
    certDir,
    get msgqueue() {
      return queue;
    },
    publisher: pub,
    get subscriber() {
      return sub;
    },
    publishUrl: `wss://localhost:${pub.port}/publish`,
    subscribeUrl: `wss://localhost:${sub.port}/subscribe`,
    publishClient: () => connect(chain.publishUrl, { ca }),
    subscribeClient: () => connect(chain.subscribeUrl, { ca }),
    async restartMsgqueue() {
      await queue.close();
      queue = await msgqueue.start(msgqueue.loadConfig({ ...queueEnv, MSGQUEUE_PORT: String(queuePort) }), { logger });
    },
    async restartSubscriber(whileDown) {
      await sub.close();
      await whileDown?.();
      sub = await subscriber.start(
        subscriber.loadConfig({ ...subscriberEnv, SUBSCRIBER_PORT: String(subscriberPort) }),
        {
          logger,
        },
      );
    },
    async close() {
      await Promise.all([pub.close(), sub.close()]);
      await queue.close();
    },
    [Symbol.asyncDispose]: () => chain.close(),
  };
  return chain;
}

/**
 * Resolves once every consumer group of the chain's msgqueue has acknowledged all it was given.
 * A delivery a client has seen does not say so: the subscriber acks a few ms after it routes, so
 * a test that needs retention to have what was delivered counted as done waits for this.
 */
export async function allAcknowledged(chain: Chain): Promise<void> {
  for (;;) {
    const answer = await get(chain.msgqueue.port, '/groups', { ca: chain.ca, auth: DEV_AUTH });
    if (answer.status !== 200) throw new Error(`GET /groups answered ${answer.status}: ${answer.body}`);
    const { groups } = JSON.parse(answer.body) as { groups: { backlog: number }[] };
    if (groups.every((group) => group.backlog === 0)) return;
  }
}

/** Subscribes and waits for the server's confirmation. */
export async function subscribe(client: TestClient, topic: string): Promise<void> {
  client.send(`sub ${topic}`);
  const reply = await client.next();
  if (reply.type !== 'subscribed' || reply.topic !== topic) {
    throw new Error(`expected subscribed ${topic}, got ${JSON.stringify(reply)}`);
  }
}
