import { ConfigError, loadEnv, z } from '@pubsub/config';
import { thrown, writeUsersFile } from '@pubsub/testkit';
import { describe, expect, test } from 'vitest';
import { accessEnv, accessLimits } from './access-config.js';

const schema = z.object(accessEnv);
const load = (env: Record<string, string>) => loadEnv(schema, env);
const configError = (fn: () => unknown): ConfigError => thrown(ConfigError, fn);

describe('access configuration', () => {
  test('defaults', () => {
    expect(accessLimits(load({}))).toEqual({
      maxConnections: 10_000,
      maxConnectionsPerUser: 1_000,
      maxConnectionsPerAddress: 256,
      allowedOrigins: [],
      authThrottle: { addressFailures: 20, pairFailures: 5, userFailures: 50, userDelayMs: 1_000, windowMs: 600_000 },
    });
    expect(load({}).USERS_FILE).toBeUndefined();
  });

  test('ALLOWED_ORIGINS is normalised; anything but a bare http(s) origin is refused, each named', () => {
    expect(load({ ALLOWED_ORIGINS: ' https://App.Example.com , http://localhost:3000/,,' }).ALLOWED_ORIGINS).toEqual([
      'https://app.example.com',
      'http://localhost:3000',
    ]);
    const err = configError(() =>
      load({ ALLOWED_ORIGINS: 'https://ok.example,app.example.com,https://x.example/path' }),
    );
    expect(err.issues).toEqual([
      'ALLOWED_ORIGINS: entry 2 ("app.example.com") is not an origin like https://app.example.com',
      'ALLOWED_ORIGINS: entry 3 ("https://x.example/path") is not an origin like https://app.example.com',
    ]);
  });

  test('USERS_FILE is read when the configuration loads; its problems are issues of USERS_FILE', () => {
    const path = writeUsersFile([{ name: 'a', password: 'plain-secret', role: 'client' }]);
    const err = configError(() => load({ USERS_FILE: path, MAX_CONNECTIONS: '0' }));
    expect(err.issues).toEqual([
      expect.stringMatching(/^USERS_FILE: user 1 \("a"\): "password" must be an scrypt hash/),
      expect.stringMatching(/^MAX_CONNECTIONS:/),
    ]);
    expect(err.message).not.toContain('plain-secret');
    expect(configError(() => load({ USERS_FILE: '/nonexistent.json' })).issues).toEqual([
      'USERS_FILE: cannot read /nonexistent.json: ENOENT',
    ]);
  });
});
