import fc from 'fast-check';
import { describe, expect, test } from 'vitest';
import { check, type CheckReport } from './check.js';
import { formatReport } from './format-report.js';
import { HistoryError, HistoryRecorder, type DeliverEvent, type HistoryEvent } from './history.js';

// Fixed seed so every run checks the same histories; set FC_SEED to explore others.
const FC = { seed: Number(process.env.FC_SEED ?? 20_240_611), numRuns: 300 } as const;

const bodyOf = (id: string) => JSON.stringify({ id, pad: 'x' });

/** Builds synthetic histories through the recorder; deliveries look topic and body up by id. */
function scenario() {
  const rec = new HistoryRecorder({ clock: null });
  const topics = new Map<string, string>();
  return {
    rec,
    get events(): HistoryEvent[] {
      return [...rec.events];
    },
    sub(subscriber: string, topic: string) {
      rec.subscribed({ subscriber, topic });
    },
    unsub(subscriber: string, topic: string) {
      rec.unsubscribed({ subscriber, topic });
    },
    invoke(publisher: string, topic: string, id: string) {
      topics.set(id, topic);
      rec.publishInvoked({ publisher, topic, id, body: bodyOf(id) });
    },
    /** Invoke, then ok. */
    pub(publisher: string, topic: string, id: string) {
      this.invoke(publisher, topic, id);
      rec.publishOk({ publisher, id });
    },
    deliver(subscriber: string, id: string, seq?: number) {
      const topic = topics.get(id) ?? 'unknown-topic';
      rec.delivered({ subscriber, topic, id, body: bodyOf(id), ...(seq === undefined ? {} : { seq }) });
    },
  };
}

/**
 * Clean: s1 follows t1 and t2, s2 follows t1. p1 publishes a1..a4 on t1 and c1, c2 on t2; p2
 * publishes b1, b2 on t1. Every message is delivered right after its ack, with t1/t2 sequence numbers.
 */
const ORDER = [
  ['p1', 't1', 'a1'],
  ['p2', 't1', 'b1'],
  ['p1', 't2', 'c1'],
  ['p1', 't1', 'a2'],
  ['p2', 't1', 'b2'],
  ['p1', 't2', 'c2'],
  ['p1', 't1', 'a3'],
  ['p1', 't1', 'a4'],
] as const;
const FOLLOWERS = { t1: ['s1', 's2'], t2: ['s1'] } as const;

function cleanScenario() {
  const s = scenario();
  s.sub('s1', 't1');
  s.sub('s1', 't2');
  s.sub('s2', 't1');
  const seq = { t1: 0, t2: 0 };
  for (const [publisher, topic, id] of ORDER) {
    s.pub(publisher, topic, id);
    seq[topic] += 1;
    for (const subscriber of FOLLOWERS[topic]) s.deliver(subscriber, id, seq[topic]);
  }
  return s;
}

const cleanHistory = () => cleanScenario().events;

const delivery = (subscriber: string, id: string, topic = 't1'): DeliverEvent => ({
  kind: 'deliver',
  subscriber,
  topic,
  id,
  body: bodyOf(id),
});

function isDelivery(event: HistoryEvent | undefined, subscriber: string, id: string): event is DeliverEvent {
  return event?.kind === 'deliver' && event.subscriber === subscriber && event.id === id;
}

function deliveryIndex(history: readonly HistoryEvent[], subscriber: string, id: string): number {
  const index = history.findIndex((event) => isDelivery(event, subscriber, id));
  if (index < 0) throw new Error(`no delivery of ${id} to ${subscriber}`);
  return index;
}

function publishIndex(history: readonly HistoryEvent[], id: string, outcome: 'invoke' | 'ok' | 'fail') {
  return history.findIndex((event) => event.kind === 'publish' && event.id === id && event.outcome === outcome);
}

function without(history: HistoryEvent[], subscriber: string, id: string): HistoryEvent[] {
  const index = deliveryIndex(history, subscriber, id);
  return history.filter((_, i) => i !== index);
}

function swap(history: HistoryEvent[], i: number, j: number): HistoryEvent[] {
  const copy = [...history];
  const [a, b] = [copy[i], copy[j]];
  if (a === undefined || b === undefined) throw new Error('swap out of range');
  copy[i] = b;
  copy[j] = a;
  return copy;
}

/** The non-empty failing categories with their sizes: exactly what a planted anomaly should show. */
function flagged(report: CheckReport): Record<string, number> {
  const categories = {
    lost: report.lost.length,
    unexpected: report.unexpected.length,
    duplicated: report.duplicated.length,
    reordered: report.reordered.length,
    deliveredAfterFail: report.deliveredAfterFail.length,
    unsolicited: report.unsolicited.length,
  };
  return Object.fromEntries(Object.entries(categories).filter(([, size]) => size > 0));
}

