import type { Logger } from '@pubsub/log';
import express from 'express';
import { once } from 'node:events';
import type { IncomingMessage } from 'node:http';
import { createServer, type Server } from 'node:https';
import type { AddressInfo, Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import { WebSocketServer, type WebSocket } from 'ws';
import { endpointRefusal, SERVICE_RIGHTS, type Account, type Right, type Users } from './access.js';
import type { AccessLimits } from './access-config.js';
import { AuthGate } from './auth-gate.js';
import { AddressLimit } from './address-limit.js';
import { ConnectionLimits, originRefusal } from './connection-limits.js';
import type { ConnectionContext, HttpHandler } from './context.js';
import { apiCors } from './cors.js';
import { heartbeat, trackPongs } from './heartbeat.js';
import type { ServiceMetrics } from './metrics.js';
import { errorBody, rejectUpgrade, sendRejection, type Rejection } from './reject.js';
import type { TokenKeys } from './token-config.js';
import { tokenEndpoint } from './token-endpoint.js';

export type ConnectionHandler = (ws: WebSocket, context: ConnectionContext) => void;

/**
 * A WebSocket endpoint whose URL is its own credential (a capability URL, `/streams/<id>`): the
 * request needs no Basic Auth or token. `authorize` decides from the last path segment (and the
 * query) before the upgrade, and names the account the connection runs as: its topic rights and
 * its share of the connection limits.
 */
export interface CapabilityEndpoint {
  authorize(capability: string, url: URL): { account: Account } | { rejection: Rejection };
  handler: ConnectionHandler;
}

/**
 * Answer of `GET /ready`: ready, or not with the reason; `details` (a bridge's sources, their
 * lag) are added to the JSON either way.
 */
export type Readiness = ({ ready: true } | { ready: false; reason: string }) & {
  details?: Readonly<Record<string, unknown>>;
};

export interface SecureWsServerOptions {
  /** Service name: the Basic Auth realm and the `service` of log lines. */
  name: string;
  host: string;
  port: number;
  /**
   * With `clientCa`, clients must present a certificate chaining to it or the TLS handshake fails;
   * `ciphers` are the TLS 1.2 suites offered (TLS 1.3 keeps OpenSSL's, all AEAD).
   */
  tls: { cert: string; key: string; clientCa?: string; ciphers?: string };
  users: Users;
  /**
   * The right a user needs for each of `endpoints` and `httpEndpoints`, by the same key
   * (`/metrics` needs `metrics`), or a list of rights any one of which will do. Endpoints needing
   * only service rights (push, pop, admin) refuse every browser `Origin`.
   */
  access: Readonly<Record<string, Right | readonly Right[]>>;
  /** Connection limits, allowed origins and auth-failure throttling. */
  limits: AccessLimits;
  /** WebSocket endpoints by exact path, e.g. `{ '/publish': onPublish }`. */
  endpoints: Record<string, ConnectionHandler>;
  /**
   * WebSocket endpoints at `<prefix>/<capability>`, by prefix (`{ '/streams': … }`). Log lines
   * and metrics name the prefix only: the capability is a credential.
   */
  capabilityEndpoints?: Readonly<Record<string, CapabilityEndpoint>>;
  /**
   * Refusals an endpoint decides from the request's URL before the upgrade (an unknown group), so
   * the client gets an HTTP status and JSON instead of an opened and closed socket.
   */
  upgradeChecks?: Readonly<Record<string, (url: URL) => Rejection | undefined>>;
  /**
   * HTTP endpoints by express route, GET unless a method comes first: `{ '/history': onHistory,
   * 'DELETE /groups/:name': onDelete }`.
   */
  httpEndpoints?: Record<string, HttpHandler>;
  /**
   * Sign-in tokens for browsers: `POST /api/token` issues them (its right comes from `access`)
   * and every endpoint accepts them besides Basic Auth. Unset: Basic Auth only.
   */
  tokens?: TokenKeys;
  /**
   * Static files by mount path, e.g. `{ '/console': dir }`: served from the directory (`/console`
   * redirects to `/console/`, which serves its index.html), behind the same gate as the endpoints,
   * with the right `access` gives the mount path.
   */
  staticDirs?: Readonly<Record<string, string>>;
  /** Whether the service can do its work now (its hops connected, its store writable). */
  readiness: () => Readiness;
  /** Served on `GET /metrics`, behind the same Basic Auth as the endpoints. */
  metrics: ServiceMetrics;
  maxPayloadBytes: number;
  heartbeatIntervalMs: number;
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

/** An HTTPS server that authenticates before upgrading, with a tracked set of WebSocket clients. */
export interface SecureWsServer {
  readonly port: number;
  /**
   * Admits a call of another transport as an HTTP request is admitted: limits, Basic Auth with
   * the same throttling, the right `access` gives its key. Refusals are logged and counted here.
   */
  admitCall(request: CallRequest): Promise<CallAdmission>;
  readonly clients: ReadonlySet<WebSocket>;
  /** Turns away new connections (503) from now on. */
  stopAccepting(): void;
  /** Closes every client with `code`, terminating those that have not closed by the deadline. */
  closeClients(code: number, reason: string, deadlineMs: number): Promise<void>;
  /** Stops the heartbeat and the listener; resolves once every socket is gone. */
  close(): Promise<void>;
}

const TOKEN_ROUTE = 'POST /api/token';

/** An upgrade request as the server's `upgrade` event hands it over. */
interface UpgradeRequest {
  req: IncomingMessage;
  socket: Duplex;
  head: Buffer;
}

// Slowloris guards: a client must send its headers and finish TLS within these.
const HEADERS_TIMEOUT_MS = 10_000;
const TLS_HANDSHAKE_TIMEOUT_MS = 10_000;

function urlOf(req: IncomingMessage): URL | undefined {
  try {
    return new URL(req.url ?? '/', 'https://localhost');
  } catch {
    return undefined;
  }
}

/**
 * Logs and counts a refused request: 401s are counted by the gate (pubsub_auth_failures_total),
 * the rest by code. Names the user that was tried, never the password.
 */
function logRefusal(
  options: SecureWsServerOptions,
  rejection: Rejection,
  fields: { path: string; remoteAddress: string | undefined; user: string | undefined; method?: string },
): void {
  const line = { ...fields, code: rejection.code, reason: rejection.message };
  if (rejection.code === 'AUTH_FAILED') {
    options.logger.info(line, 'authentication failed');
    return;
  }
  options.metrics.rejected.inc({ code: rejection.code });
  options.logger.info(line, fields.method === undefined ? 'handshake refused' : 'request refused');
}

/** The request's path, also under a mount (where `req.path` is relative to it). */
const fullPath = (req: express.Request) => req.baseUrl + req.path;

/**
 * What a log line names a request by: its route's pattern once one matched (`/api/streams/:id`),
 * because a path parameter can be a credential (a stream's capability id) and is never logged.
 */
const loggedPath = (req: express.Request) =>
  req.route === undefined ? fullPath(req) : req.baseUrl + String((req.route as { path: unknown }).path);

/** The rights `key` takes (any one will do); a missing entry is a programming error, caught at start. */
function rightOf(options: SecureWsServerOptions, key: string): readonly Right[] {
  if (key === '/metrics') return ['metrics'];
  const right = options.access[key];
  if (right === undefined) throw new TypeError(`no access right given for the endpoint ${key}`);
  return typeof right === 'string' ? [right] : right;
}

/** Why a request's `Origin` is refused on an endpoint taking `rights`, if it is. */
function originCheck(
  options: SecureWsServerOptions,
  req: IncomingMessage,
  rights: readonly Right[],
): Rejection | undefined {
  return originRefusal(req.headers.origin, {
    host: req.headers.host,
    allowed: options.limits.allowedOrigins,
    browsers: rights.some((right) => !SERVICE_RIGHTS.has(right)),
  });
}

/** What the HTTP endpoints share with the upgrade path: one gate, one set of limits, one connection count. */
interface Admission {
  accepting: () => boolean;
  gate: AuthGate;
  limits: ConnectionLimits;
  nextConnId: () => number;
}

function createHttpApp(
  options: SecureWsServerOptions,
  { accepting, gate, limits, nextConnId }: Admission,
): express.Express {
  const { name } = options;
  const paths = [
    ...Object.keys(options.endpoints),
    ...Object.keys(options.capabilityEndpoints ?? {}).map((prefix) => `${prefix}/:capability`),
  ];
  const app = express();
  app.disable('x-powered-by');
  // Probes for orchestrators: no credentials needed, nothing revealed but the state.
  app.get('/health', (_req, res) => {
    res.json({ status: 'ok', service: name });
  });
  app.get('/ready', (_req, res) => {
    const readiness: Readiness = accepting() ? options.readiness() : { ready: false, reason: 'shutting down' };
    const { details } = readiness;
    if (readiness.ready) res.json({ status: 'ready', service: name, ...details });
    else res.status(503).json({ status: 'not ready', service: name, reason: readiness.reason, ...details });
  });
  const refuse = (
    req: express.Request,
    res: express.Response,
    refusal: { rejection: Rejection; user?: string | undefined },
  ) => {
    const { rejection, user } = refusal;
    logRefusal(options, rejection, {
      path: loggedPath(req),
      method: req.method,
      remoteAddress: req.socket.remoteAddress,
      user,
    });
    sendRejection(res, rejection);
  };
  app.use('/api', apiCors(options.limits.allowedOrigins));
  /** What `admit` learnt of each admitted request, for the handler after it. */
  const contexts = new WeakMap<express.Request, ConnectionContext>();
  /**
   * Origin, limits, auth and the right; an admitted request passes on with its context. A
   * token must not buy the next one (`tokens: false` on the token route), or one stolen token
   * would last forever.
   */
  const admit =
    (right: readonly Right[], { tokens }: { tokens: boolean }): express.RequestHandler =>
    (req, res, next) => {
      // Scrapes must get through to a full service: that is when they matter most.
      const limited = right.some((each) => each !== 'metrics');
      const early = originCheck(options, req, right) ?? (limited ? limits.refusal() : undefined);
      if (early !== undefined) return refuse(req, res, { rejection: early });
      gate.admit(req, { tokens }).then((admission) => {
        if (!admission.ok) return refuse(req, res, admission);
        const { account } = admission;
        const user = account.name;
        const path = fullPath(req);
        const refusal = endpointRefusal(account, { path, right }) ?? (limited ? limits.refusal(user) : undefined);
        if (refusal !== undefined) return refuse(req, res, { rejection: refusal, user });
        const connId = nextConnId();
        if (limited) {
          limits.opened(user);
          res.on('close', () => limits.closed(user));
        }
        const url = new URL(req.originalUrl, 'https://localhost');
        const log = options.logger.child({ connId, path, user });
        const { metrics } = options;
        contexts.set(req, { connId, user, account, remoteAddress: req.socket.remoteAddress, url, log, metrics });
        next();
      }, next);
    };
  const httpEndpoints: Record<string, HttpHandler> = {
    ...options.httpEndpoints,
    ...(options.tokens !== undefined && { [TOKEN_ROUTE]: tokenEndpoint(options.tokens) }),
    '/metrics': options.metrics.endpoint(),
  };
  for (const [key, handler] of Object.entries(httpEndpoints)) {
    const [method, route] = key.includes(' ') ? (key.split(' ', 2) as [string, string]) : ['GET', key];
    const gateFor = admit(rightOf(options, key), { tokens: key !== TOKEN_ROUTE });
    app[method.toLowerCase() as 'get' | 'post' | 'delete'](route, gateFor, (req, res) =>
      handler(req, res, contexts.get(req) as ConnectionContext),
    );
  }
  for (const [mount, dir] of Object.entries(options.staticDirs ?? {})) {
    const files = express.static(dir, {
      index: 'index.html',
      // Pages are small and change with the service: revalidate, and allow no inline script or
      // foreign frame; fetches may go to other HTTPS origins (another service of the suite).
      setHeaders: (res) =>
        res.set({
          'Cache-Control': 'no-cache',
          'Content-Security-Policy': "default-src 'self'; connect-src 'self' https:; frame-ancestors 'none'",
          'X-Content-Type-Options': 'nosniff',
        }),
    });
    app.use(mount, admit(rightOf(options, mount), { tokens: true }), files);
  }
  // A WebSocket path reached without an upgrade is a client mistake worth a precise answer.
  app.all(paths, (_req, res) => {
    const message = `this endpoint speaks WebSocket only: connect with a wss:// client`;
    res
      .status(426)
      .set({ Upgrade: 'websocket', Connection: 'Upgrade' })
      .type('application/json')
      .send(errorBody({ status: 426, code: 'UPGRADE_REQUIRED', message }));
  });
  app.use((req, res) => {
    const message = `no such endpoint on ${name}: ${req.method} ${req.path}`;
    res
      .status(404)
      .type('application/json')
      .send(errorBody({ status: 404, code: 'NOT_FOUND', message }));
  });
  return app;
}

export async function startSecureWsServer(options: SecureWsServerOptions): Promise<SecureWsServer> {
  const { logger: log, name } = options;
  let accepting = true;
  const gate = new AuthGate({
    users: options.users,
    throttle: options.limits.authThrottle,
    realm: name,
    metrics: options.metrics,
    tokens: options.tokens,
  });
  const limits = new ConnectionLimits(options.limits);
  let nextConnId = 1;
  // Every WebSocket endpoint must say which right it needs: checked now, not at the first client.
  for (const path of Object.keys(options.endpoints)) rightOf(options, path);
  const server: Server = createServer(
    {
      cert: options.tls.cert,
      key: options.tls.key,
      ...(options.tls.clientCa !== undefined && {
        ca: options.tls.clientCa,
        requestCert: true,
        rejectUnauthorized: true,
      }),
      minVersion: 'TLSv1.2',
      ...(options.tls.ciphers !== undefined && { ciphers: options.tls.ciphers, honorCipherOrder: true }),
      handshakeTimeout: TLS_HANDSHAKE_TIMEOUT_MS,
    },
    createHttpApp(options, { accepting: () => accepting, gate, limits, nextConnId: () => nextConnId++ }),
  );
  // Before TLS and authentication, so one host cannot hold every socket (and TLS handshake) we have.
  const perAddress = new AddressLimit(options.limits.maxConnectionsPerAddress);
  server.on('connection', (socket: Socket) => {
    if (perAddress.admit(socket)) return;
    options.metrics.rejected.inc({ code: 'TOO_MANY_ADDRESS_CONNECTIONS' });
    log.debug({ remoteAddress: socket.remoteAddress }, 'connection refused: too many from this address');
    socket.destroy();
  });
  server.headersTimeout = HEADERS_TIMEOUT_MS;
  server.requestTimeout = HEADERS_TIMEOUT_MS * 3;
  const wss = new WebSocketServer({
    noServer: true,
    clientTracking: false,
    maxPayload: options.maxPayloadBytes,
    perMessageDeflate: false,
  });
  const clients = new Set<WebSocket>();

  const refuse = (
    socket: Duplex,
    rejection: Rejection,
    fields: { path: string; remoteAddress: string | undefined; user?: string | undefined },
  ): void => {
    logRefusal(options, rejection, { user: undefined, ...fields });
    rejectUpgrade(socket, rejection);
  };

  /** Opens the WebSocket of an admitted request and hands it to its endpoint; `path` names it in logs and metrics. */
  const accept = (
    { req, socket, head }: UpgradeRequest,
    admitted: { url: URL; account: Account; path: string; handler: ConnectionHandler },
  ): void => {
    const { url, account, path, handler } = admitted;
    const user = account.name;
    wss.handleUpgrade(req, socket, head, (ws) => {
      const connId = nextConnId++;
      limits.opened(user);
      const context: ConnectionContext = {
        connId,
        user,
        account,
        remoteAddress: req.socket.remoteAddress,
        url,
        log: log.child({ connId, path, user }),
        metrics: options.metrics,
      };
      clients.add(ws);
      options.metrics.connections.inc({ path });
      trackPongs(ws);
      // Without an 'error' listener one invalid frame would crash the process.
      ws.on('error', (err) => context.log.info({ err: err.message }, 'client socket error'));
      ws.on('close', (code, reason) => {
        clients.delete(ws);
        limits.closed(user);
        options.metrics.connections.dec({ path });
        context.log.debug({ code, reason: reason.toString() }, 'connection closed');
      });
      // Debug, as is the close: at info every client run would add lines to the operator's terminal.
      context.log.debug({ remoteAddress: context.remoteAddress }, 'connection opened');
      handler(ws, context);
    });
  };

  /** The capability endpoint a path is under, with the capability (its last segment). */
  const capabilityTarget = (path: string) => {
    const cut = path.lastIndexOf('/');
    const prefix = path.slice(0, cut);
    const endpoints = options.capabilityEndpoints ?? {};
    const endpoint = cut > 0 && Object.hasOwn(endpoints, prefix) ? endpoints[prefix] : undefined;
    const capability = path.slice(cut + 1);
    return endpoint === undefined || capability === '' ? undefined : { prefix, capability, endpoint };
  };

  /** A capability URL: the endpoint's own check stands in for Basic Auth and the right. */
  const upgradeCapability = (
    upgrading: UpgradeRequest,
    { url, target }: { url: URL; target: { prefix: string; capability: string; endpoint: CapabilityEndpoint } },
  ): void => {
    const { req, socket } = upgrading;
    const where = { path: `${target.prefix}/…`, remoteAddress: req.socket.remoteAddress };
    const early = originCheck(options, req, ['subscribe']) ?? limits.refusal();
    if (early !== undefined) return refuse(socket, early, where);
    const decision = target.endpoint.authorize(target.capability, url);
    if ('rejection' in decision) return refuse(socket, decision.rejection, where);
    const { account } = decision;
    const late = limits.refusal(account.name);
    if (late !== undefined) return refuse(socket, late, { ...where, user: account.name });
    if (socket.destroyed) return;
    accept(upgrading, { url, account, path: where.path, handler: target.endpoint.handler });
  };

  const upgrade = async (req: IncomingMessage, socket: Duplex, head: Buffer): Promise<void> => {
    const url = urlOf(req);
    const path = url?.pathname ?? '';
    const handler = Object.hasOwn(options.endpoints, path) ? options.endpoints[path] : undefined;
    const shuttingDown = () =>
      accepting ? undefined : { status: 503, code: 'SHUTTING_DOWN', message: `${name} is shutting down` };
    const stopping = shuttingDown();
    if (stopping !== undefined) {
      rejectUpgrade(socket, stopping);
      return;
    }
    const target = handler === undefined ? capabilityTarget(path) : undefined;
    if (url !== undefined && target !== undefined) return upgradeCapability({ req, socket, head }, { url, target });
    if (handler === undefined || url === undefined) {
      rejectUpgrade(socket, { status: 404, code: 'NOT_FOUND', message: `no such endpoint on ${name}: ${path}` });
      return;
    }
    const where = { path, remoteAddress: req.socket.remoteAddress };
    const right = rightOf(options, path);
    // Cheap refusals first: a foreign origin, a full service or a bad request costs no scrypt.
    const early = originCheck(options, req, right) ?? limits.refusal() ?? options.upgradeChecks?.[path]?.(url);
    if (early !== undefined) return refuse(socket, early, where);
    const admission = await gate.admit(req);
    if (!admission.ok) return refuse(socket, admission.rejection, { ...where, user: admission.user });
    const { account } = admission;
    const user = account.name;
    // Checked again after the await, and nothing is awaited from here to the upgrade's callback.
    const late = shuttingDown() ?? endpointRefusal(account, { path, right }) ?? limits.refusal(user);
    if (late !== undefined) return refuse(socket, late, { ...where, user });
    if (socket.destroyed) return;
    accept({ req, socket, head }, { url, account, path, handler });
  };

  // Without this a refused client certificate (mutual TLS) or a scanner leaves no trace here.
  server.on('tlsClientError', (err, tlsSocket) => {
    options.metrics.rejected.inc({ code: 'TLS_HANDSHAKE_FAILED' });
    log.info({ err: err.message, remoteAddress: tlsSocket.remoteAddress }, 'TLS handshake failed');
  });

  server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => {
    socket.on('error', () => socket.destroy());
    upgrade(req, socket, head).catch((err: unknown) => {
      log.error({ err }, 'upgrade failed');
      rejectUpgrade(socket, { status: 500, code: 'INTERNAL', message: 'internal server error' });
    });
  });

  const heartbeatTimer = setInterval(() => {
    for (const ws of clients) heartbeat(ws);
  }, options.heartbeatIntervalMs);
  heartbeatTimer.unref();

  server.listen(options.port, options.host);
  try {
    await once(server, 'listening');
  } catch (err) {
    clearInterval(heartbeatTimer);
    throw err;
  }
  const serverClosed = new Promise<void>((resolveClosed) => server.once('close', () => resolveClosed()));

  const admitCall = async ({ key, authorization, remoteAddress }: CallRequest): Promise<CallAdmission> => {
    const right = rightOf(options, key);
    const refuse = (rejection: Rejection, user?: string): CallAdmission => {
      logRefusal(options, rejection, { path: key, method: 'gRPC', remoteAddress, user });
      return { ok: false, rejection };
    };
    const stopping = (): Rejection | undefined =>
      accepting ? undefined : { status: 503, code: 'SHUTTING_DOWN', message: `${name} is shutting down` };
    const early = stopping() ?? limits.refusal();
    if (early !== undefined) return refuse(early);
    const headers = authorization === undefined ? {} : { authorization };
    const admission = await gate.admit({ headers, url: key, socket: { remoteAddress } }, { tokens: false });
    if (!admission.ok) return refuse(admission.rejection, admission.user);
    const { account } = admission;
    const user = account.name;
    const late = stopping() ?? endpointRefusal(account, { path: key, right }) ?? limits.refusal(user);
    if (late !== undefined) return refuse(late, user);
    limits.opened(user);
    const connId = nextConnId++;
    const log = options.logger.child({ connId, path: key, user });
    const url = new URL(key, 'https://localhost');
    const context = { connId, user, account, remoteAddress, url, log, metrics: options.metrics };
    let open = true;
    const done = () => {
      if (open) limits.closed(user);
      open = false;
    };
    return { ok: true, context, done };
  };

  return {
    port: (server.address() as AddressInfo).port,
    admitCall,
    clients,
    stopAccepting() {
      accepting = false;
    },
    async closeClients(code, reason, deadlineMs) {
      const closed = [...clients].map(
        (ws) =>
          new Promise<void>((resolveClose) => {
            ws.once('close', () => resolveClose());
            ws.close(code, reason);
          }),
      );
      let timer: NodeJS.Timeout | undefined;
      const deadline = new Promise<void>((resolveDeadline) => {
        timer = setTimeout(resolveDeadline, deadlineMs);
      });
      await Promise.race([Promise.all(closed), deadline]);
      clearTimeout(timer);
      for (const ws of clients) ws.terminate();
    },
    async close() {
      accepting = false;
      clearInterval(heartbeatTimer);
      server.close();
      for (const ws of clients) ws.terminate();
      server.closeAllConnections();
      await serverClosed;
    },
  };
}
