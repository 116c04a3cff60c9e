import type { Logger } from '@pubsub/log';
import { endpointRefusal, SERVICE_RIGHTS, type Account, type Right, type Users } from './access.js';
import type { AccessLimits } from './access-config.js';
import { AuthGate, type AdmissionRequest } from './auth-gate.js';
import { ConnectionLimits, originRefusal } from './connection-limits.js';
import type { ConnectionContext } from './context.js';
import type { ServiceMetrics } from './metrics.js';
import { rejectionOf, type Rejection } from './reject.js';
import type { TokenKeys } from './token-config.js';

export interface AdmissionOptions {
  /** Service name: the Basic Auth realm and the `service` of log lines. */
  name: string;
  users: Users;
  /**
   * The right a user needs for each of `endpoints` and `httpEndpoints`, by the same key
   * (`/metrics` needs `metrics`), or a list of rights any one of which will do. Endpoints needing
   * only service rights (push, pop, admin) refuse every browser `Origin`.
   */
  access: Readonly<Record<string, Right | readonly Right[]>>;
  /** Connection limits, allowed origins and auth-failure throttling. */
  limits: AccessLimits;
  /**
   * Sign-in tokens for browsers: `POST /api/token` issues them (its right comes from `access`)
   * and every endpoint accepts them besides Basic Auth. Unset: Basic Auth only.
   */
  tokens?: TokenKeys;
  /** Served on `GET /metrics`, behind the same Basic Auth as the endpoints. */
  metrics: ServiceMetrics;
  logger: Logger;
}

/** A call of another transport (gRPC) to admit through the server's gate. */
export interface CallRequest {
  /** Its key in `access`, e.g. `/pubsub.v1.Subscriber/Subscribe` (also its log `path`). */
  readonly key: string;
  /** The call's `authorization` (Basic Auth only: tokens are for browsers). */
  readonly authorization: string | undefined;
  readonly remoteAddress: string | undefined;
}

/** An admitted call counts as a connection of its user until `done()`. */
export type CallAdmission =
  | { readonly ok: true; readonly context: ConnectionContext; readonly done: () => void }
  | { readonly ok: false; readonly rejection: Rejection };

/** Where a request is headed, and what of the pipeline applies to it. */
export interface Passage {
  /** The rights the endpoint takes, any one of which will do. */
  readonly rights: readonly Right[];
  /** The request's path. */
  readonly path: string;
  /**
   * What log lines and a FORBIDDEN answer (its reason is logged) name the request by: a route's
   * pattern, never a credential; `path` if unset.
   */
  readonly loggedPath?: string;
  /** An HTTP method or `gRPC`; none for a WebSocket handshake. */
  readonly method?: string;
  /** Counts against the connection limits; false for scrapes, which must reach a full service. */
  readonly limited: boolean;
  /** Refused once the server stops accepting; plain HTTP requests are answered while it drains. */
  readonly whileAccepting: boolean;
  /** Sign-in tokens count besides Basic Auth (never for the route that issues them). */
  readonly tokens: boolean;
  /** A refusal the endpoint decides from the request alone (an unknown group), before the gate. */
  readonly check?: () => Rejection | undefined;
}

/** A passage's outcome: what `enter` returned, or the refusal (already logged and counted). */
export type Passed<T> =
  { readonly ok: true; readonly value: T } | { readonly ok: false; readonly rejection: Rejection };

/**
 * What every way in shares (WebSocket upgrades, HTTP routes, gRPC calls): origin → connection
 * limits → auth gate → right → shutting down, one gate with one throttle, one set of limits and
 * one sequence of connection ids.
 */
export class AdmissionPipeline {
  readonly #options: AdmissionOptions;
  readonly gate: AuthGate;
  readonly limits: ConnectionLimits;
  #accepting = true;
  #nextConnId = 1;

  constructor(options: AdmissionOptions) {
    this.#options = options;
    this.gate = new AuthGate({
      users: options.users,
      throttle: options.limits.authThrottle,
      realm: options.name,
      metrics: options.metrics,
      tokens: options.tokens,
    });
    this.limits = new ConnectionLimits(options.limits);
  }

  get accepting(): boolean {
    return this.#accepting;
  }

  /** Turns away new connections (503) from now on. */
  stopAccepting(): void {
    this.#accepting = false;
  }

