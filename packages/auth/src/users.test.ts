import fc from 'fast-check';
import { beforeAll, describe, expect, test } from 'vitest';
import { hashPassword } from './password.js';
import { parseUsers, UserTable } from './users.js';

// Fixed seed so every run checks the same inputs; set FC_SEED to explore others.
const FC = { seed: Number(process.env.FC_SEED ?? 8_675_309), numRuns: 200 } as const;

/** The TypeError `fn` throws; any other outcome fails the test. */
function typeError(fn: () => unknown): TypeError {
  try {
    fn();
  } catch (err) {
    if (err instanceof TypeError) return err;
    throw err;
  }
  throw new Error('expected a TypeError, but nothing was thrown');
}

let scryptSecret: string;
beforeAll(async () => {
  scryptSecret = await hashPassword('s3cret pass');
});

describe('parseUsers', () => {
  test('reads plain entries, trimming around each entry', () => {
    expect(parseUsers('alice:a1, bob:b:2 ,carol:c3').names).toEqual(['alice', 'bob', 'carol']);
  });

  test('reads scrypt entries', () => {
    expect(scryptSecret).toMatch(/^scrypt:16384:8:1:[^:]+:[^:]+$/);
    expect(parseUsers(`alice:pw,carol:${scryptSecret}`).names).toEqual(['alice', 'carol']);
  });

  describe('bad input', () => {
    test.each([
      { name: 'missing colon', spec: 'alice:pw1,bobhunter2', position: 2, secret: 'hunter2' },
      { name: 'empty password', spec: 'alice:pw1,bob:', position: 2, secret: 'pw1' },
      { name: 'empty name', spec: ':hunter2', position: 1, secret: 'hunter2' },
      { name: 'empty entry', spec: 'alice:pw1,,bob:hunter2', position: 2, secret: 'pw1' },
      { name: 'trailing comma', spec: 'alice:hunter2,', position: 2, secret: 'hunter2' },
      { name: 'duplicate user', spec: 'alice:pw1,bob:x,alice:hunter2', position: 3, secret: 'hunter2' },
      {
        name: 'scrypt with too few fields',
        spec: 'alice:pw1,carol:scrypt:16384:8:1:hunter2',
        position: 2,
        secret: 'hunter2',
      },
      {
        name: 'scrypt with a short hash',
        spec: 'carol:scrypt:16384:8:1:c2FsdHNhbHQ=:aHVudGVyMg==',
        position: 1,
        secret: 'aHVudGVyMg==',
      },
      {
        name: 'scrypt with N not a power of two',
        spec: `carol:scrypt:1000:8:1:c2FsdA==:${'A'.repeat(43)}=`,
        position: 1,
        secret: 'c2FsdA==',
      },
    ])('$name: names the entry by position, not the password', ({ spec, position, secret }) => {
      const err = typeError(() => parseUsers(spec));
      expect(err.message).toMatch(new RegExp(`^entry ${position}\\b`));
      expect(err.message).not.toContain(secret);
    });

    test('the duplicate user is named, the first password is not', () => {
      const err = typeError(() => parseUsers('alice:first-pw,alice:second-pw'));
      expect(err.message).toMatch(/^entry 2\b/);
      expect(err.message).toContain('"alice"');
      expect(err.message).not.toContain('first-pw');
      expect(err.message).not.toContain('second-pw');
    });

    test('no error message ever contains a password', () => {
      // A marker character that no message contains, so a hit can only be the password.
      const password = fc
        .string({ unit: 'grapheme-ascii', minLength: 1, maxLength: 20 })
        .filter((s) => !/[,:]/u.test(s) && s.trim() === s)
        .map((s) => `§${s}`);
      const shapes = [
        (pw: string) => `alice:${pw},alice:${pw}`,
        (pw: string) => `alice${pw}`,
        (pw: string) => `alice:x,bob:scrypt:${pw}`,
        (pw: string) => `carol:scrypt:16384:8:1:${pw}:${pw}`,
        (pw: string) => `dave:${pw},`,
      ];
      fc.assert(
        fc.property(password, fc.constantFrom(...shapes), (pw, shape) => {
          expect(typeError(() => parseUsers(shape(pw))).message.includes(pw)).toBe(false);
        }),
        FC,
      );
    });
  });
});

describe('UserTable.verify', () => {
  test('true for the right password, false for a wrong one', async () => {
    const users = parseUsers('alice:a1,bob:b2');
    expect(await users.verify('alice', 'a1')).toBe(true);
    expect(await users.verify('bob', 'b2')).toBe(true);
    expect(await users.verify('alice', 'wrong')).toBe(false);
    expect(await users.verify('alice', 'b2')).toBe(false);
    expect(await users.verify('alice', '')).toBe(false);
    expect(await users.verify('alice', 'a1 ')).toBe(false);
  });

  test('false for an unknown user', async () => {
    const users = parseUsers('alice:a1');
    expect(await users.verify('mallory', 'a1')).toBe(false);
    expect(await users.verify('', '')).toBe(false);
    expect(await users.verify('Alice', 'a1')).toBe(false);
  });

  test('a remembered success does not leak to other pairs', async () => {
    const users = parseUsers('alice:a1');
    expect(await users.verify('alice', 'a1')).toBe(true);
    expect(await users.verify('alice', 'a1')).toBe(true);
    expect(await users.verify('alice', 'a2')).toBe(false);
    expect(await users.verify('alice\0', 'a1')).toBe(false);
  });

  test('a remembered success cannot be replayed under another name', async () => {
    // Regression: a cache key of sha256(`${name}\0${password}`) gives ("a", "\0b") and ("a\0", "b")
    // the same key, so after "a" logs in the unknown user "a\0" verified.
    const users = new UserTable([['a', '\0b']]);
    expect(await users.verify('a', '\0b')).toBe(true);
    expect(await users.verify('a\0', 'b')).toBe(false);
  });

  test('remembers a verified pair, and only that pair', async () => {
    const users = parseUsers(`carol:${scryptSecret}`);
    expect(users.remembers('carol', 's3cret pass')).toBe(false);
    expect(await users.verify('carol', 'wrong')).toBe(false);
    expect(users.remembers('carol', 'wrong')).toBe(false);
    expect(await users.verify('carol', 's3cret pass')).toBe(true);
    expect(users.remembers('carol', 's3cret pass')).toBe(true);
    expect(users.remembers('carol', 's3cret pas')).toBe(false);
  });

  test('concurrent checks of one pair share one scrypt; other pairs get their own', async () => {
    const users = parseUsers(`carol:${scryptSecret}`);
    const first = users.verify('carol', 's3cret pass');
    expect(users.verify('carol', 's3cret pass')).toBe(first);
    expect(users.verify('carol', 'other')).not.toBe(first);
    expect(await first).toBe(true);
  });

  test('checks scrypt users against their hash', async () => {
    const users = parseUsers(`carol:${scryptSecret}`);
    expect(await users.verify('carol', 's3cret pass')).toBe(true);
    expect(await users.verify('carol', 's3cret pas')).toBe(false);
    // A scrypt user's stored text is not a password.
    expect(await users.verify('carol', scryptSecret)).toBe(false);
  });

  test('the decoy that unknown names are checked against does not let anyone in', async () => {
    // Regression: an unknown name is compared with the decoy entry, whose name digest and password
    // are both sha256('\0decoy'); name "\0decoy" with password "\0decoy" used to verify.
    const users = parseUsers('alice:a1');
    expect(await users.verify('\0decoy', '\0decoy')).toBe(false);
  });
});
