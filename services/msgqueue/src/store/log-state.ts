import { DedupeWindow } from './dedupe-window.js';
import { FrameArena, type FrameSpan } from './frame-arena.js';
import { stampBytes, stampFrame, stampOf } from './frame-seq.js';
import type {
  AppendInput,
  AppendResult,
  HistoryQuery,
  LogEntry,
  MessageLog,
  ScanQuery,
  ScanResult,
  TopicPosition,
} from './log.js';
import { NumberRing } from './number-ring.js';

export interface LogStateOptions {
  epoch: string;
  /** How long a message id is remembered for deduplication. */
  dedupeWindowMs: number;
  /** Most ids remembered at once: under a sustained high rate the oldest go before the window ends. */
  dedupeMaxIds: number;
  now?: () => number;
}

/** A retained message without its frame, which stays in the arena. */
export interface EntryHead {
  readonly offset: number;
  readonly topic: string;
  readonly seq: number;
  readonly time: number;
}

// Columns of a retained message's row.
const SEQ = 0;
const TIME = 1;
const TOPIC = 2;
const CHUNK = 3;
const START = 4;
const LENGTH = 5;
/** Bytes appended before this message: backlog sizes without a scan. */
const BYTES_BEFORE = 6;
/** Offset of the next retained message of the same topic, 0 for none: a topic's history is a chain. */
const NEXT_IN_TOPIC = 7;
const COLUMNS = 8;

interface TopicState {
  readonly name: string;
  readonly index: number;
  last: number;
  /** Offsets of its oldest and newest retained messages, 0 when it has none. */
  first: number;
  newest: number;
}

/**
 * The in-memory side of a log, shared by the memory and the file log: retained messages, the
 * per-topic index and sequence numbers, the dedupe window and the consumer groups. A message is
 * a row of numbers and its frame's bytes in the arena, not an object: what the log retains
 * costs the garbage collector next to nothing, however much it is.
 */
export class LogState {
  readonly epoch: string;
  readonly #rows = new NumberRing(COLUMNS);
  readonly #frames = new FrameArena();
  readonly #stampBytes: number;
  #appendedBytes = 0;
  readonly #topics = new Map<string, TopicState>();
  readonly #topicsByIndex: TopicState[] = [];
  readonly #dedupe: DedupeWindow;
  readonly #groups = new Map<string, number>();
  /** Groups whose position is kept but no longer holds retention back (idle, see releaseGroup). */
  readonly #released = new Set<string>();
  readonly #now: () => number;
  /** Offset of the first retained message. */
  #first = 1;
  #nextOffset = 1;
  #bytes = 0;

  constructor(options: LogStateOptions) {
    this.epoch = options.epoch;
    this.#stampBytes = stampBytes(options.epoch);
    this.#dedupe = new DedupeWindow({ windowMs: options.dedupeWindowMs, maxIds: options.dedupeMaxIds });
    this.#now = options.now ?? Date.now;
  }

  get firstOffset(): number {
    return this.#rows.length === 0 ? this.#nextOffset : this.#first;
  }

  get nextOffset(): number {
    return this.#nextOffset;
  }

  get bytes(): number {
    return this.#bytes;
  }

  /**
   * Assigns offsets and seqs and stores the frames, stamped; returns a result per input and the
   * offsets of the messages that are new, with their ids.
   */
  assign(inputs: readonly AppendInput[]): {
    results: AppendResult[];
    added: { offset: number; id: string | undefined }[];
  } {
    const time = this.#now();
    this.#dedupe.expire(time);
    const results: AppendResult[] = [];
    const added: { offset: number; id: string | undefined }[] = [];
    for (const input of inputs) {
      const topic = this.#topic(input.topic);
      const seq = topic.last + 1;
      // A new id is remembered with this seq here; a known one answers with the seq it got.
      const earlier = input.id === undefined ? undefined : this.#dedupe.claim(input.id, seq, time);
      if (earlier !== undefined) {
        results.push({ seq: earlier, duplicate: true });
        continue;
      }
      // A UTF-16 code unit never takes more than 3 bytes of UTF-8.
      const room = this.#frames.reserve(input.frame.length * 3 + this.#stampBytes);
      const written = room.buffer.write(input.frame, room.start);
      const length = stampFrame(room, written, stampOf(seq, this.epoch));
      this.#frames.commit(length);
      const offset = this.#nextOffset;
      this.#addRow({ offset, topic, seq, time }, { chunk: room.chunk, start: room.start, length });
      results.push({ seq, duplicate: false });
      added.push({ offset, id: input.id });
    }
    return { results, added };
  }

