import type { Logger } from '@pubsub/log';
import { isPattern, matchTokens, tokensOf, type QueueStats } from '@pubsub/protocol';
import { rejectionOf, sendRejection, type Account, type HttpHandler } from '@pubsub/service';
import type { CatchUp } from './catch-up.js';
import type { LogSource } from './log-source.js';
import type { Reader } from './reader.js';
import type { UserReaders } from './user-readers.js';
import type { TopicRates } from './topic-rates.js';
import type { TopicRegistry } from './topics.js';

/** The busiest topics listed at most: the console shows a table, not a dump of every topic. */
export const MAX_STATS_TOPICS = 500;
/** How long one msgqueue answer serves every console polling this subscriber. */
const QUEUE_STATS_TTL_MS = 1_000;

export interface TopicStats {
  /** An exact topic or a pattern subscribed to. */
  readonly topic: string;
  readonly subscribers: number;
  /** Messages routed per second on it (a pattern: on the topics it matches), over the last 10 s. */
  readonly messagesPerSecond: number;
}

/** `GET /api/stats`: see docs/protocol.md. */
export interface SubscriberStats {
  readonly service: 'subscriber';
  /** Who asked: the console shows who it is signed in as. */
  readonly user: string;
  readonly topics: readonly TopicStats[];
  readonly readers: { readonly live: number; readonly behind: number };
  /** Null while the msgqueue cannot be asked. */
  readonly msgqueue: QueueStats | null;
  readonly uptimeSeconds: number;
}

export interface StatsDeps {
  readonly topics: TopicRegistry<Reader>;
  readonly rates: TopicRates;
  readonly catchUp: CatchUp;
  readonly userReaders: UserReaders;
  readonly source: LogSource;
  readonly startedAt: number;
  readonly logger: Logger;
}

const round = (rate: number) => Math.round(rate * 100) / 100;

/**
 * The topics `account` may subscribe to, with their subscribers and rates: every subject
 * subscribed to, and every topic with traffic in the window. A user limited by the users file
 * sees no other topic names.
 */
export function topicStats(account: Account, { topics, rates }: Pick<StatsDeps, 'topics' | 'rates'>): TopicStats[] {
  const routed = rates.rates();
  const rows = new Map<string, TopicStats>();
  for (const [subject, subscribers] of topics.subjects()) {
    let rate = 0;
    if (isPattern(subject)) {
      const pattern = tokensOf(subject);
      for (const [topic, perSecond] of routed) if (matchTokens(pattern, tokensOf(topic))) rate += perSecond;
    } else {
      rate = routed.get(subject) ?? 0;
    }
    if (account.subscribe.covers(subject))
      rows.set(subject, { topic: subject, subscribers, messagesPerSecond: round(rate) });
  }
  for (const [topic, perSecond] of routed) {
    if (!rows.has(topic) && account.subscribe.allows(topic))
      rows.set(topic, { topic, subscribers: 0, messagesPerSecond: round(perSecond) });
  }
  return [...rows.values()]
    .sort(
      (a, b) =>
        b.messagesPerSecond - a.messagesPerSecond || b.subscribers - a.subscribers || a.topic.localeCompare(b.topic),
    )
    .slice(0, MAX_STATS_TOPICS);
}

/** `GET /api/stats` (the `subscribe` right), what the web console polls. */
export function statsEndpoint(deps: StatsDeps): HttpHandler {
  let cached: { at: number; stats: Promise<QueueStats | null> } | undefined;
  // One request to the msgqueue per second however many consoles poll, and none piling up.
  const queueStats = (): Promise<QueueStats | null> => {
    const now = Date.now();
    if (cached === undefined || now - cached.at >= QUEUE_STATS_TTL_MS) {
      const stats = deps.source.stats().catch((err: unknown) => {
        deps.logger.debug({ err }, 'cannot read the msgqueue stats');
        return null;
      });
      cached = { at: now, stats };
    }
    return cached.stats;
  };
  return (_req, res, context) => {
    queueStats()
      .then((msgqueue) => {
        const readers = deps.userReaders.readerCount;
        const behind = deps.catchUp.behindCount;
        const stats: SubscriberStats = {
          service: 'subscriber',
          user: context.user,
          topics: topicStats(context.account, deps),
          readers: { live: readers - behind, behind },
          msgqueue,
          uptimeSeconds: Math.floor((Date.now() - deps.startedAt) / 1000),
        };
        res.set('Cache-Control', 'no-store').json(stats);
      })
      .catch((err: unknown) => {
        context.log.error({ err }, 'cannot answer /api/stats');
        if (!res.headersSent) sendRejection(res, rejectionOf('INTERNAL'));
      });
  };
}
