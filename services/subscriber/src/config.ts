import { ConfigError, loadEnv, optionalPort, positiveInt, z } from '@pubsub/config';
import { GROUP_NAME_PATTERN, MAX_NODE_ID_CHARS, NODE_GROUP_PREFIX, validateTopic } from '@pubsub/protocol';
import { hostname } from 'node:os';
import { fileURLToPath } from 'node:url';
import { parseCidrList, type Cidr } from './target-guard.js';
import {
  commonConfig,
  commonEnv,
  queueHop,
  queueHopEnv,
  serviceConfig,
  serviceEnv,
  tokenConfig,
  tokenEnv,
  type EdgeConfig,
  type TokenConfig,
  type QueueHop,
} from '@pubsub/service';

/** `data/subscriber` at the repository root (git-ignored). */
const DEFAULT_DATA_DIR = fileURLToPath(new URL('../../../data/subscriber', import.meta.url));

/** `SUBSCRIBER_WEBHOOK_ALLOW_PRIVATE`: CIDR ranges webhooks may call although they are not public. */
const cidrList = () =>
  z
    .string()
    .default('')
    .transform((spec, ctx) => {
      try {
        return parseCidrList(spec);
      } catch (err) {
        ctx.addIssue({ code: 'custom', message: (err as Error).message });
        return z.NEVER;
      }
    });

/** The dead-letter prefix, checked by the topic it makes. */
const deadLetterPrefix = () =>
  z
    .string()
    .default('deadletter.')
    .refine(
      (prefix) => {
        try {
          validateTopic(`${prefix}00000000-0000-0000-0000-000000000000`);
          return true;
        } catch {
          return false;
        }
      },
      { message: 'with a subscription id after it, it must make a valid topic (no whitespace, "*" or ">")' },
    );

const SubscriberEnv = z.object({
  ...commonEnv,
  ...tokenEnv,
  ...serviceEnv('SUBSCRIBER', { port: 8082 }),
  SUBSCRIBER_GRPC_PORT: optionalPort(),
  ...queueHopEnv('SUBSCRIBER'),
  SUBSCRIBER_MAX_BUFFERED_BYTES: positiveInt(1024 * 1024),
  SUBSCRIBER_STALL_TIMEOUT_MS: positiveInt(60_000),
  SUBSCRIBER_CATCHUP_PAGE_BYTES: positiveInt(256 * 1024),
  SUBSCRIBER_MAX_SUBSCRIPTIONS: positiveInt(1_000),
  SUBSCRIBER_MAX_USER_SUBSCRIPTIONS: positiveInt(10_000),
  // Unset: "default", unless SUBSCRIBER_NODE_ID gives this node a group of its own.
  SUBSCRIBER_GROUP: z.string().regex(GROUP_NAME_PATTERN, 'expected 1-64 characters of A-Z a-z 0-9 . _ -').optional(),
  SUBSCRIBER_NODE_ID: z
    .string()
    .regex(
      new RegExp(`^(auto|[A-Za-z0-9._-]{1,${MAX_NODE_ID_CHARS}})$`),
      `expected "auto" or 1-${MAX_NODE_ID_CHARS} characters of A-Z a-z 0-9 . _ -`,
    )
    .optional(),
  SUBSCRIBER_STREAM_IDLE_TIMEOUT_MS: positiveInt(24 * 60 * 60 * 1000),
  SUBSCRIBER_MAX_USER_STREAMS: positiveInt(100),
  SUBSCRIBER_DATA_DIR: z.string().trim().min(1, 'expected a directory path').default(DEFAULT_DATA_DIR),
  SUBSCRIBER_WEBHOOK_ATTEMPTS: positiveInt(8),
  SUBSCRIBER_WEBHOOK_BACKOFF_BASE_MS: positiveInt(1_000),
  SUBSCRIBER_WEBHOOK_BACKOFF_MAX_MS: positiveInt(60_000),
  SUBSCRIBER_WEBHOOK_TIMEOUT_MS: positiveInt(10_000),
  SUBSCRIBER_WEBHOOK_ALLOW_PRIVATE: cidrList(),
  SUBSCRIBER_WEBHOOK_DEAD_LETTER_PREFIX: deadLetterPrefix(),
  SUBSCRIBER_WEBHOOK_MAX_PER_USER: positiveInt(100),
  // Unset: the hop account of SUBSCRIBER_QUEUE_USER, which the development user can push with.
  SUBSCRIBER_PUSH_USER: z.string().optional(),
  SUBSCRIBER_PUSH_PASSWORD: z.string().optional(),
});

/** Every environment variable this service reads. */
export const ENV_VARIABLES = Object.keys(SubscriberEnv.shape);

/** Its `users` are the client users of `/subscribe`; `grpcPort` is the gRPC `Subscriber` service's (0: any free one). */
export interface SubscriberConfig extends EdgeConfig {
  /** Sign-in tokens for browsers (`POST /api/token`). */
  readonly tokens: TokenConfig;
  /**
   * Unsent bytes above which a client leaves the live stream and is filled from the msgqueue's
   * log at its own pace (the high-water mark; half of it is the low-water mark).
   */
  readonly maxBufferedBytes: number;
  /** A client behind the live stream that reads nothing for this long is closed (4100). */
  readonly stallTimeoutMs: number;
  /** Bytes of messages one page of a catch-up brings at most. */
  readonly catchUpPageBytes: number;
  /** Topics and patterns one socket may be subscribed to at once. */
  readonly maxSubscriptions: number;
  /** The same over all of one user's sockets together. */
  readonly maxUserSubscriptions: number;
  /**
   * The msgqueue consumer group: subscriber services in one group share the messages, each
   * group gets all of them. Give side-by-side subscriber services distinct groups; a node of a
   * cluster has its own, `node.<nodeId>`.
   */
  readonly group: string;
  /** This subscriber's name among a cluster's nodes (`SUBSCRIBER_NODE_ID`), when it is one. */
  readonly nodeId: string | undefined;
  /** A stream (`POST /api/streams`) with no connection for this long is deleted. */
  readonly streamIdleTimeoutMs: number;
  /** Streams one user may have at once. */
  readonly maxUserStreams: number;
  /** Where the subscriber keeps its own state (webhook subscriptions, streams); created at start. */
  readonly dataDir: string;
  readonly webhooks: WebhookConfig;
}

