import { createLogger, type Logger } from '@pubsub/log';
import {
  createQueueUpstream,
  drainDeadline,
  ServiceMetrics,
  loadHopTls,
  closeSlowClient,
  loadServiceTls,
  Outbox,
  serviceHandle,
  startSecureWsServer,
  warnOnDevUsers,
  type ServiceHandle,
} from '@pubsub/service';
import type { WebSocket } from 'ws';
import type { SubscriberConfig } from './config.js';
import { Delivery } from './deliver.js';
import { handleSubscribe } from './subscribe.js';
import { TopicRegistry } from './topics.js';

export type { SubscriberConfig } from './config.js';
export { ENV_VARIABLES, loadConfig } from './config.js';

/** Starts the subscriber: clients subscribe on `/subscribe`, messages come from the msgqueue. */
export async function start(config: SubscriberConfig, deps: { logger?: Logger } = {}): Promise<ServiceHandle> {
  const log = deps.logger ?? createLogger({ service: 'subscriber', level: config.logLevel });
  const tls = await loadServiceTls(config, log);
  warnOnDevUsers(config.users, 'SUBSCRIBER_USERS', log);

  const topics = new TopicRegistry();
  const hopTls = await loadHopTls(config);
  // The msgqueue packs up to this many messages per frame for us.
  const popUrl = new URL(config.queue.url);
  popUrl.searchParams.set('batch', String(config.hopBatchMessages));
  const upstream = await createQueueUpstream(
    config,
    { ...config.queue, url: popUrl.toString() },
    { name: 'msgqueue /popmsg', logger: log },
  );
  const metrics = new ServiceMetrics('subscriber');
  metrics.gauge({
    name: 'pubsub_subscriber_topics',
    help: 'Topics with at least one subscriber',
    read: () => topics.topicCount,
  });
  metrics.gauge({
    name: 'pubsub_subscriber_subscriptions',
    help: 'Socket subscriptions, summed over topics',
    read: () => topics.subscriptionCount,
  });
  metrics.gauge({
    name: 'pubsub_subscriber_upstream_connected',
    help: '1 while the msgqueue hop is connected',
    read: () => (upstream.connected ? 1 : 0),
  });
  const slowConsumers = metrics.counter({
    name: 'pubsub_subscriber_slow_consumers_total',
    help: 'Clients closed with 4100 for not reading',
  });
  const counters = {
    routed: metrics.counter({
      name: 'pubsub_subscriber_routed_total',
      help: 'Messages taken from the msgqueue and routed',
    }),
    deliveries: metrics.counter({
      name: 'pubsub_subscriber_deliveries_total',
      help: 'Frames sent to subscribing clients',
    }),
    redeliveriesDropped: metrics.counter({
      name: 'pubsub_subscriber_redeliveries_dropped_total',
      help: 'Messages the msgqueue delivered again that had already been routed',
    }),
    latency: metrics.histogram({
      name: 'pubsub_subscriber_delivery_latency_seconds',
      help: 'From the publisher accepting a message to its routing to subscribed sockets (clocks of both hosts)',
      buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
    }),
  };
  const connectionLogs = new WeakMap<WebSocket, Logger>();
  const outbox = new Outbox({
    coalesce: config.coalesceWrites,
    maxBufferedBytes: config.maxBufferedBytes,
    onSlow: (ws) => {
      (connectionLogs.get(ws) ?? log).warn({ bufferedBytes: ws.bufferedAmount }, 'closing slow consumer');
      slowConsumers.inc();
      topics.removeSocket(ws);
      closeSlowClient(ws);
    },
  });
  const delivery = new Delivery(upstream, topics, { logger: log, counters, outbox });

  const server = await startSecureWsServer({
    name: 'subscriber',
    host: config.host,
    port: config.port,
    tls,
    users: config.users,
    endpointRole: 'client',
    limits: config.limits,
    maxPayloadBytes: config.maxPayloadBytes,
    heartbeatIntervalMs: config.heartbeatIntervalMs,
    logger: log,
    readiness: () => (upstream.connected ? { ready: true } : { ready: false, reason: 'msgqueue unreachable' }),
    metrics,
    endpoints: {
      '/subscribe': (ws, context) => {
        connectionLogs.set(ws, context.log);
        handleSubscribe(ws, context, {
          topics,
          delivery,
          outbox,
          history: { hop: config.queue, ...hopTls },
          maxSubscriptions: config.maxSubscriptions,
        });
      },
    },
  });
  // Listening first, so clients can subscribe before the first message is routed.
  upstream.start();
  log.info({ port: server.port, host: config.host }, 'listening');

  const shutdown = async () => {
    log.info('draining');
    const deadline = drainDeadline(config.shutdownTimeoutMs);
    server.stopAccepting();
    // Acknowledge what was routed; whatever the msgqueue sent after that it will send again.
    delivery.stop();
    await upstream.stop(1001, 'shutting down', Math.min(2_000, deadline.left()));
    // What was routed reaches the clients before their close frames.
    outbox.flush();
    await server.closeClients(1001, 'server shutting down', deadline.left());
    await server.close();
    log.info('closed');
  };
  return serviceHandle(server.port, shutdown);
}
