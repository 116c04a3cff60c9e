import type { Logger } from '@pubsub/log';
import { connect, type ChannelModel, type ConfirmChannel, type ConsumeMessage, type Options } from 'amqplib';
import { createHash } from 'node:crypto';
import { Backoff } from './backoff.js';
import type { RabbitmqConfig } from './config.js';
import type { Lane } from './lane.js';
import type { BridgeCounters } from './metrics.js';
import { withoutPassword } from './postgres.js';
import { publishFrame } from './publish-frame.js';
import type { Source, SourceStatus } from './source.js';

export interface RabbitmqSourceOptions {
  config: RabbitmqConfig;
  lane: Lane;
  counters: BridgeCounters;
  backoff: { initialMs: number; maxMs: number };
  logger: Logger;
}

/** Headers a dead letter carries besides its own: why it was refused, and where it came from. */
export const DEAD_LETTER_HEADERS = {
  code: 'x-pubsub-error-code',
  reason: 'x-pubsub-error-reason',
  exchange: 'x-pubsub-original-exchange',
  routingKey: 'x-pubsub-original-routing-key',
  queue: 'x-pubsub-original-queue',
} as const;

const utf8 = new TextDecoder('utf-8', { fatal: true });

/** The properties a dead letter keeps, as they are (amqplib types them as any). */
interface KeptProperties {
  readonly contentType?: string;
  readonly contentEncoding?: string;
  readonly correlationId?: string;
  readonly messageId?: string;
  readonly timestamp?: number;
  readonly type?: string;
  readonly appId?: string;
  readonly headers?: Record<string, unknown>;
}

const KEPT_PROPERTIES = [
  'contentType',
  'contentEncoding',
  'correlationId',
  'messageId',
  'timestamp',
  'type',
  'appId',
] as const satisfies readonly (keyof KeptProperties)[];

/**
 * The message's id for dedupe: its `message_id`, or else a hash of what a redelivery repeats
 * (exchange, routing key, timestamp, body) — so two such messages with the same body, key and
 * timestamp within the msgqueue's dedupe window count as one.
 */
export function messageIdOf(message: ConsumeMessage): string {
  const { messageId, timestamp } = message.properties as KeptProperties;
  if (typeof messageId === 'string' && messageId !== '') return messageId;
  const hash = createHash('sha256');
  const stamp = typeof timestamp === 'number' ? String(timestamp) : '';
  hash.update(`${message.fields.exchange}\0${message.fields.routingKey}\0${stamp}\0`);
  hash.update(message.content);
  return `amqp:${hash.digest('base64url').slice(0, 32)}`;
}

/**
 * RabbitMQ (AMQP 0-9-1): consumes one queue (bound to the configured exchange, if any) with
 * manual acks and a prefetch window, and acknowledges a delivery only once the msgqueue holds it
 * durably: a crash or a lost connection requeues what was not acknowledged, never loses it. A
 * message the ingress refuses as bad input is published to the dead-letter exchange with the
 * reason in its headers and then acknowledged, so it never comes round again.
 */
export class RabbitmqSource implements Source {
  readonly name = 'rabbitmq';
  readonly #options: RabbitmqSourceOptions;
  readonly #log: Logger;
  readonly #backoff: Backoff;
  #model: ChannelModel | undefined;
  #channel: ConfirmChannel | undefined;
  #consumerTag: string | undefined;
  #cancelled: Promise<unknown> | undefined;
  #error: string | undefined = 'not connected yet';
  #paused = false;
  readonly #deadLettering = new Set<Promise<void>>();

  constructor(options: RabbitmqSourceOptions) {
    this.#options = options;
    this.#log = options.logger.child({ source: 'rabbitmq' });
    this.#backoff = new Backoff(options.backoff);
  }

  start(): void {
    this.#connect();
  }

  pause(): void {
    this.#paused = true;
    this.#backoff.cancel();
    const channel = this.#channel;
    const tag = this.#consumerTag;
    if (channel !== undefined && tag !== undefined) this.#cancelled = channel.cancel(tag).catch(() => undefined);
  }

