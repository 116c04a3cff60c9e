import { request } from 'node:https';

/**
 * The subscriber's own counters, read from GET /metrics: they show that the stalled reader did
 * leave the live stream and was filled from the log (catch-up pages), and whether it closed
 * anyone with 4100 — what the client side alone cannot tell apart from a large socket buffer.
 */
export interface SubscriberCounters {
  readonly catchUpPages: number;
  readonly slowConsumers: number;
  readonly deliveries: number;
}

const NAMES: Record<keyof SubscriberCounters, string> = {
  catchUpPages: 'pubsub_subscriber_catchup_pages_total',
  slowConsumers: 'pubsub_subscriber_slow_consumers_total',
  deliveries: 'pubsub_subscriber_deliveries_total',
};

/** The sample of `name` (with or without labels: `name{service="subscriber"} 3`). */
function valueOf(text: string, name: string): number {
  const line = text.split('\n').find((row) => row.startsWith(`${name} `) || row.startsWith(`${name}{`));
  return line === undefined ? Number.NaN : Number(line.slice(line.lastIndexOf(' ') + 1));
}

/** The counters, or undefined when /metrics does not answer within a few seconds. */
export async function subscriberCounters(
  port: number,
  options: { ca: string; auth: string },
): Promise<SubscriberCounters | undefined> {
  const text = await new Promise<string | undefined>((resolveText) => {
    const req = request(
      { host: '127.0.0.1', port, path: '/metrics', method: 'GET', ca: options.ca, auth: options.auth, timeout: 5_000 },
      (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => (body += chunk));
        res.on('end', () => resolveText(res.statusCode === 200 ? body : undefined));
      },
    );
    req.on('timeout', () => req.destroy(new Error('timed out')));
    req.on('error', () => resolveText(undefined));
    req.end();
  });
  if (text === undefined) return undefined;
  return {
    catchUpPages: valueOf(text, NAMES.catchUpPages),
    slowConsumers: valueOf(text, NAMES.slowConsumers),
    deliveries: valueOf(text, NAMES.deliveries),
  };
}

/** after − before, per counter. */
export function countersDiff(
  before: SubscriberCounters | undefined,
  after: SubscriberCounters | undefined,
): SubscriberCounters | undefined {
  if (before === undefined || after === undefined) return undefined;
  return {
    catchUpPages: after.catchUpPages - before.catchUpPages,
    slowConsumers: after.slowConsumers - before.slowConsumers,
    deliveries: after.deliveries - before.deliveries,
  };
}