/** Webhook delivery (docs/configuration.md, docs/protocol.md#webhooks). */
export interface WebhookConfig {
  /** Requests per message, the first included, before it goes to the dead letter. */
  readonly attempts: number;
  readonly backoffBaseMs: number;
  /** The longest wait between two requests, also for a receiver's `Retry-After`. */
  readonly backoffMaxMs: number;
  /** One request, from connecting to the end of the answer. */
  readonly timeoutMs: number;
  /** Ranges that may be called although they are loopback, private, link-local, … */
  readonly allowPrivate: readonly Cidr[];
  /** A subscription's dead letters go to this plus its id. */
  readonly deadLetterPrefix: string;
  readonly maxPerUser: number;
  /** The msgqueue's `/pushmsg`, where dead letters are stored, and the account with the push right. */
  readonly push: QueueHop;
}

/** Reads the subscriber's configuration from environment variables (docs/configuration.md). */
export function loadConfig(env: Readonly<Record<string, string | undefined>>): SubscriberConfig {
  const e = loadEnv(SubscriberEnv, env);
  if (e.SUBSCRIBER_NODE_ID !== undefined && e.SUBSCRIBER_GROUP !== undefined) {
    throw new ConfigError([
      `SUBSCRIBER_GROUP: not with SUBSCRIBER_NODE_ID, which gives this node its own group (${NODE_GROUP_PREFIX}<id>); set one of them`,
    ]);
  }
  const nodeId = e.SUBSCRIBER_NODE_ID === 'auto' ? autoNodeId(e.SUBSCRIBER_PORT) : e.SUBSCRIBER_NODE_ID;
  const group = nodeId === undefined ? (e.SUBSCRIBER_GROUP ?? 'default') : `${NODE_GROUP_PREFIX}${nodeId}`;
  const common = commonConfig(e);
  const hop = queueHop('SUBSCRIBER', e, '/popmsg');
  return {
    ...common,
    ...serviceConfig('SUBSCRIBER', e, common),
    grpcPort: e.SUBSCRIBER_GRPC_PORT,
    queue: { ...hop, urls: hop.urls.map((url) => withGroup(url, group)) },
    maxBufferedBytes: e.SUBSCRIBER_MAX_BUFFERED_BYTES,
    stallTimeoutMs: e.SUBSCRIBER_STALL_TIMEOUT_MS,
    catchUpPageBytes: e.SUBSCRIBER_CATCHUP_PAGE_BYTES,
    maxSubscriptions: e.SUBSCRIBER_MAX_SUBSCRIPTIONS,
    maxUserSubscriptions: e.SUBSCRIBER_MAX_USER_SUBSCRIPTIONS,
    group,
    nodeId,
    dataDir: e.SUBSCRIBER_DATA_DIR,
    streamIdleTimeoutMs: e.SUBSCRIBER_STREAM_IDLE_TIMEOUT_MS,
    maxUserStreams: e.SUBSCRIBER_MAX_USER_STREAMS,
    webhooks: {
      attempts: e.SUBSCRIBER_WEBHOOK_ATTEMPTS,
      backoffBaseMs: e.SUBSCRIBER_WEBHOOK_BACKOFF_BASE_MS,
      backoffMaxMs: e.SUBSCRIBER_WEBHOOK_BACKOFF_MAX_MS,
      timeoutMs: e.SUBSCRIBER_WEBHOOK_TIMEOUT_MS,
      allowPrivate: e.SUBSCRIBER_WEBHOOK_ALLOW_PRIVATE,
      deadLetterPrefix: e.SUBSCRIBER_WEBHOOK_DEAD_LETTER_PREFIX,
      maxPerUser: e.SUBSCRIBER_WEBHOOK_MAX_PER_USER,
      push: {
        urls: hop.urls.map(pushUrlOf),
        user: e.SUBSCRIBER_PUSH_USER ?? hop.user,
        password: e.SUBSCRIBER_PUSH_PASSWORD ?? hop.password,
      },
    },
    // After the users, so a production start without users reports that first.
    tokens: tokenConfig(e, common.production),
  };
}

/**
 * `SUBSCRIBER_NODE_ID=auto`: the host name and the port, which stay the same when the node
 * restarts in place (a new id would leave its old group to expire and start a new one at the
 * end of the log).
 */
function autoNodeId(listenPort: number): string {
  const suffix = `-${listenPort}`;
  const host = hostname().replace(/[^A-Za-z0-9._-]/g, '-') || 'host';
  return `${host.slice(0, MAX_NODE_ID_CHARS - suffix.length)}${suffix}`;
}

/** A msgqueue's `/pushmsg` next to its `/popmsg`. */
function pushUrlOf(popUrl: string): string {
  const url = new URL(popUrl);
  url.pathname = '/pushmsg';
  url.search = '';
  return url.toString();
}

function withGroup(queueUrl: string, group: string): string {
  const url = new URL(queueUrl);
  url.searchParams.set('group', group);
  return url.toString();
}
