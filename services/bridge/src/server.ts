import { Forwarder, Ingress, publishGuard } from '@pubsub/ingress';
import type { Logger } from '@pubsub/log';
import { HOP_ENVELOPE_OVERHEAD_BYTES } from '@pubsub/protocol';
import { eventWithin, startEdgeService, type Readiness, type ServiceHandle } from '@pubsub/service';
import type { BridgeConfig } from './config.js';
import { Lane } from './lane.js';
import { bridgeCounters, bridgeGauges } from './metrics.js';
import { PostgresSource } from './postgres.js';
import { RabbitmqSource } from './rabbitmq.js';
import type { Source } from './source.js';

export type { BridgeConfig } from './config.js';
export { ENV_VARIABLES, loadConfig } from './config.js';
export { DEAD_LETTER_HEADERS } from './rabbitmq.js';

/** `GET /ready`: the msgqueue hop and every source connected; each source's state either way. */
function readiness(upstreamConnected: boolean, sources: readonly Source[]): Readiness {
  const details = { sources: Object.fromEntries(sources.map((source) => [source.name, source.status()])) };
  const down = sources.filter((source) => !source.status().connected).map((source) => source.name);
  if (!upstreamConnected) return { ready: false, reason: 'msgqueue unreachable', details };
  if (down.length > 0) return { ready: false, reason: `not connected to ${down.join(', ')}`, details };
  return { ready: true, details };
}

/**
 * Starts the bridge: messages from PostgreSQL (an outbox table, LISTEN/NOTIFY) and RabbitMQ (a
 * queue) go through the same ingress as the publisher's clients, as the configured user, and each
 * is settled at its source (row deleted, delivery acknowledged) only once the msgqueue holds it.
 */
export function start(config: BridgeConfig, deps: { logger?: Logger } = {}): Promise<ServiceHandle> {
  const hop = { name: 'msgqueue /pushmsg' };
  return startEdgeService({ name: 'bridge', config, logger: deps.logger, hop }, ({ log, upstream, metrics }) => {
    const forwarder = new Forwarder(upstream, {
      maxBuffered: config.bufferMessages,
      batch: { maxMessages: config.hopBatchMessages, maxBytes: config.maxPayloadBytes + HOP_ENVELOPE_OVERHEAD_BYTES },
      logger: log,
    });
    const acked = metrics.counter({
      name: 'pubsub_bridge_acked_total',
      help: 'Bridged messages the msgqueue acknowledged',
    });
    let closing = false;
    const ingress = new Ingress({ forwarder, closing: () => closing, acked, refused: (code) => metrics.refused(code) });
    // The identity's topic rights apply to every message; a trusted service has no rate limit.
    const client = { guard: publishGuard(config.publishAs, undefined), log };
    const counters = bridgeCounters(metrics);
    const lanes: Lane[] = [];
    const laneFor = (name: string) => {
      const lane = new Lane({
        ingress,
        forwarder,
        client,
        backoff: config.backoff,
        logger: log.child({ source: name }),
      });
      lanes.push(lane);
      return lane;
    };
    const sources: Source[] = [];
    if (config.postgres !== undefined) {
      sources.push(
        new PostgresSource({
          config: config.postgres,
          lane: laneFor('postgres'),
          counters,
          backoff: config.backoff,
          logger: log,
        }),
      );
    }
    if (config.rabbitmq !== undefined) {
      sources.push(
        new RabbitmqSource({
          config: config.rabbitmq,
          lane: laneFor('rabbitmq'),
          counters,
          backoff: config.backoff,
          logger: log,
        }),
      );
    }
    bridgeGauges(metrics, { sources, forwarder });

    return {
      server: { access: {}, endpoints: {}, readiness: () => readiness(upstream.connected, sources) },
      start: () => {
        for (const source of sources) source.start();
      },
      listening: { sources: sources.map((source) => source.name), publishAs: config.publishAs.user },
      drain: async (deadline) => {
        // Nothing new is taken; what was taken is still acknowledged at its source once stored.
        for (const source of sources) source.pause();
        closing = true;
        for (const lane of lanes) lane.stop();
        if (forwarder.pending > 0) await eventWithin(forwarder, 'idle', deadline.leftBefore(500));
        if (forwarder.pending > 0) {
          // Left unsettled at their sources: the next run sends them again with the same ids.
          log.warn(
            { count: forwarder.pending },
            'msgqueue did not acknowledge every bridged message; they stay at their sources',
          );
          forwarder.failAll('SHUTTING_DOWN');
        }
        await Promise.all(sources.map((source) => source.close()));
      },
    };
  });
}
