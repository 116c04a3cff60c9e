import { isPattern, matchTokens, tokensOf } from '@pubsub/protocol';
import type { Sink } from './sink.js';

/** One subject (a topic or a pattern) a reader subscribed to, with its position in the log. */
export class Subscription {
  readonly subject: string;
  /** A pattern's tokens; undefined for an exact topic. */
  readonly #tokens: string[] | undefined;
  /**
   * The log offset after which this subscription is owed messages. While its reader is live it
   * is not kept up to date (the live stream is the position); CatchUp moves it page by page.
   */
  after: number;
  /**
   * A resumed subscription is filled alone up to here (the log's head when its reply was sent),
   * so its replay follows the reply unbroken; 0 for none.
   */
  replayThrough = 0;
  /** False once unsubscribed: a page in flight must not deliver for it. */
  active = true;

  constructor(subject: string, after: number) {
    this.subject = subject;
    this.#tokens = isPattern(subject) ? tokensOf(subject) : undefined;
    this.after = after;
  }

  /** Whether it names one topic, not a pattern. */
  get exact(): boolean {
    return this.#tokens === undefined;
  }

  matches(topic: string, topicTokens: () => string[]): boolean {
    return this.#tokens === undefined ? this.subject === topic : matchTokens(this.#tokens, topicTokens());
  }
}

/**
 * What the subscriber knows of one sink's reading: its subscriptions and whether it keeps up.
 * A live reader is written each message as it is routed; one that fell behind is filled from the
 * log by CatchUp, at its own pace, until it has caught up with the live stream.
 */
export class Reader {
  readonly sink: Sink;
  readonly subscriptions = new Map<string, Subscription>();
  live = true;
  /**
   * Live messages at or below this offset (in `floorEpoch`) already reached the reader from the
   * log: those still on their way from the msgqueue when it rejoined are not sent twice.
   */
  floor = 0;
  floorEpoch: string | undefined;
  /** The msgqueue epoch its positions are in (set when it leaves the live stream). */
  epoch: string | undefined;
  /** When it last took bytes, for the stall timeout. */
  lastProgress = 0;
  lastBuffered = 0;
  /** Called once it is live again, or its fill ended because the sink closed. */
  readonly #whenLive: (() => void)[] = [];

  constructor(sink: Sink) {
    this.sink = sink;
  }

  /** Resolves once the reader is live (at once if it is), or its sink has closed. */
  untilLive(): Promise<void> {
    if (this.live || !this.sink.open) return Promise.resolve();
    return new Promise((resolveLive) => this.#whenLive.push(resolveLive));
  }

  /** Wakes whoever waits in `untilLive`. */
  settled(): void {
    this.#whenLive.splice(0).forEach((wake) => wake());
  }
}
