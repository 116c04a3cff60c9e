import { z } from '@pubsub/config';
import type { Logger } from '@pubsub/log';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import type { Sink } from './sink.js';
import { readStateFile, StateFile } from './state-file.js';
import { Ordinals, type Checkpoint } from './stream-ordinals.js';

/** 24 random bytes, base64url: 192 bits, the whole credential of a capability URL. */
const ID_BYTES = 24;
const ID_PATTERN = /^[A-Za-z0-9_-]{32}$/;
/** Ids of deleted and expired streams kept, so their URLs are told "gone" rather than "unknown". */
const MAX_GONE = 10_000;
/** Ordinal progress is saved at most this long after it was made: a crash loses only that, and a replay recounts it from the log. */
const PROGRESS_SAVE_DELAY_MS = 1_000;
const MAX_TIMER_MS = 2 ** 31 - 1;

const CheckpointSchema = z.object({
  ordinal: z.number().int().nonnegative(),
  offset: z.number().int().nonnegative(),
  epoch: z.string(),
});
const StreamsSchema = z.object({
  version: z.literal(1),
  streams: z.array(
    z.object({
      id: z.string().regex(ID_PATTERN),
      owner: z.string(),
      topics: z.array(z.string()).min(1),
      createdAt: z.number(),
      lastActiveAt: z.number(),
      checkpoints: z.array(CheckpointSchema).min(1),
      latest: CheckpointSchema,
    }),
  ),
  gone: z.array(z.object({ id: z.string(), reason: z.enum(['deleted', 'expired']), at: z.number() })),
});
type StreamsState = z.infer<typeof StreamsSchema>;

export type GoneReason = 'deleted' | 'expired';

/** A stream created through `POST /api/streams`: its topics, who made it, its numbering and its open connections. */
export class Stream {
  readonly id: string;
  readonly owner: string;
  readonly topics: readonly string[];
  readonly createdAt: number;
  lastActiveAt: number;
  readonly ordinals: Ordinals;
  readonly connections = new Set<Sink>();
  expiry: NodeJS.Timeout | undefined;

  constructor(fields: Pick<Stream, 'id' | 'owner' | 'topics' | 'createdAt' | 'lastActiveAt' | 'ordinals'>) {
    this.id = fields.id;
    this.owner = fields.owner;
    this.topics = fields.topics;
    this.createdAt = fields.createdAt;
    this.lastActiveAt = fields.lastActiveAt;
    this.ordinals = fields.ordinals;
  }
}

export interface StreamRegistryOptions {
  dataDir: string;
  /** A stream without connections for this long is deleted. */
  idleTimeoutMs: number;
  logger: Logger;
}

/**
 * Every stream of this subscriber service, kept in `streams.json` of SUBSCRIBER_DATA_DIR: a
 * creation or a deletion is on disk before it is answered, ordinal progress within a second.
 * A stream with no connection expires after the idle timeout, counted across restarts.
 */
export class StreamRegistry {
  readonly #options: StreamRegistryOptions;
  readonly #streams = new Map<string, Stream>();
  readonly #gone = new Map<string, { reason: GoneReason; at: number }>();
  readonly #file: StateFile<StreamsState>;
  #progressSave: NodeJS.Timeout | undefined;

  private constructor(options: StreamRegistryOptions) {
    this.#options = options;
    this.#file = new StateFile(join(options.dataDir, 'streams.json'), () => this.#snapshot());
  }

