import type * as Crypto from 'node:crypto';
import { timingSafeEqual } from 'node:crypto';
import { beforeEach, describe, expect, test, vi } from 'vitest';
import { hashPassword } from './password.js';
import { parseUsers } from './users.js';

// vi.spyOn cannot redefine an export of an ES module namespace, so the module is mocked instead:
// users.ts and password.ts get a timingSafeEqual that records its calls and then runs the real
// one. This file holds only these tests, so no other test sees the mock.
vi.mock('node:crypto', async (importOriginal) => {
  const actual = await importOriginal<typeof Crypto>();
  return { ...actual, timingSafeEqual: vi.fn(actual.timingSafeEqual) };
});

const spy = vi.mocked(timingSafeEqual);

/** Byte lengths of both sides of every timingSafeEqual call made by `run`. */
async function comparisons(run: () => Promise<unknown>): Promise<[number, number][]> {
  spy.mockClear();
  await run();
  return spy.mock.calls.map(([a, b]) => [a.byteLength, b.byteLength]);
}

describe('UserTable.verify compares in constant time', () => {
  let users: ReturnType<typeof parseUsers>;
  beforeEach(async () => {
    users = parseUsers(`alice:a1,carol:${await hashPassword('c3')}`);
  });

  test('an unknown user takes the same comparisons as a wrong password: two 32-byte digests', async () => {
    const wrongPassword = await comparisons(() => users.verify('alice', 'not-a1'));
    const unknownUser = await comparisons(() => users.verify('mallory', 'a1'));
    const longGuess = await comparisons(() => users.verify('alice', 'x'.repeat(1000)));
    expect(wrongPassword).toEqual([
      [32, 32],
      [32, 32],
    ]);
    expect(unknownUser).toEqual(wrongPassword);
    expect(longGuess).toEqual(wrongPassword);
  });

  test('a scrypt user is checked with equal-length comparisons too', async () => {
    const right = await comparisons(async () => expect(await users.verify('carol', 'c3')).toBe(true));
    const wrong = await comparisons(async () => expect(await users.verify('carol', 'nope')).toBe(false));
    expect(wrong).toEqual([
      [32, 32],
      [32, 32],
    ]);
    expect(right).toEqual(wrong);
  });
});
