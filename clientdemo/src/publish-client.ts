import { decodeServerFrame, type ServerFrame } from '@pubsub/protocol';
import type { Connection } from './connection.js';
import { ReplyBook } from './reply-book.js';

export type PublishReply = Extract<ServerFrame, { type: 'ack' | 'error' }>;

export interface OutgoingMessage {
  readonly topic: string;
  /** The content as JSON text; it is sent as is, so numbers keep every digit. */
  readonly content: string;
  readonly id: string;
}

/** The `/publish` frame. Built as text because `content` already is JSON. */
export function encodePublish(message: OutgoingMessage): string {
  return `{"topic":${JSON.stringify(message.topic)},"content":${message.content},"id":${JSON.stringify(message.id)}}`;
}

/**
 * A `/publish` connection. Every message carries an id and its reply is matched by that id:
 * the publisher answers errors at once but acks only when the queue holds the message.
 */
export class PublishClient {
  readonly connection: Connection;
  readonly #replies = new ReplyBook<PublishReply>();

  /** `onStray` gets frames that answer nothing outstanding, e.g. the error sent before a close. */
  constructor(connection: Connection, onStray: (frame: ServerFrame | undefined, text: string) => void) {
    this.connection = connection;
    connection.onText((text) => {
      const frame = decodeServerFrame(text);
      if ((frame?.type === 'ack' || frame?.type === 'error') && this.#replies.settle(frame.id, frame)) return;
      onStray(frame, text);
    });
    void connection.closed.then(() => this.#replies.abandon());
  }

  /** Resolves with the ack or error reply, or undefined if the connection ends first. */
  publish(message: OutgoingMessage): Promise<PublishReply | undefined> {
    const reply = this.#replies.expect(message.id);
    this.connection.send(encodePublish(message));
    return reply;
  }

  /** Resolves once every message sent so far has its reply. */
  drained(): Promise<void> {
    return this.#replies.drained();
  }
}
