import { loadEnv, optionalPort, positiveInt, z } from '@pubsub/config';
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
} from '@pubsub/service';

/** Messages per second: a whole or decimal number, 0 for no limit. */
const messageRate = (fallback: number) =>
  z
    .string()
    .regex(/^\d+(\.\d+)?$/, { message: 'expected messages per second, e.g. 100 or 0.5 (0: no limit)' })
    .transform(Number)
    .default(fallback);

// Per connection: far above what an application sends, low enough that one client cannot fill
// the msgqueue's limits for everyone within a second. Benchmarks set 0.
const DEFAULT_RATE_LIMIT = 1_000;

const PublisherEnv = z.object({
  ...commonEnv,
  ...tokenEnv,
  ...serviceEnv('PUBLISHER', { port: 8081 }),
  PUBLISHER_GRPC_PORT: optionalPort(),
  ...queueHopEnv('PUBLISHER'),
  PUBLISHER_BUFFER_MESSAGES: positiveInt(10_000),
  PUBLISHER_MAX_BUFFERED_BYTES: positiveInt(1024 * 1024),
  PUBLISHER_RATE_LIMIT: messageRate(DEFAULT_RATE_LIMIT),
  PUBLISHER_HTTP_MAX_BATCH: positiveInt(100),
  PUBLISHER_HTTP_MAX_BODY_BYTES: positiveInt(1024 * 1024),
  PUBLISHER_RATE_BURST: z
    .string()
    .regex(/^\d+$/, { message: 'expected a whole number' })
    .transform(Number)
    .pipe(z.number().positive().max(Number.MAX_SAFE_INTEGER))
    .optional(),
});

/** Every environment variable this service reads. */
export const ENV_VARIABLES = Object.keys(PublisherEnv.shape);

/** Its `users` are the client users of `/publish`; `grpcPort` is the gRPC `Publisher` service's (0: any free one). */
export interface PublisherConfig extends EdgeConfig {
  /** Sign-in tokens for browsers (`POST /api/token`). */
  readonly tokens: TokenConfig;
  /** Messages held until the msgqueue acknowledges them. */
  readonly bufferMessages: number;
  /** A client with more than this of replies unsent (it does not read its acks) is closed with 4100. */
  readonly maxBufferedBytes: number;
  /** `POST /api/messages`: most messages in one array body, and its largest size in bytes. */
  readonly http: { readonly maxBatch: number; readonly maxBodyBytes: number };
  /** Publishes per second and connection (per user over HTTP; a token bucket of `burst`), or undefined for no limit. */
  readonly rateLimit: { readonly perSecond: number; readonly burst: number } | undefined;
}

/** Reads the publisher's configuration from environment variables (docs/configuration.md). */
export function loadConfig(env: Readonly<Record<string, string | undefined>>): PublisherConfig {
  const e = loadEnv(PublisherEnv, env);
  const common = commonConfig(e);
  return {
    ...common,
    ...serviceConfig('PUBLISHER', e, common),
    grpcPort: e.PUBLISHER_GRPC_PORT,
    queue: queueHop('PUBLISHER', e, '/pushmsg'),
    bufferMessages: e.PUBLISHER_BUFFER_MESSAGES,
    maxBufferedBytes: e.PUBLISHER_MAX_BUFFERED_BYTES,
    http: { maxBatch: e.PUBLISHER_HTTP_MAX_BATCH, maxBodyBytes: e.PUBLISHER_HTTP_MAX_BODY_BYTES },
    rateLimit:
      e.PUBLISHER_RATE_LIMIT > 0
        ? {
            perSecond: e.PUBLISHER_RATE_LIMIT,
            burst: e.PUBLISHER_RATE_BURST ?? Math.max(1, Math.ceil(e.PUBLISHER_RATE_LIMIT)),
          }
        : undefined,
    // After the users, so a production start without users reports that first.
    tokens: tokenConfig(e, common.production),
  };
}
