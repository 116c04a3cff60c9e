import type { Forwarder } from '@pubsub/ingress';
import type { ServiceMetrics } from '@pubsub/service';
import type { Counter } from 'prom-client';
import type { Source, SourceName } from './source.js';

/** The counters the sources add to; the gauges are read from them at each scrape. */
export interface BridgeCounters {
  /** Messages stored by the msgqueue (resends it had already included, see `duplicates`). */
  readonly stored: Counter<'source'>;
  /** Resends the msgqueue recognised by id and did not store again. */
  readonly duplicates: Counter<'source'>;
  /** Messages refused as bad input and dead-lettered, by error code. */
  readonly deadLetters: Counter<'source' | 'code'>;
  /** Source connections lost or refused. */
  readonly disconnects: Counter<'source'>;
}

export function bridgeCounters(metrics: ServiceMetrics): BridgeCounters {
  return {
    stored: metrics.counter({
      name: 'pubsub_bridge_messages_total',
      help: 'Bridged messages the msgqueue acknowledged, by source',
      labelNames: ['source'],
    }),
    duplicates: metrics.counter({
      name: 'pubsub_bridge_duplicates_total',
      help: 'Bridged resends the msgqueue recognised by id (stored once), by source',
      labelNames: ['source'],
    }),
    deadLetters: metrics.counter({
      name: 'pubsub_bridge_dead_letters_total',
      help: 'Bridged messages refused as bad input and dead-lettered, by source and error code',
      labelNames: ['source', 'code'],
    }),
    disconnects: metrics.counter({
      name: 'pubsub_bridge_source_disconnects_total',
      help: 'Connections to a source lost or refused, by source',
      labelNames: ['source'],
    }),
  };
}

/** Gauges read from the sources and the forwarder at each scrape (the hop's is the skeleton's). */
export function bridgeGauges(
  metrics: ServiceMetrics,
  parts: { sources: readonly Source[]; forwarder: Forwarder },
): void {
  const { sources, forwarder } = parts;
  const each = (value: (source: Source) => number | undefined) =>
    sources.flatMap((source) => {
      const sample = value(source);
      return sample === undefined ? [] : [[{ source: source.name }, sample] as const];
    });
  metrics.gauge<'source'>({
    name: 'pubsub_bridge_source_connected',
    help: '1 while the bridge is connected to the source',
    labelNames: ['source'],
    read: () => each((source) => (source.status().connected ? 1 : 0)),
  });
  metrics.gauge<'source'>({
    name: 'pubsub_bridge_in_flight',
    help: 'Messages taken from the source and not yet acknowledged by the msgqueue',
    labelNames: ['source'],
    read: () => each((source) => source.status().inFlight),
  });
  const outbox = (name: SourceName) => sources.find((source) => source.name === name)?.status().outbox;
  metrics.gauge({
    name: 'pubsub_bridge_outbox_rows',
    help: 'Rows waiting in the PostgreSQL outbox table, as last counted',
    read: () => outbox('postgres')?.rows ?? 0,
  });
  metrics.gauge({
    name: 'pubsub_bridge_outbox_oldest_seconds',
    help: 'Age of the oldest row waiting in the PostgreSQL outbox table, as last read (0 when empty)',
    read: () => outbox('postgres')?.oldestSeconds ?? 0,
  });
  metrics.gauge({
    name: 'pubsub_bridge_buffered',
    help: 'Messages held until the msgqueue acknowledges them',
    read: () => forwarder.pending,
  });
}
