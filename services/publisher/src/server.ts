import { Forwarder, Ingress, userGuards } from '@pubsub/ingress';
import type { Logger } from '@pubsub/log';
import { GRPC_METHODS, HOP_ENVELOPE_OVERHEAD_BYTES } from '@pubsub/protocol';
import { eventWithin, startEdgeService, type ServiceHandle } from '@pubsub/service';
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
export function start(config: PublisherConfig, deps: { logger?: Logger } = {}): Promise<ServiceHandle> {
  const hop = { name: 'msgqueue /pushmsg' };
  return startEdgeService({ name: 'publisher', config, logger: deps.logger, hop }, (edge) => {
    const { log, upstream, metrics } = edge;
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
    const acked = metrics.counter({ name: 'pubsub_publisher_acked_total', help: 'Publishes acknowledged to clients' });
    const outbox = edge.outbox({
      maxBufferedBytes: config.maxBufferedBytes,
      slow: metrics.counter({
        name: 'pubsub_publisher_slow_clients_total',
        help: 'Clients closed with 4100 for not reading their acks',
      }),
      message: 'closing a client that does not read its acks',
    });
    metrics.gauge({
      name: 'pubsub_publisher_buffered',
      help: 'Messages held until the msgqueue acknowledges them',
      read: () => forwarder.pending,
    });
    let closing = false;
    const ingress = new Ingress({ forwarder, closing: () => closing, acked, refused: (code) => metrics.refused(code) });
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

    return {
      server: {
        access: {
          '/publish': 'publish',
          'POST /api/messages': 'publish',
          'POST /api/token': 'publish',
          [GRPC_METHODS.publish]: 'publish',
        },
        endpoints: {
          '/publish': (ws, context) => {
            ws.on('close', () => paused.delete(ws));
            handlePublish(ws, context, { ingress, outbox, onBackpressure, rateLimit });
          },
        },
        httpEndpoints: { 'POST /api/messages': apiMessages },
      },
      grpc: async (gate, grpcPort) => {
        const { startPublisherGrpc } = await import('./grpc-listener.js');
        const grpcDeps = { ingress, guardOf, gate, maxPayloadBytes: config.maxPayloadBytes, logger: log };
        return startPublisherGrpc({ ...config, grpcPort }, { tls: edge.tls, deps: grpcDeps });
      },
      drain: async (deadline) => {
        // The last part of the deadline is kept for closing the clients with 1001.
        const closeReserve = Math.min(1_000, config.shutdownTimeoutMs / 4);
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
        // Nothing is left for the msgqueue hop: it closes while the clients do.
      },
    };
  });
}