  /** The 503 every new connection gets once the server stops accepting. */
  shuttingDown(): Rejection | undefined {
    if (this.#accepting) return undefined;
    return rejectionOf('SHUTTING_DOWN', `${this.#options.name} is shutting down`);
  }

  /** The rights `key` takes (any one will do); a missing entry is a programming error, caught at start. */
  rightOf(key: string): readonly Right[] {
    if (key === '/metrics') return ['metrics'];
    const right = this.#options.access[key];
    if (right === undefined) throw new TypeError(`no access right given for the endpoint ${key}`);
    return typeof right === 'string' ? [right] : right;
  }

  /** Why a request's `Origin` is refused on an endpoint taking `rights`, if it is. */
  originCheck(req: Pick<AdmissionRequest, 'headers'>, rights: readonly Right[]): Rejection | undefined {
    return originRefusal(req.headers.origin, {
      host: req.headers.host,
      allowed: this.#options.limits.allowedOrigins,
      browsers: rights.some((right) => !SERVICE_RIGHTS.has(right)),
    });
  }

  /**
   * Runs `req` through the pipeline, cheap refusals first (a foreign origin, a full service or a
   * bad request costs no scrypt). After the gate's await everything is checked again and `enter`
   * runs in the same turn, so no other request can take the slot the checks saw free.
   */
  async pass<T>(req: AdmissionRequest, passage: Passage, enter: (account: Account) => T): Promise<Passed<T>> {
    const { rights, limited } = passage;
    const stopping = () => (passage.whileAccepting ? this.shuttingDown() : undefined);
    const early =
      stopping() ?? this.originCheck(req, rights) ?? (limited ? this.limits.refusal() : undefined) ?? passage.check?.();
    if (early !== undefined) return this.#refuse(req, passage, { rejection: early, user: undefined });
    const admission = await this.gate.admit(req, { tokens: passage.tokens });
    if (!admission.ok) return this.#refuse(req, passage, admission);
    const { account } = admission;
    const user = account.name;
    const late =
      stopping() ??
      // Named by what a log line may carry: the reason is logged, and a path can hold a credential.
      endpointRefusal(account, { path: passage.loggedPath ?? passage.path, right: rights }) ??
      (limited ? this.limits.refusal(user) : undefined);
    if (late !== undefined) return this.#refuse(req, passage, { rejection: late, user });
    return { ok: true, value: enter(account) };
  }

  /** Counts `user` as connected until the returned release is called (once or more). */
  hold(user: string): () => void {
    this.limits.opened(user);
    let held = true;
    return () => {
      if (held) this.limits.closed(user);
      held = false;
    };
  }

  /** A new connection id and the context an endpoint gets; `path` names it in log lines. */
  context(account: Account, where: { path: string; url: URL; remoteAddress: string | undefined }): ConnectionContext {
    const connId = this.#nextConnId++;
    const user = account.name;
    const log = this.#options.logger.child({ connId, path: where.path, user });
    const { url, remoteAddress } = where;
    return { connId, user, account, remoteAddress, url, log, metrics: this.#options.metrics };
  }

  /**
   * Admits a call of another transport as an HTTP request is admitted: limits, Basic Auth with
   * the same throttling, the right `access` gives its key. Refusals are logged and counted here.
   */
  async admitCall({ key, authorization, remoteAddress }: CallRequest): Promise<CallAdmission> {
    const headers = authorization === undefined ? {} : { authorization };
    const request = { headers, url: key, socket: { remoteAddress } };
    const passage = { rights: this.rightOf(key), path: key, method: 'gRPC', limited: true, whileAccepting: true };
    const passed = await this.pass(request, { ...passage, tokens: false }, (account) => ({
      context: this.context(account, { path: key, url: new URL(key, 'https://localhost'), remoteAddress }),
      done: this.hold(account.name),
    }));
    return passed.ok ? { ok: true, ...passed.value } : passed;
  }

  /**
   * Logs and counts a refused request: 401s are counted by the gate (pubsub_auth_failures_total),
   * the rest by code. Names the user that was tried, never the password.
   */
  logRefusal(
    rejection: Rejection,
    fields: { path: string; remoteAddress: string | undefined; user?: string | undefined; method?: string },
  ): void {
    const line = { user: undefined, ...fields, code: rejection.code, reason: rejection.message };
    if (rejection.code === 'AUTH_FAILED') {
      this.#options.logger.info(line, 'authentication failed');
      return;
    }
    this.#options.metrics.refused(rejection.code);
    this.#options.logger.info(line, fields.method === undefined ? 'handshake refused' : 'request refused');
  }

  #refuse<T>(
    req: AdmissionRequest,
    passage: Passage,
    refusal: { rejection: Rejection; user: string | undefined },
  ): Passed<T> {
    const { rejection, user } = refusal;
    const path = passage.loggedPath ?? passage.path;
    const remoteAddress = req.socket.remoteAddress;
    this.logRefusal(rejection, {
      path,
      remoteAddress,
      user,
      ...(passage.method !== undefined && { method: passage.method }),
    });
    return { ok: false, rejection };
  }
}