  async close(): Promise<void> {
    await this.#cancelled;
    await Promise.all(this.#deadLettering);
    const model = this.#model;
    this.#model = undefined;
    this.#channel = undefined;
    // Closing the connection requeues whatever is still unacknowledged.
    await model?.close().catch(() => undefined);
  }

  status(): SourceStatus {
    return {
      connected: this.#channel !== undefined,
      ...(this.#error !== undefined && { error: this.#error }),
      inFlight: this.#options.lane.unsettled,
    };
  }

  #connect(): void {
    if (this.#paused) return;
    const { config } = this.#options;
    let model: ChannelModel | undefined;
    let lost = false;
    const onLost = (err: Error | undefined) => {
      if (lost) return;
      lost = true;
      if (this.#model === model) {
        this.#model = undefined;
        this.#channel = undefined;
      }
      void model?.close().catch(() => undefined);
      if (this.#paused) return;
      this.#error = err?.message ?? 'connection closed';
      this.#options.counters.disconnects.inc({ source: this.name });
      const retryInMs = this.#backoff.schedule(() => this.#connect());
      this.#log.warn({ err: this.#error, url: withoutPassword(config.url), retryInMs }, 'RabbitMQ connection lost');
    };
    connect(config.url, { clientProperties: { connection_name: config.connectionName } })
      .then(async (opened) => {
        model = opened;
        opened.on('error', (err: Error) => onLost(err));
        opened.on('close', (err?: Error) => onLost(err));
        const channel = await opened.createConfirmChannel();
        // A channel error (a refused declaration) closes only the channel: start over on a new connection.
        channel.on('error', (err: Error) => onLost(err));
        channel.on('close', () => onLost(undefined));
        await this.#declare(channel);
        if (lost || this.#paused) {
          await opened.close();
          return;
        }
        this.#model = opened;
        this.#channel = channel;
        const { consumerTag } = await channel.consume(config.queue, (message) => this.#onMessage(channel, message));
        this.#consumerTag = consumerTag;
        this.#error = undefined;
        this.#backoff.reset();
        this.#log.info(
          { url: withoutPassword(config.url), queue: config.queue, exchange: config.exchange?.name },
          'RabbitMQ connected',
        );
      })
      .catch((err: Error) => onLost(err));
  }

  async #declare(channel: ConfirmChannel): Promise<void> {
    const { queue, exchange, prefetch, deadLetterExchange } = this.#options.config;
    await channel.assertExchange(deadLetterExchange, 'fanout', { durable: true });
    await channel.assertQueue(deadLetterExchange, { durable: true });
    await channel.bindQueue(deadLetterExchange, deadLetterExchange, '');
    await channel.assertQueue(queue, { durable: true });
    if (exchange !== undefined) {
      await channel.assertExchange(exchange.name, exchange.type, { durable: true });
      for (const key of exchange.bindings) await channel.bindQueue(queue, exchange.name, key);
    }
    await channel.prefetch(prefetch);
  }

  #onMessage(channel: ConfirmChannel, message: ConsumeMessage | null): void {
    // null: RabbitMQ cancelled the consumer (the queue was deleted); redial to declare it again.
    if (message === null) {
      if (!this.#paused) void channel.close().catch(() => undefined);
      return;
    }
    // Arrived after the cancel was asked for: left unacknowledged, so RabbitMQ requeues it.
    if (this.#paused) return;
    const { lane, counters, config } = this.#options;
    let text: string;
    try {
      text = utf8.decode(message.content);
    } catch {
      return this.#deadLetter(channel, message, {
        code: 'BINARY_UNSUPPORTED',
        reason: 'the message body is not UTF-8 text',
      });
    }
    const topic = config.topics.topicOf(message.fields.routingKey);
    void lane.publish(publishFrame(topic, messageIdOf(message), text)).then((result) => {
      if (result.kind === 'stored') {
        counters[result.duplicate ? 'duplicates' : 'stored'].inc({ source: this.name });
        // On a channel that is gone, RabbitMQ has requeued it already: the redelivery is a duplicate by id.
        if (channel === this.#channel) channel.ack(message);
      } else if (result.kind === 'refused') this.#deadLetter(channel, message, result);
    });
  }

  #deadLetter(channel: ConfirmChannel, message: ConsumeMessage, refusal: { code: string; reason: string }): void {
    const { config, counters } = this.#options;
    const { code, reason } = refusal;
    const { fields } = message;
    const properties = message.properties as KeptProperties;
    const headers = {
      ...properties.headers,
      [DEAD_LETTER_HEADERS.code]: code,
      [DEAD_LETTER_HEADERS.reason]: reason,
      [DEAD_LETTER_HEADERS.exchange]: fields.exchange,
      [DEAD_LETTER_HEADERS.routingKey]: fields.routingKey,
      [DEAD_LETTER_HEADERS.queue]: config.queue,
    };
    this.#log.warn(
      { queue: config.queue, routingKey: fields.routingKey, messageId: properties.messageId, code, reason },
      'message refused; sent to the dead-letter exchange',
    );
    const publishOptions: Options.Publish = { persistent: true, headers };
    for (const key of KEPT_PROPERTIES) {
      if (properties[key] !== undefined) Object.assign(publishOptions, { [key]: properties[key] });
    }
    const done = new Promise<void>((resolve) => {
      channel.publish(config.deadLetterExchange, fields.routingKey, message.content, publishOptions, (err: unknown) => {
        // Not confirmed: left unacknowledged, it comes back after a reconnect and is tried again.
        if (err !== null && err !== undefined) {
          this.#log.error(
            { err: err instanceof Error ? err.message : 'nacked', code },
            'dead-letter exchange did not confirm; the message stays queued',
          );
        } else if (channel === this.#channel) {
          counters.deadLetters.inc({ source: this.name, code });
          channel.ack(message);
        }
        resolve();
      });
    });
    this.#deadLettering.add(done);
    void done.then(() => this.#deadLettering.delete(done));
  }
}
