/** Codes of the error table a sink is closed with. */
export type SinkCloseCode =
  'SLOW_CONSUMER' | 'CONSUMER_STALLED' | 'INTERNAL' | 'BINARY_UNSUPPORTED' | 'SHUTTING_DOWN' | 'STREAM_GONE';

/** One message as the log holds it, for a sink's framing. */
export interface LogMessage {
  /** Its place in the msgqueue's log: a reader's position is the offset it has everything up to. */
  readonly offset: number;
  readonly topic: string;
  readonly seq: number | undefined;
  readonly epoch: string | undefined;
  /** The delivery frame: the JSON a wss subscriber gets, byte for byte. */
  readonly frame: Buffer;
}

/** How deliveries go on one kind of transport; one message is framed once per framing, for every sink using it. */
export interface Framing {
  frame(message: LogMessage): Buffer;
}

/**
 * A destination of deliveries (a WebSocket, an SSE stream, …). Routing, rights, positions and
 * catch-up from the log are written once above it (Delivery, CatchUp, SubscriptionSession); a
 * transport only says how it frames, how much it still holds, when it can take more, and how it ends.
 */
export interface Sink {
  readonly framing: Framing;
  readonly open: boolean;
  /** Bytes written but not yet taken by the peer. */
  readonly bufferedBytes: number;
  /**
   * False for a sink that paces itself and always moves on (a webhook: each request ends within
   * its timeout, a message that keeps failing goes to the dead letter), so taking nothing while
   * it waits out a retry is no stalled peer and the stall timeout leaves it. Unset: true.
   */
  readonly stalls?: boolean;
  /** Queues a delivery framed by `framing`. */
  write(framed: Buffer): void;
  /** Queues a reply to a command (`subscribed`, `error`, …), framed by the sink itself. */
  reply(text: string): void;
  /** Calls back once, when the peer has taken what was written or the sink has closed. */
  onDrain(callback: () => void): void;
  /** Ends the sink, telling the peer why with a code from the error table. */
  close(code: SinkCloseCode): void;
}