describe('check - clean histories', () => {
  test('a clean history passes with the right counts', () => {
    const report = check(cleanHistory());
    expect(flagged(report)).toEqual({});
    expect(report.ok).toBe(true);
    expect(report.counts).toEqual({
      attempted: 8,
      acked: 8,
      failed: 0,
      unknown: 0,
      expected: 6 * 2 + 2 * 1,
      delivered: 8,
      deliveries: 14,
      recovered: 0,
    });
    expect(report.recovered).toEqual([]);
    expect(report.lostPrefix).toEqual([]);
    expect(report.lostMiddle).toEqual([]);
    expect(report.lostPostfix).toEqual([]);
  });

  test('an empty history passes', () => {
    const report = check([]);
    expect(report.ok).toBe(true);
    expect(report.counts.attempted).toBe(0);
  });

  test('multiple topics and subscribers with different subscriptions', () => {
    const s = scenario();
    s.sub('s1', 't1');
    s.sub('s2', 't2');
    s.sub('s3', 't1');
    s.sub('s3', 't2');
    s.pub('p1', 't1', 'x1');
    s.pub('p2', 't2', 'y1');
    s.pub('p1', 't3', 'z1'); // nobody follows t3
    s.pub('p1', 't1', 'x2');
    s.pub('p2', 't2', 'y2');
    for (const id of ['x1', 'x2']) s.deliver('s1', id);
    for (const id of ['y1', 'y2']) s.deliver('s2', id);
    for (const id of ['x1', 'y1', 'x2', 'y2']) s.deliver('s3', id);
    const clean = s.events;
    const report = check(clean);
    expect(report.ok).toBe(true);
    expect(report.counts).toMatchObject({ attempted: 5, acked: 5, expected: 8, delivered: 4, deliveries: 8 });

    const lost = check(without(clean, 's3', 'y2'));
    expect(flagged(lost)).toEqual({ lost: 1 });
    expect(lost.lost[0]).toMatchObject({ subscriber: 's3', publisher: 'p2', topic: 't2', id: 'y2', where: 'postfix' });

    s.deliver('s1', 'z1');
    const leaked = check(s.events);
    expect(flagged(leaked)).toEqual({ unsolicited: 1 });
    expect(leaked.unsolicited[0]).toMatchObject({
      reason: 'never-subscribed',
      subscriber: 's1',
      topic: 't3',
      id: 'z1',
    });
  });
});

