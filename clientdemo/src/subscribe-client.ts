import { type CommandOp, decodeServerFrame, type ServerFrame } from '@pubsub/protocol';
import type { Connection } from './connection.js';
import { ReplyBook } from './reply-book.js';

export type Delivery = Extract<ServerFrame, { type: 'message' }>;
export type CommandReply = Extract<ServerFrame, { type: 'subscribed' | 'unsubscribed' | 'error' }>;

/** Where a `sub` resumes: after `from` (exclusive), in the history named `epoch` when known. */
export interface Resume {
  readonly from: number;
  readonly epoch?: string;
}

export interface SubscribeHandlers {
  /** Every delivery, with the frame as received. */
  onDelivery(text: string, delivery: Delivery): void;
  /** Frames that answer nothing outstanding, e.g. the error sent before a close. */
  onStray(frame: ServerFrame | undefined, text: string): void;
  /**
   * Every reply to a command, as it arrives: before the deliveries that follow it (a resume's
   * replay), which a promise's continuation would not be.
   */
  onReply?(reply: CommandReply): void;
}

/**
 * A `/subscribe` connection. Commands go out in the JSON form with an id, so each reply is
 * matched to its command even when several are outstanding.
 */
export class SubscribeClient {
  readonly connection: Connection;
  readonly #replies = new ReplyBook<CommandReply>();
  #lastRef = 0;

  constructor(connection: Connection, handlers: SubscribeHandlers) {
    this.connection = connection;
    connection.onText((text) => {
      const frame = decodeServerFrame(text);
      switch (frame?.type) {
        case 'message':
          handlers.onDelivery(text, frame);
          return;
        case 'subscribed':
        case 'unsubscribed':
        case 'error':
          if (this.#replies.settle(frame.id, frame)) {
            handlers.onReply?.(frame);
            return;
          }
          break;
        // A resume waiting for the msgqueue's history: shown as it comes; its reply follows.
        case 'waiting':
        case 'ack':
        case undefined:
          break;
      }
      handlers.onStray(frame, text);
    });
    void connection.closed.then(() => this.#replies.abandon());
  }

  /**
   * Resolves with the reply, or undefined if the connection ends first. A `sub` with `resume`
   * asks for the messages after that seq first.
   */
  command(op: CommandOp, topic: string, resume?: Resume): Promise<CommandReply | undefined> {
    const id = `c${++this.#lastRef}`;
    const reply = this.#replies.expect(id);
    this.connection.send(JSON.stringify({ topic, content: op, id, ...resume }));
    return reply;
  }

  /** Resolves once every command sent so far has its reply. */
  drained(): Promise<void> {
    return this.#replies.drained();
  }
}
