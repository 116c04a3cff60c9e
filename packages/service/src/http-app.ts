import express from 'express';
import type { Right } from './access.js';
import type { AdmissionOptions, AdmissionPipeline } from './admission.js';
import type { ConnectionContext, HttpHandler } from './context.js';
import { apiCors } from './cors.js';
import { errorBody, rejectionOf, sendRejection } from './reject.js';
import { tokenEndpoint } from './token-endpoint.js';

/**
 * Answer of `GET /ready`: ready, or not with the reason; `details` (a bridge's sources, their
 * lag) are added to the JSON either way.
 */
export type Readiness = ({ ready: true } | { ready: false; reason: string }) & {
  details?: Readonly<Record<string, unknown>>;
};

/** What a service serves over plain HTTPS besides its WebSocket endpoints. */
export interface HttpRoutes {
  /**
   * HTTP endpoints by express route, GET unless a method comes first: `{ '/history': onHistory,
   * 'DELETE /groups/:name': onDelete }`.
   */
  httpEndpoints?: Record<string, HttpHandler>;
  /**
   * Static files by mount path, e.g. `{ '/console': dir }`: served from the directory (`/console`
   * redirects to `/console/`, which serves its index.html), behind the same gate as the endpoints,
   * with the right `access` gives the mount path.
   */
  staticDirs?: Readonly<Record<string, string>>;
  /** Whether the service can do its work now (its hops connected, its store writable). */
  readiness: () => Readiness;
}

export interface HttpAppOptions extends AdmissionOptions, HttpRoutes {
  /** The WebSocket endpoints' express paths: reached without an upgrade, they answer 426. */
  upgradePaths: readonly string[];
}

const TOKEN_ROUTE = 'POST /api/token';

/** The request's path, also under a mount (where `req.path` is relative to it). */
const fullPath = (req: express.Request) => req.baseUrl + req.path;

/**
 * What a log line names a request by: its route's pattern once one matched (`/api/streams/:id`),
 * because a path parameter can be a credential (a stream's capability id) and is never logged.
 */
const loggedPath = (req: express.Request) =>
  req.route === undefined ? fullPath(req) : req.baseUrl + String((req.route as { path: unknown }).path);

const STATIC_HEADERS = {
  'Cache-Control': 'no-cache',
  'Content-Security-Policy': "default-src 'self'; connect-src 'self' https:; frame-ancestors 'none'",
  'X-Content-Type-Options': 'nosniff',
};

/** The express app of a service: probes, `/metrics`, its HTTP endpoints and static files behind `admission`, 426/404. */
export function createHttpApp(options: HttpAppOptions, admission: AdmissionPipeline): express.Express {
  const { name } = options;
  const app = express();
  app.disable('x-powered-by');
  // Probes for orchestrators: no credentials needed, nothing revealed but the state.
  app.get('/health', (_req, res) => {
    res.json({ status: 'ok', service: name });
  });
  app.get('/ready', (_req, res) => {
    const readiness: Readiness = admission.accepting ? options.readiness() : { ready: false, reason: 'shutting down' };
    const { details } = readiness;
    if (readiness.ready) res.json({ status: 'ready', service: name, ...details });
    else res.status(503).json({ status: 'not ready', service: name, reason: readiness.reason, ...details });
  });
  app.use('/api', apiCors(options.limits.allowedOrigins));
  /** What `admit` learnt of each admitted request, for the handler after it. */
  const contexts = new WeakMap<express.Request, ConnectionContext>();
  /**
   * Origin, limits, auth and the right; an admitted request passes on with its context. A
   * token must not buy the next one (`tokens: false` on the token route), or one stolen token
   * would last forever.
   */
  const admit =
    (rights: readonly Right[], { tokens }: { tokens: boolean }): express.RequestHandler =>
    (req, res, next) => {
      // Scrapes must get through to a full service: that is when they matter most.
      const limited = rights.some((each) => each !== 'metrics');
      const path = fullPath(req);
      const logged = loggedPath(req);
      const passage = { rights, path, loggedPath: logged, method: req.method, limited, tokens };
      admission
        .pass(req, { ...passage, whileAccepting: false }, (account) => {
          if (limited) res.on('close', admission.hold(account.name));
          const url = new URL(req.originalUrl, 'https://localhost');
          contexts.set(req, admission.context(account, { path: logged, url, remoteAddress: req.socket.remoteAddress }));
          next();
        })
        .then((passed) => {
          if (!passed.ok) sendRejection(res, passed.rejection);
        }, next);
    };
  const httpEndpoints: Record<string, HttpHandler> = {
    ...options.httpEndpoints,
    ...(options.tokens !== undefined && { [TOKEN_ROUTE]: tokenEndpoint(options.tokens) }),
    '/metrics': options.metrics.endpoint(),
  };
  for (const [key, handler] of Object.entries(httpEndpoints)) {
    const [method, route] = key.includes(' ') ? (key.split(' ', 2) as [string, string]) : ['GET', key];
    const gateFor = admit(admission.rightOf(key), { tokens: key !== TOKEN_ROUTE });
    app[method.toLowerCase() as 'get' | 'post' | 'delete'](route, gateFor, (req, res) =>
      handler(req, res, contexts.get(req) as ConnectionContext),
    );
  }
  for (const [mount, dir] of Object.entries(options.staticDirs ?? {})) {
    // Pages are small and change with the service: revalidate, and allow no inline script or
    // foreign frame; fetches may go to other HTTPS origins (another service of the suite).
    const files = express.static(dir, { index: 'index.html', setHeaders: (res) => res.set(STATIC_HEADERS) });
    app.use(mount, admit(admission.rightOf(mount), { tokens: true }), files);
  }
  // A WebSocket path reached without an upgrade is a client mistake worth a precise answer.
  app.all([...options.upgradePaths], (_req, res) => {
    const message = `this endpoint speaks WebSocket only: connect with a wss:// client`;
    res
      .status(426)
      .set({ Upgrade: 'websocket', Connection: 'Upgrade' })
      .type('application/json')
      .send(errorBody(rejectionOf('UPGRADE_REQUIRED', message)));
  });
  app.use((req, res) => {
    const message = `no such endpoint on ${name}: ${req.method} ${req.path}`;
    res
      .status(404)
      .type('application/json')
      .send(errorBody(rejectionOf('NOT_FOUND', message)));
  });
  return app;
}
