import { serverTextFrame } from '@pubsub/service';
import type { Framing, LogMessage } from './sink.js';

/** One point of a stream's numbering: the message at `offset` of the log (in `epoch`) has `ordinal`. */
export interface Checkpoint {
  readonly ordinal: number;
  readonly offset: number;
  readonly epoch: string;
}

/** What a stream keeps of its numbering, as saved. */
export interface OrdinalsState {
  /** The creation point (ordinal 0) first, then one about every SPACING ordinals, oldest first. */
  readonly checkpoints: readonly Checkpoint[];
  /** The last ordinal given. */
  readonly latest: Checkpoint;
}

/** A replay counts forward from the checkpoint before it: at most about this many messages are counted and not sent. */
const SPACING = 1_000;
/** Past this many checkpoints every other one goes (not the creation point): old history is replayed less often. */
const MAX_CHECKPOINTS = 64;

/**
 * Where a stream's ordinals are in the log. An ordinal is the count of the stream's messages in
 * the log after its creation point, so it follows from the log alone; the checkpoints only save
 * counting from the start, and remember what the count was where retention has since removed
 * the messages (or the msgqueue's history was reset).
 */
export class Ordinals {
  #checkpoints: Checkpoint[];
  #latest: Checkpoint;

  constructor(state: OrdinalsState) {
    this.#checkpoints = [...state.checkpoints];
    this.#latest = state.latest;
  }

  static from(creation: Checkpoint): Ordinals {
    return new Ordinals({ checkpoints: [creation], latest: creation });
  }

  get latest(): Checkpoint {
    return this.#latest;
  }

  /** Notes that the message at `point.offset` got `point.ordinal`; false when it says nothing new. */
  record(point: Checkpoint): boolean {
    if (point.epoch !== this.#latest.epoch) {
      if (point.ordinal <= this.#latest.ordinal) return false;
      // Offsets of another history say nothing about this one.
      this.#checkpoints = [point];
    } else if (point.ordinal <= this.#latest.ordinal) {
      return false;
    } else if (point.ordinal - (this.#checkpoints.at(-1)?.ordinal ?? 0) >= SPACING) {
      this.#checkpoints.push(point);
      if (this.#checkpoints.length > MAX_CHECKPOINTS)
        this.#checkpoints = this.#checkpoints.filter(
          (_, index, all) => index === 0 || index % 2 === 1 || index === all.length - 1,
        );
    }
    this.#latest = point;
    return true;
  }

  /**
   * Where a replay of what follows ordinal `from` starts counting, given `first`, the oldest
   * offset the log retains (in the latest checkpoint's epoch): the last checkpoint at or before
   * `from` whose messages after it are all retained. When retention took the messages up to
   * `from`, the first checkpoint still counted from, with `lost` set: the client is told of the
   * gap. When none is left, the latest one, from where the count goes on past the gap.
   */
  replayStart(from: number, first: number): { start: Checkpoint; lost: boolean } {
    const points = [...this.#checkpoints, this.#latest];
    const usable = points.filter((point) => point.offset + 1 >= first);
    const before = usable.filter((point) => point.ordinal <= from).at(-1);
    if (before !== undefined) return { start: before, lost: false };
    const after = usable.find((point) => point.ordinal > from);
    if (after !== undefined) return { start: after, lost: true };
    return { start: this.#latest, lost: false };
  }

  toJSON(): OrdinalsState {
    return { checkpoints: this.#checkpoints, latest: this.#latest };
  }
}

/** The delivery frame with the stream's ordinal added as its last member. */
export function withOrdinal(frame: Buffer, ordinal: number): Buffer {
  const end = frame.lastIndexOf(0x7d); // '}'
  return Buffer.concat([frame.subarray(0, end), Buffer.from(`,"ordinal":${ordinal}}`)]);
}

/** A frame the client already has: counted, not sent. */
export const SKIPPED = Buffer.alloc(0);

/** What a connection's framing needs of its stream. */
export interface Numbering {
  /** The last ordinal the stream gave, on any connection. */
  readonly latest: Checkpoint;
  /** The connection gave `point.ordinal` to the message at `point.offset`. */
  counted(point: Checkpoint): void;
}

/**
 * Numbers one connection's deliveries of a stream. Routing and catch-up hand a reader every
 * message of its subscriptions once and in log order, so counting them from a checkpoint gives
 * each one its ordinal; those at or below the client's `from` are counted, not sent. Each reader
 * has its own framing (Delivery frames once per framing), so a message is numbered per stream.
 */
export class OrdinalFraming implements Framing {
  readonly #numbering: Numbering;
  readonly #skipThrough: number;
  #ordinal = 0;
  #epoch = '';

  constructor(numbering: Numbering, skipThrough: number) {
    this.#numbering = numbering;
    this.#skipThrough = skipThrough;
  }

  /** Counting starts after `start` (before the first message is framed). */
  begin(start: Checkpoint): void {
    this.#ordinal = start.ordinal;
    this.#epoch = start.epoch;
  }

  frame(message: LogMessage): Buffer {
    const epoch = message.epoch ?? this.#epoch;
    if (epoch !== this.#epoch) {
      // Another history (the msgqueue's data was reset): numbering goes on past every ordinal
      // given so far, so none names two messages.
      if (this.#numbering.latest.epoch !== epoch)
        this.#ordinal = Math.max(this.#ordinal, this.#numbering.latest.ordinal);
      this.#epoch = epoch;
    }
    const ordinal = ++this.#ordinal;
    this.#numbering.counted({ ordinal, offset: message.offset, epoch });
    return ordinal <= this.#skipThrough ? SKIPPED : serverTextFrame(withOrdinal(message.frame, ordinal));
  }
}
