import type { Logger } from '@pubsub/log';
import { encodeGap, readQueued, tokensOf } from '@pubsub/protocol';
import type { Counter } from 'prom-client';
import type { LiveStream } from './delivery.js';
import { LogSourceClosed, type LogPage, type LogSource } from './log-source.js';
import type { Reader, Subscription } from './reader.js';
import type { LogMessage, Sink } from './sink.js';

export interface CatchUpOptions {
  source: LogSource;
  live: LiveStream;
  /** A page is written once the sink holds no more than this. */
  lowWaterBytes: number;
  /** Bytes of messages one page of the log brings at most. */
  pageBytes: number;
  /** A reader behind the live stream that takes nothing for this long is closed (4100). */
  stallTimeoutMs: number;
  logger: Logger;
  counters: { readonly deliveries: Counter; readonly pages: Counter; readonly stalled: Counter };
}

const PAGE_MESSAGES = 1_000;
/** How long a catch-up that found nothing new waits before it asks the log again. */
const IDLE_PAGE_WAIT_MS = 50;

/**
 * Which subscriptions the next page is for. A resumed one still replaying goes first and alone,
 * up to where its reply counted, so its replay follows the reply unbroken. Otherwise the
 * furthest behind go first, alone, until they reach the next position, where they merge.
 */
export function nextPage(subscriptions: readonly Subscription[]): {
  after: number;
  asked: Subscription[];
  before: number | undefined;
} {
  const replaying = subscriptions.filter((subscription) => subscription.after < subscription.replayThrough);
  const candidates = replaying.length > 0 ? replaying : subscriptions;
  const after = Math.min(...candidates.map((subscription) => subscription.after));
  const asked = candidates.filter((subscription) => subscription.after === after);
  const ends =
    replaying.length > 0
      ? asked.map((subscription) => subscription.replayThrough)
      : subscriptions.filter((subscription) => subscription.after > after).map((subscription) => subscription.after);
  return { after, asked, before: ends.length > 0 ? Math.min(...ends) + 1 : undefined };
}

/**
 * Fills readers that fell behind the live stream from the msgqueue's log, each at the pace its
 * sink drains: a page is fetched while the previous one is being taken, written once the sink is
 * below the low-water mark, and the reader rejoins the live stream when a page reaches what has
 * been routed live — with no gap (the log has everything after its position) and no duplicate
 * (live messages at or below the last page are skipped). A reader costs at most its sink's
 * buffer and one page, however far behind it is.
 */
export class CatchUp {
  readonly #options: CatchUpOptions;
  readonly #behind = new Set<Reader>();
  /** Readers with a fill loop running. */
  readonly #filling = new Set<Reader>();
  readonly #sweep: NodeJS.Timeout;

  constructor(options: CatchUpOptions) {
    this.#options = options;
    this.#sweep = setInterval(() => this.#closeStalled(), Math.max(10, Math.min(1_000, options.stallTimeoutMs / 4)));
    this.#sweep.unref();
  }

  /** Readers currently filled from the log. */
  get behindCount(): number {
    return this.#behind.size;
  }

  /** A live reader fell behind at `position`: it is filled from the log from there. */
  behind(reader: Reader, position: { offset: number; epoch: string | undefined }): void {
    this.leaveLive(reader, position);
    this.fill(reader);
  }

  /**
   * Takes a live reader off the live stream at `position` (it has every message up to there):
   * its subscriptions are owed what follows, from the log, once `fill` runs.
   */
  leaveLive(reader: Reader, position: { offset: number; epoch: string | undefined }): void {
    if (!reader.live) return;
    reader.live = false;
    reader.epoch = position.epoch;
    for (const subscription of reader.subscriptions.values())
      subscription.after = Math.max(subscription.after, position.offset);
    reader.lastProgress = Date.now();
    reader.lastBuffered = reader.sink.bufferedBytes;
    this.#behind.add(reader);
    this.#options.logger.debug({ position: position.offset }, 'reader behind the live stream; filling from the log');
  }

