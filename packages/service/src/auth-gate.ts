import { challengeHeader, credentialsOf } from '@pubsub/auth';
import { createHash } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import { setTimeout as delay } from 'node:timers/promises';
import { RateLimiterMemory } from 'rate-limiter-flexible';
import type { Account, Users } from './access.js';
import type { AuthThrottleLimits } from './access-config.js';
import type { ServiceMetrics } from './metrics.js';
import { rejectionOf, type Rejection } from './reject.js';
import type { TokenKeys } from './token-config.js';
import { presentedToken, verifyToken } from './token.js';

/** Who a request authenticates as, or the answer it gets instead (with the name tried, for logs). */
export type Admission = { ok: true; account: Account } | { ok: false; rejection: Rejection; user: string | undefined };

/** What the gate reads of a request: an HTTP request, or a call of another transport (gRPC) shaped like one. */
export type AdmissionRequest = Pick<IncomingMessage, 'headers' | 'url'> & {
  readonly socket: { readonly remoteAddress?: string | undefined };
};

/** What a throttle counts failures of: an address, a name from one address, or a name. */
type Scope = 'address' | 'pair' | 'user';

/** One check under way, holding its place among the checks of its key. */
interface Slot {
  readonly scope: Scope;
  /** Milliseconds until the key may try again, when this check must be refused. */
  refusal(): Promise<number | undefined>;
  failed(): Promise<unknown>;
  release(): void;
}

/**
 * Failed logins per key (an address or a user name) in a fixed window that starts at the first
 * failure. Checks under way count too, so a burst of concurrent guesses cannot all slip in
 * before the first of them fails.
 */
class FailureCounter {
  readonly #limiter: RateLimiterMemory;
  readonly #pending = new Map<string, number>();

  constructor(
    readonly scope: Scope,
    readonly limit: number,
    windowMs: number,
  ) {
    this.#limiter = new RateLimiterMemory({ points: limit, duration: windowMs / 1000 });
  }