describe('check - planted anomalies', () => {
  test('one lost message in the middle', () => {
    const history = without(cleanHistory(), 's1', 'a2');
    const report = check(history);
    expect(report.ok).toBe(false);
    expect(flagged(report)).toEqual({ lost: 1 });
    expect(report.lostMiddle).toEqual([
      {
        where: 'middle',
        subscriber: 's1',
        publisher: 'p1',
        topic: 't1',
        id: 'a2',
        invoked: publishIndex(history, 'a2', 'invoke'),
        acked: publishIndex(history, 'a2', 'ok'),
        previousDelivered: 'a1',
        nextDelivered: 'a3',
      },
    ]);
    expect(report.lostPrefix).toEqual([]);
    expect(report.lostPostfix).toEqual([]);
    expect(report.counts.expected).toBe(14);
  });

  test('one lost message at the end', () => {
    const report = check(without(cleanHistory(), 's2', 'a4'));
    expect(flagged(report)).toEqual({ lost: 1 });
    expect(report.lostPostfix).toHaveLength(1);
    expect(report.lostPostfix[0]).toMatchObject({ subscriber: 's2', id: 'a4', previousDelivered: 'a3' });
    expect(report.lostPostfix[0]).not.toHaveProperty('nextDelivered');
    expect(report.ok).toBe(false);
  });

  test('one lost message at the start', () => {
    const report = check(without(cleanHistory(), 's1', 'a1'));
    expect(flagged(report)).toEqual({ lost: 1 });
    expect(report.lostPrefix).toHaveLength(1);
    expect(report.lostPrefix[0]).toMatchObject({ subscriber: 's1', id: 'a1', nextDelivered: 'a2' });
    expect(report.lostPrefix[0]).not.toHaveProperty('previousDelivered');
    expect(report.ok).toBe(false);
  });

  test('a loss with nothing else from that publisher on the topic counts as postfix', () => {
    const history = without(without(cleanHistory(), 's1', 'c1'), 's1', 'c2');
    const report = check(history);
    expect(report.lostPostfix.map((entry) => entry.id)).toEqual(['c1', 'c2']);
    expect(report.lost).toHaveLength(2);
  });

  test('one duplicate fails by default; allowDuplicates reports it without failing', () => {
    const history = cleanHistory();
    const first = deliveryIndex(history, 's2', 'b1');
    const redelivery = history[first];
    if (redelivery === undefined) throw new Error('no delivery');
    history.push(redelivery);
    const report = check(history);
    expect(report.ok).toBe(false);
    expect(flagged(report)).toEqual({ duplicated: 1 });
    expect(report.duplicated).toEqual([
      { subscriber: 's2', publisher: 'p2', topic: 't1', id: 'b1', positions: [first, history.length - 1] },
    ]);
    expect(report.counts).toMatchObject({ delivered: 8, deliveries: 15 });

    const allowed = check(history, { allowDuplicates: true });
    expect(allowed.ok).toBe(true);
    expect(allowed.duplicated).toHaveLength(1);
    expect(formatReport(allowed)).toContain('duplicated (allowed) 1');
  });

  test('one reorder against the publisher order', () => {
    // s1 gets a3 before a2 while the sequence numbers still rise: msgqueue sequenced p1's messages out of order.
    const clean = cleanHistory();
    const i = deliveryIndex(clean, 's1', 'a2');
    const j = deliveryIndex(clean, 's1', 'a3');
    const seqAt = (index: number) => (clean[index] as DeliverEvent).seq;
    const history = swap(clean, i, j);
    history[i] = { ...(history[i] as DeliverEvent), seq: seqAt(i) ?? 0 };
    history[j] = { ...(history[j] as DeliverEvent), seq: seqAt(j) ?? 0 };
    const report = check(history);
    expect(report.ok).toBe(false);
    expect(flagged(report)).toEqual({ reordered: 1 });
    expect(report.reordered).toEqual([
      {
        rule: 'publisher-order',
        subscriber: 's1',
        publisher: 'p1',
        topic: 't1',
        id: 'a2',
        position: j,
        invoked: publishIndex(history, 'a2', 'invoke'),
        after: { id: 'a3', position: i, invoked: publishIndex(history, 'a3', 'invoke') },
      },
    ]);
  });

  test('one reorder by sequence number', () => {
    // s1 gets b2 (seq 4) before a2 (seq 3): each publisher's order holds, the topic's order does not.
    const clean = cleanHistory();
    const i = deliveryIndex(clean, 's1', 'a2');
    const j = deliveryIndex(clean, 's1', 'b2');
    const report = check(swap(clean, i, j));
    expect(report.ok).toBe(false);
    expect(flagged(report)).toEqual({ reordered: 1 });
    expect(report.reordered).toEqual([
      {
        rule: 'seq',
        subscriber: 's1',
        topic: 't1',
        id: 'a2',
        position: j,
        seq: 3,
        after: { id: 'b2', position: i, seq: 4 },
      },
    ]);
  });

  test('an equal sequence number for a different message is a reorder', () => {
    const s = cleanScenario();
    s.rec.delivered({ subscriber: 's1', topic: 't2', id: 'c3', body: bodyOf('c3'), seq: 2 });
    const report = check(s.events);
    expect(report.reordered).toMatchObject([{ rule: 'seq', id: 'c3', seq: 2, after: { id: 'c2', seq: 2 } }]);
  });

  test('one unexpected id', () => {
    const s = cleanScenario();
    s.rec.delivered({ subscriber: 's1', topic: 't1', id: 'ghost', body: bodyOf('ghost') });
    const history = s.events;
    const report = check(history);
    expect(report.ok).toBe(false);
    expect(flagged(report)).toEqual({ unexpected: 1 });
    expect(report.unexpected).toEqual([
      {
        reason: 'unknown-id',
        subscriber: 's1',
        topic: 't1',
        id: 'ghost',
        body: bodyOf('ghost'),
        position: history.length - 1,
      },
    ]);
  });

  test('one body mismatch', () => {
    const history = cleanHistory();
    const index = deliveryIndex(history, 's2', 'a3');
    history[index] = { ...(history[index] as DeliverEvent), body: '{"id":"a3","pad":"y"}' };
    const report = check(history);
    expect(report.ok).toBe(false);
    expect(flagged(report)).toEqual({ unexpected: 1 });
    expect(report.unexpected[0]).toEqual({
      reason: 'body-mismatch',
      subscriber: 's2',
      topic: 't1',
      id: 'a3',
      body: '{"id":"a3","pad":"y"}',
      position: index,
      published: { publisher: 'p1', topic: 't1', body: bodyOf('a3'), invoked: publishIndex(history, 'a3', 'invoke') },
    });
  });

  test('one message delivered on the wrong topic', () => {
    const history = cleanHistory();
    const index = deliveryIndex(history, 's1', 'c1');
    // Without its t2 sequence number, which would break t1's.
    const { seq, ...misrouted } = history[index] as DeliverEvent;
    expect(seq).toBe(1);
    history[index] = { ...misrouted, topic: 't1' };
    const report = check(history);
    expect(flagged(report)).toEqual({ unexpected: 1 });
    expect(report.unexpected[0]).toMatchObject({ reason: 'topic-mismatch', id: 'c1', topic: 't1' });
  });

  test('one delivery of a failed publish', () => {
    const s = cleanScenario();
    s.invoke('p1', 't2', 'f1');
    s.rec.publishFailed({ publisher: 'p1', id: 'f1' });
    s.deliver('s1', 'f1');
    const history = s.events;
    const report = check(history);
    expect(report.ok).toBe(false);
    expect(flagged(report)).toEqual({ deliveredAfterFail: 1 });
    expect(report.deliveredAfterFail).toEqual([
      {
        subscriber: 's1',
        publisher: 'p1',
        topic: 't2',
        id: 'f1',
        position: history.length - 1,
        failed: publishIndex(history, 'f1', 'fail'),
      },
    ]);
    expect(report.recovered).toEqual([]);
    expect(report.counts).toMatchObject({ attempted: 9, acked: 8, failed: 1, unknown: 0 });
  });

  test('a failed publish that is not delivered is fine', () => {
    const s = cleanScenario();
    s.invoke('p1', 't2', 'f1');
    s.rec.publishFailed({ publisher: 'p1', id: 'f1' });
    const report = check(s.events);
    expect(report.ok).toBe(true);
    expect(report.counts).toMatchObject({ failed: 1, expected: 14 });
  });
});

