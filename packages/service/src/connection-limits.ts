import { normalizeOrigin, type AccessLimits } from './access-config.js';
import type { Rejection } from './reject.js';

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
      return {
        status: 503,
        code: 'TOO_MANY_CONNECTIONS',
        message: `the service has ${this.#limits.maxConnections} connections open, as many as it takes (MAX_CONNECTIONS); retry later`,
      };
    }
    if (user !== undefined && (this.#perUser.get(user) ?? 0) >= this.#limits.maxConnectionsPerUser) {
      return {
        status: 429,
        code: 'TOO_MANY_USER_CONNECTIONS',
        message: `this user has ${this.#limits.maxConnectionsPerUser} connections open, as many as one user may (MAX_CONNECTIONS_PER_USER)`,
      };
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
 * Refuses a browser's upgrade from an origin not in the list (cross-site WebSocket hijacking).
 * Requests without `Origin` (non-browser clients) pass, and an empty list allows every origin.
 */
export function originRefusal(origin: string | undefined, allowed: readonly string[]): Rejection | undefined {
  if (origin === undefined || allowed.length === 0 || allowed.includes(normalizeOrigin(origin))) return undefined;
  return {
    status: 403,
    code: 'ORIGIN_FORBIDDEN',
    message: 'this origin may not connect (ALLOWED_ORIGINS)',
  };
}
