import { loadEnv, port, positiveInt, wssUrl, z } from '@pubsub/config';
import {
  commonConfig,
  commonEnv,
  DEV_USER,
  usersList,
  type CommonConfig,
  type QueueHop,
  type Users,
} from '@pubsub/service';

const PublisherEnv = z.object({
  ...commonEnv,
  PUBLISHER_HOST: z.string().default('127.0.0.1'),
  PUBLISHER_PORT: port(8081),
  PUBLISHER_USERS: usersList(),
  PUBLISHER_QUEUE_URL: wssUrl('wss://localhost:8080/pushmsg'),
  PUBLISHER_QUEUE_USER: z.string().default(DEV_USER.user),
  PUBLISHER_QUEUE_PASSWORD: z.string().default(DEV_USER.password),
  PUBLISHER_BUFFER_MESSAGES: positiveInt(10_000),
});

/** Every environment variable this service reads. */
export const ENV_VARIABLES = Object.keys(PublisherEnv.shape);

export interface PublisherConfig extends CommonConfig {
  readonly host: string;
  readonly port: number;
  /** Client users of `/publish`. */
  readonly users: Users;
  readonly queue: QueueHop;
  /** Messages held until the msgqueue acknowledges them. */
  readonly bufferMessages: number;
}

/** Reads the publisher's configuration from environment variables (docs/configuration.md). */
export function loadConfig(env: Readonly<Record<string, string | undefined>>): PublisherConfig {
  const e = loadEnv(PublisherEnv, env);
  return {
    ...commonConfig(e),
    host: e.PUBLISHER_HOST,
    port: e.PUBLISHER_PORT,
    users: e.PUBLISHER_USERS,
    queue: { url: e.PUBLISHER_QUEUE_URL, user: e.PUBLISHER_QUEUE_USER, password: e.PUBLISHER_QUEUE_PASSWORD },
    bufferMessages: e.PUBLISHER_BUFFER_MESSAGES,
  };
}
