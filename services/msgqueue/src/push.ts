import { encodeHopAck } from '@pubsub/protocol';
import { closeWithError, type ConnectionContext, textOf } from '@pubsub/service';
import { WebSocket, type RawData } from 'ws';
import type { MessageQueue } from './queue.js';

/** A `/pushmsg` connection. */
export interface Pusher {
  readonly ws: WebSocket;
  /**
   * Stops taking frames and resolves once every frame taken is stored and acknowledged. Frames
   * that arrive later are not acknowledged, so the pusher sends them again elsewhere.
   */
  stop(): Promise<void>;
}

/**
 * Stores each text frame as one message. Frames read in the same tick are appended as one
 * batch and acknowledged with one cumulative `{"ack":n}`, sent only once the store has them.
 */
export function handlePush(ws: WebSocket, context: ConnectionContext, queue: MessageQueue): Pusher {
  let batch: string[] = [];
  let stored = 0;
  let chain = Promise.resolve();
  let flushScheduled = false;
  let stopped = false;

  const flush = () => {
    flushScheduled = false;
    const payloads = batch;
    batch = [];
    chain = chain
      .then(() => queue.push(payloads))
      .then(
        () => {
          stored += payloads.length;
          if (ws.readyState === WebSocket.OPEN) ws.send(encodeHopAck(stored));
        },
        (err: unknown) => {
          // Unacknowledged messages are resent by the pusher after it reconnects.
          context.log.error({ err }, 'store append failed');
          if (ws.readyState === WebSocket.OPEN) closeWithError(ws, 'INTERNAL');
        },
      );
  };

  ws.on('message', (data: RawData, isBinary: boolean) => {
    if (stopped) return;
    if (isBinary) {
      closeWithError(ws, 'BINARY_UNSUPPORTED');
      return;
    }
    batch.push(textOf(data));
    if (!flushScheduled) {
      flushScheduled = true;
      setImmediate(flush);
    }
  });
  if (queue.full) ws.pause();

  return {
    ws,
    async stop() {
      stopped = true;
      if (flushScheduled) {
        // Pending frames were received: store them now rather than wait for the next tick.
        flushScheduled = false;
        flush();
      }
      await chain;
    },
  };
}
