import { describe, expect, test } from 'vitest';
import { ReplyBook } from '../src/reply-book.js';

describe('ReplyBook', () => {
  test('matches replies by id, in any order', async () => {
    const book = new ReplyBook<string>();
    const a = book.expect('a');
    const b = book.expect('b');
    expect(book.settle('b', 'reply b')).toBe(true);
    expect(book.settle('a', 'reply a')).toBe(true);
    expect(await Promise.all([a, b])).toEqual(['reply a', 'reply b']);
  });

  test('a reply without an id settles the only outstanding request, and nothing when there are several', async () => {
    const book = new ReplyBook<string>();
    const a = book.expect('a');
    const b = book.expect('b');
    expect(book.settle(undefined, 'anonymous')).toBe(false);
    expect(book.settle('b', 'reply b')).toBe(true);
    expect(book.settle(undefined, 'anonymous')).toBe(true);
    expect(await a).toBe('anonymous');
    expect(await b).toBe('reply b');
  });

  test('an unknown id settles nothing', () => {
    const book = new ReplyBook<string>();
    void book.expect('a');
    expect(book.settle('zzz', 'stray')).toBe(false);
    expect(book.size).toBe(1);
  });

  test('drained() waits for every reply; abandon() ends the waits with undefined', async () => {
    const book = new ReplyBook<string>();
    const a = book.expect('a');
    const drained = book.drained();
    book.abandon();
    await drained;
    expect(await a).toBeUndefined();
    await book.drained();
  });
});