describe('check - unknown outcomes', () => {
  test('an info publish that is delivered counts as recovered and passes', () => {
    const s = cleanScenario();
    s.invoke('p2', 't1', 'u1');
    s.rec.publishUnknown({ publisher: 'p2', id: 'u1' });
    s.deliver('s2', 'u1');
    s.deliver('s1', 'u1');
    const history = s.events;
    const report = check(history);
    expect(report.ok).toBe(true);
    expect(report.recovered).toEqual([
      { publisher: 'p2', topic: 't1', id: 'u1', subscribers: ['s2', 's1'], firstDelivered: history.length - 2 },
    ]);
    expect(report.counts).toMatchObject({ attempted: 9, acked: 8, unknown: 1, recovered: 1, expected: 14 });
    expect(formatReport(report)).toContain('recovered (allowed) 1');
  });

  test('an info publish that is never delivered is fine', () => {
    const s = cleanScenario();
    s.invoke('p2', 't1', 'u1');
    s.rec.publishUnknown({ publisher: 'p2', id: 'u1' });
    const report = check(s.events);
    expect(report.ok).toBe(true);
    expect(report.recovered).toEqual([]);
    expect(report.counts).toMatchObject({ unknown: 1, expected: 14 });
  });

  test('an invoke without an outcome counts as info', () => {
    const s = cleanScenario();
    s.invoke('p2', 't1', 'u1');
    s.deliver('s1', 'u1');
    const report = check(s.events);
    expect(report.ok).toBe(true);
    expect(report.counts).toMatchObject({ unknown: 1, recovered: 1 });
  });

  test('a resend with the same id is one message, acked by its second attempt', () => {
    const s = cleanScenario();
    s.invoke('p1', 't2', 'r1');
    s.rec.publishUnknown({ publisher: 'p1', id: 'r1' });
    s.invoke('p1', 't2', 'r1');
    s.rec.publishOk({ publisher: 'p1', id: 'r1' });
    const undelivered = s.events;
    expect(check(undelivered).lost).toMatchObject([
      { subscriber: 's1', id: 'r1', invoked: publishIndex(undelivered, 'r1', 'invoke') },
    ]);
    s.deliver('s1', 'r1');
    const report = check(s.events);
    expect(report.ok).toBe(true);
    expect(report.counts).toMatchObject({ attempted: 9, acked: 9, unknown: 0, recovered: 0 });
  });
});

