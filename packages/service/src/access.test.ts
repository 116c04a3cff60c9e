import { hashPassword, parseUserEntries } from '@pubsub/auth';
import { ConfigError } from '@pubsub/config';
import { thrown } from '@pubsub/testkit';
import { beforeAll, describe, expect, test } from 'vitest';
import { endpointRefusal, resolveUsers } from './access.js';
import { DEV_USER } from './common-config.js';
import type { FileUser } from './users-file.js';

let file: FileUser[];
beforeAll(async () => {
  const secret = await hashPassword('pw');
  file = [
    { name: 'app', secret, role: 'client', publish: ['orders.>'], subscribe: ['orders.*'] },
    { name: 'hop', secret, role: 'hop', publish: [], subscribe: [] },
    { name: 'mon', secret, role: 'monitor', publish: [], subscribe: [] },
  ];
});

describe('resolveUsers', () => {
  test('with neither a list nor a file, the development user stands in', async () => {
    const users = resolveUsers({ list: undefined, file: undefined, variable: 'X_USERS', role: 'client' });
    expect(users.isDevDefault).toBe(true);
    expect(await users.table.verify(DEV_USER.user, DEV_USER.password)).toBe(true);
    expect(users.accounts.get('hello')).toMatchObject({ role: 'client', metrics: true });
  });

  test('a listed user has the role the service implies, every topic and /metrics', () => {
    const users = resolveUsers({ list: parseUserEntries('q:x'), file: undefined, variable: 'X_USERS', role: 'hop' });
    const q = users.accounts.get('q');
    expect(users.isDevDefault).toBe(false);
    expect(q?.role).toBe('hop');
    expect(q?.metrics).toBe(true);
    expect(q?.publish.allows('any.topic')).toBe(true);
    expect(q?.subscribe.covers('>')).toBe(true);
  });

  test('file users keep their own role and rights; only monitor and hop users read /metrics', async () => {
    const users = resolveUsers({ list: undefined, file, variable: 'X_USERS', role: 'client' });
    expect(users.isDevDefault).toBe(false);
    expect(await users.table.verify('hello', 'test')).toBe(false);
    expect(await users.table.verify('app', 'pw')).toBe(true);
    const app = users.accounts.get('app');
    expect(app?.publish.allows('orders.new.eu')).toBe(true);
    expect(app?.publish.allows('news')).toBe(false);
    expect(app?.subscribe.covers('orders.*')).toBe(true);
    expect(app?.subscribe.covers('orders.>')).toBe(false);
    expect([...users.accounts.values()].map((a) => [a.name, a.role, a.metrics])).toEqual([
      ['app', 'client', false],
      ['hop', 'hop', true],
      ['mon', 'monitor', true],
    ]);
  });

  test('both sources combine; a name in both is a ConfigError naming the variable', async () => {
    const users = resolveUsers({ list: parseUserEntries('old:x'), file, variable: 'X_USERS', role: 'client' });
    expect(users.table.names).toEqual(['old', 'app', 'hop', 'mon']);
    expect(await users.table.verify('old', 'x')).toBe(true);
    const err = thrown(ConfigError, () =>
      resolveUsers({ list: parseUserEntries('app:secret-pw'), file, variable: 'X_USERS', role: 'client' }),
    );
    expect(err.issues).toEqual(['X_USERS: user "app" is in USERS_FILE too']);
    expect(err.message).not.toContain('secret-pw');
  });
});

describe('endpointRefusal', () => {
  test('an endpoint is for one role, /metrics for monitor and hop users', () => {
    const { accounts } = resolveUsers({ list: undefined, file, variable: 'X_USERS', role: 'client' });
    const [app, hop, mon] = ['app', 'hop', 'mon'].map((name) => accounts.get(name));
    if (app === undefined || hop === undefined || mon === undefined) throw new Error('missing account');
    expect(endpointRefusal(app, { path: '/publish', role: 'client' })).toBeUndefined();
    expect(endpointRefusal(hop, { path: '/publish', role: 'client' })).toMatchObject({
      status: 403,
      code: 'FORBIDDEN',
    });
    expect(endpointRefusal(app, { path: '/pushmsg', role: 'hop' })).toMatchObject({ status: 403, code: 'FORBIDDEN' });
    expect(endpointRefusal(mon, { path: '/subscribe', role: 'client' })).toMatchObject({ status: 403 });
    expect(endpointRefusal(mon, { path: '/metrics', role: 'metrics' })).toBeUndefined();
    expect(endpointRefusal(hop, { path: '/metrics', role: 'metrics' })).toBeUndefined();
    expect(endpointRefusal(app, { path: '/metrics', role: 'metrics' })?.message).toBe(
      '/metrics is for monitor and hop users; "app" is a client user',
    );
  });
});
