import { Forwarder, Ingress, userGuards } from '@pubsub/ingress';
import { createLogger, type Logger } from '@pubsub/log';
import { GRPC_METHODS, HOP_ENVELOPE_OVERHEAD_BYTES } from '@pubsub/protocol';
import {
  closeSlowClient,
  createQueueUpstream,
  drainDeadline,
  ServiceMetrics,
  eventWithin,
  loadServiceTls,
  Outbox,
  serviceHandle,
  startSecureWsServer,
  tokenKeys,
  warnOnDevUsers,
  type ServiceHandle,
} from '@pubsub/service';
import type { GrpcServer } from '@pubsub/grpc/server';
import type { WebSocket } from 'ws';
import type { PublisherConfig } from './config.js';
import { httpPublish } from './http-publish.js';
import { handlePublish } from './publish.js';

export type { PublisherConfig } from './config.js';
export { ENV_VARIABLES, loadConfig } from './config.js';

// Seconds an HTTP client told UNAVAILABLE or SHUTTING_DOWN waits: a reconnect of the msgqueue
// hop, or another instance taking over, is a matter of a second or so.
const RETRY_AFTER_UNAVAILABLE_S = 1;

/**
 * Starts the publisher: clients publish on `/publish` or `POST /api/messages`, messages go on
 * to the msgqueue.
 */
export async function start(config: PublisherConfig, deps: { logger?: Logger } = {}): Promise<ServiceHandle> {
  const log = deps.logger ?? createLogger({ service: 'publisher', level: config.logLevel });
  const tls = await loadServiceTls(config, log);
  warnOnDevUsers(config.users, 'PUBLISHER_USERS', log);

  const upstream = await createQueueUpstream(config, config.queue, { name: 'msgqueue /pushmsg', logger: log });
  const forwarder = new Forwarder(upstream, {
    maxBuffered: config.bufferMessages,
    batch: { maxMessages: config.hopBatchMessages, maxBytes: config.maxPayloadBytes + HOP_ENVELOPE_OVERHEAD_BYTES },
    logger: log,
  });

  // Clients that filled the buffer stop being read until the msgqueue catches up.
  const paused = new Set<WebSocket>();
  forwarder.on('drain', () => {
    for (const ws of paused) ws.resume();
    paused.clear();
  });
  const metrics = new ServiceMetrics('publisher');
  const acked = metrics.counter({ name: 'pubsub_publisher_acked_total', help: 'Publishes acknowledged to clients' });
  const slowClients = metrics.counter({
    name: 'pubsub_publisher_slow_clients_total',
    help: 'Clients closed with 4100 for not reading their acks',
  });
  const connectionLogs = new WeakMap<WebSocket, Logger>();
  const outbox = new Outbox({
    coalesce: config.coalesceWrites,
    maxBufferedBytes: config.maxBufferedBytes,
    onSlow: (ws) => {
      (connectionLogs.get(ws) ?? log).warn(
        { bufferedBytes: ws.bufferedAmount },
        'closing a client that does not read its acks',
      );
      slowClients.inc();
      closeSlowClient(ws);
    },
  });
  metrics.gauge({
    name: 'pubsub_publisher_buffered',
    help: 'Messages held until the msgqueue acknowledges them',
    read: () => forwarder.pending,
  });
  metrics.gauge({
    name: 'pubsub_publisher_upstream_connected',
    help: '1 while the msgqueue hop is connected',
    read: () => (upstream.connected ? 1 : 0),
  });
  let closing = false;
  const ingress = new Ingress({ forwarder, closing: () => closing, acked, rejected: metrics.rejected });
  const { rateLimit } = config;
  // Per user over HTTP and gRPC together: calls come and go, as requests do.
  const guardOf = userGuards(rateLimit);
  const apiMessages = httpPublish({
    ingress,
    guardOf,
    maxPayloadBytes: config.maxPayloadBytes,
    maxBatch: config.http.maxBatch,
    maxBodyBytes: config.http.maxBodyBytes,
    retryAfter: {
      UNAVAILABLE: RETRY_AFTER_UNAVAILABLE_S,
      SHUTTING_DOWN: RETRY_AFTER_UNAVAILABLE_S,
      // Time for the next token of the bucket.
      ...(rateLimit !== undefined && { RATE_LIMITED: Math.max(1, Math.ceil(1 / rateLimit.perSecond)) }),
    },
  });
  const onBackpressure = (ws: WebSocket) => {
    ws.pause();
    paused.add(ws);
  };

  const server = await startSecureWsServer({
    name: 'publisher',
    host: config.host,
    port: config.port,
    tls,
    users: config.users,
    access: {
      '/publish': 'publish',
      'POST /api/messages': 'publish',
      'POST /api/token': 'publish',
      [GRPC_METHODS.publish]: 'publish',
    },
    tokens: tokenKeys(config.tokens, log),
    limits: config.limits,
    maxPayloadBytes: config.maxPayloadBytes,
    heartbeatIntervalMs: config.heartbeatIntervalMs,
    logger: log,
    readiness: () => (upstream.connected ? { ready: true } : { ready: false, reason: 'msgqueue unreachable' }),
    metrics,
    endpoints: {
      '/publish': (ws, context) => {
        connectionLogs.set(ws, context.log);
        ws.on('close', () => paused.delete(ws));
        handlePublish(ws, context, { ingress, outbox, onBackpressure, rateLimit });
      },
    },
    httpEndpoints: { 'POST /api/messages': apiMessages },
  });
  let grpc: GrpcServer | undefined;
  try {
    const { grpcPort } = config;
    if (grpcPort !== undefined) {
      const { startPublisherGrpc } = await import('./grpc-listener.js');
      const deps = { ingress, guardOf, gate: server, maxPayloadBytes: config.maxPayloadBytes, logger: log };
      grpc = await startPublisherGrpc({ ...config, grpcPort }, { tls, deps });
    }
  } catch (err) {
    await server.close();
    throw err;
  }
  upstream.start();
  log.info({ port: server.port, host: config.host, grpcPort: grpc?.port }, 'listening');

  const shutdown = async () => {
    log.info('draining');
    // One deadline for every step; the last part of it is kept for closing the clients with 1001.
    const deadline = drainDeadline(config.shutdownTimeoutMs);
    const closeReserve = Math.min(1_000, config.shutdownTimeoutMs / 4);
    server.stopAccepting();
    // From now on publishes are refused, and paused clients must be read to see their close.
    closing = true;
    for (const ws of paused) ws.resume();
    paused.clear();
    if (forwarder.pending > 0) {
      await eventWithin(forwarder, 'idle', deadline.leftBefore(closeReserve));
    }
    if (forwarder.pending > 0) {
      log.error({ count: forwarder.pending }, 'msgqueue did not acknowledge every message; clients are told');
      forwarder.failAll('SHUTTING_DOWN');
    }
    // The last acks and errors go out before the close frames.
    outbox.flush();
    // Nothing is left for the msgqueue hop: it closes while the clients do.
    await Promise.all([
      server.closeClients(1001, 'server shutting down', deadline.left()),
      grpc?.stop(deadline.left()),
      upstream.stop(1001, 'shutting down', Math.min(2_000, deadline.left())),
    ]);
    await server.close();
    log.info('closed');
  };
  return serviceHandle(server.port, shutdown, { grpcPort: grpc?.port });
}