describe('check - subscription windows', () => {
  test('a message published before the subscribe event is not expected, and may still arrive', () => {
    const s = scenario();
    s.sub('s1', 't1');
    s.pub('p1', 't1', 'm1');
    s.invoke('p1', 't1', 'm2');
    s.sub('s2', 't1'); // confirmed while m2 was in flight
    s.rec.publishOk({ publisher: 'p1', id: 'm2' });
    s.pub('p1', 't1', 'm3');
    for (const id of ['m1', 'm2', 'm3']) s.deliver('s1', id);
    const base = s.events;
    const only = check([...base, delivery('s2', 'm3')]);
    expect(only.ok).toBe(true);
    expect(only.counts.expected).toBe(3 + 1);

    // m1 and m2 may reach s2 anyway (they were published, so they are not unexpected), in p1's order.
    const early = check([...base, delivery('s2', 'm1'), delivery('s2', 'm2'), delivery('s2', 'm3')]);
    expect(flagged(early)).toEqual({});
    expect(early.ok).toBe(true);
    // After m3 it is out of p1's order, which still counts.
    const late = check([...base, delivery('s2', 'm3'), delivery('s2', 'm2')]);
    expect(flagged(late)).toEqual({ reordered: 1 });
  });

  test('a message published after the unsubscribe event is not expected; one delivered after it is flagged', () => {
    const s = scenario();
    s.sub('s1', 't1');
    s.pub('p1', 't1', 'm1');
    s.deliver('s1', 'm1');
    s.unsub('s1', 't1');
    s.pub('p1', 't1', 'm2');
    const report = check(s.events);
    expect(report.ok).toBe(true);
    expect(report.counts.expected).toBe(1);

    s.deliver('s1', 'm2');
    const history = s.events;
    const late = check(history);
    expect(flagged(late)).toEqual({ unsolicited: 1 });
    expect(late.unsolicited).toEqual([
      {
        reason: 'after-unsubscribe',
        subscriber: 's1',
        topic: 't1',
        id: 'm2',
        position: history.length - 1,
        unsubscribed: history.findIndex((event) => event.kind === 'unsubscribe'),
        publisher: 'p1',
      },
    ]);
  });

  test('a message acked only after the unsubscribe event is not expected', () => {
    const s = scenario();
    s.sub('s1', 't1');
    s.invoke('p1', 't1', 'm1');
    s.unsub('s1', 't1');
    s.rec.publishOk({ publisher: 'p1', id: 'm1' });
    const report = check(s.events);
    expect(report.ok).toBe(true);
    expect(report.counts.expected).toBe(0);
  });

  test('a message acked before the unsubscribe event must arrive before it', () => {
    const s = scenario();
    s.sub('s1', 't1');
    s.pub('p1', 't1', 'm1');
    s.unsub('s1', 't1');
    const report = check(s.events);
    expect(flagged(report)).toEqual({ lost: 1 });
  });

  test('a subscriber that subscribes again expects messages published after the new subscribe', () => {
    const s = scenario();
    s.sub('s1', 't1');
    s.sub('s1', 't1'); // a repeated subscribe keeps the first start
    s.pub('p1', 't1', 'm1');
    s.deliver('s1', 'm1');
    s.unsub('s1', 't1');
    s.unsub('s1', 't1');
    s.pub('p1', 't1', 'm2');
    s.sub('s1', 't1');
    s.pub('p1', 't1', 'm3');
    const report = check(s.events);
    expect(report.counts.expected).toBe(2);
    expect(report.lost).toMatchObject([{ subscriber: 's1', id: 'm3', where: 'postfix', previousDelivered: 'm1' }]);
  });
});

describe('check - malformed histories', () => {
  test('an outcome without an invoke throws HistoryError', () => {
    const history: HistoryEvent[] = [
      { kind: 'publish', publisher: 'p1', topic: 't1', id: 'm1', body: '1', outcome: 'ok' },
    ];
    expect(() => check(history)).toThrow(HistoryError);
  });

  test('a second outcome for one invoke throws HistoryError', () => {
    const invoke = { kind: 'publish', publisher: 'p1', topic: 't1', id: 'm1', body: '1' } as const;
    const history: HistoryEvent[] = [
      { ...invoke, outcome: 'invoke' },
      { ...invoke, outcome: 'ok' },
      { ...invoke, outcome: 'info' },
    ];
    expect(() => check(history)).toThrow(HistoryError);
  });

  test('an id published again with another body throws HistoryError', () => {
    const invoke = { kind: 'publish', publisher: 'p1', topic: 't1', id: 'm1', outcome: 'invoke' } as const;
    const history: HistoryEvent[] = [
      { ...invoke, body: '1' },
      { ...invoke, body: '2' },
    ];
    expect(() => check(history)).toThrow(HistoryError);
  });
});

