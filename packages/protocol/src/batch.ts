/**
 * Several messages in one binary frame on an internal hop: each one as a 4-byte big-endian
 * length and its UTF-8 frame. One frame per batch instead of one per message is what makes the
 * hops cheap: the cost of a WebSocket frame is mostly its socket write, not its bytes.
 * A text frame on a hop is still exactly one message.
 */

const LENGTH_BYTES = 4;

/** Limits of one batch frame: the peer refuses frames above its max payload. */
export interface BatchLimits {
  readonly maxMessages: number;
  readonly maxBytes: number;
}

/**
 * Packs frames, in order, into as few hop frames as the limits allow: a Buffer per batch, or the
 * frame itself (text) when it goes alone.
 */
export function packBatches(frames: readonly string[], limits: BatchLimits): (string | Buffer)[] {
  const out: (string | Buffer)[] = [];
  let batch: { frame: string; size: number }[] = [];
  let batchBytes = 0;
  const flush = () => {
    const [first] = batch;
    if (batch.length === 1 && first !== undefined) out.push(first.frame);
    else if (batch.length > 1) out.push(encodeBatch(batch, batchBytes));
    batch = [];
    batchBytes = 0;
  };
  for (const frame of frames) {
    const size = LENGTH_BYTES + Buffer.byteLength(frame);
    if (limits.maxMessages <= 1 || size > limits.maxBytes) {
      flush();
      out.push(frame);
      continue;
    }
    if (batch.length >= limits.maxMessages || batchBytes + size > limits.maxBytes) flush();
    batch.push({ frame, size });
    batchBytes += size;
  }
  flush();
  return out;
}

function encodeBatch(entries: readonly { frame: string; size: number }[], bytes: number): Buffer {
  const batch = Buffer.allocUnsafe(bytes);
  let at = 0;
  for (const { frame, size } of entries) {
    batch.writeUInt32BE(size - LENGTH_BYTES, at);
    batch.write(frame, at + LENGTH_BYTES);
    at += size;
  }
  return batch;
}

/** The frames of a batch, as views into it; undefined when the lengths do not add up. */
export function unpackBatch(batch: Buffer): Buffer[] | undefined {
  const frames: Buffer[] = [];
  let at = 0;
  while (at < batch.length) {
    if (at + LENGTH_BYTES > batch.length) return undefined;
    const end = at + LENGTH_BYTES + batch.readUInt32BE(at);
    if (end > batch.length) return undefined;
    frames.push(batch.subarray(at + LENGTH_BYTES, end));
    at = end;
  }
  return frames.length > 0 ? frames : undefined;
}
