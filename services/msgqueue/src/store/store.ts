/** A message held by the queue; `seq` orders the queue and names the message in acks. */
export interface StoredMessage {
  readonly seq: number;
  readonly payload: string;
}

/**
 * Where the msgqueue keeps messages between push and pop: the one seam a durable store plugs
 * into. Messages move ready → in flight (claim) → gone (ack), or back to ready (release).
 */
export interface QueueStore {
  /** Adds messages at the tail; resolves once they are kept (durably, for a durable store). */
  append(payloads: readonly string[]): Promise<void>;
  /** Takes up to `max` ready messages, oldest first, and marks them in flight. */
  claim(max: number): StoredMessage[];
  /** Forgets in-flight messages that a consumer has finished. */
  ack(messages: readonly StoredMessage[]): void;
  /** Returns in-flight messages to the head of the queue, ahead of newer ones. */
  release(messages: readonly StoredMessage[]): void;
  /** Messages ready to be claimed. */
  readonly ready: number;
  /** Messages held in all, ready or in flight. */
  readonly depth: number;
  /** Payload bytes held in all. */
  readonly bytes: number;
  close(): Promise<void>;
}