  /** Failures of `key` in its current window. */
  async failures(key: string): Promise<number> {
    return (await this.#limiter.get(key))?.consumedPoints ?? 0;
  }

  failed(key: string): Promise<unknown> {
    return this.#limiter.penalty(key, 1);
  }

  /** Takes a place for one check of `key`, synchronously, so concurrent checks see each other. */
  reserve(key: string): Slot {
    const place = (this.#pending.get(key) ?? 0) + 1;
    this.#pending.set(key, place);
    let released = false;
    return {
      scope: this.scope,
      refusal: async () => {
        const record = await this.#limiter.get(key);
        const failures = record?.consumedPoints ?? 0;
        if (failures + place <= this.limit) return undefined;
        // Refused for checks still under way only: they may well succeed, so try again soon.
        return failures >= this.limit && record !== null ? record.msBeforeNext : 1_000;
      },
      failed: () => this.#limiter.penalty(key, 1),
      release: () => {
        if (released) return;
        released = true;
        const left = (this.#pending.get(key) ?? 1) - 1;
        if (left === 0) this.#pending.delete(key);
        else this.#pending.set(key, left);
      },
    };
  }
}

/**
 * Basic Auth for every endpoint of a service, with auth-failure throttling: after repeated
 * failures from one address, or for one user name from one address, further logins from there
 * are refused with 429 and `Retry-After` without being checked, so a brute force costs the
 * attacker and not our scrypt. Failures for a name from everywhere only slow that name's checks
 * down: a lockout per name would let anyone lock a real user (or a service's hop account, and
 * with it the chain) out. A pair already verified is a digest lookup and always let through, so
 * successful logins are never slowed; concurrent identical attempts share one check. A request
 * without Basic Auth may carry a signed token instead (browsers cannot add headers to
 * `new WebSocket()` or `new EventSource()`): see token.ts.
 */
export class AuthGate {
  readonly #users: Users;
  readonly #realm: string;
  readonly #metrics: ServiceMetrics;
  readonly #byAddress: FailureCounter;
  readonly #byPair: FailureCounter;
  readonly #byUser: FailureCounter;
  readonly #userDelayMs: number;
  readonly #tokens: TokenKeys | undefined;
  /**
   * Checks under way by credential pair: true/false once verified, undefined when refused
   * unchecked. Set before the first await, so a reconnect storm of one client shares one check
   * instead of filling the throttle's places.
   */
  readonly #checks = new Map<string, Promise<boolean | undefined>>();

  constructor(options: {
    users: Users;
    throttle: AuthThrottleLimits;
    realm: string;
    metrics: ServiceMetrics;
    /** When set, a signed token (query or cookie) is accepted too, where a request has no Basic Auth. */
    tokens?: TokenKeys | undefined;
  }) {
    this.#users = options.users;
    this.#tokens = options.tokens;
    this.#realm = options.realm;
    this.#metrics = options.metrics;
    const { addressFailures, pairFailures, userFailures, userDelayMs, windowMs } = options.throttle;
    this.#byAddress = new FailureCounter('address', addressFailures, windowMs);
    this.#byPair = new FailureCounter('pair', pairFailures, windowMs);
    this.#byUser = new FailureCounter('user', userFailures, windowMs);
    this.#userDelayMs = userDelayMs;
  }

  /** `tokens: false` takes Basic Auth only: where tokens are issued, so one cannot renew itself forever. */
  async admit(req: AdmissionRequest, { tokens = true }: { tokens?: boolean } = {}): Promise<Admission> {
    const credentials = credentialsOf(req);
    if (credentials === undefined) {
      const token = tokens && this.#tokens !== undefined ? presentedToken(req) : undefined;
      // Nothing to check costs nothing: a missing header is not counted as a guess.
      return token === undefined ? this.#unauthorized(undefined) : this.#admitToken(token);
    }
    const { name, pass } = credentials;
    const { table } = this.#users;
    if (table.remembers(name, pass)) return this.#accept(name);
    const pair = createHash('sha256')
      .update(JSON.stringify([name, pass]))
      .digest('base64');
    const underway = this.#checks.get(pair);
    if (underway !== undefined) {
      // The same guess is being checked already, and counted there.
      const verified = await underway;
      if (verified !== undefined) return verified ? this.#accept(name) : this.#unauthorized(name);
    }
    return this.#check({ name, pass, pair, address: req.socket.remoteAddress ?? 'unknown' });
  }

  async #check(attempt: { name: string; pass: string; pair: string; address: string }): Promise<Admission> {
    // JSON keeps the boundary: no address and name can be confused with another pair.
    const pairKey = JSON.stringify([attempt.address, attempt.name]);
    const slots = [this.#byAddress.reserve(attempt.address), this.#byPair.reserve(pairKey)];
    let settle!: (verified: boolean | undefined) => void;
    const check = new Promise<boolean | undefined>((resolveCheck) => (settle = resolveCheck));
    this.#checks.set(attempt.pair, check);
    try {
      for (const slot of slots) {
        const retryMs = await slot.refusal();
        if (retryMs !== undefined) return this.#throttled(slot.scope, retryMs, attempt.name);
      }
      if ((await this.#byUser.failures(attempt.name)) >= this.#byUser.limit) {
        // Slowed, never refused: the right password from anywhere still gets in.
        this.#metrics.authThrottled.inc({ scope: 'user' });
        await delay(this.#userDelayMs);
      }
      const verified = await this.#users.table.verify(attempt.name, attempt.pass);
      settle(verified);
      if (verified) return this.#accept(attempt.name);
      await Promise.all([...slots.map((slot) => slot.failed()), this.#byUser.failed(attempt.name)]);
      return this.#unauthorized(attempt.name);
    } finally {
      settle(undefined);
      if (this.#checks.get(attempt.pair) === check) this.#checks.delete(attempt.pair);
      for (const slot of slots) slot.release();
    }
  }

  /** An HMAC costs nothing next to scrypt, so tokens are not throttled; the rights come from the users table. */
  #admitToken(token: string): Admission {
    const keys = this.#tokens as TokenKeys;
    const check = verifyToken(keys.secret, token, keys.now());
    if (!check.ok) {
      return this.#unauthorized(
        undefined,
        check.reason === 'expired'
          ? 'the access token has expired: sign in again with POST /api/token'
          : 'the access token is not valid here (forged, damaged, or signed with another AUTH_TOKEN_SECRET)',
      );
    }
    return this.#accept(check.claims.user);
  }

  #accept(name: string): Admission {
    const account = this.#users.accounts.get(name);
    // Every table entry has an account (resolveUsers builds both); refuse rather than guess.
    return account === undefined ? this.#unauthorized(name) : { ok: true, account };
  }

  #unauthorized(user: string | undefined, message = 'missing or invalid credentials (HTTP Basic Auth)'): Admission {
    this.#metrics.authFailures.inc();
    return {
      ok: false,
      user,
      rejection: rejectionOf('AUTH_FAILED', message, { headers: { 'WWW-Authenticate': challengeHeader(this.#realm) } }),
    };
  }

  #throttled(scope: Scope, retryMs: number, user: string): Admission {
    this.#metrics.authThrottled.inc({ scope });
    const seconds = Math.max(1, Math.ceil(retryMs / 1000));
    return {
      ok: false,
      user,
      rejection: rejectionOf(
        'AUTH_THROTTLED',
        `too many failed logins ${scope === 'address' ? 'from this address' : 'for this user from this address'}; retry in ${seconds} s`,
        { headers: { 'Retry-After': String(seconds) } },
      ),
    };
  }
}
