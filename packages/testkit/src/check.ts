/**
 * The delivery-history checker: a pure function from a recorded history (history.ts) to the
 * Jepsen-style sets `lost`, `unexpected`, `duplicated`, `reordered` and `recovered`. No I/O.
 */
import {
  HistoryError,
  type DeliverEvent,
  type HistoryEvent,
  type PublishEvent,
  type SubscribeEvent,
  type UnsubscribeEvent,
  getOrAdd,
  keyOf,
} from './history.js';

export interface CheckOptions {
  /** Report duplicates without failing on them (at-least-once without dedupe, I3). Default false. */
  allowDuplicates?: boolean;
}

/** Where a lost message sits among the messages of the same publisher and topic this subscriber did get. */
export type LostWhere = 'prefix' | 'middle' | 'postfix';

/** An acked message that a subscriber should have received and did not (I1). */
export interface LostEntry {
  /**
   * `prefix`: before the first delivered message of the same publisher+topic; `middle`: a later one
   * was delivered (the worst kind: a slow reader cannot explain it); `postfix`: after the last one,
   * or none of that publisher's messages on the topic arrived at all.
   */
  where: LostWhere;
  subscriber: string;
  publisher: string;
  topic: string;
  id: string;
  /** Position of the first invoke. */
  invoked: number;
  /** Position of the first ok. */
  acked: number;
  /** The nearest message of the same publisher and topic, in invoke order, that this subscriber did get. */
  previousDelivered?: string;
  nextDelivered?: string;
}

/** A delivery that was never published as delivered (I2). */
export interface UnexpectedEntry {
  reason: 'unknown-id' | 'topic-mismatch' | 'body-mismatch';
  subscriber: string;
  topic: string;
  id: string;
  body: string;
  position: number;
  /** The publish this id belongs to; absent for an unknown id. */
  published?: { publisher: string; topic: string; body: string; invoked: number };
}

/** The same id delivered more than once to the same subscriber (I3). */
export interface DuplicateEntry {
  subscriber: string;
  topic: string;
  id: string;
  /** Absent when the id was never published. */
  publisher?: string;
  /** Every delivery of the id to this subscriber. */
  positions: number[];
}

/**
 * A delivery that goes backwards (I4). `publisher-order`: this message was invoked before `after`, by
 * the same publisher on the same topic, yet reached the subscriber later. `seq`: its sequence number is
 * not above that of the subscriber's previous delivery on the topic. Redeliveries are left to
 * `duplicated` and not checked for order.
 */
export type ReorderEntry =
  | {
      rule: 'publisher-order';
      subscriber: string;
      publisher: string;
      topic: string;
      id: string;
      position: number;
      invoked: number;
      after: { id: string; position: number; invoked: number };
    }
  | {
      rule: 'seq';
      subscriber: string;
      topic: string;
      id: string;
      position: number;
      seq: number;
      after: { id: string; position: number; seq: number };
    };

/** A message whose every publish attempt was refused, yet it was delivered: the refusal was a lie. */
export interface FailedDeliveryEntry {
  subscriber: string;
  publisher: string;
  topic: string;
  id: string;
  position: number;
  /** Position of the last fail outcome. */
  failed: number;
}

/**
 * A delivery to a subscriber with no subscription to the topic at that point (plan L3: "0 deliveries
 * after an unsub is acknowledged"). A delivery before the first subscribe event is not reported: the
 * message may be routed just before the confirmation is recorded.
 */
export interface UnsolicitedEntry {
  reason: 'after-unsubscribe' | 'never-subscribed';
  subscriber: string;
  topic: string;
  id: string;
  position: number;
  /** Position of the unsubscribe event that ended the subscription. */
  unsubscribed?: number;
  publisher?: string;
}

/** A message whose outcome was unknown and that turned up anyway. Allowed. */
export interface RecoveredEntry {
  publisher: string;
  topic: string;
  id: string;
  subscribers: string[];
  firstDelivered: number;
}

