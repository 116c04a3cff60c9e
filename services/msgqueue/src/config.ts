import { loadEnv, port, positiveInt, z } from '@pubsub/config';
import { commonConfig, commonEnv, usersList, type CommonConfig, type Users } from '@pubsub/service';

const MsgqueueEnv = z.object({
  ...commonEnv,
  MSGQUEUE_HOST: z.string().default('127.0.0.1'),
  MSGQUEUE_PORT: port(8080),
  MSGQUEUE_USERS: usersList(),
  MSGQUEUE_MAX_MESSAGES: positiveInt(100_000),
  MSGQUEUE_MAX_BYTES: positiveInt(64 * 1024 * 1024),
  MSGQUEUE_PREFETCH: positiveInt(1_000),
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
}

/** Reads the msgqueue's configuration from environment variables (docs/configuration.md). */
export function loadConfig(env: Readonly<Record<string, string | undefined>>): MsgqueueConfig {
  const e = loadEnv(MsgqueueEnv, env);
  return {
    ...commonConfig(e),
    host: e.MSGQUEUE_HOST,
    port: e.MSGQUEUE_PORT,
    users: e.MSGQUEUE_USERS,
    maxMessages: e.MSGQUEUE_MAX_MESSAGES,
    maxBytes: e.MSGQUEUE_MAX_BYTES,
    prefetch: e.MSGQUEUE_PREFETCH,
  };
}
