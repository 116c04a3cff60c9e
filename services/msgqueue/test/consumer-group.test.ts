import { describe, expect, test } from 'vitest';
import { ConsumerGroup, type ConsumerSink } from '../src/consumer-group.js';

/** What dispatch reads of a log: offsets below `committedOffset` exist unless retention removed them. */
function logOf(committedOffset: number, removed: readonly number[] = []) {
  return {
    committedOffset,
    frameBytes: (offset: number) => (offset < committedOffset && !removed.includes(offset) ? 10 : undefined),
  };
}

function sink(open = true): ConsumerSink & { open: boolean } {
  return { open, deliver: () => undefined, groupRemoved: () => undefined };
}

const credit = { prefetch: 2, leaseMs: 60_000 };

describe('ConsumerGroup', () => {
  test('competing consumers take turns, each up to its credit', () => {
    const group = new ConsumerGroup('g', 0, false);
    const [a, b] = [group.join(sink()), group.join(sink())];
    const out = group.assign(logOf(10), credit);
    expect(out.get(a)).toEqual([0, 2]);
    expect(out.get(b)).toEqual([1, 3]);
    expect(group.assign(logOf(10), credit).size).toBe(0);
  });

  test('a consumer whose connection is closing gets nothing', () => {
    const group = new ConsumerGroup('g', 0, false);
    const closing = group.join(sink(false));
    expect(group.assign(logOf(3), credit).has(closing)).toBe(false);
  });

  test('acks from two consumers out of order move the floor only over what both acknowledged', () => {
    const group = new ConsumerGroup('g', 0, false);
    const [a, b] = [group.join(sink()), group.join(sink())];
    group.assign(logOf(4), credit); // a: 0, 2; b: 1, 3
    expect(group.ack(b, 2)).toBe(true);
    expect(group.floor).toBe(0);
    expect(group.ack(a, 1)).toBe(true);
    expect(group.floor).toBe(2);
    expect(group.ack(a, 2)).toBe(true);
    expect(group.floor).toBe(4);
  });

  test('an ack of more than was sent, or backwards, is refused and changes nothing', () => {
    const group = new ConsumerGroup('g', 0, false);
    const a = group.join(sink());
    group.assign(logOf(4), credit);
    expect(group.ack(a, 3)).toBe(false);
    expect(group.ack(a, 1)).toBe(true);
    expect(group.ack(a, 0)).toBe(false);
    expect(group.floor).toBe(1);
  });

  test('a consumer that leaves hands what it had not acknowledged to the others, oldest first', () => {
    const group = new ConsumerGroup('g', 0, false);
    const [a, b] = [group.join(sink()), group.join(sink())];
    group.assign(logOf(4), credit); // a: 0, 2; b: 1, 3
    group.ack(b, 2);
    expect(group.leave(a)).toBe(2);
    expect(group.leave(a)).toBe(0);
    expect(group.assign(logOf(4), credit).get(b)).toEqual([0, 2]);
  });

  test('the last consumer leaving starts the idle clock; a consumer joining stops it', () => {
    const group = new ConsumerGroup('g', 0, false);
    const a = group.join(sink());
    expect(group.idleSince).toBeUndefined();
    group.leave(a);
    expect(group.idleSince).toBeTypeOf('number');
  });

  test('messages whose lease ran out go to whoever has credit, before new ones', () => {
    const group = new ConsumerGroup('g', 0, false);
    const a = group.join(sink());
    group.assign(logOf(5), { prefetch: 2, leaseMs: 0 }); // 0, 1
    expect(group.expireLeases(Date.now() + 1)).toBe(2);
    group.leave(a);
    const b = group.join(sink());
    expect(group.assign(logOf(5), { prefetch: 3, leaseMs: 60_000 }).get(b)).toEqual([0, 1, 2]);
  });

  test('a message retention removed before the group took it counts as done', () => {
    const group = new ConsumerGroup('g', 0, false);
    const a = group.join(sink());
    expect(group.assign(logOf(3, [0]), credit).get(a)).toEqual([1, 2]);
    group.ack(a, 2);
    expect(group.floor).toBe(3);
  });

  test('a released group resumes at the first retained offset, past what retention removed', () => {
    const group = new ConsumerGroup('g', 2, false);
    group.holding = false;
    group.resume(5);
    expect([group.floor, group.cursor, group.holding]).toEqual([5, 5, true]);
    group.resume(1);
    expect(group.floor).toBe(5);
  });
});
