import { hashPassword } from '@pubsub/auth';
import { thrown } from '@pubsub/testkit';
import fc from 'fast-check';
import { beforeAll, describe, expect, test } from 'vitest';
import { parseUsersFile, readUsersFile, UsersFileError } from './users-file.js';

// Fixed seed so every run checks the same inputs; set FC_SEED to explore others.
const FC = { seed: Number(process.env.FC_SEED ?? 1_234_567), numRuns: 200 } as const;

let hash: string;
beforeAll(async () => {
  hash = await hashPassword('pw');
});

const fileOf = (users: unknown[]) => JSON.stringify({ users });
const problems = (text: string) => thrown(UsersFileError, () => parseUsersFile(text)).problems;

describe('parseUsersFile', () => {
  test('reads users with their role and topic rights', () => {
    const users = parseUsersFile(
      fileOf([
        { name: 'orders-app', password: hash, role: 'client', publish: ['orders.>'], subscribe: ['orders.*', 'news'] },
        { name: 'pub-hop', password: hash, role: 'pusher' },
        { name: 'sub-hop', password: hash, role: 'popper' },
        { name: 'ops', password: hash, role: 'admin' },
        { name: 'prometheus', password: hash, role: 'monitor' },
        { name: 'reader', password: hash, role: 'client', subscribe: ['news'] },
      ]),
    );
    expect(users).toEqual([
      { name: 'orders-app', secret: hash, role: 'client', publish: ['orders.>'], subscribe: ['orders.*', 'news'] },
      { name: 'pub-hop', secret: hash, role: 'pusher', publish: [], subscribe: [] },
      { name: 'sub-hop', secret: hash, role: 'popper', publish: [], subscribe: [] },
      { name: 'ops', secret: hash, role: 'admin', publish: [], subscribe: [] },
      { name: 'prometheus', secret: hash, role: 'monitor', publish: [], subscribe: [] },
      { name: 'reader', secret: hash, role: 'client', publish: [], subscribe: ['news'] },
    ]);
  });

  describe('bad input', () => {
    test.each([
      ['not JSON', '{"users": [', /^not valid JSON/],
      ['JSON with a position', '{"users": []}x', /^not valid JSON \(line 1, column 14\)$/],
      ['not an object', '[]', /^expected an object \{"users"/],
      ['no users list', '{"user": []}', /^expected an object \{"users"/],
      ['an empty list', '{"users": []}', /^"users" lists nobody$/],
    ])('%s', (_name, text, message) => {
      expect(problems(text)).toEqual([expect.stringMatching(message)]);
    });

    test('every problem is listed, each naming the user by position and name', () => {
      const text = fileOf([
        { name: 'ok', password: hash, role: 'client' },
        { name: 'plain', password: 'hunter2', role: 'client' },
        { name: 'no-role', password: hash },
        { name: 'bad:name', password: hash, role: 'pusher' },
        { name: 'hop-with-rights', password: hash, role: 'pusher', publish: ['x'] },
        { name: 'typo', password: hash, role: 'client', subcribe: ['x'] },
        { name: 'bad-pattern', password: hash, role: 'client', subscribe: ['news', 'orders.>.eu', 7] },
        { name: 'not-a-list', password: hash, role: 'client', publish: 'orders.>' },
        'nobody',
        { name: 'ok', password: hash, role: 'monitor' },
        { name: 'old-hop', password: hash, role: 'hop' },
      ]);
      expect(problems(text)).toEqual([
        expect.stringMatching(/^user 2 \("plain"\): "password" must be an scrypt hash/),
        expect.stringMatching(
          /^user 3 \("no-role"\): "role" must be one of "client", "pusher", "popper", "admin", "monitor"$/,
        ),
        expect.stringMatching(/^user 4: "name" must be/),
        'user 5 ("hop-with-rights"): "publish" is for client users only',
        'user 6 ("typo"): unknown key "subcribe"',
        expect.stringMatching(
          /^user 7 \("bad-pattern"\): subscribe\[1\] "orders\.>\.eu" is not a topic pattern \(TOPIC_INVALID/,
        ),
        expect.stringMatching(/^user 7 \("bad-pattern"\): subscribe\[2\] number is not a topic pattern/),
        'user 8 ("not-a-list"): "publish" must be a list of topic patterns',
        expect.stringMatching(/^user 9: expected an object/),
        'user 10 ("ok"): the name is taken by user 1',
        'user 11 ("old-hop"): "role" "hop" was split: give the publisher service "pusher" and the subscriber service "popper"',
      ]);
    });

    test('no problem ever quotes a password', () => {
      // A marker no message contains, so a hit can only be the password.
      const password = fc.string({ minLength: 1, maxLength: 20 }).map((s) => `§${s}`);
      const shapes = [
        (pw: string) => fileOf([{ name: 'a', password: pw, role: 'client' }]),
        (pw: string) => fileOf([{ name: 'a', password: `scrypt:${pw}`, role: 'client' }]),
        (pw: string) => fileOf([{ name: 'a', password: `scrypt:16384:8:1:${pw}:${pw}`, role: 'pusher' }]),
        (pw: string) => fileOf([{ name: 'a', password: pw, role: pw }]),
        (pw: string) => fileOf([{ password: pw }]),
        (pw: string) => `{"users":[{"name":"a","password":${JSON.stringify(pw)},"role":"client"}`,
        (pw: string) => `{"users":[{"name":"a","password":${JSON.stringify(pw)} "role":"client"}]}`,
      ];
      fc.assert(
        fc.property(password, fc.constantFrom(...shapes), (pw, shape) => {
          for (const problem of problems(shape(pw))) expect(problem.includes(pw)).toBe(false);
        }),
        FC,
      );
    });
  });
});

describe('readUsersFile', () => {
  test('names a file it cannot read', () => {
    expect(thrown(UsersFileError, () => readUsersFile('/nonexistent/users.json')).problems).toEqual([
      'cannot read /nonexistent/users.json: ENOENT',
    ]);
  });
});
