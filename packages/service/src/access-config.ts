import { positiveInt, z } from '@pubsub/config';
import { readUsersFile, UsersFileError } from './users-file.js';

/** `USERS_FILE`: read and checked when the configuration loads, so `--check-config` sees it. */
const usersFile = () =>
  z
    .string()
    .optional()
    .transform((path, ctx) => {
      if (path === undefined) return undefined;
      try {
        return readUsersFile(path);
      } catch (err) {
        if (!(err instanceof UsersFileError)) throw err;
        for (const problem of err.problems) ctx.addIssue({ code: 'custom', message: problem });
        return z.NEVER;
      }
    });

/** `https://app.example.com` → itself; anything but a bare http(s) origin → undefined. */
function originOf(text: string): string | undefined {
  try {
    const url = new URL(text);
    const bare = url.pathname === '/' && url.search === '' && url.hash === '' && url.username === '';
    return bare && (url.protocol === 'https:' || url.protocol === 'http:') ? url.origin : undefined;
  } catch {
    return undefined;
  }
}

/** `ALLOWED_ORIGINS`: comma-separated origins, normalised; empty allows only the service's own. */
const originList = () =>
  z
    .string()
    .default('')
    .transform((spec, ctx) => {
      const entries = spec
        .split(',')
        .map((entry) => entry.trim())
        .filter(Boolean);
      const origins: string[] = [];
      entries.forEach((entry, index) => {
        const origin = originOf(entry);
        if (origin === undefined) {
          ctx.addIssue({
            code: 'custom',
            message: `entry ${index + 1} (${JSON.stringify(entry.slice(0, 100))}) is not an origin like https://app.example.com`,
          });
        } else origins.push(origin);
      });
      return origins;
    });

/** Variables for access control and limits, shared by every service (docs/configuration.md). */
export const accessEnv = {
  USERS_FILE: usersFile(),
  ALLOWED_ORIGINS: originList(),
  MAX_CONNECTIONS: positiveInt(10_000),
  MAX_CONNECTIONS_PER_USER: positiveInt(1_000),
  MAX_CONNECTIONS_PER_ADDRESS: positiveInt(256),
  AUTH_THROTTLE_ADDRESS_FAILURES: positiveInt(20),
  AUTH_THROTTLE_PAIR_FAILURES: positiveInt(5),
  AUTH_THROTTLE_USER_FAILURES: positiveInt(50),
  AUTH_THROTTLE_USER_DELAY_MS: positiveInt(1_000),
  AUTH_THROTTLE_WINDOW_MS: positiveInt(10 * 60 * 1000),
};

/**
 * Failed logins tolerated per window: beyond the address and pair limits further attempts are
 * refused unchecked (429); beyond the user limit they are only slowed, so nobody can lock a real
 * user out by guessing its password from elsewhere.
 */
export interface AuthThrottleLimits {
  /** From one remote address. */
  readonly addressFailures: number;
  /** For one user name from one address. */
  readonly pairFailures: number;
  /** For one user name, from anywhere: beyond it each check of the name waits `userDelayMs`. */
  readonly userFailures: number;
  readonly userDelayMs: number;
  /** The window, which starts at the first failure. */
  readonly windowMs: number;
}

/** What every service enforces at the handshake. */
export interface AccessLimits {
  /** Open WebSocket connections, all endpoints together (503 beyond). */
  readonly maxConnections: number;
  /** Open WebSocket connections of one user (429 beyond). */
  readonly maxConnectionsPerUser: number;
  /** Open TCP connections from one address, before TLS and authentication (dropped beyond). */
  readonly maxConnectionsPerAddress: number;
  /** Origins a browser may connect from besides the service's own. */
  readonly allowedOrigins: readonly string[];
  readonly authThrottle: AuthThrottleLimits;
}

type AccessEnv = z.infer<z.ZodObject<typeof accessEnv>>;

export function accessLimits(env: AccessEnv): AccessLimits {
  return {
    maxConnections: env.MAX_CONNECTIONS,
    maxConnectionsPerUser: env.MAX_CONNECTIONS_PER_USER,
    maxConnectionsPerAddress: env.MAX_CONNECTIONS_PER_ADDRESS,
    allowedOrigins: env.ALLOWED_ORIGINS,
    authThrottle: {
      addressFailures: env.AUTH_THROTTLE_ADDRESS_FAILURES,
      pairFailures: env.AUTH_THROTTLE_PAIR_FAILURES,
      userFailures: env.AUTH_THROTTLE_USER_FAILURES,
      userDelayMs: env.AUTH_THROTTLE_USER_DELAY_MS,
      windowMs: env.AUTH_THROTTLE_WINDOW_MS,
    },
  };
}

/** A request's `Origin` as accessLimits stores allowed ones, for comparison. */
export function normalizeOrigin(header: string): string {
  return originOf(header) ?? header;
}
