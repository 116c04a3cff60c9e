import type { ServerFrame } from '@pubsub/protocol';
import type { Connection } from './connection.js';
import { type OutgoingMessage, PublishClient, type PublishReply } from './publish-client.js';

interface Pending {
  readonly message: OutgoingMessage;
  readonly answered: (reply: PublishReply) => void;
}

/**
 * Publishes across reconnects: a message stays pending until the publisher answers it, and every
 * pending one is sent again, with the same id, on each new connection (the msgqueue's id
 * deduplication makes a resend of something already stored harmless). `SHUTTING_DOWN` means "not
 * taken, send it again after reconnecting", so it keeps the message pending too.
 */
export class ReliablePublisher {
  readonly #pending = new Map<string, Pending>();
  readonly #onStray: (frame: ServerFrame | undefined, text: string) => void;
  #client: PublishClient | undefined;
  #drained: (() => void)[] = [];

  constructor(onStray: (frame: ServerFrame | undefined, text: string) => void) {
    this.#onStray = onStray;
  }

  /** Messages sent or queued that have no answer yet. */
  get pending(): number {
    return this.#pending.size;
  }

  get connected(): boolean {
    return this.#client !== undefined;
  }

  /** A new connection: from now on messages go here, starting with every pending one. */
  attach(connection: Connection): void {
    const client = new PublishClient(connection, this.#onStray);
    this.#client = client;
    void connection.closed.then(() => {
      if (this.#client === client) this.#client = undefined;
    });
    for (const entry of this.#pending.values()) this.#send(client, entry);
  }

  /** Resolves with the publisher's answer, however many connections that takes. */
  publish(message: OutgoingMessage): Promise<PublishReply> {
    return new Promise((answered) => {
      const entry = { message, answered };
      this.#pending.set(message.id, entry);
      if (this.#client !== undefined) this.#send(this.#client, entry);
    });
  }

  /** Resolves once nothing is pending. */
  drained(): Promise<void> {
    if (this.#pending.size === 0) return Promise.resolve();
    return new Promise((resolveDrained) => this.#drained.push(resolveDrained));
  }

  #send(client: PublishClient, entry: Pending): void {
    void client.publish(entry.message).then((reply) => {
      // No reply: the connection ended first, and the next one sends it again.
      if (reply === undefined || (reply.type === 'error' && reply.code === 'SHUTTING_DOWN')) return;
      if (this.#pending.get(entry.message.id) !== entry) return;
      this.#pending.delete(entry.message.id);
      entry.answered(reply);
      if (this.#pending.size === 0) this.#drained.splice(0).forEach((resolveDrained) => resolveDrained());
    });
  }
}
