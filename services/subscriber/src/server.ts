import type { Logger } from '@pubsub/log';
import { loadHopTls, startEdgeService, type EdgeParts, type EdgeWiring, type ServiceHandle } from '@pubsub/service';
import { mkdir } from 'node:fs/promises';
import { GRPC_METHODS } from '@pubsub/protocol';
import { fileURLToPath } from 'node:url';
import { CatchUp } from './catch-up.js';
import type { SubscriberConfig } from './config.js';
import { Delivery, type LiveStream } from './delivery.js';
import type { GrpcSink } from './grpc-sink.js';
import { LogSource } from './log-source.js';
import type { Reader } from './reader.js';
import { TopicRegistry } from './topics.js';
import type { SseSink } from './sse-sink.js';
import { handleEvents } from './sse-subscribe.js';
import { statsEndpoint } from './stats.js';
import { streamsApi } from './stream-api.js';
import { streamEndpoint } from './stream-subscribe.js';
import { StreamRegistry } from './streams.js';
import { UserReaders } from './user-readers.js';
import { TopicRates } from './topic-rates.js';
import { handleSubscribe } from './ws-subscribe.js';
import { setUpWebhooks, WEBHOOK_ACCESS } from './webhook-setup.js';

/** How long a browser waits before it reconnects a dropped event stream. */
const SSE_RETRY_MS = 2_000;
/** The web console's static files (docs/operations.md#web-console). */
const CONSOLE_DIR = fileURLToPath(new URL('../console', import.meta.url));

export type { SubscriberConfig } from './config.js';
export { ENV_VARIABLES, loadConfig } from './config.js';

/** `from`/`epoch` for `/popmsg`: the first offset this node has not routed, once it has routed any. */
function liveStart(live: LiveStream): Record<string, string> {
  if (live.epoch === undefined || live.routedThrough === 0) return {};
  return { from: String(live.routedThrough + 1), epoch: live.epoch };
}

/** The msgqueue packs up to this many messages per frame for us, each with its log offset. */
function popUrls(config: SubscriberConfig): string[] {
  return config.queue.urls.map((url) => {
    const popUrl = new URL(url);
    popUrl.searchParams.set('batch', String(config.hopBatchMessages));
    popUrl.searchParams.set('offsets', '1');
    return popUrl.toString();
  });
}

