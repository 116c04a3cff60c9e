import type { Outbox } from '@pubsub/service';
import type { WebSocket } from 'ws';
import type { Sink, SinkCloseCode } from './sink.js';
import type { OrdinalFraming } from './stream-ordinals.js';
import { WsSink } from './ws-sink.js';

/**
 * A `/streams/<id>` socket as a sink: a WebSocket sink whose framing numbers the stream's
 * messages, and which sends nothing for the ones the client said it has.
 */
export class StreamSink implements Sink {
  readonly framing: OrdinalFraming;
  readonly #socket: WsSink;

  constructor(ws: WebSocket, outbox: Outbox, framing: OrdinalFraming) {
    this.#socket = new WsSink(ws, outbox);
    this.framing = framing;
  }

  get open(): boolean {
    return this.#socket.open;
  }

  get bufferedBytes(): number {
    return this.#socket.bufferedBytes;
  }

  write(framed: Buffer): void {
    if (framed.length > 0) this.#socket.write(framed);
  }

  reply(text: string): void {
    this.#socket.reply(text);
  }

  onDrain(callback: () => void): void {
    this.#socket.onDrain(callback);
  }

  close(code: SinkCloseCode): void {
    this.#socket.close(code);
  }
}
