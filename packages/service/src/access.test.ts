import { hashPassword, parseUserEntries } from '@pubsub/auth';
import { ConfigError } from '@pubsub/config';
import { thrown } from '@pubsub/testkit';
import { beforeAll, describe, expect, test } from 'vitest';
import { endpointRefusal, resolveUsers, type Account, type UsersList } from './access.js';
import { DEV_USER } from './common-config.js';
import type { FileUser } from './users-file.js';

let file: FileUser[];
beforeAll(async () => {
  const secret = await hashPassword('pw');
  file = [
    { name: 'app', secret, role: 'client', publish: ['orders.>'], subscribe: ['orders.*'] },
    { name: 'pub', secret, role: 'pusher', publish: [], subscribe: [] },
    { name: 'sub', secret, role: 'popper', publish: [], subscribe: [] },
    { name: 'mon', secret, role: 'monitor', publish: [], subscribe: [] },
    { name: 'reader', secret, role: 'client', publish: [], subscribe: ['>'] },
  ];
});

const list = (entries: string | undefined, role: UsersList['role'] = 'client', variable = 'X_USERS'): UsersList => ({
  variable,
  role,
  entries: entries === undefined ? undefined : parseUserEntries(entries),
});
const rightsOf = (users: ReturnType<typeof resolveUsers>, name: string) => [
  ...(users.accounts.get(name)?.rights ?? []),
];

describe('resolveUsers', () => {
  test('with neither a list nor a file, the development user stands in with the first list role', async () => {
    const users = resolveUsers({
      lists: [list(undefined, 'hop'), list(undefined, 'pusher')],
      file: undefined,
      production: false,
    });
    expect(users.isDevDefault).toBe(true);
    expect(await users.table.verify(DEV_USER.user, DEV_USER.password)).toBe(true);
    expect(users.accounts.get('hello')?.role).toBe('hop');
    expect(rightsOf(users, 'hello').sort()).toEqual(['admin', 'metrics', 'pop', 'push']);
  });

  test('NODE_ENV=production without users is a ConfigError: the development user is never enabled there', () => {
    const err = thrown(ConfigError, () =>
      resolveUsers({ lists: [list(undefined, 'hop', 'MSGQUEUE_USERS')], file: undefined, production: true }),
    );
    expect(err.issues).toEqual([
      expect.stringMatching(/^MSGQUEUE_USERS, USERS_FILE: NODE_ENV is production and no users are configured/),
    ]);
    const users = resolveUsers({ lists: [list('q:x', 'hop', 'MSGQUEUE_USERS')], file: undefined, production: true });
    expect(users.isDevDefault).toBe(false);
    expect(users.accounts.has('hello')).toBe(false);
  });

  test('a listed user has its list role, every topic and /metrics', () => {
    const users = resolveUsers({ lists: [list('q:x', 'pusher')], file: undefined, production: false });
    const q = users.accounts.get('q');
    expect(users.isDevDefault).toBe(false);
    expect(q?.role).toBe('pusher');
    expect(rightsOf(users, 'q').sort()).toEqual(['metrics', 'push']);
    expect(q?.publish.allows('any.topic')).toBe(true);
    expect(q?.subscribe.covers('>')).toBe(true);
    const client = resolveUsers({ lists: [list('c:x')], file: undefined, production: false });
    expect(rightsOf(client, 'c').sort()).toEqual(['metrics', 'publish', 'subscribe']);
  });

  test('file users keep their own role and rights: pushers push, poppers pop, neither does both', async () => {
    const users = resolveUsers({ lists: [list(undefined)], file, production: false });
    expect(users.isDevDefault).toBe(false);
    expect(await users.table.verify('hello', 'test')).toBe(false);
    expect(await users.table.verify('app', 'pw')).toBe(true);
    const app = users.accounts.get('app');
    expect(app?.publish.allows('orders.new.eu')).toBe(true);
    expect(app?.publish.allows('news')).toBe(false);
    expect(app?.subscribe.covers('orders.*')).toBe(true);
    expect(app?.subscribe.covers('orders.>')).toBe(false);
    expect(
      Object.fromEntries(['app', 'pub', 'sub', 'mon', 'reader'].map((name) => [name, rightsOf(users, name).sort()])),
    ).toEqual({
      app: ['publish', 'subscribe'],
      pub: ['metrics', 'push'],
      sub: ['metrics', 'pop'],
      mon: ['metrics'],
      reader: ['subscribe'],
    });
  });

  test('lists and file combine; a name in two places is a ConfigError naming the variables', async () => {
    const users = resolveUsers({ lists: [list('old:x')], file, production: false });
    expect(users.table.names).toEqual(['old', 'app', 'pub', 'sub', 'mon', 'reader']);
    expect(await users.table.verify('old', 'x')).toBe(true);
    const err = thrown(ConfigError, () => resolveUsers({ lists: [list('app:secret-pw')], file, production: false }));
    expect(err.issues).toEqual(['X_USERS: user "app" is in USERS_FILE too']);
    expect(err.message).not.toContain('secret-pw');
    const lists = thrown(ConfigError, () =>
      resolveUsers({
        lists: [list('a:1', 'pusher', 'A_USERS'), list('a:2', 'popper', 'B_USERS')],
        file: undefined,
        production: false,
      }),
    );
    expect(lists.issues).toEqual(['B_USERS: user "a" is in A_USERS too']);
  });
});