export interface CheckCounts {
  /** Distinct ids invoked. */
  attempted: number;
  /** Distinct ids with at least one ok. */
  acked: number;
  /** Distinct ids whose every attempt failed. */
  failed: number;
  /** Distinct ids neither acked nor failed: some attempt ended in info or never ended. */
  unknown: number;
  /** (subscriber, message) pairs that must be delivered. */
  expected: number;
  /** Distinct ids delivered to at least one subscriber. */
  delivered: number;
  /** Deliver events, redeliveries included. */
  deliveries: number;
  recovered: number;
}

export interface CheckReport {
  /** True when lost, unexpected, reordered, deliveredAfterFail, unsolicited (and, unless allowed, duplicated) are empty. */
  ok: boolean;
  allowDuplicates: boolean;
  counts: CheckCounts;
  lost: LostEntry[];
  lostPrefix: LostEntry[];
  lostMiddle: LostEntry[];
  lostPostfix: LostEntry[];
  unexpected: UnexpectedEntry[];
  duplicated: DuplicateEntry[];
  reordered: ReorderEntry[];
  deliveredAfterFail: FailedDeliveryEntry[];
  unsolicited: UnsolicitedEntry[];
  recovered: RecoveredEntry[];
}

interface Message {
  publisher: string;
  topic: string;
  id: string;
  body: string;
  /** Position of the first invoke; the message's place in its publisher's order. */
  invoked: number;
  /** Invokes still waiting for an outcome. */
  open: number[];
  okAt: number | undefined;
  failAt: number | undefined;
  sawInfo: boolean;
}

type Status = 'acked' | 'failed' | 'unknown';

function statusOf(message: Message): Status {
  if (message.okAt !== undefined) return 'acked';
  return message.sawInfo || message.open.length > 0 ? 'unknown' : 'failed';
}

interface Window {
  from: number;
  to?: number;
}

interface Subscription {
  subscriber: string;
  topic: string;
  windows: Window[];
}

function recordPublish(messages: Map<string, Message>, event: PublishEvent, position: number): void {
  const message = messages.get(event.id);
  if (event.outcome === 'invoke' && message === undefined) {
    const { publisher, topic, id, body } = event;
    messages.set(id, {
      publisher,
      topic,
      id,
      body,
      invoked: position,
      open: [position],
      okAt: undefined,
      failAt: undefined,
      sawInfo: false,
    });
    return;
  }
  if (message === undefined || (event.outcome !== 'invoke' && message.open.length === 0)) {
    throw new HistoryError(
      `history[${position}]: publish ${event.outcome} of id ${JSON.stringify(event.id)} has no open invoke`,
    );
  }
  if (message.publisher !== event.publisher || message.topic !== event.topic || message.body !== event.body) {
    throw new HistoryError(
      `history[${position}]: publish ${event.outcome} of id ${JSON.stringify(event.id)} differs in publisher, topic or body from history[${message.invoked}]`,
    );
  }
  switch (event.outcome) {
    case 'invoke':
      message.open.push(position);
      return;
    case 'ok':
      message.okAt ??= position;
      break;
    case 'fail':
      message.failAt = position;
      break;
    case 'info':
      message.sawInfo = true;
      break;
  }
  message.open.pop();
}

function recordSubscription(
  subscriptions: Map<string, Subscription>,
  event: SubscribeEvent | UnsubscribeEvent,
  position: number,
): void {
  const { subscriber, topic } = event;
  const { windows } = getOrAdd(subscriptions, keyOf(subscriber, topic), () => ({ subscriber, topic, windows: [] }));
  const current = windows.at(-1);
  const active = current !== undefined && current.to === undefined;
  // A repeated subscribe keeps the earlier start; an unsubscribe with nothing active changes nothing.
  if (event.kind === 'subscribe' && !active) windows.push({ from: position });
  if (event.kind === 'unsubscribe' && active) current.to = position;
}

function contentAnomaly(
  event: DeliverEvent,
  position: number,
  message: Message | undefined,
): UnexpectedEntry | undefined {
  const { subscriber, topic, id, body } = event;
  if (message === undefined) return { reason: 'unknown-id', subscriber, topic, id, body, position };
  const reason = message.topic !== topic ? 'topic-mismatch' : message.body !== body ? 'body-mismatch' : undefined;
  if (reason === undefined) return undefined;
  const published = {
    publisher: message.publisher,
    topic: message.topic,
    body: message.body,
    invoked: message.invoked,
  };
  return { reason, subscriber, topic, id, body, position, published };
}

