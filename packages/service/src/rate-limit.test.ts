import { describe, expect, test } from 'vitest';
import { createRateLimit } from './rate-limit.js';

describe('createRateLimit', () => {
  test('starts full: the burst passes at once, the next message does not', () => {
    // One token per 1000 s: nothing refills while the test runs.
    const limit = createRateLimit({ perSecond: 0.001, burst: 3 });
    expect([1, 2, 3, 4, 5].map(() => limit.tryTake())).toEqual([true, true, true, false, false]);
  });

  test('each limit has its own bucket', () => {
    const a = createRateLimit({ perSecond: 0.001, burst: 1 });
    const b = createRateLimit({ perSecond: 0.001, burst: 1 });
    expect(a.tryTake()).toBe(true);
    expect(a.tryTake()).toBe(false);
    expect(b.tryTake()).toBe(true);
  });
});
