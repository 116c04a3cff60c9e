import { ConfigError, flag, loadEnv, positiveInt, readableFile, z } from '@pubsub/config';
import { GROUP_NAME_PATTERN } from '@pubsub/protocol';
import { fileURLToPath } from 'node:url';
import {
  commonConfig,
  commonEnv,
  serviceConfig,
  serviceEnv,
  usersList,
  type CommonConfig,
  type Users,
} from '@pubsub/service';

/** `MSGQUEUE_GROUPS`: distinct group names, separated by commas. */
const groupList = () =>
  z
    .string()
    .default('default')
    .transform((spec, ctx) => {
      const names = spec.split(',').map((name) => name.trim());
      const bad = names.filter((name) => !GROUP_NAME_PATTERN.test(name));
      if (bad.length > 0) {
        ctx.addIssue({
          code: 'custom',
          message: 'expected group names (1-64 of A-Z a-z 0-9 . _ -) separated by commas',
        });
        return z.NEVER;
      }
      return [...new Set(names)];
    });

/** `data/msgqueue` at the repository root (git-ignored). */
const DEFAULT_DATA_DIR = fileURLToPath(new URL('../../../data/msgqueue', import.meta.url));

const MsgqueueEnv = z.object({
  ...commonEnv,
  ...serviceEnv('MSGQUEUE', { port: 8080 }),
  MSGQUEUE_PUSH_USERS: usersList(),
  MSGQUEUE_POP_USERS: usersList(),
  MSGQUEUE_MAX_MESSAGES: positiveInt(100_000),
  MSGQUEUE_MAX_BYTES: positiveInt(64 * 1024 * 1024),
  MSGQUEUE_PREFETCH: positiveInt(1_000),
  MSGQUEUE_STORE: z.enum(['file', 'memory', 'redis']).default('file'),
  MSGQUEUE_DATA_DIR: z.string().default(DEFAULT_DATA_DIR),
  MSGQUEUE_REDIS_URL: z
    .string()
    .regex(/^rediss?:\/\/\S+$/, 'expected a redis:// or rediss:// URL')
    .default('redis://127.0.0.1:6379'),
  MSGQUEUE_REDIS_PREFIX: z
    .string()
    .regex(/^[A-Za-z0-9:._{}-]{1,100}$/, 'expected 1-100 of A-Z a-z 0-9 : . _ - { }')
    .default('msgqueue:'),
  MSGQUEUE_GROUPS: groupList(),
  MSGQUEUE_MAX_GROUPS: positiveInt(32),
  MSGQUEUE_GROUP_IDLE_MS: positiveInt(10 * 60 * 1000),
  MSGQUEUE_NODE_GROUPS: flag(false),
  MSGQUEUE_GROUP_EXPIRE_MS: positiveInt(24 * 60 * 60 * 1000),
  MSGQUEUE_LEASE_MS: positiveInt(30_000),
  MSGQUEUE_DEDUPE_WINDOW_MS: positiveInt(120_000),
  MSGQUEUE_DEDUPE_MAX_IDS: positiveInt(1_000_000),
  MSGQUEUE_RETENTION_MS: positiveInt(24 * 60 * 60 * 1000),
  MSGQUEUE_RETENTION_BYTES: positiveInt(256 * 1024 * 1024),
  MSGQUEUE_SEGMENT_BYTES: positiveInt(16 * 1024 * 1024),
  MSGQUEUE_TLS_CLIENT_CA: readableFile().optional(),
});

/** Every environment variable this service reads. */
export const ENV_VARIABLES = Object.keys(MsgqueueEnv.shape);