  /** Adds a message read back from disk, with its offset, seq and stamped frame. */
  add(head: EntryHead, frame: Buffer, id: string | undefined): void {
    const room = this.#frames.reserve(frame.length);
    frame.copy(room.buffer, room.start);
    this.#frames.commit(frame.length);
    const topic = this.#topic(head.topic);
    this.#addRow({ ...head, topic }, { ...room, length: frame.length });
    if (id !== undefined) this.#dedupe.remember(id, head.seq, head.time);
  }

  /**
   * Adds a message numbered by a store other writers share, in offset order, stamping its frame.
   * An offset past the next one means the ones between were removed before this process read
   * them: what is retained here starts over there.
   */
  insert(head: EntryHead, frame: string): void {
    if (head.offset > this.#nextOffset) this.dropBefore(head.offset);
    const room = this.#frames.reserve(frame.length * 3 + this.#stampBytes);
    const written = room.buffer.write(frame, room.start);
    const length = stampFrame(room, written, stampOf(head.seq, this.epoch));
    this.#frames.commit(length);
    this.#addRow({ ...head, topic: this.#topic(head.topic) }, { chunk: room.chunk, start: room.start, length });
  }

  /**
   * What a shared store knows beyond its retained messages, for an empty state: the next offset
   * it will give, and each topic's last seq (so a topic whose messages are all gone still says
   * where it ended).
   */
  resumeAt(nextOffset: number, lastSeqs: ReadonlyMap<string, number>): void {
    if (this.#rows.length === 0) this.#nextOffset = Math.max(this.#nextOffset, nextOffset);
    for (const [name, last] of lastSeqs) {
      const topic = this.#topic(name);
      topic.last = Math.max(topic.last, last);
    }
  }

  #addRow(
    { offset, topic, seq, time }: { offset: number; topic: TopicState; seq: number; time: number },
    span: FrameSpan,
  ) {
    if (this.#rows.length === 0) this.#first = offset;
    const row = this.#rows.push();
    this.#rows.set(row, SEQ, seq);
    this.#rows.set(row, TIME, time);
    this.#rows.set(row, TOPIC, topic.index);
    this.#rows.set(row, CHUNK, span.chunk);
    this.#rows.set(row, START, span.start);
    this.#rows.set(row, LENGTH, span.length);
    this.#rows.set(row, BYTES_BEFORE, this.#appendedBytes);
    this.#appendedBytes += span.length;
    this.#bytes += span.length;
    this.#rows.set(row, NEXT_IN_TOPIC, 0);
    if (topic.newest === 0) topic.first = offset;
    else this.#rows.set(this.#rowOf(topic.newest), NEXT_IN_TOPIC, offset);
    topic.newest = offset;
    topic.last = Math.max(topic.last, seq);
    this.#nextOffset = offset + 1;
  }

  /** Where the row of a retained message starts, or -1. */
  #rowOf(offset: number): number {
    return this.#rows.at(offset - this.#first);
  }

  #span(row: number): FrameSpan {
    return {
      chunk: this.#rows.get(row, CHUNK),
      start: this.#rows.get(row, START),
      length: this.#rows.get(row, LENGTH),
    };
  }

  #entry(offset: number, row: number): LogEntry {
    return {
      offset,
      topic: (this.#topicsByIndex[this.#rows.get(row, TOPIC)] as TopicState).name,
      seq: this.#rows.get(row, SEQ),
      time: this.#rows.get(row, TIME),
      frame: this.#frames.toString(this.#span(row)),
    };
  }

  /** A copy of a retained message, frame decoded. */
  read(offset: number): LogEntry | undefined {
    const row = this.#rowOf(offset);
    return row < 0 ? undefined : this.#entry(offset, row);
  }

