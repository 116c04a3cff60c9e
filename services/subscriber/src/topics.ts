import { isPattern, PatternIndex, tokensOf } from '@pubsub/protocol';

/** Topics whose resolved subscribers are kept at most; beyond, the cache starts over. */
const CACHE_LIMIT = 10_000;

/**
 * Subscriptions of any kind of subscriber `S`: exact topic → subscribers, pattern → subscribers,
 * and subscriber → what it subscribed to,
 * so that a closing socket leaves no trace. Entries with no sockets left are deleted, so the
 * tables' size follows the live subscriptions.
 *
 * `subscribers(topic)` is the delivery hot path. Without pattern subscriptions it is one map
 * lookup. With them, the patterns matching a topic are found through a PatternIndex (the cost of
 * the topic's tokens, however many patterns there are), and the union for the topic (each socket
 * once, however many of its subscriptions match) is cached until a subscription that can
 * concern the topic changes. A topic that only one set of sockets reaches gets that set itself.
 */
export class TopicRegistry<S extends object> {
  readonly #exact = new Map<string, Set<S>>();
  readonly #patterns = new Map<string, Set<S>>();
  readonly #patternIndex = new PatternIndex<Set<S>>();
  readonly #bySubscriber = new Map<S, Set<string>>();
  /** topic → its subscribers, exact and by pattern; only used while patterns exist. */
  readonly #resolved = new Map<string, ReadonlySet<S> | undefined>();

  /** Subscribes to a topic or a pattern; returns false when the socket already was. */
  subscribe(subscriber: S, subject: string): boolean {
    const sockets = this.#socketsFor(subject, true);
    if (sockets.has(subscriber)) return false;
    sockets.add(subscriber);
    let subjects = this.#bySubscriber.get(subscriber);
    if (subjects === undefined) this.#bySubscriber.set(subscriber, (subjects = new Set()));
    subjects.add(subject);
    this.#invalidate(subject);
    return true;
  }

  /** Returns false when the socket was not subscribed. */
  unsubscribe(subscriber: S, subject: string): boolean {
    if (!this.#remove(subscriber, subject)) return false;
    const subjects = this.#bySubscriber.get(subscriber);
    subjects?.delete(subject);
    if (subjects?.size === 0) this.#bySubscriber.delete(subscriber);
    return true;
  }

  remove(subscriber: S): void {
    for (const subject of this.#bySubscriber.get(subscriber) ?? []) this.#remove(subscriber, subject);
    this.#bySubscriber.delete(subscriber);
  }

  /** Whether the socket is subscribed to exactly this topic or pattern. */
  has(subscriber: S, subject: string): boolean {
    return this.#bySubscriber.get(subscriber)?.has(subject) ?? false;
  }

  /** How many topics and patterns the socket is subscribed to. */
  countFor(subscriber: S): number {
    return this.#bySubscriber.get(subscriber)?.size ?? 0;
  }

  /** Every socket that a message on `topic` goes to, each once. */
  subscribers(topic: string): ReadonlySet<S> | undefined {
    const exact = this.#exact.get(topic);
    if (this.#patternIndex.isEmpty) return exact;
    if (this.#resolved.has(topic)) return this.#resolved.get(topic);
    let only = exact;
    let union: Set<S> | undefined;
    this.#patternIndex.match(tokensOf(topic), (sockets) => {
      if (only === undefined) {
        only = sockets;
        return;
      }
      union ??= new Set(only);
      for (const subscriber of sockets) union.add(subscriber);
    });
    const result = union ?? only;
    if (this.#resolved.size >= CACHE_LIMIT) this.#resolved.clear();
    this.#resolved.set(topic, result);
    return result;
  }

  /** Each exact topic and pattern with subscribers, with how many it has. */
  *subjects(): IterableIterator<readonly [subject: string, subscribers: number]> {
    for (const [topic, sockets] of this.#exact) yield [topic, sockets.size];
    for (const [pattern, sockets] of this.#patterns) yield [pattern, sockets.size];
  }

  /** Exact topics and patterns with at least one subscriber. */
  get topicCount(): number {
    return this.#exact.size + this.#patterns.size;
  }

  get subscriptionCount(): number {
    let count = 0;
    for (const sockets of this.#exact.values()) count += sockets.size;
    for (const sockets of this.#patterns.values()) count += sockets.size;
    return count;
  }

  #socketsFor(subject: string, create: true): Set<S>;
  #socketsFor(subject: string, create: false): Set<S> | undefined;
  #socketsFor(subject: string, create: boolean): Set<S> | undefined {
    if (!isPattern(subject)) {
      let sockets = this.#exact.get(subject);
      if (sockets === undefined && create) this.#exact.set(subject, (sockets = new Set()));
      return sockets;
    }
    let sockets = this.#patterns.get(subject);
    if (sockets === undefined && create) {
      this.#patterns.set(subject, (sockets = new Set()));
      this.#patternIndex.set(subject, sockets);
    }
    return sockets;
  }

  /** Takes the socket out of one subject's set, deleting the set when it empties. */
  #remove(subscriber: S, subject: string): boolean {
    const sockets = this.#socketsFor(subject, false);
    if (sockets === undefined || !sockets.delete(subscriber)) return false;
    if (sockets.size === 0) {
      if (isPattern(subject)) {
        this.#patterns.delete(subject);
        this.#patternIndex.delete(subject);
      } else this.#exact.delete(subject);
    }
    this.#invalidate(subject);
    return true;
  }

  /** Drops the cached subscribers a change of `subject` can affect. */
  #invalidate(subject: string): void {
    if (isPattern(subject)) this.#resolved.clear();
    else this.#resolved.delete(subject);
  }
}