export interface MsgqueueConfig extends CommonConfig {
  readonly host: string;
  readonly port: number;
  /** Hop users: the publisher and subscriber services authenticate as one of these. */
  readonly users: Users;
  readonly maxMessages: number;
  readonly maxBytes: number;
  readonly prefetch: number;
  readonly leaseMs: number;
  /**
   * `file`: the durable log in `dataDir`; `memory`: gone when the process stops; `redis`: a
   * stream in the Redis at `redisUrl`, shared by every msgqueue node using the same key prefix.
   */
  readonly store: 'file' | 'memory' | 'redis';
  readonly dataDir: string;
  readonly redisUrl: string;
  /** Before every key of the redis store. */
  readonly redisPrefix: string;
  /**
   * The only groups consumers may use; each exists from the first start, so it receives messages
   * sent before it connects.
   */
  readonly groups: readonly string[];
  /** A group without a consumer for this long stops holding the backlog and retention back. */
  readonly groupIdleMs: number;
  /** Most groups at once, declared and node groups together. */
  readonly maxGroups: number;
  /**
   * Set (`MSGQUEUE_NODE_GROUPS`): a popper may make a `node.<id>` group by connecting to it, one
   * per subscriber node of a cluster; one without a consumer for `expireMs` is removed.
   */
  readonly nodeGroups: { readonly expireMs: number } | undefined;
  readonly dedupeWindowMs: number;
  /** Most message ids remembered for deduplication, however young. */
  readonly dedupeMaxIds: number;
  readonly retentionMs: number;
  readonly retentionBytes: number;
  readonly segmentBytes: number;
  /** CA bundle hop clients' certificates must chain to; set, a connection without one fails the TLS handshake. */
  readonly clientCaFile?: string;
}

/** Reads the msgqueue's configuration from environment variables (docs/configuration.md). */
export function loadConfig(env: Readonly<Record<string, string | undefined>>): MsgqueueConfig {
  const e = loadEnv(MsgqueueEnv, env);
  if (e.MSGQUEUE_GROUPS.length > e.MSGQUEUE_MAX_GROUPS) {
    throw new ConfigError([
      `MSGQUEUE_GROUPS: ${e.MSGQUEUE_GROUPS.length} groups, more than MSGQUEUE_MAX_GROUPS (${e.MSGQUEUE_MAX_GROUPS}); every group holds messages until it acknowledges them`,
    ]);
  }
  const common = commonConfig(e);
  return {
    ...common,
    // MSGQUEUE_USERS push and pop (one account for both hops, as in development); the split
    // lists keep a leaked publisher account from reading and a subscriber's from forging.
    ...serviceConfig('MSGQUEUE', e, {
      production: common.production,
      role: 'hop',
      lists: [
        { variable: 'MSGQUEUE_PUSH_USERS', role: 'pusher', entries: e.MSGQUEUE_PUSH_USERS },
        { variable: 'MSGQUEUE_POP_USERS', role: 'popper', entries: e.MSGQUEUE_POP_USERS },
      ],
    }),
    maxMessages: e.MSGQUEUE_MAX_MESSAGES,
    maxBytes: e.MSGQUEUE_MAX_BYTES,
    prefetch: e.MSGQUEUE_PREFETCH,
    leaseMs: e.MSGQUEUE_LEASE_MS,
    store: e.MSGQUEUE_STORE,
    dataDir: e.MSGQUEUE_DATA_DIR,
    redisUrl: e.MSGQUEUE_REDIS_URL,
    redisPrefix: e.MSGQUEUE_REDIS_PREFIX,
    groups: e.MSGQUEUE_GROUPS,
    groupIdleMs: e.MSGQUEUE_GROUP_IDLE_MS,
    maxGroups: e.MSGQUEUE_MAX_GROUPS,
    nodeGroups: e.MSGQUEUE_NODE_GROUPS ? { expireMs: e.MSGQUEUE_GROUP_EXPIRE_MS } : undefined,
    dedupeWindowMs: e.MSGQUEUE_DEDUPE_WINDOW_MS,
    dedupeMaxIds: e.MSGQUEUE_DEDUPE_MAX_IDS,
    retentionMs: e.MSGQUEUE_RETENTION_MS,
    retentionBytes: e.MSGQUEUE_RETENTION_BYTES,
    segmentBytes: e.MSGQUEUE_SEGMENT_BYTES,
    ...(e.MSGQUEUE_TLS_CLIENT_CA !== undefined && { clientCaFile: e.MSGQUEUE_TLS_CLIENT_CA }),
  };
}
