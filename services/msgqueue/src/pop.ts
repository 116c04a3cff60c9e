import { decodeHopAck } from '@pubsub/protocol';
import { closeWithError, type ConnectionContext, textOf } from '@pubsub/service';
import type { RawData, WebSocket } from 'ws';
import type { MessageQueue } from './queue.js';

/**
 * A `/popmsg` consumer: receives up to `prefetch` unacknowledged messages, one per text frame,
 * and acknowledges with cumulative `{"ack":n}`. Whatever it has not acknowledged when it goes
 * away is delivered again, to it or another consumer.
 */
export function handlePop(ws: WebSocket, context: ConnectionContext, queue: MessageQueue): void {
  const consumer = queue.addConsumer(ws);
  ws.on('message', (data: RawData, isBinary: boolean) => {
    if (isBinary) {
      closeWithError(ws, 'BINARY_UNSUPPORTED');
      return;
    }
    const count = decodeHopAck(textOf(data));
    if (count === undefined || !queue.ack(consumer, count)) {
      context.log.warn({ frame: textOf(data).slice(0, 64) }, 'invalid ack from consumer');
      ws.close(1008, 'expected {"ack":n} with n between the last ack and the messages received');
    }
  });
  ws.on('close', () => queue.removeConsumer(consumer));
}
