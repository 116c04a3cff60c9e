import Denque from 'denque';
import { stampFrame } from './frame-seq.js';
import type { AppendInput, AppendResult, LogEntry, MessageLog } from './log.js';

export interface LogStateOptions {
  epoch: string;
  /** How long a message id is remembered for deduplication. */
  dedupeWindowMs: number;
  /** Most ids remembered at once: under a sustained high rate the oldest go before the window ends. */
  dedupeMaxIds: number;
  now?: () => number;
}

/**
 * The in-memory side of a log, shared by the memory and the file log: retained entries, the
 * per-topic index and sequence numbers, the dedupe window and the consumer groups.
 */
export class LogState {
  readonly epoch: string;
  readonly #entries = new Denque<LogEntry>();
  /** For each retained entry, the bytes appended before it: backlog sizes without a scan. */
  readonly #bytesBefore = new Denque<number>();
  #appendedBytes = 0;
  readonly #topics = new Map<string, { last: number; entries: Denque<LogEntry> }>();
  readonly #recentIds = new Map<string, LogEntry>();
  readonly #idOrder = new Denque<{ id: string; time: number }>();
  readonly #groups = new Map<string, number>();
  readonly #dedupeWindowMs: number;
  readonly #dedupeMaxIds: number;
  readonly #now: () => number;
  #nextOffset = 1;
  #bytes = 0;

  constructor(options: LogStateOptions) {
    this.epoch = options.epoch;
    this.#dedupeWindowMs = options.dedupeWindowMs;
    this.#dedupeMaxIds = options.dedupeMaxIds;
    this.#now = options.now ?? Date.now;
  }

  get firstOffset(): number {
    return this.#entries.peekFront()?.offset ?? this.#nextOffset;
  }

  get nextOffset(): number {
    return this.#nextOffset;
  }

  get bytes(): number {
    return this.#bytes;
  }

  /** Assigns offsets and seqs; returns the results and the entries that are new, with their ids. */
  assign(inputs: readonly AppendInput[]): {
    results: AppendResult[];
    added: { entry: LogEntry; id: string | undefined }[];
  } {
    const time = this.#now();
    this.#forgetIdsBefore(time - this.#dedupeWindowMs);
    const results: AppendResult[] = [];
    const added: { entry: LogEntry; id: string | undefined }[] = [];
    for (const input of inputs) {
      const earlier = input.id === undefined ? undefined : this.#recentIds.get(input.id);
      if (earlier !== undefined) {
        results.push({ entry: earlier, duplicate: true });
        continue;
      }
      const topic = this.#topic(input.topic);
      const seq = topic.last + 1;
      const entry: LogEntry = {
        offset: this.#nextOffset,
        topic: input.topic,
        seq,
        time,
        frame: stampFrame(input.frame, seq, this.epoch),
      };
      this.add(entry, input.id);
      results.push({ entry, duplicate: false });
      added.push({ entry, id: input.id });
    }
    return { results, added };
  }

