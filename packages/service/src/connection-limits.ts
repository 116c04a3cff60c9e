import { normalizeOrigin, type AccessLimits } from './access-config.js';
import { rejectionOf, type Rejection } from './reject.js';

/**
 * Open WebSocket connections, in total and per user, against the service's limits. The total
 * is checked before authentication too (a full service turns clients away without paying for
 * scrypt) and both right before the upgrade, with nothing awaited in between.
 */
export class ConnectionLimits {
  readonly #limits: Pick<AccessLimits, 'maxConnections' | 'maxConnectionsPerUser'>;
  readonly #perUser = new Map<string, number>();
  #open = 0;

  constructor(limits: Pick<AccessLimits, 'maxConnections' | 'maxConnectionsPerUser'>) {
    this.#limits = limits;
  }

  /** Why one more connection (of `user`, when known) must be refused, if it must. */
  refusal(user?: string): Rejection | undefined {
    if (this.#open >= this.#limits.maxConnections) {
      return rejectionOf(
        'TOO_MANY_CONNECTIONS',
        `the service has ${this.#limits.maxConnections} connections open, as many as it takes (MAX_CONNECTIONS); retry later`,
      );
    }
    if (user !== undefined && (this.#perUser.get(user) ?? 0) >= this.#limits.maxConnectionsPerUser) {
      return rejectionOf(
        'TOO_MANY_USER_CONNECTIONS',
        `this user has ${this.#limits.maxConnectionsPerUser} connections open, as many as one user may (MAX_CONNECTIONS_PER_USER)`,
      );
    }
    return undefined;
  }

  opened(user: string): void {
    this.#open++;
    this.#perUser.set(user, (this.#perUser.get(user) ?? 0) + 1);
  }

  closed(user: string): void {
    this.#open--;
    const left = (this.#perUser.get(user) ?? 1) - 1;
    if (left === 0) this.#perUser.delete(user);
    else this.#perUser.set(user, left);
  }
}

/**
 * Refuses a browser request (one with `Origin`) unless it comes from the service's own origin
 * (`https://` and the request's Host) or one in `ALLOWED_ORIGINS`: cross-site WebSocket
 * hijacking. Endpoints of the services' own accounts (`browsers` false) refuse every Origin.
 * Requests without `Origin` (non-browser clients) pass.
 */
export function originRefusal(
  origin: string | undefined,
  context: { host: string | undefined; allowed: readonly string[]; browsers: boolean },
): Rejection | undefined {
  if (origin === undefined) return undefined;
  if (!context.browsers) {
    return rejectionOf(
      'ORIGIN_FORBIDDEN',
      'this endpoint is for the services, not for browsers: requests with an Origin are refused',
    );
  }
  const normalized = normalizeOrigin(origin);
  const own = context.host === undefined ? undefined : normalizeOrigin(`https://${context.host}`);
  if (normalized === own || context.allowed.includes(normalized)) return undefined;
  return rejectionOf('ORIGIN_FORBIDDEN', 'this origin may not connect (ALLOWED_ORIGINS)');
}
