import { createLogger, type Logger } from '@pubsub/log';
import type { Counter } from 'prom-client';
import type { WebSocket } from 'ws';
import type { Users } from './access.js';
import { createQueueUpstream, loadServiceTls, warnOnDevUsers, type QueueHop } from './boot.js';
import { closeSlowClient } from './close.js';
import type { CommonConfig } from './common-config.js';
import { serviceHandle, type ServiceHandle } from './handle.js';
import { ServiceMetrics } from './metrics.js';
import { Outbox } from './outbox.js';
import { tokenKeys, type TokenConfig } from './token-config.js';
import type { Upstream } from './upstream.js';
import { drainDeadline } from './wait.js';
import { startSecureWsServer, type SecureWsServer, type SecureWsServerOptions } from './ws-server.js';

/** What every service with a hop to the msgqueue is configured with. */
export interface EdgeConfig extends CommonConfig {
  readonly host: string;
  readonly port: number;
  readonly users: Users;
  readonly queue: QueueHop;
  /** Sign-in tokens for browsers; a service without them takes Basic Auth only. */
  readonly tokens?: TokenConfig;
  /** The gRPC listener's port (0: any free one); undefined: no gRPC listener. */
  readonly grpcPort?: number | undefined;
}

/** A gRPC listener as the skeleton stops it. */
export interface EdgeGrpc {
  readonly port: number;
  stop(deadlineMs: number): Promise<void>;
}

/** What the skeleton has made by the time the service wires its own parts. */
export interface EdgeParts {
  readonly log: Logger;
  readonly tls: { cert: string; key: string; ciphers: string };
  /** Not started yet: it dials once the server listens. */
  readonly upstream: Upstream;
  readonly metrics: ServiceMetrics;
  /**
   * The outbox of the WebSocket endpoints, flushed before the clients' close frames. A client
   * whose unsent bytes pass `maxBufferedBytes` gets `message` in its connection's log, `slow`
   * counted and a 4100 close.
   */
  outbox(slowClients: { maxBufferedBytes: number; slow: Counter; message: string }): Outbox;
}

/** A shutdown's one deadline: what is left, and what is left before a reserve kept for the last step. */
export type Deadline = ReturnType<typeof drainDeadline>;

/** The service's own part of the server and of its life. */
export interface EdgeWiring {
  /** Its endpoints and their rights; readiness is the hop's unless given. */
  server: Pick<SecureWsServerOptions, 'access' | 'endpoints' | 'capabilityEndpoints' | 'httpEndpoints' | 'staticDirs'> &
    Partial<Pick<SecureWsServerOptions, 'readiness'>>;
  /** Starts the gRPC listener on `grpcPort` (when the config sets one), admitting calls through `server`. */
  grpc?: (server: SecureWsServer, grpcPort: number) => Promise<EdgeGrpc>;
  /** Runs once the server listens and the hop dials. */
  start?: () => void;
  /** More fields of the `listening` log line. */
  listening?: Readonly<Record<string, unknown>>;
  /**
   * The service's drain, once the server takes no new connections: stop taking work, settle what
   * was taken. The skeleton then flushes the outbox and closes the clients, the gRPC listener and
   * the hop (a hop stopped here already stays stopped).
   */
  drain(deadline: Deadline): Promise<void>;
  /** After the server has closed: what the service keeps open until the end. */
  closed?: () => Promise<void>;
}

export interface EdgeService<C extends EdgeConfig> {
  /** `publisher`, `subscriber`, `bridge`: its logs' `service`, its metrics' prefix, `<NAME>_USERS`. */
  name: string;
  config: C;
  logger?: Logger | undefined;
  /** The msgqueue endpoint it dials (`msgqueue /pushmsg`), the hop (`config.queue` unless given), its query. */
  hop: { name: string; queue?: QueueHop; dialQuery?: () => Readonly<Record<string, string>> };
}

