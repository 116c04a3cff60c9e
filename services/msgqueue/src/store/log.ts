/** A copy of a retained message: its place in the log, in its topic, and the frame to deliver. */
export interface LogEntry {
  /** Position in the whole log, from 1, never reused within an epoch. */
  readonly offset: number;
  readonly topic: string;
  /** Position within the topic, from 1. */
  readonly seq: number;
  /** When it was appended (ms since the epoch of time), for retention by age. */
  readonly time: number;
  /** The delivery frame, with its seq and the log's epoch already in it. */
  readonly frame: string;
}

/** What a pusher hands the log: the topic (read from the frame) and the frame itself. */
export interface AppendInput {
  readonly topic: string;
  readonly frame: string;
  /** The message id, for deduplication. */
  readonly id: string | undefined;
}

/** The outcome of one append: the message's seq in its topic, and whether it was already there. */
export interface AppendResult {
  readonly seq: number;
  readonly duplicate: boolean;
}

/** Which part of a topic's history to read. */
export interface HistoryQuery {
  /** Entries with a seq above this. */
  afterSeq: number;
  /** Most entries returned. */
  limit: number;
  /** Entries below this offset only (the log's committed offset, for a durable log). */
  beforeOffset?: number;
}

/** Which part of the whole log to read, across topics (`GET /log`). */
export interface ScanQuery {
  /** Entries with an offset above this. */
  afterOffset: number;
  /** Whether entries of a topic are wanted; asked once per topic per scan. */
  wants: (topic: string) => boolean;
  /** Most entries returned. */
  limit: number;
  /** Most frame bytes returned; the first entry is returned whatever its size. */
  maxBytes: number;
  /** Most entries looked at: bounds the time one scan holds the event loop. */
  maxScanned: number;
  /** Entries below this offset only (the log's committed offset, for a durable log). */
  beforeOffset?: number;
}

/** What a scan found: the offsets of the wanted entries, and the last offset it looked at. */
export interface ScanResult {
  readonly offsets: number[];
  /** Every wanted entry at or below this offset (and above `afterOffset`) is in `offsets`. */
  readonly through: number;
}

/** Where a topic's messages after a seq start in the log (`GET /position`). */
export interface TopicPosition {
  /** Every message of the topic with a seq above the one asked for has an offset above this. */
  readonly offset: number;
  /** The topic's first retained seq and last committed one. */
  readonly first: number;
  readonly last: number;
  /** Its retained, committed messages with a seq above the one asked for. */
  readonly count: number;
  /** The log's last committed offset: `count` and `last` are as of it. */
  readonly through: number;
}

/**
 * Where the msgqueue keeps messages: an append-only log with per-topic sequence numbers,
 * consumer-group positions, and retention. The seam between the queue logic and its storage.
 */
export interface MessageLog {
  /** Changes whenever the history is reset, so clients can tell a restart with lost history. */
  readonly epoch: string;
  /** Offset of the oldest retained entry (equals nextOffset when the log is empty). */
  readonly firstOffset: number;
  /** Offset the next appended entry will get. */
  readonly nextOffset: number;
  /**
   * Offset after the last entry that is kept for good (on disk, for a durable log). Only entries
   * below it may leave the msgqueue: one delivered before its fsync could be lost in a crash
   * after a consumer saw it, and its seq given to another message.
   */
  readonly committedOffset: number;
  /** Set once a write has failed: the log then refuses appends (readiness reports it). */
  readonly failure: Error | undefined;
  /** Bytes of retained frames. */
  readonly bytes: number;
  /** Bytes of the retained frames at `offset` and after. */
  bytesFrom(offset: number): number;
  /**
   * Appends in order and resolves once the entries are kept (on disk and fsync'd, for a
   * durable log). An id seen within the dedupe window resolves to the earlier entry's seq instead.
   */
  append(inputs: readonly AppendInput[]): Promise<AppendResult[]>;
  /**
   * Calls `listener` whenever `committedOffset` grows: after this process's appends, and for a
   * store several msgqueue nodes share, after another node's.
   */
  onCommitted(listener: () => void): void;
  /** A copy of a retained entry, or undefined if it was never written or has been removed. */
  read(offset: number): LogEntry | undefined;
  /** Size of a retained entry's frame, or undefined if it is not retained; for `copyFrame`. */
  frameBytes(offset: number): number | undefined;
  /** Copies a retained entry's frame (UTF-8) into `target` at `at`; returns the bytes copied. */
  copyFrame(offset: number, target: Buffer, at: number): number;
  /** At most `limit` retained, committed entries of one topic with seq > `afterSeq`, oldest first. */
  topicHistory(topic: string, query: HistoryQuery): LogEntry[];
  /** Retained, committed entries across topics after an offset, oldest first. */
  scan(query: ScanQuery): ScanResult;
  /** The offset after which a topic's committed messages with seq > `afterSeq` start. */
  topicPosition(topic: string, afterSeq: number): TopicPosition;
  /** The first seq still retained for a topic, and the last one assigned (0 when none). */
  topicRange(topic: string): { first: number; last: number };
  /** Consumer groups and the offset below which each has acknowledged everything. */
  groups(): ReadonlyMap<string, number>;
  /** Records a group's position; a durable log persists it soon after (at most a second). */
  setGroupFloor(group: string, floor: number): void;
  /**
   * Lets retention remove what the group has not acknowledged (it is idle); its position is kept,
   * and its next setGroupFloor holds retention back again.
   */
  releaseGroup(group: string): void;
  /**
   * Forgets a group and its position (persisted like setGroupFloor). With `here`, only this
   * node forgets it: a store several nodes share keeps its position while another node holds it.
   */
  deleteGroup(group: string, scope?: 'everywhere' | 'here'): void;
  close(): Promise<void>;
}
