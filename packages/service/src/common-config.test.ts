import { ConfigError, loadEnv, z } from '@pubsub/config';
import { DEFAULT_MAX_PAYLOAD_BYTES } from '@pubsub/protocol';
import { DEFAULT_CERT_DIR } from '@pubsub/tls';
import { basename, join } from 'node:path';
import { thrown } from '@pubsub/testkit';
import { describe, expect, test } from 'vitest';
import { commonConfig, commonEnv, DEV_USER, DEV_USERS, usersList } from './common-config.js';
import { DEFAULT_TLS_CIPHERS } from './tls-config.js';

/** commonConfig as a service reaches it: through loadEnv with the common schema. */
function configFrom(env: Record<string, string | undefined>) {
  return commonConfig(loadEnv(z.object(commonEnv), env));
}

const configError = (fn: () => unknown): ConfigError => thrown(ConfigError, fn);

describe('commonConfig', () => {
  test('defaults: the repository certs/ directory, generated on demand', () => {
    const config = configFrom({});
    expect(config.tls).toEqual({
      certDir: DEFAULT_CERT_DIR,
      generate: true,
      extraHosts: [],
      ciphers: DEFAULT_TLS_CIPHERS,
    });
    expect(config.production).toBe(false);
    expect(basename(config.tls.certDir)).toBe('certs');
    expect(config.caFile).toBe(join(DEFAULT_CERT_DIR, 'server.crt'));
    expect(config.logLevel).toBe('info');
    expect(config.maxPayloadBytes).toBe(DEFAULT_MAX_PAYLOAD_BYTES);
    expect(config.heartbeatIntervalMs).toBe(30_000);
    expect(config.shutdownTimeoutMs).toBe(10_000);
    expect(config.backoff).toEqual({ initialMs: 100, maxMs: 5_000 });
  });

  test('TLS_CIPHERS is checked by OpenSSL when the configuration loads; NODE_ENV=production is read', () => {
    expect(configFrom({ TLS_CIPHERS: 'ECDHE-ECDSA-AES256-GCM-SHA384' }).tls.ciphers).toBe(
      'ECDHE-ECDSA-AES256-GCM-SHA384',
    );
    expect(configError(() => configFrom({ TLS_CIPHERS: 'NO-SUCH-CIPHER' })).issues).toEqual([
      expect.stringMatching(/^TLS_CIPHERS: not a usable OpenSSL cipher list/),
    ]);
    expect(configFrom({ NODE_ENV: 'production' }).production).toBe(true);
  });

  test('an explicit WS_CERT_DIR is not generated into', () => {
    const config = configFrom({ WS_CERT_DIR: '/etc/pubsub/tls' });
    expect(config.tls.certDir).toBe('/etc/pubsub/tls');
    expect(config.tls.generate).toBe(false);
    expect(config.caFile).toBe(join('/etc/pubsub/tls', 'server.crt'));
  });

  test.each(['true', '1', 'yes'])('TLS_GENERATE_DEV_CERT=%s turns generation on for an explicit directory', (value) => {
    expect(configFrom({ WS_CERT_DIR: '/tmp/certs', TLS_GENERATE_DEV_CERT: value }).tls.generate).toBe(true);
  });

  test.each(['false', '0', 'no'])(
    'TLS_GENERATE_DEV_CERT=%s turns generation off for the default directory',
    (value) => {
      expect(configFrom({ TLS_GENERATE_DEV_CERT: value }).tls.generate).toBe(false);
    },
  );

  test('empty WS_CERT_DIR and TLS_GENERATE_DEV_CERT count as unset', () => {
    expect(configFrom({ WS_CERT_DIR: '', TLS_GENERATE_DEV_CERT: '' }).tls).toMatchObject({
      certDir: DEFAULT_CERT_DIR,
      generate: true,
    });
  });

  test('WS_CA_FILE overrides the CA bundle', () => {
    expect(configFrom({ WS_CERT_DIR: '/a', WS_CA_FILE: '/b/ca.pem' }).caFile).toBe('/b/ca.pem');
  });

  test('TLS_DEV_CERT_HOSTS is split on commas and trimmed, empty items dropped', () => {
    expect(configFrom({ TLS_DEV_CERT_HOSTS: ' msgqueue , publisher,,10.0.0.5 ,' }).tls.extraHosts).toEqual([
      'msgqueue',
      'publisher',
      '10.0.0.5',
    ]);
    expect(configFrom({ TLS_DEV_CERT_HOSTS: ' , ' }).tls.extraHosts).toEqual([]);
  });

  test('numbers and the log level are read from the environment', () => {
    const config = configFrom({
      LOG_LEVEL: 'debug',
      MAX_PAYLOAD_BYTES: '1024',
      HEARTBEAT_INTERVAL_MS: '500',
      SHUTDOWN_TIMEOUT_MS: '200',
      UPSTREAM_BACKOFF_INITIAL_MS: '10',
      UPSTREAM_BACKOFF_MAX_MS: '20',
    });
    expect(config).toMatchObject({
      logLevel: 'debug',
      maxPayloadBytes: 1024,
      heartbeatIntervalMs: 500,
      shutdownTimeoutMs: 200,
      backoff: { initialMs: 10, maxMs: 20 },
    });
  });

  test('every invalid variable is reported at once', () => {
    const env = {
      TLS_GENERATE_DEV_CERT: 'maybe',
      LOG_LEVEL: 'loud',
      MAX_PAYLOAD_BYTES: '0',
      HEARTBEAT_INTERVAL_MS: 'x',
    };
    const err = configError(() => configFrom(env));
    expect(err.issues).toHaveLength(4);
    for (const name of Object.keys(env)) {
      expect(err.issues.filter((issue) => issue.startsWith(`${name}:`))).toHaveLength(1);
    }
  });
});

describe('usersList', () => {
  const schema = z.object({ TEST_USERS: usersList() });

  test('is undefined when unset, so resolveUsers can tell "no list" from a list', () => {
    expect(loadEnv(schema, {}).TEST_USERS).toBeUndefined();
    expect(DEV_USERS).toBe(`${DEV_USER.user}:${DEV_USER.password}`);
  });

  test('reads a users list', () => {
    const { TEST_USERS } = loadEnv(schema, { TEST_USERS: 'alice:a1, bob:b2' });
    expect(TEST_USERS?.map(([name]) => name)).toEqual(['alice', 'bob']);
  });

  test('a bad users list is a ConfigError naming the variable, without the password', () => {
    const err = configError(() => loadEnv(schema, { TEST_USERS: 'alice:hunter2,alice:hunter3' }));
    expect(err.issues).toHaveLength(1);
    expect(err.issues[0]).toMatch(/^TEST_USERS:/);
    expect(err.message).not.toContain('hunter');
  });
});