  /** Starts the reader's fill loop unless one runs already (a subscription was added to a reader behind). */
  fill(reader: Reader): void {
    if (reader.live || this.#filling.has(reader)) return;
    this.#filling.add(reader);
    this.#fill(reader)
      .catch((err: unknown) => {
        if (err instanceof LogSourceClosed) return;
        this.#options.logger.error({ err }, 'catch-up failed');
        reader.sink.close('INTERNAL');
      })
      .finally(() => {
        this.#filling.delete(reader);
        reader.settled();
      });
  }

  forget(reader: Reader): void {
    this.#behind.delete(reader);
  }

  close(): void {
    clearInterval(this.#sweep);
  }

  async #fill(reader: Reader): Promise<void> {
    const { source, live } = this.#options;
    while (!reader.live && reader.sink.open) {
      const subscriptions = [...reader.subscriptions.values()];
      if (subscriptions.length === 0) {
        this.#rejoin(reader, live.routedThrough, live.epoch);
        return;
      }
      const { after, asked, before } = nextPage(subscriptions);
      const pending = source.page({
        after,
        ...(before !== undefined && { before }),
        subjects: asked.map((subscription) => subscription.subject),
        limit: PAGE_MESSAGES,
        bytes: this.#options.pageBytes,
      });
      // The next page travels while the sink takes the previous one.
      await this.#drained(reader);
      const page = await pending;
      if (!reader.sink.open || reader.live) return;
      this.#options.counters.pages.inc();
      if (reader.epoch !== undefined && page.epoch !== reader.epoch) {
        this.#historyReset(reader, page);
        continue;
      }
      reader.epoch = page.epoch;
      this.#write(reader, page, { subscriptions: asked, after });
      // Live again only from one position shared by every subscription, at or past what was
      // routed live: then skipping live messages up to it repeats nothing and loses nothing.
      // Before the first live message (a fresh subscriber) there is no live epoch to agree with.
      const positions = new Set([...reader.subscriptions.values()].map((subscription) => subscription.after));
      const [position = 0] = positions;
      const sameHistory = live.epoch === undefined || live.epoch === page.epoch;
      if (positions.size === 1 && position >= live.routedThrough && sameHistory) {
        this.#rejoin(reader, position, page.epoch);
      } else if (page.through === after) {
        // Nothing new in the log and no way back to live yet: ask again shortly, not in a busy loop.
        await new Promise((resolveWait) => setTimeout(resolveWait, IDLE_PAGE_WAIT_MS));
      }
    }
  }

  /** Writes the page's messages that `subscriptions` (all positioned at `after`) are owed, and moves them on. */
  #write(reader: Reader, page: LogPage, { subscriptions, after }: { subscriptions: Subscription[]; after: number }) {
    const { sink } = reader;
    // Retention removed messages they were still owed: they are told, never left with a silent gap.
    if (after + 1 < page.first) {
      for (const subscription of subscriptions)
        if (subscription.active) sink.reply(encodeGap(subscription.subject, page.epoch));
    }
    let sent = 0;
    const [only] = subscriptions;
    if (subscriptions.length === 1 && only?.exact === true) {
      // The msgqueue sent that topic's messages alone: nothing to decode or match (it is most of
      // a catch-up's cost, and the live readers share the CPU).
      if (only.active) sent = this.#writeAll(sink, page, only.subject);
    } else {
      sent = this.#writeMatching(sink, page, subscriptions);
    }
    subscriptions.forEach((subscription) => (subscription.after = Math.max(subscription.after, page.through)));
    this.#options.counters.deliveries.inc(sent);
    if (sent > 0) reader.lastProgress = Date.now();
  }

  #writeAll(sink: Sink, page: LogPage, topic: string): number {
    for (let i = 0; i < page.frames.length; i++) {
      const message: LogMessage = {
        offset: page.offsets[i] as number,
        topic,
        seq: undefined,
        epoch: page.epoch,
        frame: page.frames[i] as Buffer,
      };
      sink.write(sink.framing.frame(message));
    }
    return page.frames.length;
  }

  #writeMatching(sink: Sink, page: LogPage, subscriptions: readonly Subscription[]): number {
    let sent = 0;
    for (let i = 0; i < page.frames.length; i++) {
      const frame = page.frames[i] as Buffer;
      const queued = readQueued(frame.toString());
      if (queued === undefined) continue;
      let tokens: string[] | undefined;
      const topicTokens = () => (tokens ??= tokensOf(queued.topic));
      if (!subscriptions.some((s) => s.active && s.matches(queued.topic, topicTokens))) continue;
      const offset = page.offsets[i] as number;
      const message: LogMessage = { offset, topic: queued.topic, seq: queued.seq, epoch: queued.epoch, frame };
      sink.write(sink.framing.frame(message));
      sent++;
    }
    return sent;
  }

  /** The msgqueue's history was reset: positions in the old one mean nothing, so every subscription is told. */
  #historyReset(reader: Reader, page: LogPage): void {
    const { epoch } = page;
    this.#options.logger.warn({ epoch, previous: reader.epoch }, 'msgqueue history was reset during a catch-up');
    for (const subscription of reader.subscriptions.values()) {
      reader.sink.reply(encodeGap(subscription.subject, epoch));
      // Everything retained in the new history is owed; what it no longer holds, this notice covers.
      subscription.after = Math.max(0, page.first - 1);
      subscription.replayThrough = 0;
    }
    reader.epoch = epoch;
  }

  #rejoin(reader: Reader, through: number, epoch: string | undefined): void {
    reader.live = true;
    reader.floor = through;
    reader.floorEpoch = epoch;
    this.#behind.delete(reader);
    reader.settled();
    this.#options.logger.debug({ position: through }, 'reader caught up; live again');
  }

  /** Resolves once the reader's sink is at or below the low-water mark (or closed). */
  async #drained(reader: Reader): Promise<void> {
    while (reader.sink.open && reader.sink.bufferedBytes > this.#options.lowWaterBytes) {
      await new Promise<void>((resolveDrain) => reader.sink.onDrain(resolveDrain));
      reader.lastProgress = Date.now();
    }
  }

  /**
   * Closes readers behind that took nothing within the stall timeout; readers that read slowly
   * stay. Only readers behind: a live one gets new frames every turn, so its unsent bytes say
   * nothing about whether it reads, and it is behind as soon as they pass the high-water mark.
   */
  #closeStalled(): void {
    const now = Date.now();
    for (const reader of this.#behind) {
      const buffered = reader.sink.bufferedBytes;
      if (buffered === 0 || buffered < reader.lastBuffered) reader.lastProgress = now;
      reader.lastBuffered = buffered;
      if (reader.sink.stalls === false || now - reader.lastProgress < this.#options.stallTimeoutMs) continue;
      this.forget(reader);
      this.#options.counters.stalled.inc();
      this.#options.logger.warn({ bufferedBytes: buffered }, 'closing a reader that stopped reading');
      reader.sink.close('CONSUMER_STALLED');
    }
  }
}
