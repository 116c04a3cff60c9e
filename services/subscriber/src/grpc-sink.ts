import { encodeSubscribeEvent, statusError, type SubscribeEvent } from '@pubsub/grpc';
import { decodeServerFrame, ERRORS, readDelivery, type ErrorCode } from '@pubsub/protocol';
import type { Framing, LogMessage, Sink, SinkCloseCode } from './sink.js';

/** The part of a grpc-js server stream a sink uses: writes of encoded events, the status at the end. */
export interface GrpcStream {
  readonly cancelled: boolean;
  readonly writable: boolean;
  write(chunk: Buffer, callback: () => void): boolean;
  emit(event: 'error', error: Error & { code: number; details: string }): boolean;
}

/** A delivery as a `SubscribeEvent.message`, its content the publisher's JSON text, encoded once for every stream. */
export const grpcFraming: Framing = {
  frame(message: LogMessage): Buffer {
    const fields = readDelivery(message.frame.toString());
    // Every routed frame was made by the ingress, with content and id; a frame without them would
    // still reach the client, as an empty message on its topic, rather than stop its stream.
    return encodeSubscribeEvent({
      event: 'message',
      message: {
        topic: fields?.topic ?? message.topic,
        id: fields?.id ?? '',
        seq: fields?.seq ?? message.seq ?? 0,
        epoch: fields?.epoch ?? message.epoch ?? '',
        content: fields?.content ?? 'null',
        time: fields?.time ?? 0,
      },
    });
  },
};

/** A reply of the session (`subscribed`, `waiting`, `error`) as the stream's event, or the error that ends it. */
function eventOf(text: string): SubscribeEvent | { code: ErrorCode; message: string } | undefined {
  const frame = decodeServerFrame(text);
  switch (frame?.type) {
    case 'subscribed': {
      const { topic, from, recovered, epoch, replayed, gap } = frame;
      const resumed = from !== undefined;
      return {
        event: 'subscribed',
        subscribed: {
          topic,
          resumed,
          from: from ?? 0,
          recovered: recovered ?? false,
          epoch: epoch ?? '',
          replayed: replayed ?? 0,
          gap: gap ?? false,
        },
      };
    }
    case 'waiting':
      return { event: 'waiting', waiting: { topic: frame.topic, reason: frame.reason } };
    case 'error':
      return { code: frame.code, message: frame.message };
    case 'unsubscribed':
    case 'ack':
    case 'message':
    case undefined:
      // A stream takes no unsub, and the session replies with neither acks nor messages.
      return undefined;
  }
}

/**
 * A `Subscriber.Subscribe` stream as a sink. Its unsent bytes are those written whose write has
 * not completed: grpc-js completes a write once HTTP/2 has sent it, which its flow control holds
 * back for a client that does not read. A refused subscription ends the call with its status.
 */
export class GrpcSink implements Sink {
  readonly framing = grpcFraming;
  readonly #stream: GrpcStream;
  #pending = 0;
  #closed = false;
  readonly #drained: (() => void)[] = [];

  constructor(stream: GrpcStream) {
    this.#stream = stream;
  }

  get open(): boolean {
    return !this.#closed && !this.#stream.cancelled && this.#stream.writable;
  }

  get bufferedBytes(): number {
    return this.#pending;
  }

  write(framed: Buffer): void {
    if (!this.open) return;
    this.#pending += framed.length;
    this.#stream.write(framed, () => {
      this.#pending -= framed.length;
      if (this.#pending === 0) this.#wake();
    });
  }

  reply(text: string): void {
    const event = eventOf(text);
    if (event === undefined) return;
    if ('event' in event) this.write(encodeSubscribeEvent(event));
    else this.#end(event.code, event.message);
  }

  onDrain(callback: () => void): void {
    if (this.#pending === 0 || !this.open) callback();
    else this.#drained.push(callback);
  }

  close(code: SinkCloseCode): void {
    this.#end(code, ERRORS[code].message);
  }

  /** The stream is gone (cancelled by the client, or ended): whoever waits for a drain goes on. */
  gone(): void {
    this.#closed = true;
    this.#wake();
  }

  /** What was written goes first: grpc-js sends the status once the writes before it are out. */
  #end(code: string, message: string): void {
    if (!this.open) return;
    this.#closed = true;
    this.#stream.emit('error', statusError(code, message));
    this.#wake();
  }

  #wake(): void {
    this.#drained.splice(0).forEach((wake) => wake());
  }
}