describe('HistoryRecorder', () => {
  test('records events with outcomes that copy topic and body from the invoke', () => {
    let now = 1000;
    const rec = new HistoryRecorder({ clock: () => now++ });
    rec.subscribed({ subscriber: 's1', topic: 't1' });
    rec.publishInvoked({ publisher: 'p1', topic: 't1', id: 'm1', body: '{"n":1}' });
    rec.publishOk({ publisher: 'p1', id: 'm1' });
    rec.publishInvoked({ publisher: 'p1', topic: 't1', id: 'm2', body: '{"n":2}' });
    rec.publishFailed({ publisher: 'p1', id: 'm2' });
    rec.publishInvoked({ publisher: 'p1', topic: 't1', id: 'm3', body: '{"n":3}' });
    rec.publishUnknown({ publisher: 'p1', id: 'm3' });
    rec.delivered({ subscriber: 's1', topic: 't1', id: 'm1', body: '{"n":1}', seq: 7 });
    rec.delivered({ subscriber: 's1', topic: 't1', id: 'm3', body: '{"n":3}' });
    rec.unsubscribed({ subscriber: 's1', topic: 't1' });
    expect(rec.events).toEqual([
      { kind: 'subscribe', subscriber: 's1', topic: 't1', time: 1000 },
      { kind: 'publish', publisher: 'p1', topic: 't1', id: 'm1', body: '{"n":1}', outcome: 'invoke', time: 1001 },
      { kind: 'publish', publisher: 'p1', topic: 't1', id: 'm1', body: '{"n":1}', outcome: 'ok', time: 1002 },
      { kind: 'publish', publisher: 'p1', topic: 't1', id: 'm2', body: '{"n":2}', outcome: 'invoke', time: 1003 },
      { kind: 'publish', publisher: 'p1', topic: 't1', id: 'm2', body: '{"n":2}', outcome: 'fail', time: 1004 },
      { kind: 'publish', publisher: 'p1', topic: 't1', id: 'm3', body: '{"n":3}', outcome: 'invoke', time: 1005 },
      { kind: 'publish', publisher: 'p1', topic: 't1', id: 'm3', body: '{"n":3}', outcome: 'info', time: 1006 },
      { kind: 'deliver', subscriber: 's1', topic: 't1', id: 'm1', body: '{"n":1}', seq: 7, time: 1007 },
      { kind: 'deliver', subscriber: 's1', topic: 't1', id: 'm3', body: '{"n":3}', time: 1008 },
      { kind: 'unsubscribe', subscriber: 's1', topic: 't1', time: 1009 },
    ]);
    const report = check(rec.events);
    expect(report.ok).toBe(true);
    expect(report.counts).toMatchObject({ attempted: 3, acked: 1, failed: 1, unknown: 1, recovered: 1 });
  });

  test('toJsonLines writes one parseable line per event', () => {
    const rec = new HistoryRecorder({ clock: () => 5 });
    rec.publishInvoked({ publisher: 'p1', topic: 't1', id: 'm1', body: 'line\nbreak' });
    rec.publishOk({ publisher: 'p1', id: 'm1' });
    const text = rec.toJsonLines();
    expect(text.endsWith('\n')).toBe(true);
    const lines = text.split('\n').slice(0, -1);
    expect(lines).toHaveLength(2);
    expect(lines.map((line) => JSON.parse(line) as unknown)).toEqual(rec.events);
    expect(new HistoryRecorder().toJsonLines()).toBe('');
  });

  test('stamps Date.now by default and nothing with clock null', () => {
    const stamped = new HistoryRecorder();
    stamped.subscribed({ subscriber: 's1', topic: 't1' });
    expect(stamped.events[0]?.time).toEqual(expect.any(Number));
    const bare = new HistoryRecorder({ clock: null });
    bare.subscribed({ subscriber: 's1', topic: 't1' });
    expect(bare.events[0]).not.toHaveProperty('time');
  });

  test('an outcome without an open invoke throws HistoryError', () => {
    const rec = new HistoryRecorder({ clock: null });
    expect(() => rec.publishOk({ publisher: 'p1', id: 'm1' })).toThrow(HistoryError);
    rec.publishInvoked({ publisher: 'p1', topic: 't1', id: 'm1', body: '1' });
    expect(() => rec.publishOk({ publisher: 'p2', id: 'm1' })).toThrow(HistoryError);
    rec.publishOk({ publisher: 'p1', id: 'm1' });
    expect(() => rec.publishUnknown({ publisher: 'p1', id: 'm1' })).toThrow(HistoryError);
  });
});

