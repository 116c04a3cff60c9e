/**
 * Several messages in one binary frame on an internal hop: each one as a 4-byte big-endian
 * length and its UTF-8 frame. One frame per batch instead of one per message is what makes the
 * hops cheap: the cost of a WebSocket frame is mostly its socket write, not its bytes.
 * A text frame on a hop is still exactly one message.
 */

const LENGTH_BYTES = 4;
/**
 * A positioned batch also carries each message's log offset, 6 bytes big-endian after its
 * length: a reader that knows where each message sits in the log can catch up from there.
 */
const OFFSET_BYTES = 6;

/** Limits of one batch frame: the peer refuses frames above its max payload. */
export interface BatchLimits {
  readonly maxMessages: number;
  readonly maxBytes: number;
  /** Every frame is a positioned batch, a lone message too (see unpackPositioned). */
  readonly positioned?: boolean;
}

function entryHeaderBytes(limits: { readonly positioned?: boolean }): number {
  return limits.positioned === true ? LENGTH_BYTES + OFFSET_BYTES : LENGTH_BYTES;
}

/** A run of consecutive messages that travels in one hop frame; `bytes` as encoded in a batch. */
export interface BatchPlan {
  readonly first: number;
  readonly count: number;
  readonly bytes: number;
}

/**
 * Groups `count` messages, in order, into as few hop frames as the limits allow: a message that
 * is alone in its run (limits of one message, or too big to share) goes as a text frame.
 */
export function planBatches(count: number, bytesOf: (index: number) => number, limits: BatchLimits): BatchPlan[] {
  const plans: BatchPlan[] = [];
  const header = entryHeaderBytes(limits);
  let first = 0;
  let bytes = 0;
  for (let index = 0; index < count; index++) {
    const size = header + bytesOf(index);
    const fits = index - first < limits.maxMessages && bytes + size <= limits.maxBytes;
    if (index > first && !fits) {
      plans.push({ first, count: index - first, bytes });
      first = index;
      bytes = 0;
    }
    bytes += size;
  }
  if (count > first) plans.push({ first, count: count - first, bytes });
  return plans;
}

/** How to read the messages of a batch being encoded, by index. */
export interface BatchEntries {
  bytesOf(index: number): number;
  /** Puts message `index`'s frame at `at`. */
  write(index: number, target: Buffer, at: number): void;
  /** The message's log offset, for a positioned batch. */
  offsetOf?(index: number): number;
}

/** Encodes a planned run of two or more messages as a batch (or of any number, positioned, with `offsetOf`). */
export function encodeBatch(plan: BatchPlan, entries: BatchEntries): Buffer {
  const batch = Buffer.allocUnsafe(plan.bytes);
  let at = 0;
  for (let index = plan.first; index < plan.first + plan.count; index++) {
    const size = entries.bytesOf(index);
    batch.writeUInt32BE(size, at);
    at += LENGTH_BYTES;
    if (entries.offsetOf !== undefined) {
      batch.writeUIntBE(entries.offsetOf(index), at, OFFSET_BYTES);
      at += OFFSET_BYTES;
    }
    entries.write(index, batch, at);
    at += size;
  }
  return batch;
}

/**
 * Packs frames, in order, into as few hop frames as the limits allow: a Buffer per batch, or the
 * frame itself (text) when it goes alone.
 */
export function packBatches(frames: readonly string[], limits: BatchLimits): (string | Buffer)[] {
  const sizes = frames.map((frame) => Buffer.byteLength(frame));
  const bytesOf = (index: number) => sizes[index] as number;
  const write = (index: number, target: Buffer, at: number) => target.write(frames[index] as string, at);
  return planBatches(frames.length, bytesOf, limits).map((plan) =>
    plan.count === 1 ? (frames[plan.first] as string) : encodeBatch(plan, { bytesOf, write }),
  );
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

/** A positioned batch's messages: their log offsets and frames (views into the batch), in order. */
export interface PositionedFrames {
  readonly offsets: number[];
  readonly frames: Buffer[];
}

/** Reads a positioned batch (see BatchLimits.positioned); undefined when the lengths do not add up. */
export function unpackPositioned(batch: Buffer): PositionedFrames | undefined {
  const offsets: number[] = [];
  const frames: Buffer[] = [];
  const header = LENGTH_BYTES + OFFSET_BYTES;
  let at = 0;
  while (at < batch.length) {
    if (at + header > batch.length) return undefined;
    const end = at + header + batch.readUInt32BE(at);
    if (end > batch.length) return undefined;
    offsets.push(batch.readUIntBE(at + LENGTH_BYTES, OFFSET_BYTES));
    frames.push(batch.subarray(at + header, end));
    at = end;
  }
  return { offsets, frames };
}
