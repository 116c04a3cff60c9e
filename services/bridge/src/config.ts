import { ConfigError, loadEnv, positiveInt, z } from '@pubsub/config';
import {
  commonConfig,
  commonEnv,
  DEV_USER,
  queueHop,
  queueHopEnv,
  serviceConfig,
  serviceEnv,
  type EdgeConfig,
  type Users,
} from '@pubsub/service';
import type { Publisher } from '@pubsub/ingress';
import { nameTopicList, topicMap, type TopicMap } from './topic-map.js';

/** A table name, optionally schema-qualified: it is written into SQL, so nothing else is taken. */
const tableName = () =>
  z
    .string()
    .regex(/^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)?$/, {
      message: 'expected a table name like pubsub_outbox or app.pubsub_outbox (letters, digits, _)',
    })
    .optional();

const connectionUrl = (schemes: readonly string[]) =>
  z
    .string()
    .refine((text) => URL.canParse(text) && schemes.includes(new URL(text).protocol), {
      message: `expected a ${schemes.map((scheme) => `${scheme}//`).join(' or ')} URL`,
    })
    .optional();

const BridgeEnv = z.object({
  ...commonEnv,
  ...serviceEnv('BRIDGE', { port: 8083 }),
  BRIDGE_PUBLISH_AS: z.string().optional(),
  ...queueHopEnv('BRIDGE'),
  BRIDGE_BUFFER_MESSAGES: positiveInt(10_000),
  BRIDGE_PG_URL: connectionUrl(['postgres:', 'postgresql:']),
  BRIDGE_PG_CHANNELS: nameTopicList(),
  BRIDGE_PG_TOPIC_PREFIX: z.string().default(''),
  BRIDGE_PG_OUTBOX_TABLE: tableName(),
  BRIDGE_PG_OUTBOX_CHANNEL: z.string().optional(),
  BRIDGE_PG_BATCH: positiveInt(500),
  BRIDGE_PG_POLL_MS: positiveInt(5_000),
  BRIDGE_AMQP_URL: connectionUrl(['amqp:', 'amqps:']),
  BRIDGE_AMQP_QUEUE: z.string().default('pubsub-bridge'),
  BRIDGE_AMQP_EXCHANGE: z.string().optional(),
  BRIDGE_AMQP_EXCHANGE_TYPE: z.enum(['topic', 'direct', 'fanout', 'headers']).default('topic'),
  BRIDGE_AMQP_BINDINGS: z.string().default('#'),
  BRIDGE_AMQP_TOPICS: nameTopicList(),
  BRIDGE_AMQP_TOPIC_PREFIX: z.string().default(''),
  BRIDGE_AMQP_PREFETCH: positiveInt(256),
  BRIDGE_AMQP_DEAD_LETTER_EXCHANGE: z.string().optional(),
  BRIDGE_AMQP_CONNECTION_NAME: z.string().default('pubsub-bridge'),
});

/** Every environment variable this service reads. */
export const ENV_VARIABLES = Object.keys(BridgeEnv.shape);

/** The outbox table mode: rows read in key order, deleted once stored. */
export interface OutboxConfig {
  readonly table: string;
  /** The channel the table's trigger notifies on insert. */
  readonly channel: string;
  /** Most rows read and forwarded at once. */
  readonly batch: number;
  /** How often the table is read without a notification (missed while reconnecting, or never sent). */
  readonly pollMs: number;
}

export interface PostgresConfig {
  readonly url: string;
  /** LISTEN channels and their topics. */
  readonly channels: TopicMap;
  readonly outbox: OutboxConfig | undefined;
}

export interface RabbitmqConfig {
  readonly url: string;
  readonly queue: string;
  /** Bind `queue` to this exchange (declared if missing) with each binding key. */
  readonly exchange: { readonly name: string; readonly type: string; readonly bindings: readonly string[] } | undefined;
  /** Routing key → topic. */
  readonly topics: TopicMap;
  /** Deliveries unacknowledged at once. */
  readonly prefetch: number;
  /** Where messages refused as bad input go, with the reason in their headers. */
  readonly deadLetterExchange: string;
  /** The connection's name in RabbitMQ's management tools (`rabbitmqctl list_connections`). */
  readonly connectionName: string;
}

export interface BridgeConfig extends EdgeConfig {
  /** Users of the bridge's own HTTP endpoints (`/metrics`), and the identity it publishes as. */
  readonly users: Users;
  /** The user whose publish rights every bridged message is checked against. */
  readonly publishAs: Publisher;
  /** Messages held until the msgqueue acknowledges them. */
  readonly bufferMessages: number;
  readonly postgres: PostgresConfig | undefined;
  readonly rabbitmq: RabbitmqConfig | undefined;
}

type Env = z.infer<typeof BridgeEnv>;