/** The subscriber's counters of the live stream (routed, sent, dropped, latency). */
function deliveryCounters(metrics: EdgeParts['metrics']) {
  return {
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
}

/** Starts the subscriber: clients subscribe on `/subscribe`, messages come from the msgqueue. */
export function start(config: SubscriberConfig, deps: { logger?: Logger } = {}): Promise<ServiceHandle> {
  const startedAt = Date.now();
  let delivery: Delivery | undefined;
  const hop = {
    name: 'msgqueue /popmsg',
    queue: { ...config.queue, urls: popUrls(config) },
    // A cluster node tells each msgqueue node it dials what it has had, so one that does not
    // know its group yet makes it there and not at the end of the log.
    ...(config.nodeId !== undefined && { dialQuery: () => (delivery === undefined ? {} : liveStart(delivery)) }),
  };
  return startEdgeService({ name: 'subscriber', config, logger: deps.logger, hop }, async (edge) => {
    const wiring = await wire(config, edge, startedAt);
    delivery = wiring.delivery;
    return wiring;
  });
}

async function wire(
  config: SubscriberConfig,
  edge: EdgeParts,
  startedAt: number,
): Promise<EdgeWiring & { delivery: Delivery }> {
  const { log, upstream, metrics } = edge;
  // Only this service's user may read what it keeps there (webhook secrets among it).
  await mkdir(config.dataDir, { recursive: true, mode: 0o700 });
  const topics = new TopicRegistry<Reader>();
  const hopTls = await loadHopTls(config);
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
  const slowConsumers = metrics.counter({
    name: 'pubsub_subscriber_slow_consumers_total',
    help: 'Clients closed with 4100: their unsent bytes passed the hard limit, or they read nothing within the stall timeout',
  });
  const counters = deliveryCounters(metrics);
  const outbox = edge.outbox({
    // Readers behind are filled page by page below the high-water mark; only replies to a
    // client that sends commands without reading can pass this.
    maxBufferedBytes: config.maxBufferedBytes + 4 * config.catchUpPageBytes,
    slow: slowConsumers,
    message: 'closing slow consumer',
  });
  const source = new LogSource({
    hop: config.queue,
    group: config.group,
    ...hopTls,
    backoffMaxMs: config.backoff.maxMs,
  });
  upstream.on('open', () => source.retryNow());
  const rates = new TopicRates();
  const delivery: Delivery = new Delivery(upstream, topics, {
    logger: log,
    counters,
    rates,
    highWaterBytes: config.maxBufferedBytes,
    onBehind: (reader, position) => catchUp.behind(reader, position),
  });
  const catchUp = new CatchUp({
    source,
    live: delivery,
    lowWaterBytes: Math.floor(config.maxBufferedBytes / 2),
    pageBytes: config.catchUpPageBytes,
    stallTimeoutMs: config.stallTimeoutMs,
    logger: log,
    counters: {
      deliveries: counters.deliveries,
      pages: metrics.counter({
        name: 'pubsub_subscriber_catchup_pages_total',
        help: 'Pages of the log read to fill clients that fell behind the live stream',
      }),
      stalled: slowConsumers,
    },
  });
  metrics.gauge({
    name: 'pubsub_subscriber_readers_behind',
    help: 'Clients filled from the log because they fell behind the live stream',
    read: () => catchUp.behindCount,
  });

  const userReaders = new UserReaders();
  const sessionDeps = {
    topics,
    live: delivery,
    catchUp,
    source,
    maxSubscriptions: config.maxSubscriptions,
    maxUserSubscriptions: config.maxUserSubscriptions,
    userReaders,
  };
  const webhooks = await setUpWebhooks(config, {
    session: sessionDeps,
    stats: { topics, rates },
    connected: () => upstream.connected,
    metrics,
    logger: log,
  });
  const streams = new Set<SseSink>();
  const sseDeps = { ...sessionDeps, heartbeatIntervalMs: config.heartbeatIntervalMs, retryMs: SSE_RETRY_MS, streams };
  const streamRegistry = await StreamRegistry.open({
    dataDir: config.dataDir,
    idleTimeoutMs: config.streamIdleTimeoutMs,
    logger: log,
  });
  const grpcSinks = new Set<GrpcSink>();
  return {
    delivery,
    server: {
      access: {
        '/subscribe': 'subscribe',
        '/events': 'subscribe',
        'POST /api/token': 'subscribe',
        '/api/stats': 'subscribe',
        '/console': 'subscribe',
        'POST /api/streams': 'subscribe',
        'GET /api/streams': 'subscribe',
        // Its creator, or an admin user (operators end streams they did not make).
        'DELETE /api/streams/:id': ['subscribe', 'admin'],
        ...WEBHOOK_ACCESS,
        [GRPC_METHODS.subscribe]: 'subscribe',
      },
      endpoints: {
        '/subscribe': (ws, context) => handleSubscribe(ws, context, { ...sessionDeps, outbox }),
      },
      capabilityEndpoints: {
        '/streams': streamEndpoint({ ...sessionDeps, outbox, streams: streamRegistry, users: config.users }),
      },
      httpEndpoints: {
        ...streamsApi({
          streams: streamRegistry,
          source,
          queueConnected: () => upstream.connected,
          maxTopics: config.maxSubscriptions,
          maxUserStreams: config.maxUserStreams,
          idleTimeoutMs: config.streamIdleTimeoutMs,
        }),
        '/events': (req, res, context) => handleEvents(req, res, { context, deps: sseDeps }),
        '/api/stats': statsEndpoint({ topics, rates, catchUp, userReaders, source, startedAt, logger: log }),
        ...webhooks.endpoints,
      },
      staticDirs: { '/console': CONSOLE_DIR },
    },
    grpc: async (gate, grpcPort) => {
      const { startSubscriberGrpc } = await import('./grpc-listener.js');
      const grpcDeps = { ...sessionDeps, gate, sinks: grpcSinks, logger: log };
      return startSubscriberGrpc({ ...config, grpcPort }, { tls: edge.tls, deps: grpcDeps });
    },
    // Listening first, so clients can subscribe before the first message is routed.
    start: () => webhooks.start(),
    listening: { group: config.group, nodeId: config.nodeId },
    drain: async (deadline) => {
      // Their positions are saved before the live stream stops acknowledging.
      await webhooks.close();
      // Acknowledge what was routed; whatever the msgqueue sent after that it will send again.
      delivery.stop();
      catchUp.close();
      source.close();
      await upstream.stop(Math.min(2_000, deadline.left()));
      // What was routed reaches the clients before their close frames (the outbox is flushed next).
      for (const stream of streams) stream.close('SHUTTING_DOWN');
      for (const sink of grpcSinks) sink.close('SHUTTING_DOWN');
    },
    closed: () => streamRegistry.close(),
  };
}
