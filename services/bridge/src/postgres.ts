import type { Logger } from '@pubsub/log';
import pg from 'pg';
import { Backoff } from './backoff.js';
import type { PostgresConfig } from './config.js';
import type { Lane } from './lane.js';
import type { BridgeCounters } from './metrics.js';
import { Outbox } from './outbox.js';
import { publishFrame } from './publish-frame.js';
import type { Source, SourceStatus } from './source.js';

// Counting the backlog scans the table's waiting rows; once a second is plenty for metrics.
const LAG_REFRESH_MS = 1_000;

export interface PostgresSourceOptions {
  config: PostgresConfig;
  lane: Lane;
  counters: BridgeCounters;
  backoff: { initialMs: number; maxMs: number };
  logger: Logger;
}

/** `postgres://user:secret@host/db` → `postgres://user@host/db`, for log lines. */
export function withoutPassword(url: string): string {
  const parsed = new URL(url);
  parsed.password = '';
  return parsed.toString();
}

/**
 * PostgreSQL: one connection that LISTENs to the configured channels (each notification is
 * published at once; what is notified while the bridge is away is lost, as LISTEN/NOTIFY goes)
 * and, with an outbox table, reads it in key order whenever its trigger notifies, on a slow poll
 * and after every reconnect.
 */
export class PostgresSource implements Source {
  readonly name = 'postgres';
  readonly #options: PostgresSourceOptions;
  readonly #log: Logger;
  readonly #backoff: Backoff;
  readonly #outbox: Outbox | undefined;
  #client: pg.Client | undefined;
  #error: string | undefined = 'not connected yet';
  #paused = false;
  #pollTimer: NodeJS.Timeout | undefined;
  #lagTimer: NodeJS.Timeout | undefined;

  constructor(options: PostgresSourceOptions) {
    this.#options = options;
    this.#log = options.logger.child({ source: 'postgres' });
    this.#backoff = new Backoff(options.backoff);
    const { outbox } = options.config;
    this.#outbox =
      outbox === undefined
        ? undefined
        : new Outbox({ config: outbox, lane: options.lane, counters: options.counters, logger: this.#log });
  }

  start(): void {
    this.#connect();
    const { outbox } = this.#options.config;
    if (outbox !== undefined) {
      this.#pollTimer = setInterval(() => this.#wake(), outbox.pollMs);
      this.#pollTimer.unref();
      this.#lagTimer = setInterval(() => this.#readLag(), LAG_REFRESH_MS);
      this.#lagTimer.unref();
    }
  }

  pause(): void {
    this.#paused = true;
    clearInterval(this.#pollTimer);
    clearInterval(this.#lagTimer);
    this.#backoff.cancel();
    this.#outbox?.pause();
  }

  async close(): Promise<void> {
    await this.#outbox?.settled();
    const client = this.#client;
    this.#client = undefined;
    await client?.end().catch(() => undefined);
  }

  status(): SourceStatus {
    return {
      connected: this.#client !== undefined,
      ...(this.#error !== undefined && { error: this.#error }),
      inFlight: this.#options.lane.unsettled,
      ...(this.#outbox !== undefined && { outbox: this.#outbox.lag }),
    };
  }

  #connect(): void {
    if (this.#paused) return;
    const { config } = this.#options;
    // The URL's own application_name, if any, wins; sessions are easy to find in pg_stat_activity either way.
    const client = new pg.Client({ connectionString: config.url, fallback_application_name: 'pubsub-bridge' });
    let lost = false;
    const onLost = (err: Error | undefined) => {
      if (lost) return;
      lost = true;
      if (this.#client === client) this.#client = undefined;
      if (this.#paused) return;
      this.#error = err?.message ?? 'connection ended';
      this.#options.counters.disconnects.inc({ source: this.name });
      const retryInMs = this.#backoff.schedule(() => this.#connect());
      this.#log.warn({ err: this.#error, url: withoutPassword(config.url), retryInMs }, 'PostgreSQL connection lost');
    };
    client.on('error', onLost);
    client.on('end', () => onLost(undefined));
    client.on('notification', (message) => this.#onNotification(message));
    this.#setUp(client).then(
      () => {
        if (lost) return;
        if (this.#paused) {
          void client.end().catch(() => undefined);
          return;
        }
        this.#client = client;
        this.#error = undefined;
        this.#backoff.reset();
        this.#log.info({ url: withoutPassword(config.url), channels: this.#channels() }, 'PostgreSQL connected');
        this.#wake();
        this.#readLag();
      },
      (err: Error) => {
        void client.end().catch(() => undefined);
        onLost(err);
      },
    );
  }

  async #setUp(client: pg.Client): Promise<void> {
    await client.connect();
    for (const channel of this.#channels()) await client.query(`LISTEN ${client.escapeIdentifier(channel)}`);
  }

  #channels(): string[] {
    const { channels, outbox } = this.#options.config;
    return [...channels.names, ...(outbox === undefined ? [] : [outbox.channel])];
  }

  #onNotification(message: pg.Notification): void {
    const { config, lane, counters } = this.#options;
    if (message.channel === config.outbox?.channel) return this.#wake();
    const topic = config.channels.topicOf(message.channel);
    void lane.publish(publishFrame(topic, undefined, message.payload ?? '')).then((result) => {
      if (result.kind === 'stored') counters.stored.inc({ source: this.name });
      else if (result.kind === 'refused') {
        // LISTEN/NOTIFY keeps nothing: the log line is all there is of it.
        counters.deadLetters.inc({ source: this.name, code: result.code });
        this.#log.warn(
          {
            channel: message.channel,
            topic,
            code: result.code,
            reason: result.reason,
            payload: message.payload?.slice(0, 200),
          },
          'dropped a notification the ingress refused',
        );
      }
    });
  }

  #readLag(): void {
    const client = this.#client;
    if (client !== undefined) void this.#outbox?.readLag(client);
  }

  #wake(): void {
    const client = this.#client;
    if (client !== undefined && !this.#paused) this.#outbox?.wake(client);
  }
}