  /** Reads the saved streams (a file this version cannot read throws a StateFileError) and starts their idle clocks. */
  static async open(options: StreamRegistryOptions): Promise<StreamRegistry> {
    const registry = new StreamRegistry(options);
    const state = await readStateFile(registry.#file.path, StreamsSchema);
    for (const gone of state?.gone ?? []) registry.#gone.set(gone.id, { reason: gone.reason, at: gone.at });
    for (const saved of state?.streams ?? []) {
      const ordinals = new Ordinals({ checkpoints: saved.checkpoints, latest: saved.latest });
      const stream = new Stream({ ...saved, ordinals });
      registry.#streams.set(stream.id, stream);
      registry.#idle(stream);
    }
    return registry;
  }

  get size(): number {
    return this.#streams.size;
  }

  /** A new stream of `owner` on `topics`, numbered from `creation` (ordinal 0 there), once it is saved. */
  async create(owner: string, topics: readonly string[], creation: Checkpoint): Promise<Stream> {
    const now = Date.now();
    const id = randomBytes(ID_BYTES).toString('base64url');
    const stream = new Stream({
      id,
      owner,
      topics: [...new Set(topics)],
      createdAt: now,
      lastActiveAt: now,
      ordinals: Ordinals.from(creation),
    });
    this.#streams.set(id, stream);
    this.#idle(stream);
    await this.#file.save();
    this.#options.logger.info({ stream: shortId(id), owner, topics: stream.topics }, 'stream created');
    return stream;
  }

  /** The stream with this id; `gone` with why for one deleted or expired; undefined for any other string. */
  lookup(id: string): Stream | { gone: GoneReason } | undefined {
    if (!ID_PATTERN.test(id)) return undefined;
    const stream = this.#streams.get(id);
    if (stream !== undefined) return stream;
    const gone = this.#gone.get(id);
    return gone === undefined ? undefined : { gone: gone.reason };
  }

  /** The streams `owner` created, oldest first. */
  ownedBy(owner: string): Stream[] {
    return [...this.#streams.values()].filter((stream) => stream.owner === owner);
  }

  /** Deletes a stream: its connections are closed (4410 `STREAM_GONE`), and its URL answers 410 from now on. */
  async delete(stream: Stream, reason: GoneReason = 'deleted'): Promise<void> {
    if (this.#streams.get(stream.id) !== stream) return;
    this.#streams.delete(stream.id);
    clearTimeout(stream.expiry);
    this.#gone.set(stream.id, { reason, at: Date.now() });
    if (this.#gone.size > MAX_GONE) this.#gone.delete(this.#gone.keys().next().value as string);
    for (const sink of stream.connections) sink.close('STREAM_GONE');
    this.#options.logger.info({ stream: shortId(stream.id), owner: stream.owner, reason }, `stream ${reason}`);
    await this.#file.save();
  }

  /** A connection opened on the stream: it does not expire while one is open. */
  attach(stream: Stream, sink: Sink): void {
    stream.connections.add(sink);
    clearTimeout(stream.expiry);
    stream.expiry = undefined;
    stream.lastActiveAt = Date.now();
  }

  /** A connection closed: with none left, its idle clock starts. */
  detach(stream: Stream, sink: Sink): void {
    if (!stream.connections.delete(sink) || this.#streams.get(stream.id) !== stream) return;
    stream.lastActiveAt = Date.now();
    this.#idle(stream);
    this.#saveProgress();
  }

  /** A connection gave an ordinal: kept, and saved within a second. */
  counted(stream: Stream, point: Checkpoint): void {
    if (!stream.ordinals.record(point)) return;
    stream.lastActiveAt = Date.now();
    this.#saveProgress();
  }

  /** Stops the idle clocks and saves what is not saved yet. */
  async close(): Promise<void> {
    for (const stream of this.#streams.values()) clearTimeout(stream.expiry);
    clearTimeout(this.#progressSave);
    this.#progressSave = undefined;
    await this.#file.save();
  }

  #idle(stream: Stream): void {
    if (stream.connections.size > 0) return;
    clearTimeout(stream.expiry);
    const left = stream.lastActiveAt + this.#options.idleTimeoutMs - Date.now();
    // Timers hold at most about 24.8 days: a longer wait is taken in turns.
    stream.expiry = setTimeout(
      () => {
        if (stream.lastActiveAt + this.#options.idleTimeoutMs > Date.now()) return this.#idle(stream);
        this.delete(stream, 'expired').catch((err: unknown) =>
          this.#options.logger.error({ err }, 'could not save the streams'),
        );
      },
      Math.min(MAX_TIMER_MS, Math.max(0, left)),
    );
    stream.expiry.unref();
  }

  #saveProgress(): void {
    if (this.#progressSave !== undefined) return;
    this.#progressSave = setTimeout(() => {
      this.#progressSave = undefined;
      this.#file.save().catch((err: unknown) => this.#options.logger.error({ err }, 'could not save the streams'));
    }, PROGRESS_SAVE_DELAY_MS);
    this.#progressSave.unref();
  }

  #snapshot(): StreamsState {
    return {
      version: 1,
      streams: [...this.#streams.values()].map((stream) => {
        const { checkpoints, latest } = stream.ordinals.toJSON();
        return {
          id: stream.id,
          owner: stream.owner,
          topics: [...stream.topics],
          createdAt: stream.createdAt,
          lastActiveAt: stream.lastActiveAt,
          checkpoints: [...checkpoints],
          latest,
        };
      }),
      gone: [...this.#gone].map(([id, { reason, at }]) => ({ id, reason, at })),
    };
  }
}

/** Enough of an id to tell streams apart in logs; the whole id is a credential and is never logged. */
export function shortId(id: string): string {
  return `${id.slice(0, 6)}…`;
}
