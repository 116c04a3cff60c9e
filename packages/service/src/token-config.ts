import { ConfigError, positiveInt, z } from '@pubsub/config';
import type { Logger } from '@pubsub/log';
import { randomBytes } from 'node:crypto';

/** Variables of the services that issue and accept sign-in tokens (docs/configuration.md). */
export const tokenEnv = {
  AUTH_TOKEN_SECRET: z.string().min(32, { message: 'expected at least 32 characters' }).optional(),
  AUTH_TOKEN_TTL_MS: positiveInt(15 * 60 * 1000),
};

export interface TokenConfig {
  /** The HMAC key; undefined in development, where a random one is made at start. */
  readonly secret: string | undefined;
  readonly ttlMs: number;
}

/** What signs and checks tokens at run time; `now` is injectable for tests. */
export interface TokenKeys {
  readonly secret: string | Buffer;
  readonly ttlMs: number;
  readonly now: () => number;
}

type TokenEnv = z.infer<z.ZodObject<typeof tokenEnv>>;

/** In production a secret must be configured: a random one would differ on every instance and restart. */
export function tokenConfig(env: TokenEnv, production: boolean): TokenConfig {
  if (production && env.AUTH_TOKEN_SECRET === undefined) {
    throw new ConfigError([
      'AUTH_TOKEN_SECRET: NODE_ENV is production and no token secret is set; set the same secret of at least 32 characters on the publisher and the subscriber',
    ]);
  }
  return { secret: env.AUTH_TOKEN_SECRET, ttlMs: env.AUTH_TOKEN_TTL_MS };
}

/** The keys for this run: the configured secret, or a random one with a warning that says what it costs. */
export function tokenKeys(config: TokenConfig, log: Logger): TokenKeys {
  let secret: string | Buffer | undefined = config.secret;
  if (secret === undefined) {
    secret = randomBytes(32);
    log.warn(
      'AUTH_TOKEN_SECRET is unset: sign-in tokens use a random secret, do not survive a restart and are not accepted by the other services',
    );
  }
  return { secret, ttlMs: config.ttlMs, now: Date.now };
}