function solicitation(
  event: DeliverEvent,
  position: number,
  subscription: Subscription | undefined,
): Pick<UnsolicitedEntry, 'reason' | 'unsubscribed'> | undefined {
  const windows = subscription?.windows ?? [];
  const first = windows[0];
  if (first === undefined) return { reason: 'never-subscribed' };
  if (position < first.from) return undefined;
  let ended: number | undefined;
  for (const window of windows) {
    if (window.from > position) break;
    if (window.to === undefined || position < window.to) return undefined;
    ended = window.to;
  }
  return ended === undefined ? undefined : { reason: 'after-unsubscribe', unsubscribed: ended };
}

/** Index of the first message in `sorted` (by invoke position) invoked after `invoked`. */
function firstInvokedAfter(sorted: Message[], invoked: number): number {
  let low = 0;
  let high = sorted.length;
  while (low < high) {
    const middle = (low + high) >>> 1;
    if ((sorted[middle]?.invoked ?? Infinity) <= invoked) low = middle + 1;
    else high = middle;
  }
  return low;
}

/** Checks a delivery history against I1–I4 (plan §0). Throws HistoryError when the history is inconsistent. */
export function check(history: readonly HistoryEvent[], options: CheckOptions = {}): CheckReport {
  const allowDuplicates = options.allowDuplicates ?? false;
  // Insertion order is first-invoke order.
  const messages = new Map<string, Message>();
  const subscriptions = new Map<string, Subscription>();
  const deliveries: { event: DeliverEvent; position: number }[] = [];

  for (const [position, event] of history.entries()) {
    switch (event.kind) {
      case 'publish':
        recordPublish(messages, event, position);
        break;
      case 'deliver':
        deliveries.push({ event, position });
        break;
      case 'subscribe':
      case 'unsubscribe':
        recordSubscription(subscriptions, event, position);
        break;
    }
  }

  const unexpected: UnexpectedEntry[] = [];
  const duplicated: DuplicateEntry[] = [];
  const reordered: ReorderEntry[] = [];
  const deliveredAfterFail: FailedDeliveryEntry[] = [];
  const unsolicited: UnsolicitedEntry[] = [];
  const recovered = new Map<string, RecoveredEntry>();
  const deliveredIds = new Set<string>();
  /** subscriber → id → positions of its deliveries */
  const received = new Map<string, Map<string, number[]>>();
  /** (subscriber, publisher, topic) → first deliveries of known messages, in delivery order */
  const streams = new Map<string, Message[]>();
  const lastSeq = new Map<string, { id: string; position: number; seq: number }>();

  for (const { event, position } of deliveries) {
    const { subscriber, topic, id } = event;
    const message = messages.get(id);
    const publisher = message === undefined ? {} : { publisher: message.publisher };
    deliveredIds.add(id);

    const anomaly = contentAnomaly(event, position, message);
    if (anomaly) unexpected.push(anomaly);
    const unwanted = solicitation(event, position, subscriptions.get(keyOf(subscriber, topic)));
    if (unwanted) unsolicited.push({ ...unwanted, subscriber, topic, id, position, ...publisher });

    const byId = getOrAdd(received, subscriber, () => new Map<string, number[]>());
    const positions = byId.get(id);
    if (positions !== undefined) {
      positions.push(position);
      if (positions.length === 2) duplicated.push({ subscriber, topic, id, ...publisher, positions });
      continue;
    }
    byId.set(id, [position]);

    if (event.seq !== undefined) {
      const seqKey = keyOf(subscriber, topic);
      const previous = lastSeq.get(seqKey);
      if (previous !== undefined && event.seq <= previous.seq) {
        reordered.push({ rule: 'seq', subscriber, topic, id, position, seq: event.seq, after: previous });
      }
      lastSeq.set(seqKey, { id, position, seq: event.seq });
    }

    if (message === undefined) continue;
    const stream = getOrAdd(streams, keyOf(subscriber, message.publisher, message.topic), () => []);
    const previous = stream.at(-1);
    if (previous !== undefined && message.invoked < previous.invoked) {
      const previousPosition = byId.get(previous.id)?.[0] ?? -1;
      reordered.push({
        rule: 'publisher-order',
        subscriber,
        publisher: message.publisher,
        topic: message.topic,
        id,
        position,
        invoked: message.invoked,
        after: { id: previous.id, position: previousPosition, invoked: previous.invoked },
      });
    }
    stream.push(message);

    const status = statusOf(message);
    if (status === 'failed') {
      const failed = message.failAt ?? -1;
      deliveredAfterFail.push({ subscriber, publisher: message.publisher, topic: message.topic, id, position, failed });
    } else if (status === 'unknown') {
      const entry = getOrAdd(recovered, id, () => ({
        publisher: message.publisher,
        topic: message.topic,
        id,
        subscribers: [],
        firstDelivered: position,
      }));
      entry.subscribers.push(subscriber);
    }
  }

  const ackedByTopic = new Map<string, Message[]>();
  for (const message of messages.values()) {
    if (statusOf(message) === 'acked') getOrAdd(ackedByTopic, message.topic, () => []).push(message);
  }
  const sortedStreams = new Map<string, Message[]>();
  const lost: LostEntry[] = [];
  let expected = 0;
  for (const { subscriber, topic, windows } of subscriptions.values()) {
    for (const message of ackedByTopic.get(topic) ?? []) {
      const acked = message.okAt ?? -1;
      // Certainly sequenced inside the subscription: invoked after it began and acked before it ended.
      if (!windows.some((window) => window.from < message.invoked && (window.to === undefined || acked < window.to))) {
        continue;
      }
      expected += 1;
      if (received.get(subscriber)?.has(message.id)) continue;
      const streamKey = keyOf(subscriber, message.publisher, topic);
      const sorted = getOrAdd(sortedStreams, streamKey, () =>
        [...(streams.get(streamKey) ?? [])].sort((a, b) => a.invoked - b.invoked),
      );
      const nextIndex = firstInvokedAfter(sorted, message.invoked);
      const previous = sorted[nextIndex - 1];
      const next = sorted[nextIndex];
      const where: LostWhere =
        previous === undefined
          ? next === undefined
            ? 'postfix'
            : 'prefix'
          : next === undefined
            ? 'postfix'
            : 'middle';
      lost.push({
        where,
        subscriber,
        publisher: message.publisher,
        topic,
        id: message.id,
        invoked: message.invoked,
        acked,
        ...(previous === undefined ? {} : { previousDelivered: previous.id }),
        ...(next === undefined ? {} : { nextDelivered: next.id }),
      });
    }
  }
  lost.sort(
    (a, b) => a.invoked - b.invoked || (a.subscriber < b.subscriber ? -1 : a.subscriber > b.subscriber ? 1 : 0),
  );

  const statuses = [...messages.values()].map(statusOf);
  const count = (status: Status) => statuses.filter((s) => s === status).length;
  const ok =
    lost.length === 0 &&
    unexpected.length === 0 &&
    (allowDuplicates || duplicated.length === 0) &&
    reordered.length === 0 &&
    deliveredAfterFail.length === 0 &&
    unsolicited.length === 0;
  return {
    ok,
    allowDuplicates,
    counts: {
      attempted: messages.size,
      acked: count('acked'),
      failed: count('failed'),
      unknown: count('unknown'),
      expected,
      delivered: deliveredIds.size,
      deliveries: deliveries.length,
      recovered: recovered.size,
    },
    lost,
    lostPrefix: lost.filter((entry) => entry.where === 'prefix'),
    lostMiddle: lost.filter((entry) => entry.where === 'middle'),
    lostPostfix: lost.filter((entry) => entry.where === 'postfix'),
    unexpected,
    duplicated,
    reordered,
    deliveredAfterFail,
    unsolicited,
    recovered: [...recovered.values()],
  };
}
