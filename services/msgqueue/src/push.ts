import { encodeHopAck, readRouting, unpackBatch } from '@pubsub/protocol';
import { bufferOf, closeAs, closeWithError, noteRefusal, textOf, type ConnectionContext } from '@pubsub/service';
import { isUtf8 } from 'node:buffer';
import { WebSocket, type RawData } from 'ws';
import type { MessageQueue } from './queue.js';
import type { AppendInput } from './store/log.js';

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
 * Appends each text frame as one message, and each binary frame as the batch of messages it
 * packs (acknowledged one by one, as if they had come as text frames). A batch is appended at
 * once; text frames read in the same turn are appended together. Each append is acknowledged
 * with one cumulative `{"ack":n,"seq":[…]}`, sent only once the log has it (fsync'd, for the
 * file log). A frame without a valid topic is refused (seq null).
 */
export function handlePush(ws: WebSocket, context: ConnectionContext, queue: MessageQueue): Pusher {
  let batch: (AppendInput | undefined)[] = [];
  let acked = 0;
  let chain = Promise.resolve();
  let flushScheduled = false;
  let stopped = false;

  const flush = () => {
    flushScheduled = false;
    if (batch.length === 0) return;
    const frames = batch;
    batch = [];
    const valid = frames.filter((input): input is AppendInput => input !== undefined);
    // Appended at once, so batches from every pusher can share one fsync (the log keeps their
    // order); only the acks wait for the batches before them.
    const appended = queue.push(valid);
    chain = chain
      .then(() => appended)
      .then(
        (results) => {
          let next = 0;
          const duplicates: number[] = [];
          const seqs = frames.map((input, index) => {
            if (input === undefined) return null;
            const result = results[next++];
            if (result?.duplicate === true) duplicates.push(index);
            return result?.seq ?? null;
          });
          acked += frames.length;
          if (ws.readyState === WebSocket.OPEN) ws.send(encodeHopAck(acked, seqs, duplicates));
        },
        (err: unknown) => {
          // Unacknowledged messages are resent by the pusher after it reconnects.
          context.log.error({ err }, 'append failed');
          if (ws.readyState === WebSocket.OPEN) closeWithError(ws, 'INTERNAL');
        },
      );
  };

  const take = (frame: string) => {
    const routing = readRouting(frame);
    if (routing === undefined)
      context.log.warn({ frame: frame.slice(0, 64) }, 'refused a pushed frame without a valid topic');
    batch.push(routing === undefined ? undefined : { ...routing, frame });
  };

  ws.on('message', (data: RawData, isBinary: boolean) => {
    if (stopped) return;
    if (isBinary) {
      // A binary frame is a batch of messages (see packBatches); ws checks UTF-8 of text frames only.
      const frames = unpackBatch(bufferOf(data));
      if (frames === undefined || !frames.every((frame) => isUtf8(frame))) {
        noteRefusal(context, 'BAD_BATCH');
        // No error frame first: the pusher reads only hop acks from here.
        closeAs(ws, 'BAD_BATCH');
        return;
      }
      for (const frame of frames) take(frame.toString());
      // A batch is big enough to append at once: its ack can leave while the rest of this
      // turn's frames are read, so publisher and msgqueue work side by side.
      flush();
      return;
    } else {
      take(textOf(data));
    }
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
