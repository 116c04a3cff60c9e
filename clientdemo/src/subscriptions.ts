import type { ServerFrame } from '@pubsub/protocol';
import type { Connection } from './connection.js';
import { SubscribeClient, type CommandReply, type Delivery, type Resume } from './subscribe-client.js';

export interface SubscriptionHandlers {
  onDelivery(text: string, delivery: Delivery): void;
  /** Every reply to a command, in order with the deliveries. */
  onReply(reply: CommandReply): void;
  /** A `sub` sent again after a reconnect got no reply: that connection was lost too. */
  onResubscribeLost(topic: string): void;
  onStray(frame: ServerFrame | undefined, text: string): void;
}

/**
 * The session's subscriptions, kept across reconnects: each new connection subscribes to them
 * all again, an exact topic resuming after the last seq (and epoch) delivered on it, so what was
 * published meanwhile is replayed, once and in order. (A pattern cannot resume: it just
 * subscribes again.)
 */
export class Subscriptions {
  /** Topics and patterns wanted, with where each exact topic would resume. */
  readonly #wanted = new Map<string, Resume | undefined>();
  readonly #handlers: SubscriptionHandlers;
  #client: SubscribeClient | undefined;

  constructor(handlers: SubscriptionHandlers) {
    this.#handlers = handlers;
  }

  get connected(): boolean {
    return this.#client !== undefined;
  }

  has(topic: string): boolean {
    return this.#wanted.has(topic);
  }

  attach(connection: Connection): void {
    const client = new SubscribeClient(connection, {
      onDelivery: (text, delivery) => {
        if (this.#wanted.has(delivery.topic) && delivery.seq !== undefined) {
          const epoch = delivery.epoch;
          this.#wanted.set(
            delivery.topic,
            epoch === undefined ? { from: delivery.seq } : { from: delivery.seq, epoch },
          );
        }
        this.#handlers.onDelivery(text, delivery);
      },
      onStray: (frame, text) => this.#handlers.onStray(frame, text),
      onReply: (reply) => this.#handlers.onReply(reply),
    });
    this.#client = client;
    void connection.closed.then(() => {
      if (this.#client === client) this.#client = undefined;
    });
    for (const [topic, resume] of this.#wanted) {
      void client.command('sub', topic, resume).then((reply) => {
        if (reply?.type === 'error') this.#wanted.delete(topic);
        if (reply === undefined) this.#handlers.onResubscribeLost(topic);
      });
    }
  }

  /**
   * Subscribes now, or once connected (resolves with undefined then). `resume` starts after that
   * seq instead of with what comes next.
   */
  async sub(topic: string, resume?: Resume): Promise<CommandReply | undefined> {
    this.#wanted.set(topic, resume ?? this.#wanted.get(topic));
    if (this.#client === undefined) return undefined;
    const reply = await this.#client.command('sub', topic, resume);
    if (reply?.type === 'error') this.#wanted.delete(topic);
    return reply;
  }

  /** Undefined when not connected: it is then simply not subscribed again on the next connection. */
  async unsub(topic: string): Promise<CommandReply | undefined> {
    this.#wanted.delete(topic);
    return this.#client?.command('unsub', topic);
  }

  drained(): Promise<void> {
    return this.#client?.drained() ?? Promise.resolve();
  }
}
