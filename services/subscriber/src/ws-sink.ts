import { closeSlowClient, closeWithError, serverTextFrame, type Outbox } from '@pubsub/service';
import { WebSocket } from 'ws';
import type { Framing, Sink, SinkCloseCode } from './sink.js';

/** A delivery on a WebSocket: the frame as a server text frame, built once for every socket. */
export const wsFraming: Framing = { frame: (message) => serverTextFrame(message.frame) };

/** A `/subscribe` socket as a sink. Every frame goes through the outbox, so replies keep their place among deliveries. */
export class WsSink implements Sink {
  readonly framing = wsFraming;
  readonly #ws: WebSocket;
  readonly #outbox: Outbox;

  constructor(ws: WebSocket, outbox: Outbox) {
    this.#ws = ws;
    this.#outbox = outbox;
  }

  get open(): boolean {
    return this.#ws.readyState === WebSocket.OPEN;
  }

  get bufferedBytes(): number {
    return this.#ws.bufferedAmount;
  }

  write(framed: Buffer): void {
    this.#outbox.write(this.#ws, framed);
  }

  reply(text: string): void {
    this.#outbox.send(this.#ws, text);
  }

  onDrain(callback: () => void): void {
    this.#outbox.onDrain(this.#ws, callback);
  }

  close(code: SinkCloseCode): void {
    // What was queued before goes first: the close frame ends the stream.
    this.#outbox.flushSocket(this.#ws);
    if (code === 'SLOW_CONSUMER' || code === 'CONSUMER_STALLED') closeSlowClient(this.#ws, code);
    else closeWithError(this.#ws, code);
  }
}
