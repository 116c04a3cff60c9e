import type { ErrorCode } from '@pubsub/protocol';
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry, type LabelValues } from 'prom-client';
import type { Request, Response } from 'express';

/**
 * One Prometheus registry per service instance (several run in one test process), with the
 * metrics every service has; services add their own through `counter` and `gauge`.
 */
export class ServiceMetrics {
  readonly registry = new Registry();
  /** Open WebSocket connections by endpoint path. */
  readonly connections: Gauge<'path'>;
  /** Upgrade requests refused for missing or wrong credentials. */
  readonly authFailures: Counter;
  /** Logins throttled after repeated failures: refused unchecked (address, pair) or slowed (user). */
  readonly authThrottled: Counter<'scope'>;
  /** Client mistakes and refusals, by error code (docs/protocol.md): counted through `refused`. */
  readonly #rejected: Counter<'code'>;

  constructor(service: string) {
    this.registry.setDefaultLabels({ service });
    // Process metrics, including event-loop lag (pubsub_nodejs_eventloop_lag_seconds).
    collectDefaultMetrics({ register: this.registry, prefix: 'pubsub_' });
    this.connections = this.gauge({
      name: 'pubsub_connections',
      help: 'Open WebSocket connections',
      labelNames: ['path'],
    });
    this.authFailures = this.counter({
      name: 'pubsub_auth_failures_total',
      help: 'Upgrades refused for bad credentials',
    });
    this.authThrottled = this.counter({
      name: 'pubsub_auth_throttled_total',
      help: 'Logins throttled after repeated failures: refused unchecked with 429 (scope address, pair) or slowed down (scope user)',
      labelNames: ['scope'],
    });
    this.#rejected = this.counter({
      name: 'pubsub_rejected_total',
      help: 'Inputs refused, by error code',
      labelNames: ['code'],
    });
  }

  /** Counts one refusal by its code from the error table (`noteRefusal` also logs it). */
  refused(code: ErrorCode): void {
    this.#rejected.inc({ code });
  }

  counter<L extends string = never>(options: { name: string; help: string; labelNames?: readonly L[] }): Counter<L> {
    return new Counter({ ...options, labelNames: options.labelNames ?? [], registers: [this.registry] });
  }

  histogram(options: { name: string; help: string; buckets: number[] }): Histogram {
    return new Histogram({ ...options, registers: [this.registry] });
  }

  /**
   * A gauge; with `read`, its value is read from the service at each scrape: one number, or one
   * per label set (series of label sets no longer read are dropped).
   */
  gauge<L extends string = never>(options: {
    name: string;
    help: string;
    labelNames?: readonly L[];
    read?: () => number | Iterable<readonly [LabelValues<L>, number]>;
  }): Gauge<L> {
    const { read, ...rest } = options;
    return new Gauge({
      ...rest,
      labelNames: options.labelNames ?? [],
      registers: [this.registry],
      ...(read
        ? {
            collect(this: Gauge<L>) {
              const value = read();
              if (typeof value === 'number') {
                this.set(value);
                return;
              }
              this.reset();
              for (const [labels, sample] of value) this.set(labels, sample);
            },
          }
        : {}),
    });
  }

  /** `GET /metrics` in the Prometheus text format (behind the service's Basic Auth). */
  endpoint(): (req: Request, res: Response) => void {
    return (_req, res) => {
      this.registry.metrics().then(
        (text) => res.type(this.registry.contentType).send(text),
        (err: unknown) =>
          res
            .status(500)
            .type('text/plain')
            .send(`cannot collect metrics: ${String(err)}`),
      );
    };
  }
}
