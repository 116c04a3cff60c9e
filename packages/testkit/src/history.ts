/**
 * A recorded delivery history (reliability test plan §0 and §1.2–1.3): the events a test observes —
 * publishes with their outcomes, deliveries and subscriptions — and the recorder that collects them
 * in order. `check` (check.ts) judges it; `formatReport` (format-report.ts) prints the verdict.
 *
 * A message is identified by its client-chosen `id`. Publishing the same id again (a resend after a
 * reconnect) is another attempt at the same message; it must repeat the publisher, topic and body.
 * Positions in every report entry are indexes into the history array.
 */
/** `invoke` when the client sends; then at most one of `ok` (acked), `fail` (refused), `info` (unknown). */
export type PublishOutcome = 'invoke' | 'ok' | 'fail' | 'info';

export interface PublishEvent {
  kind: 'publish';
  publisher: string;
  topic: string;
  id: string;
  body: string;
  outcome: PublishOutcome;
  /** Milliseconds since the epoch, for whoever reads a dumped history; the checker ignores it. */
  time?: number;
}

export interface DeliverEvent {
  kind: 'deliver';
  subscriber: string;
  topic: string;
  id: string;
  body: string;
  /** msgqueue's per-topic sequence number, when the protocol carries one. */
  seq?: number;
  time?: number;
}

/** Recorded when the server confirmed the subscription. */
export interface SubscribeEvent {
  kind: 'subscribe';
  subscriber: string;
  topic: string;
  time?: number;
}

/** Recorded when the server confirmed the unsubscription (or the subscriber's connection ended). */
export interface UnsubscribeEvent {
  kind: 'unsubscribe';
  subscriber: string;
  topic: string;
  time?: number;
}

export type HistoryEvent = PublishEvent | DeliverEvent | SubscribeEvent | UnsubscribeEvent;

/** The history itself is inconsistent (a harness bug, not a finding about the system). */
export class HistoryError extends Error {
  override name = 'HistoryError';
}

/** An unambiguous map key from several strings. */
export function keyOf(...parts: string[]): string {
  return JSON.stringify(parts);
}

/** The map's value for `key`, created first if missing. */
export function getOrAdd<K, V>(map: Map<K, V>, key: K, create: () => V): V {
  let value = map.get(key);
  if (value === undefined) {
    value = create();
    map.set(key, value);
  }
  return value;
}

export interface HistoryRecorderOptions {
  /** Stamps each event's `time`; Date.now by default, null for no timestamps. */
  clock?: (() => number) | null;
}

/** Which publish attempt an outcome belongs to. */
export interface PublishRef {
  publisher: string;
  id: string;
}

/**
 * Collects a history in the order a test observes it. Outcomes name only publisher and id; the
 * recorder copies topic and body from the open invoke.
 */
export class HistoryRecorder {
  readonly #events: HistoryEvent[] = [];
  readonly #open = new Map<string, { topic: string; body: string; count: number }>();
  readonly #clock: (() => number) | null;

  constructor(options: HistoryRecorderOptions = {}) {
    this.#clock = options.clock === undefined ? Date.now : options.clock;
  }

  get events(): readonly HistoryEvent[] {
    return this.#events;
  }

  publishInvoked(message: { publisher: string; topic: string; id: string; body: string }): void {
    const { publisher, topic, id, body } = message;
    const open = getOrAdd(this.#open, keyOf(publisher, id), () => ({ topic, body, count: 0 }));
    open.count += 1;
    this.#push({ kind: 'publish', publisher, topic, id, body, outcome: 'invoke' });
  }

  publishOk(ref: PublishRef): void {
    this.#outcome(ref, 'ok');
  }

  publishFailed(ref: PublishRef): void {
    this.#outcome(ref, 'fail');
  }

  publishUnknown(ref: PublishRef): void {
    this.#outcome(ref, 'info');
  }

  delivered(delivery: { subscriber: string; topic: string; id: string; body: string; seq?: number }): void {
    const { subscriber, topic, id, body, seq } = delivery;
    this.#push({ kind: 'deliver', subscriber, topic, id, body, ...(seq === undefined ? {} : { seq }) });
  }

  subscribed(subscription: { subscriber: string; topic: string }): void {
    this.#push({ kind: 'subscribe', subscriber: subscription.subscriber, topic: subscription.topic });
  }

  unsubscribed(subscription: { subscriber: string; topic: string }): void {
    this.#push({ kind: 'unsubscribe', subscriber: subscription.subscriber, topic: subscription.topic });
  }

  /** One JSON object per line, each line ending in a newline. */
  toJsonLines(): string {
    return this.#events.map((event) => `${JSON.stringify(event)}\n`).join('');
  }

  #outcome(ref: PublishRef, outcome: 'ok' | 'fail' | 'info'): void {
    const key = keyOf(ref.publisher, ref.id);
    const open = this.#open.get(key);
    if (open === undefined) {
      throw new HistoryError(
        `publish ${outcome} of id ${JSON.stringify(ref.id)} by ${ref.publisher} has no open invoke`,
      );
    }
    open.count -= 1;
    if (open.count === 0) this.#open.delete(key);
    const { publisher, id } = ref;
    this.#push({ kind: 'publish', publisher, topic: open.topic, id, body: open.body, outcome });
  }

  #push(event: HistoryEvent): void {
    this.#events.push(this.#clock === null ? event : { ...event, time: this.#clock() });
  }
}
