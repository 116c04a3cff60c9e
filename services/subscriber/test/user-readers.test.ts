import { describe, expect, test } from 'vitest';
import { Reader } from '../src/reader.js';
import type { Sink } from '../src/sink.js';
import { UserReaders } from '../src/user-readers.js';

const reader = () => new Reader({} as Sink);

describe('UserReaders', () => {
  test("counts a user's subscriptions over its readers, and a closing reader gives its own back", () => {
    const users = new UserReaders();
    const [first, second, other] = [reader(), reader(), reader()];
    users.join('alice', first);
    users.join('alice', second);
    users.join('bob', other);
    users.count('alice', 1);
    users.count('alice', 1);
    users.count('alice', 1);
    users.count('bob', 1);
    users.count('alice', -1);
    expect(users.subscriptions('alice')).toBe(2);
    expect(users.subscriptions('bob')).toBe(1);
    expect(users.readerCount).toBe(3);

    users.leave('alice', first, 1);
    expect(users.subscriptions('alice')).toBe(1);
    // A second close of the same reader gives nothing back twice.
    users.leave('alice', first, 1);
    expect(users.subscriptions('alice')).toBe(1);
    expect(users.readerCount).toBe(2);

    users.leave('alice', second, 1);
    expect(users.subscriptions('alice')).toBe(0);
    expect(users.subscriptions('nobody')).toBe(0);
    expect(users.readerCount).toBe(1);
  });
});
