import { loadEnv, port, positiveInt, readableFile, z } from '@pubsub/config';
import { fileURLToPath } from 'node:url';
import { commonConfig, commonEnv, resolveUsers, usersList, type CommonConfig, type Users } from '@pubsub/service';

/** `data/msgqueue` at the repository root (git-ignored). */
const DEFAULT_DATA_DIR = fileURLToPath(new URL('../../../data/msgqueue', import.meta.url));

const MsgqueueEnv = z.object({
  ...commonEnv,
  MSGQUEUE_HOST: z.string().default('127.0.0.1'),
  MSGQUEUE_PORT: port(8080),
  MSGQUEUE_USERS: usersList(),
  MSGQUEUE_MAX_MESSAGES: positiveInt(100_000),
  MSGQUEUE_MAX_BYTES: positiveInt(64 * 1024 * 1024),
  MSGQUEUE_PREFETCH: positiveInt(1_000),
  MSGQUEUE_STORE: z.enum(['file', 'memory']).default('file'),
  MSGQUEUE_DATA_DIR: z.string().default(DEFAULT_DATA_DIR),
  MSGQUEUE_GROUPS: z
    .string()
    .regex(/^[A-Za-z0-9._-]{1,64}(,[A-Za-z0-9._-]{1,64})*$/, 'expected group names separated by commas')
    .default('default'),
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
  /** `file`: the durable log in `dataDir`; `memory`: gone when the process stops. */
  readonly store: 'file' | 'memory';
  readonly dataDir: string;
  /** Groups that exist from the first start, so they receive messages sent before they connect. */
  readonly groups: string[];
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
  return {
    ...commonConfig(e),
    host: e.MSGQUEUE_HOST,
    port: e.MSGQUEUE_PORT,
    users: resolveUsers({ list: e.MSGQUEUE_USERS, file: e.USERS_FILE, variable: 'MSGQUEUE_USERS', role: 'hop' }),
    maxMessages: e.MSGQUEUE_MAX_MESSAGES,
    maxBytes: e.MSGQUEUE_MAX_BYTES,
    prefetch: e.MSGQUEUE_PREFETCH,
    leaseMs: e.MSGQUEUE_LEASE_MS,
    store: e.MSGQUEUE_STORE,
    dataDir: e.MSGQUEUE_DATA_DIR,
    groups: e.MSGQUEUE_GROUPS.split(','),
    dedupeWindowMs: e.MSGQUEUE_DEDUPE_WINDOW_MS,
    dedupeMaxIds: e.MSGQUEUE_DEDUPE_MAX_IDS,
    retentionMs: e.MSGQUEUE_RETENTION_MS,
    retentionBytes: e.MSGQUEUE_RETENTION_BYTES,
    segmentBytes: e.MSGQUEUE_SEGMENT_BYTES,
    ...(e.MSGQUEUE_TLS_CLIENT_CA !== undefined && { clientCaFile: e.MSGQUEUE_TLS_CLIENT_CA }),
  };
}
