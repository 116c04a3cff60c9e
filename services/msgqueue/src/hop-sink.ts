import { CloseCode, encodeBatch, planBatches, type BatchLimits } from '@pubsub/protocol';
import { WebSocket } from 'ws';
import type { ConsumerSink } from './consumer-group.js';

/**
 * A `/popmsg` consumer's sink: each message as its own text frame, or several (or, for a
 * positioned reader, every one) in binary hop batches within the consumer's `batch` limits. The
 * frames are copied straight from the log into the socket's buffers, never decoded.
 */
export function hopSink(ws: WebSocket, batch: BatchLimits): ConsumerSink {
  const positioned = batch.positioned === true;
  return {
    get open() {
      return ws.readyState === WebSocket.OPEN;
    },
    deliver(offsets, frames) {
      const sizes = offsets.map((offset) => frames.frameBytes(offset) as number);
      const bytesOf = (index: number) => sizes[index] as number;
      const write = (index: number, target: Buffer, at: number) =>
        frames.copyFrame(offsets[index] as number, target, at);
      const entries = { bytesOf, write, ...(positioned && { offsetOf: (index: number) => offsets[index] as number }) };
      for (const plan of planBatches(offsets.length, bytesOf, batch)) {
        if (plan.count > 1 || positioned) {
          ws.send(encodeBatch(plan, entries), { binary: true });
          continue;
        }
        const frame = Buffer.allocUnsafe(bytesOf(plan.first));
        write(plan.first, frame, 0);
        ws.send(frame, { binary: false });
      }
    },
    groupRemoved(group) {
      ws.close(CloseCode.GROUP_REMOVED, `group "${group}" was removed`);
    },
  };
}