describe('formatReport', () => {
  test('a clean report is one summary line', () => {
    const text = formatReport(check(cleanHistory()));
    expect(text).toBe(
      'delivery check ok: attempted 8, acked 8, failed 0, unknown 0; expected 14 deliveries; ' +
        'delivered 8 distinct ids in 14 deliveries; recovered 0',
    );
  });

  test('lists the first few anomalies of each kind with who, what and where', () => {
    let history = cleanHistory();
    for (const id of ['a1', 'b1', 'a2', 'b2', 'a3', 'a4', 'c1']) history = without(history, 's1', id);
    history.push(delivery('s2', 'ghost'), delivery('s2', 'ghost'));
    const text = formatReport(check(history), { limit: 3 });
    const lines = text.split('\n');
    expect(lines[0]).toMatch(/^delivery check FAILED: attempted 8, acked 8, .* in 9 deliveries; recovered 0$/);
    expect(lines).toContain('lost (prefix 1, middle 0, postfix 6) 7');
    const [invoked, acked] = [publishIndex(history, 'c1', 'invoke'), publishIndex(history, 'c1', 'ok')];
    expect(lines).toContain(
      `  - postfix: s1 missed a1 from p1 on t1 (invoked @${publishIndex(history, 'a1', 'invoke')}, ` +
        `acked @${publishIndex(history, 'a1', 'ok')}; nothing from this publisher on this topic arrived)`,
    );
    expect(lines).toContain(
      `  - prefix: s1 missed c1 from p1 on t2 (invoked @${invoked}, acked @${acked}; got c2 after)`,
    );
    expect(lines).toContain('  … and 4 more');
    const ghost = history.length - 2;
    expect(lines).toContain('unexpected 2');
    expect(lines).toContain(`  - unknown-id: s2 got ghost on t1 @${ghost}, never published`);
    expect(lines).toContain('duplicated 1');
    expect(lines).toContain(`  - s2 got ghost on t1 2 times: @${ghost}, @${ghost + 1}`);
    expect(lines).toHaveLength(1 + 5 + 3 + 2);
    expect(text).not.toContain('reordered');
  });
});

// Property: random clean histories pass; one dropped expected delivery is exactly one lost entry;
// one repeated delivery is exactly one duplicated entry.

const PUBLISHERS = 3;
const TOPICS = 3;
const SUBSCRIBERS = 4;

type Outcome = 'ok' | 'fail' | 'info-delivered' | 'info-lost';

interface Spec {
  messages: { publisher: number; topic: number; outcome: Outcome; flush: number[] }[];
  windows: { subscriber: number; topic: number; from: number; length: number | null }[];
  withSeq: boolean;
}

interface Built {
  history: HistoryEvent[];
  /** Indexes of deliveries of acked messages: each must be there. */
  expected: number[];
  /** For each delivery index, the last index a copy of it may be inserted at without leaving its subscription. */
  until: Map<number, number>;
  counts: { acked: number; failed: number; unknown: number; recovered: number };
}

const specArbitrary: fc.Arbitrary<Spec> = fc.record({
  messages: fc.array(
    fc.record({
      publisher: fc.nat(PUBLISHERS - 1),
      topic: fc.nat(TOPICS - 1),
      outcome: fc.constantFrom<Outcome>('ok', 'ok', 'ok', 'ok', 'fail', 'info-delivered', 'info-lost'),
      // How many queued deliveries each subscriber receives after this message.
      flush: fc.array(fc.nat(3), { minLength: SUBSCRIBERS, maxLength: SUBSCRIBERS }),
    }),
    { minLength: 1, maxLength: 30 },
  ),
  windows: fc.uniqueArray(
    fc.record({
      subscriber: fc.nat(SUBSCRIBERS - 1),
      topic: fc.nat(TOPICS - 1),
      from: fc.nat(5),
      length: fc.option(fc.nat(40), { freq: 3 }),
    }),
    { selector: (window) => `${window.subscriber}/${window.topic}`, minLength: 1 },
  ),
  withSeq: fc.boolean(),
});

/**
 * Plays the spec as a well-behaved system: subscriptions start and end between messages; a message
 * that got into msgqueue is queued for every subscriber following its topic, and each subscriber
 * drains its queue in order, in bursts, fully before it unsubscribes and at the end.
 */