/**
 * The skeleton of a service on a msgqueue hop: logger, TLS, the development-user warning, the
 * upstream and its gauge, metrics, the outbox with slow-client close and per-connection logs,
 * the server with readiness from the hop, gRPC, `listening`, and a shutdown on one deadline.
 * `wire` adds what is the service's own.
 */
export async function startEdgeService<C extends EdgeConfig>(
  service: EdgeService<C>,
  wire: (parts: EdgeParts) => EdgeWiring | Promise<EdgeWiring>,
): Promise<ServiceHandle> {
  const { name, config } = service;
  const log = service.logger ?? createLogger({ service: name, level: config.logLevel });
  const tls = await loadServiceTls(config, log);
  warnOnDevUsers(config.users, `${name.toUpperCase()}_USERS`, log);
  const { hop } = service;
  const upstream = await createQueueUpstream(config, hop.queue ?? config.queue, {
    name: hop.name,
    logger: log,
    ...(hop.dialQuery !== undefined && { dialQuery: hop.dialQuery }),
  });
  const metrics = new ServiceMetrics(name);
  metrics.gauge({
    name: `pubsub_${name}_upstream_connected`,
    help: '1 while the msgqueue hop is connected',
    read: () => (upstream.connected ? 1 : 0),
  });
  const connectionLogs = new WeakMap<WebSocket, Logger>();
  let outbox: Outbox | undefined;
  const wiring = await wire({
    log,
    tls,
    upstream,
    metrics,
    outbox: ({ maxBufferedBytes, slow, message }) => {
      outbox = new Outbox({
        coalesce: config.coalesceWrites,
        maxBufferedBytes,
        onSlow: (ws) => {
          (connectionLogs.get(ws) ?? log).warn({ bufferedBytes: ws.bufferedAmount }, message);
          slow.inc();
          closeSlowClient(ws);
        },
      });
      return outbox;
    },
  });
  const endpoints: SecureWsServerOptions['endpoints'] = {};
  for (const [path, handler] of Object.entries(wiring.server.endpoints)) {
    endpoints[path] = (ws, context) => {
      connectionLogs.set(ws, context.log);
      handler(ws, context);
    };
  }
  const server = await startSecureWsServer({
    name,
    host: config.host,
    port: config.port,
    tls,
    users: config.users,
    ...(config.tokens !== undefined && { tokens: tokenKeys(config.tokens, log) }),
    limits: config.limits,
    maxPayloadBytes: config.maxPayloadBytes,
    heartbeatIntervalMs: config.heartbeatIntervalMs,
    logger: log,
    readiness: () => (upstream.connected ? { ready: true } : { ready: false, reason: 'msgqueue unreachable' }),
    metrics,
    ...wiring.server,
    endpoints,
  });
  let grpc: EdgeGrpc | undefined;
  try {
    const { grpcPort } = config;
    if (grpcPort !== undefined && wiring.grpc !== undefined) grpc = await wiring.grpc(server, grpcPort);
  } catch (err) {
    await server.close();
    throw err;
  }
  // Listening first, so clients can subscribe before the first message is routed.
  upstream.start();
  wiring.start?.();
  log.info({ port: server.port, host: config.host, ...wiring.listening, grpcPort: grpc?.port }, 'listening');

  const shutdown = async () => {
    log.info('draining');
    const deadline = drainDeadline(config.shutdownTimeoutMs);
    server.stopAccepting();
    await wiring.drain(deadline);
    // The last acks, errors and messages go out before the close frames.
    outbox?.flush();
    await Promise.all([
      server.closeClients('SHUTTING_DOWN', deadline.left()),
      grpc?.stop(deadline.left()),
      upstream.stop(Math.min(2_000, deadline.left())),
    ]);
    await server.close();
    await wiring.closed?.();
    log.info('closed');
  };
  return serviceHandle(server.port, shutdown, { grpcPort: grpc?.port });
}
