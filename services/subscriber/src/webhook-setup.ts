import { Forwarder } from '@pubsub/ingress';
import type { Logger } from '@pubsub/log';
import { HOP_ENVELOPE_OVERHEAD_BYTES } from '@pubsub/protocol';
import { createQueueUpstream, type HttpHandler, type Right, type ServiceMetrics } from '@pubsub/service';
import type { SubscriberConfig } from './config.js';
import { LogSourceClosed } from './log-source.js';
import type { SessionDeps } from './session.js';
import type { StatsDeps } from './stats.js';
import { TargetGuard } from './target-guard.js';
import { webhookEndpoints } from './webhook-api.js';
import { WebhookPoster } from './webhook-post.js';
import { Webhooks } from './webhooks.js';

/** Dead letters waiting for the msgqueue's acknowledgement at most; beyond, a webhook waits to retry. */
const DEAD_LETTER_BUFFER = 1_000;

/** A user manages webhooks with the right to subscribe; which topics, its subscribe rights say. */
export const WEBHOOK_ACCESS: Readonly<Record<string, Right>> = {
  'POST /api/subscriptions': 'subscribe',
  '/api/subscriptions': 'subscribe',
  '/api/subscriptions/:id': 'subscribe',
  'DELETE /api/subscriptions/:id': 'subscribe',
  '/api/topics': 'subscribe',
};

export interface WebhookService {
  readonly endpoints: Record<string, HttpHandler>;
  /** Starts the saved subscriptions (in the background: they wait for the msgqueue, the service does not). */
  start(): void;
  close(): Promise<void>;
}

/**
 * Webhook delivery for the subscriber: the saved subscriptions, the API, the guarded HTTP client,
 * and a hop to the msgqueue's `/pushmsg` for dead letters, dialled on the first one.
 */
export async function setUpWebhooks(
  config: SubscriberConfig,
  deps: {
    session: SessionDeps;
    stats: Pick<StatsDeps, 'topics' | 'rates'>;
    connected: () => boolean;
    metrics: ServiceMetrics;
    logger: Logger;
  },
): Promise<WebhookService> {
  const guard = new TargetGuard(config.webhooks.allowPrivate);
  const poster = new WebhookPoster(guard, config.webhooks.timeoutMs);
  const pushUpstream = await createQueueUpstream(config, config.webhooks.push, {
    name: 'msgqueue /pushmsg (dead letters)',
    logger: deps.logger,
  });
  const forwarder = new Forwarder(pushUpstream, {
    maxBuffered: DEAD_LETTER_BUFFER,
    batch: { maxMessages: config.hopBatchMessages, maxBytes: config.maxPayloadBytes + HOP_ENVELOPE_OVERHEAD_BYTES },
    logger: deps.logger,
  });
  let dialled = false;
  const webhooks = await Webhooks.open({
    config: config.webhooks,
    dataDir: config.dataDir,
    users: config.users,
    session: deps.session,
    poster,
    deadLetters: () => {
      if (!dialled) pushUpstream.start();
      dialled = true;
      return forwarder;
    },
    connected: deps.connected,
    metrics: deps.metrics,
    logger: deps.logger,
  });
  return {
    endpoints: webhookEndpoints({ webhooks, guard, stats: deps.stats }),
    start: () => {
      webhooks.start().catch((err: unknown) => {
        if (!(err instanceof LogSourceClosed)) deps.logger.error({ err }, 'cannot start the webhook subscriptions');
      });
    },
    close: async () => {
      await webhooks.close();
      poster.close();
      await pushUpstream.stop(1_000);
    },
  };
}