function build(spec: Spec): Built {
  const history: HistoryEvent[] = [];
  const expected: number[] = [];
  const owners = new Map<number, { subscriber: number; topic: number }>(); // delivery index → its subscription
  const until = new Map<number, number>();
  const queues: { event: DeliverEvent; topic: number; acked: boolean }[][] = Array.from(
    { length: SUBSCRIBERS },
    () => [],
  );
  const seq = Array.from({ length: TOPICS }, () => 0);
  const counts = { acked: 0, failed: 0, unknown: 0, recovered: 0 };
  const n = spec.messages.length;
  const windows = spec.windows.map((window) => {
    const from = Math.min(window.from, n);
    return { ...window, from, to: window.length === null ? undefined : Math.min(from + window.length, n) };
  });
  const active = (subscriber: number, topic: number, i: number) =>
    windows.some(
      (w) => w.subscriber === subscriber && w.topic === topic && w.from <= i && (w.to === undefined || i < w.to),
    );

  const flush = (subscriber: number, count: number) => {
    const queue = queues[subscriber] ?? [];
    for (const { event, topic, acked } of queue.splice(0, count)) {
      if (acked) expected.push(history.length);
      owners.set(history.length, { subscriber, topic });
      history.push(event);
    }
  };
  /** A copy of this subscription's deliveries may go up to (not past) the unsubscribe event at `limit`. */
  const close = (subscriber: number, topic: number, limit: number) => {
    for (const [index, owner] of owners) {
      if (owner.subscriber === subscriber && owner.topic === topic && !until.has(index)) until.set(index, limit);
    }
  };

  for (let i = 0; i <= n; i++) {
    for (const w of windows) {
      if (w.from === i) history.push({ kind: 'subscribe', subscriber: `s${w.subscriber}`, topic: `t${w.topic}` });
    }
    for (const w of windows) {
      if (w.to !== i) continue;
      flush(w.subscriber, Infinity);
      close(w.subscriber, w.topic, history.length);
      history.push({ kind: 'unsubscribe', subscriber: `s${w.subscriber}`, topic: `t${w.topic}` });
    }
    const message = spec.messages[i];
    if (message === undefined) break;
    const [publisher, topic, id] = [`p${message.publisher}`, `t${message.topic}`, `m${i}`];
    const base = { kind: 'publish', publisher, topic, id } as const;
    const body = JSON.stringify({ pub: publisher, topic, id });
    history.push({ ...base, body, outcome: 'invoke' });
    const outcome = { ok: 'ok', fail: 'fail', 'info-delivered': 'info', 'info-lost': 'info' } as const;
    history.push({ ...base, body, outcome: outcome[message.outcome] });
    counts[message.outcome === 'ok' ? 'acked' : message.outcome === 'fail' ? 'failed' : 'unknown'] += 1;
    if (message.outcome === 'ok' || message.outcome === 'info-delivered') {
      seq[message.topic] = (seq[message.topic] ?? 0) + 1;
      let reached = false;
      for (let subscriber = 0; subscriber < SUBSCRIBERS; subscriber++) {
        if (!active(subscriber, message.topic, i)) continue;
        reached = true;
        const event: DeliverEvent = { kind: 'deliver', subscriber: `s${subscriber}`, topic, id, body };
        if (spec.withSeq) event.seq = seq[message.topic] ?? 0;
        queues[subscriber]?.push({ event, topic: message.topic, acked: message.outcome === 'ok' });
      }
      if (reached && message.outcome === 'info-delivered') counts.recovered += 1;
    }
    message.flush.forEach((count, subscriber) => flush(subscriber, count));
  }
  for (let subscriber = 0; subscriber < SUBSCRIBERS; subscriber++) flush(subscriber, Infinity);
  for (const index of owners.keys()) if (!until.has(index)) until.set(index, history.length);
  return { history, expected, until, counts };
}

describe('check - properties', () => {
  test('random clean histories pass', () => {
    fc.assert(
      fc.property(specArbitrary, (spec) => {
        const { history, expected, counts } = build(spec);
        const report = check(history);
        expect(flagged(report)).toEqual({});
        expect(report.ok).toBe(true);
        expect(report.counts).toMatchObject({ ...counts, attempted: spec.messages.length, expected: expected.length });
      }),
      FC,
    );
  });

  test('dropping one expected delivery is exactly one lost entry naming it', () => {
    fc.assert(
      fc.property(specArbitrary, fc.nat(), (spec, pick) => {
        const { history, expected } = build(spec);
        fc.pre(expected.length > 0);
        const index = expected[pick % expected.length] ?? -1;
        const dropped = history[index] as DeliverEvent;
        const report = check(history.filter((_, i) => i !== index));
        expect(report.ok).toBe(false);
        expect(flagged(report)).toEqual({ lost: 1 });
        expect(report.lost[0]).toMatchObject({ subscriber: dropped.subscriber, id: dropped.id, topic: dropped.topic });
      }),
      FC,
    );
  });

  test('repeating one delivery is exactly one duplicated entry naming it', () => {
    fc.assert(
      fc.property(specArbitrary, fc.nat(), fc.nat(), (spec, pick, offset) => {
        const { history, until } = build(spec);
        const deliveries = [...until.keys()];
        fc.pre(deliveries.length > 0);
        const index = deliveries[pick % deliveries.length] ?? -1;
        const limit = until.get(index) ?? history.length;
        const copy = history[index] as DeliverEvent;
        const at = index + 1 + (offset % (limit - index));
        const planted = [...history.slice(0, at), copy, ...history.slice(at)];
        const report = check(planted);
        expect(report.ok).toBe(false);
        expect(flagged(report)).toEqual({ duplicated: 1 });
        expect(report.duplicated).toEqual([
          expect.objectContaining({ subscriber: copy.subscriber, id: copy.id, positions: [index, at] }),
        ]);
        const allowed = check(planted, { allowDuplicates: true });
        expect(allowed.ok).toBe(true);
        expect(allowed.duplicated).toHaveLength(1);
      }),
      FC,
    );
  });
});
