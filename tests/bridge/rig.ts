import type { Logger } from '@pubsub/log';
import { silentLogger } from '@pubsub/log';
import * as msgqueue from '@pubsub/msgqueue';
import type { ServiceHandle } from '@pubsub/service';
import * as subscriber from '@pubsub/subscriber';
import { connect, get, REPO_ROOT, tempDir, testCertificate, type TestClient } from '@pubsub/testkit';
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import pg from 'pg';
import { loadConfig, start } from '@pubsub/bridge';

export type Env = Record<string, string>;

/** A msgqueue and subscriber in this process, and a bridge that can be restarted. */
export interface Rig {
  readonly ca: string;
  readonly bridgeEnv: Env;
  bridge: ServiceHandle;
  subscribeClient(): Promise<TestClient>;
  /** A GET to the bridge as the development user: `/ready` without credentials is the same. */
  bridgeGet(path: string): Promise<{ status: number; body: string }>;
  bridgeJson(path: string): Promise<Record<string, unknown>>;
  /** Stops the bridge (gracefully) and starts it again with the same environment. */
  restartBridge(): Promise<void>;
  [Symbol.asyncDispose](): Promise<void>;
}

export async function startRig(bridgeEnv: Env, logger: Logger = silentLogger()): Promise<Rig> {
  const { certDir, ca } = await testCertificate();
  const base = { WS_CERT_DIR: certDir, MSGQUEUE_STORE: 'memory', UPSTREAM_BACKOFF_MAX_MS: '100' };
  const quiet = silentLogger();
  const queue = await msgqueue.start(msgqueue.loadConfig({ ...base, MSGQUEUE_PORT: '0' }), { logger: quiet });
  const sub = await subscriber.start(
    subscriber.loadConfig({
      ...base,
      SUBSCRIBER_PORT: '0',
      SUBSCRIBER_DATA_DIR: tempDir('bridge-subscriber'),
      SUBSCRIBER_QUEUE_URL: `wss://localhost:${queue.port}/popmsg`,
    }),
    { logger: quiet },
  );
  const env = { ...base, BRIDGE_PORT: '0', BRIDGE_QUEUE_URL: `wss://localhost:${queue.port}/pushmsg`, ...bridgeEnv };
  const startBridge = () => start(loadConfig(env), { logger });
  const clients: TestClient[] = [];
  const rig: Rig = {
    ca,
    bridgeEnv: env,
    bridge: await startBridge(),
    async subscribeClient() {
      const client = await connect(`wss://localhost:${sub.port}/subscribe`, { ca });
      clients.push(client);
      return client;
    },
    bridgeGet: (path) => get(rig.bridge.port, path, { ca, auth: 'hello:test' }),
    bridgeJson: async (path) => JSON.parse((await rig.bridgeGet(path)).body) as Record<string, unknown>,
    async restartBridge() {
      await rig.bridge.close();
      rig.bridge = await startBridge();
    },
    async [Symbol.asyncDispose]() {
      await Promise.all(clients.map((client) => client.close()));
      await rig.bridge.close();
      await sub.close();
      await queue.close();
    },
  };
  return rig;
}

/** A name no other test (or run) uses: tables, channels, queues, topics. */
export function uniqueName(prefix: string): string {
  return `${prefix}_${randomBytes(5).toString('hex')}`;
}

const OUTBOX_SQL = readFileSync(join(REPO_ROOT, 'services/bridge/sql/outbox.sql'), 'utf8');

/** The documented outbox DDL (sql/outbox.sql) for a table of this name, and what drops it again. */
export function outboxSql(table: string): { create: string; drop: string } {
  return {
    create: OUTBOX_SQL.replaceAll('pubsub_outbox', table),
    drop: `DROP TABLE IF EXISTS ${table}; DROP FUNCTION IF EXISTS ${table}_notify();`,
  };
}

/** A PostgreSQL client for the test's own statements; ended by `await using`. */
export async function pgClient(url: string): Promise<pg.Client & AsyncDisposable> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  return Object.assign(client, { [Symbol.asyncDispose]: () => client.end() });
}

/** Subscribes and waits for the server's confirmation. */
export async function subscribe(client: TestClient, topic: string): Promise<void> {
  client.send(`sub ${topic}`);
  const reply = await client.next();
  if (reply.type !== 'subscribed') throw new Error(`expected subscribed ${topic}, got ${JSON.stringify(reply)}`);
}

export interface Delivered {
  type: string;
  topic: string;
  id: string;
  content: unknown;
  seq: number;
}

/** The next `count` deliveries on this client. */
export async function deliveries(client: TestClient, count: number): Promise<Delivered[]> {
  const got: Delivered[] = [];
  while (got.length < count) {
    const frame = await client.next<Delivered>();
    if (frame.type === 'message') got.push(frame);
  }
  return got;
}