describe('endpointRefusal', () => {
  test('each endpoint needs its right; a client without publish rights may not /publish', () => {
    const { accounts } = resolveUsers({ lists: [list(undefined)], file, production: false });
    const account = (name: string) => {
      const found = accounts.get(name);
      if (found === undefined) throw new Error(`missing account ${name}`);
      return found;
    };
    const [app, pub, sub, mon, reader] = ['app', 'pub', 'sub', 'mon', 'reader'].map(account) as [
      Account,
      Account,
      Account,
      Account,
      Account,
    ];
    expect(endpointRefusal(app, { path: '/publish', right: 'publish' })).toBeUndefined();
    expect(endpointRefusal(pub, { path: '/publish', right: 'publish' })).toMatchObject({
      status: 403,
      code: 'FORBIDDEN',
    });
    expect(endpointRefusal(app, { path: '/pushmsg', right: 'push' })).toMatchObject({ status: 403, code: 'FORBIDDEN' });
    expect(endpointRefusal(pub, { path: '/pushmsg', right: 'push' })).toBeUndefined();
    expect(endpointRefusal(pub, { path: '/popmsg', right: 'pop' })).toMatchObject({ status: 403 });
    expect(endpointRefusal(sub, { path: '/pushmsg', right: 'push' })).toMatchObject({ status: 403 });
    expect(endpointRefusal(sub, { path: '/history', right: 'pop' })).toBeUndefined();
    expect(endpointRefusal(reader, { path: '/publish', right: 'publish' })?.message).toBe(
      '/publish is for client users with a publish right; "reader" is a client user without that right',
    );
    expect(endpointRefusal(mon, { path: '/metrics', right: 'metrics' })).toBeUndefined();
    expect(endpointRefusal(app, { path: '/metrics', right: 'metrics' })).toMatchObject({ status: 403 });
    // A list: any one of its rights will do.
    expect(endpointRefusal(app, { path: '/x', right: ['publish', 'pop'] })).toBeUndefined();
    expect(endpointRefusal(sub, { path: '/x', right: ['publish', 'pop'] })).toBeUndefined();
    expect(endpointRefusal(mon, { path: '/x', right: ['publish', 'pop'] })?.message).toBe(
      '/x is for client users with a publish right or popper users (the subscriber service); "mon" is a monitor user without that right',
    );
  });
});
