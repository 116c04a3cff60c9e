import { describe, expect, test } from 'vitest';
import { nextPage } from '../src/catch-up.js';
import { Subscription } from '../src/reader.js';

const at = (subject: string, after: number, replayThrough = 0) => {
  const subscription = new Subscription(subject, after);
  subscription.replayThrough = replayThrough;
  return subscription;
};

describe('which subscriptions a catch-up page is for', () => {
  test('subscriptions at one position share the page, unbounded', () => {
    const subscriptions = [at('a', 40), at('b.*', 40)];
    expect(nextPage(subscriptions)).toEqual({ after: 40, asked: subscriptions, before: undefined });
  });

  test('the furthest behind go alone, up to the next position, where they merge', () => {
    const [a, b, c] = [at('a', 10), at('b', 70), at('c', 10)];
    expect(nextPage([a, b, c])).toEqual({ after: 10, asked: [a, c], before: 71 });
  });

  test('a resumed subscription still replaying goes first, alone, up to where its reply counted', () => {
    const [live, resumed] = [at('a', 5), at('b', 20, 90)];
    expect(nextPage([live, resumed])).toEqual({ after: 20, asked: [resumed], before: 91 });
    resumed.after = 90;
    expect(nextPage([live, resumed])).toEqual({ after: 5, asked: [live], before: 91 });
  });
});