function postgresConfig(e: Env, problems: string[]): PostgresConfig | undefined {
  if (e.BRIDGE_PG_URL === undefined) {
    if (e.BRIDGE_PG_CHANNELS !== undefined || e.BRIDGE_PG_OUTBOX_TABLE !== undefined) {
      problems.push('BRIDGE_PG_URL: needed for BRIDGE_PG_CHANNELS and BRIDGE_PG_OUTBOX_TABLE');
    }
    return undefined;
  }
  const channels = topicMap(e.BRIDGE_PG_CHANNELS ?? new Map(), e.BRIDGE_PG_TOPIC_PREFIX);
  const table = e.BRIDGE_PG_OUTBOX_TABLE;
  if (channels.names.length === 0 && table === undefined) {
    problems.push('BRIDGE_PG_URL: set BRIDGE_PG_OUTBOX_TABLE (no loss) or BRIDGE_PG_CHANNELS (LISTEN/NOTIFY), or both');
  }
  const outbox =
    table === undefined
      ? undefined
      : {
          table,
          channel: e.BRIDGE_PG_OUTBOX_CHANNEL ?? table.split('.').at(-1) ?? table,
          batch: e.BRIDGE_PG_BATCH,
          pollMs: e.BRIDGE_PG_POLL_MS,
        };
  if (outbox !== undefined && channels.names.includes(outbox.channel)) {
    problems.push(`BRIDGE_PG_CHANNELS: "${outbox.channel}" is the outbox's wake-up channel (BRIDGE_PG_OUTBOX_CHANNEL)`);
  }
  if (outbox !== undefined && outbox.batch > e.BRIDGE_BUFFER_MESSAGES) {
    problems.push(`BRIDGE_PG_BATCH: ${outbox.batch} is more than BRIDGE_BUFFER_MESSAGES (${e.BRIDGE_BUFFER_MESSAGES})`);
  }
  return { url: e.BRIDGE_PG_URL, channels, outbox };
}

function rabbitmqConfig(e: Env, problems: string[]): RabbitmqConfig | undefined {
  if (e.BRIDGE_AMQP_URL === undefined) {
    if (e.BRIDGE_AMQP_EXCHANGE !== undefined) problems.push('BRIDGE_AMQP_URL: needed for BRIDGE_AMQP_EXCHANGE');
    return undefined;
  }
  if (e.BRIDGE_AMQP_PREFETCH > e.BRIDGE_BUFFER_MESSAGES) {
    problems.push(
      `BRIDGE_AMQP_PREFETCH: ${e.BRIDGE_AMQP_PREFETCH} is more than BRIDGE_BUFFER_MESSAGES (${e.BRIDGE_BUFFER_MESSAGES})`,
    );
  }
  const bindings = e.BRIDGE_AMQP_BINDINGS.split(',')
    .map((key) => key.trim())
    .filter(Boolean);
  const deadLetterExchange = e.BRIDGE_AMQP_DEAD_LETTER_EXCHANGE ?? `${e.BRIDGE_AMQP_QUEUE}.dead`;
  if (deadLetterExchange === e.BRIDGE_AMQP_EXCHANGE) {
    problems.push('BRIDGE_AMQP_DEAD_LETTER_EXCHANGE: must not be BRIDGE_AMQP_EXCHANGE, or dead letters come back');
  }
  return {
    url: e.BRIDGE_AMQP_URL,
    queue: e.BRIDGE_AMQP_QUEUE,
    exchange:
      e.BRIDGE_AMQP_EXCHANGE === undefined
        ? undefined
        : { name: e.BRIDGE_AMQP_EXCHANGE, type: e.BRIDGE_AMQP_EXCHANGE_TYPE, bindings },
    topics: topicMap(e.BRIDGE_AMQP_TOPICS ?? new Map(), e.BRIDGE_AMQP_TOPIC_PREFIX),
    prefetch: e.BRIDGE_AMQP_PREFETCH,
    deadLetterExchange,
    connectionName: e.BRIDGE_AMQP_CONNECTION_NAME,
  };
}

/** Reads the bridge's configuration from environment variables (docs/configuration.md). */
export function loadConfig(env: Readonly<Record<string, string | undefined>>): BridgeConfig {
  const e = loadEnv(BridgeEnv, env);
  const common = commonConfig(e);
  const { host, port, users } = serviceConfig('BRIDGE', e, common);
  const problems: string[] = [];
  const postgres = postgresConfig(e, problems);
  const rabbitmq = rabbitmqConfig(e, problems);
  if (postgres === undefined && rabbitmq === undefined) {
    problems.push('BRIDGE_PG_URL, BRIDGE_AMQP_URL: nothing to bridge; set one or both');
  }
  const user = e.BRIDGE_PUBLISH_AS ?? users.accounts.keys().next().value ?? DEV_USER.user;
  const account = users.accounts.get(user);
  if (account === undefined) {
    problems.push(`BRIDGE_PUBLISH_AS: "${user}" is not a user of BRIDGE_USERS or USERS_FILE`);
  } else if (!account.rights.has('publish')) {
    problems.push(`BRIDGE_PUBLISH_AS: "${user}" has no publish right (a client user with publish topics)`);
  }
  if (problems.length > 0 || account === undefined) throw new ConfigError(problems);
  return {
    ...common,
    host,
    port,
    users,
    publishAs: { user, account },
    queue: queueHop('BRIDGE', e, '/pushmsg'),
    bufferMessages: e.BRIDGE_BUFFER_MESSAGES,
    postgres,
    rabbitmq,
  };
}