  /** Adds an entry that already has its offset and seq (on assign, and on recovery). */
  add(entry: LogEntry, id: string | undefined): void {
    this.#entries.push(entry);
    this.#bytesBefore.push(this.#appendedBytes);
    this.#appendedBytes += entry.frame.length;
    const topic = this.#topic(entry.topic);
    topic.entries.push(entry);
    topic.last = Math.max(topic.last, entry.seq);
    this.#nextOffset = entry.offset + 1;
    this.#bytes += entry.frame.length;
    if (id !== undefined) {
      this.#recentIds.set(id, entry);
      this.#idOrder.push({ id, time: entry.time });
      if (this.#idOrder.length > this.#dedupeMaxIds) this.#forgetOldestId();
    }
  }

  read(offset: number): LogEntry | undefined {
    const first = this.#entries.peekFront();
    // Denque reads negative indexes from the back, so an offset below the first must stop here.
    if (first === undefined || offset < first.offset) return undefined;
    return this.#entries.peekAt(offset - first.offset);
  }

  bytesFrom(offset: number): number {
    const first = this.#entries.peekFront();
    if (first === undefined || offset >= this.#nextOffset) return 0;
    const before = this.#bytesBefore.peekAt(Math.max(0, offset - first.offset)) ?? this.#appendedBytes;
    return this.#appendedBytes - before;
  }

  topicHistory(topic: string, afterSeq: number): LogEntry[] {
    const entries = this.#topics.get(topic)?.entries.toArray() ?? [];
    return entries.filter((entry) => entry.seq > afterSeq);
  }

  topicRange(topic: string): { first: number; last: number } {
    const state = this.#topics.get(topic);
    if (state === undefined) return { first: 1, last: 0 };
    return { first: state.entries.peekFront()?.seq ?? state.last + 1, last: state.last };
  }

  groups(): ReadonlyMap<string, number> {
    return this.#groups;
  }

  setGroupFloor(group: string, floor: number): void {
    this.#groups.set(group, floor);
  }

  /** The lowest offset some consumer group still needs. */
  neededFrom(): number {
    let needed = this.#nextOffset;
    for (const floor of this.#groups.values()) needed = Math.min(needed, floor);
    return needed;
  }

  /** Drops retained entries below `offset` from memory. */
  dropBefore(offset: number): void {
    for (
      let entry = this.#entries.peekFront();
      entry !== undefined && entry.offset < offset;
      entry = this.#entries.peekFront()
    ) {
      this.#entries.shift();
      this.#bytesBefore.shift();
      this.#bytes -= entry.frame.length;
      const topic = this.#topics.get(entry.topic);
      topic?.entries.shift();
    }
  }

  /**
   * Applies retention: drops the oldest entries while they are older than `retentionMs` or the
   * log holds more than `retentionBytes`, but never one a consumer group still needs. Returns
   * the new first offset.
   */
  retain(options: { retentionMs: number; retentionBytes: number }): number {
    const needed = this.neededFrom();
    const oldestKept = this.#now() - options.retentionMs;
    let bytes = this.#bytes;
    let cut = this.firstOffset;
    for (let i = 0; i < this.#entries.length; i++) {
      const entry = this.#entries.peekAt(i);
      if (entry === undefined || entry.offset >= needed) break;
      if (entry.time >= oldestKept && bytes <= options.retentionBytes) break;
      bytes -= entry.frame.length;
      cut = entry.offset + 1;
    }
    this.dropBefore(cut);
    return cut;
  }

  #topic(name: string): { last: number; entries: Denque<LogEntry> } {
    let topic = this.#topics.get(name);
    if (topic === undefined) this.#topics.set(name, (topic = { last: 0, entries: new Denque() }));
    return topic;
  }

  #forgetIdsBefore(time: number): void {
    for (let first = this.#idOrder.peekFront(); first !== undefined && first.time < time;) {
      this.#forgetOldestId();
      first = this.#idOrder.peekFront();
    }
  }

  #forgetOldestId(): void {
    const oldest = this.#idOrder.shift();
    if (oldest === undefined) return;
    const entry = this.#recentIds.get(oldest.id);
    // A later entry with the same id (stored again after it was forgotten) stays remembered.
    if (entry !== undefined && entry.time === oldest.time) this.#recentIds.delete(oldest.id);
  }
}

/** The read side of a MessageLog, answered by the state itself: the same for every store. */
export function stateReads(
  state: LogState,
): Pick<MessageLog, 'bytesFrom' | 'read' | 'topicHistory' | 'topicRange' | 'groups'> {
  return {
    bytesFrom: (offset) => state.bytesFrom(offset),
    read: (offset) => state.read(offset),
    topicHistory: (topic, afterSeq) => state.topicHistory(topic, afterSeq),
    topicRange: (topic) => state.topicRange(topic),
    groups: () => state.groups(),
  };
}