  /** The head of a retained message, for writing it to disk. */
  head(offset: number): EntryHead | undefined {
    const row = this.#rowOf(offset);
    if (row < 0) return undefined;
    const topic = (this.#topicsByIndex[this.#rows.get(row, TOPIC)] as TopicState).name;
    return { offset, topic, seq: this.#rows.get(row, SEQ), time: this.#rows.get(row, TIME) };
  }

  frameBytes(offset: number): number | undefined {
    const row = this.#rowOf(offset);
    return row < 0 ? undefined : this.#rows.get(row, LENGTH);
  }

  copyFrame(offset: number, target: Buffer, at: number): number {
    const row = this.#rowOf(offset);
    if (row < 0) throw new RangeError(`offset ${offset} is not retained`);
    return this.#frames.copy(this.#span(row), target, at);
  }

  bytesFrom(offset: number): number {
    if (offset >= this.#nextOffset || this.#rows.length === 0) return 0;
    const row = this.#rowOf(Math.max(offset, this.#first));
    return this.#appendedBytes - this.#rows.get(row, BYTES_BEFORE);
  }

  /**
   * At most `limit` retained entries of a topic with seq > `afterSeq` and offset < `beforeOffset`,
   * oldest first. Only those are decoded: a client resuming far back pages through a long history
   * one page per call, and each call walks the skipped rows' numbers, not their frames.
   */
  topicHistory(topic: string, { afterSeq, limit, beforeOffset = Infinity }: HistoryQuery): LogEntry[] {
    const state = this.#topics.get(topic);
    if (state === undefined) return [];
    const entries: LogEntry[] = [];
    for (let offset = state.first; offset !== 0 && offset < beforeOffset && entries.length < limit;) {
      const row = this.#rowOf(offset);
      if (this.#rows.get(row, SEQ) > afterSeq) entries.push(this.#entry(offset, row));
      offset = this.#rows.get(row, NEXT_IN_TOPIC);
    }
    return entries;
  }

  /**
   * Walks the rows from `afterOffset` on, reading only their topic number, so a reader that is
   * far behind on a quiet topic costs a scan of numbers, not of frames.
   */
  scan({ afterOffset, wants, limit, maxBytes, maxScanned, beforeOffset = Infinity }: ScanQuery): ScanResult {
    const offsets: number[] = [];
    const wanted: (boolean | undefined)[] = [];
    const end = Math.min(beforeOffset, this.#nextOffset);
    let offset = Math.max(afterOffset + 1, this.firstOffset);
    let bytes = 0;
    for (let scanned = 0; offset < end && scanned < maxScanned; offset++, scanned++) {
      const row = this.#rowOf(offset);
      const index = this.#rows.get(row, TOPIC);
      let wantsTopic = wanted[index];
      if (wantsTopic === undefined) {
        wantsTopic = wants((this.#topicsByIndex[index] as TopicState).name);
        wanted[index] = wantsTopic;
      }
      if (!wantsTopic) continue;
      const length = this.#rows.get(row, LENGTH);
      if (offsets.length > 0 && (offsets.length >= limit || bytes + length > maxBytes)) break;
      offsets.push(offset);
      bytes += length;
    }
    return { offsets, through: Math.max(afterOffset, offset - 1) };
  }

  topicPosition(topic: string, afterSeq: number, beforeOffset = Infinity): TopicPosition {
    const { first } = this.topicRange(topic);
    const through = Math.min(beforeOffset, this.#nextOffset) - 1;
    let offset: number | undefined;
    let count = 0;
    let last = first - 1;
    const state = this.#topics.get(topic);
    for (let at = state?.first ?? 0; at !== 0 && at <= through;) {
      const row = this.#rowOf(at);
      const seq = this.#rows.get(row, SEQ);
      last = seq;
      if (seq > afterSeq) {
        offset ??= at - 1;
        count++;
      }
      at = this.#rows.get(row, NEXT_IN_TOPIC);
    }
    // Nothing retained after that seq: whatever comes next has a higher offset than any so far.
    return { offset: offset ?? through, first, last, count, through };
  }

  topicRange(topic: string): { first: number; last: number } {
    const state = this.#topics.get(topic);
    if (state === undefined) return { first: 1, last: 0 };
    if (state.first === 0) return { first: state.last + 1, last: state.last };
    return { first: this.#rows.get(this.#rowOf(state.first), SEQ), last: state.last };
  }

  groups(): ReadonlyMap<string, number> {
    return this.#groups;
  }

  /** Records a group's position; a released group holds retention back again from now on. */
  setGroupFloor(group: string, floor: number): void {
    this.#groups.set(group, floor);
    this.#released.delete(group);
  }

  /** Keeps the group's position but lets retention remove what it has not acknowledged. */
  releaseGroup(group: string): void {
    if (this.#groups.has(group)) this.#released.add(group);
  }

  /** The groups that hold retention back here (not released). */
  heldGroups(): string[] {
    return [...this.#groups.keys()].filter((group) => !this.#released.has(group));
  }

  deleteGroup(group: string): void {
    this.#groups.delete(group);
    this.#released.delete(group);
  }

  /** The lowest offset some consumer group (not released) still needs. */
  neededFrom(): number {
    let needed = this.#nextOffset;
    for (const [group, floor] of this.#groups) {
      if (!this.#released.has(group)) needed = Math.min(needed, floor);
    }
    return needed;
  }

  /** Drops retained messages below `offset` from memory. */
  dropBefore(offset: number): void {
    const count = Math.min(offset, this.#nextOffset) - this.#first;
    if (count <= 0 || this.#rows.length === 0) return;
    for (let i = 0; i < count; i++) {
      const row = this.#rows.at(i);
      this.#bytes -= this.#rows.get(row, LENGTH);
      // Messages go oldest first, so this one is its topic's first.
      const topic = this.#topicsByIndex[this.#rows.get(row, TOPIC)] as TopicState;
      topic.first = this.#rows.get(row, NEXT_IN_TOPIC);
      if (topic.first === 0) topic.newest = 0;
    }
    this.#rows.shift(count);
    this.#first += count;
    const oldest = this.#rows.at(0);
    if (oldest >= 0) this.#frames.releaseBefore(this.#rows.get(oldest, CHUNK));
    else this.#frames.releaseBefore(Number.MAX_SAFE_INTEGER);
  }

  /**
   * Applies retention: drops the oldest messages while they are older than `retentionMs` or the
   * log holds more than `retentionBytes`, but never one a consumer group still needs. Returns
   * the new first offset.
   */
  retain(options: { retentionMs: number; retentionBytes: number }): number {
    const needed = this.neededFrom();
    const oldestKept = this.#now() - options.retentionMs;
    let bytes = this.#bytes;
    let cut = this.firstOffset;
    for (let i = 0; i < this.#rows.length; i++) {
      const row = this.#rows.at(i);
      if (this.#first + i >= needed) break;
      if (this.#rows.get(row, TIME) >= oldestKept && bytes <= options.retentionBytes) break;
      bytes -= this.#rows.get(row, LENGTH);
      cut = this.#first + i + 1;
    }
    this.dropBefore(cut);
    return cut;
  }

  #topic(name: string): TopicState {
    let topic = this.#topics.get(name);
    if (topic === undefined) {
      topic = { name, index: this.#topicsByIndex.length, last: 0, first: 0, newest: 0 };
      this.#topics.set(name, topic);
      this.#topicsByIndex.push(topic);
    }
    return topic;
  }
}

/** The read side of a MessageLog, answered by the state itself: the same for every store. */
export function stateReads(
  state: LogState,
): Pick<
  MessageLog,
  | 'bytesFrom'
  | 'read'
  | 'frameBytes'
  | 'copyFrame'
  | 'topicHistory'
  | 'scan'
  | 'topicPosition'
  | 'topicRange'
  | 'groups'
> {
  return {
    bytesFrom: (offset) => state.bytesFrom(offset),
    read: (offset) => state.read(offset),
    frameBytes: (offset) => state.frameBytes(offset),
    copyFrame: (offset, target, at) => state.copyFrame(offset, target, at),
    topicHistory: (topic, query) => state.topicHistory(topic, query),
    scan: (query) => state.scan(query),
    topicPosition: (topic, afterSeq) => state.topicPosition(topic, afterSeq),
    topicRange: (topic) => state.topicRange(topic),
    groups: () => state.groups(),
  };
}
