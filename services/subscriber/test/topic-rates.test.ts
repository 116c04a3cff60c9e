import { describe, expect, test } from 'vitest';
import { RATE_WINDOW_SECONDS, TopicRates } from '../src/topic-rates.js';

function clock(start = 1_000_000) {
  let now = start;
  return { now: () => now, advance: (ms: number) => (now += ms) };
}

describe('topic rates', () => {
  test('counts runs of one topic and topics interleaved, flushed or not', () => {
    const time = clock();
    const rates = new TopicRates(time.now);
    for (const topic of ['a', 'a', 'a', 'b', 'a']) rates.note(topic);
    rates.flush();
    rates.note('b');
    time.advance(2_000);
    // Two seconds of counting: four of a, two of b.
    expect(Object.fromEntries(rates.rates())).toEqual({ a: 2, b: 1 });
  });

  test(`averages over the last ${RATE_WINDOW_SECONDS} s and forgets what is older`, () => {
    const time = clock();
    const rates = new TopicRates(time.now);
    for (let i = 0; i < 100; i++) rates.note('old');
    rates.flush();
    time.advance(30_000);
    for (let second = 0; second < RATE_WINDOW_SECONDS; second++) {
      for (let i = 0; i < 5; i++) rates.note('news');
      rates.flush();
      time.advance(1_000);
    }
    const now = rates.rates();
    expect(now.has('old')).toBe(false);
    // Nine of the ten seconds counted are in the window (the tenth has just begun).
    expect(now.get('news')).toBeCloseTo(45 / (RATE_WINDOW_SECONDS - 1), 5);
    time.advance(RATE_WINDOW_SECONDS * 1_000);
    expect(rates.rates().size).toBe(0);
  });

  test('a young service divides by the time it has counted, at least a second', () => {
    const time = clock();
    const rates = new TopicRates(time.now);
    rates.note('t');
    time.advance(100);
    expect(rates.rates().get('t')).toBe(1);
  });
});
