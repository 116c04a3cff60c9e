import { thrown } from '@pubsub/testkit';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, test } from 'vitest';
import {
  ConfigError,
  flag,
  LOG_LEVEL,
  loadEnv,
  optionalWssUrls,
  port,
  positiveInt,
  readableFile,
  wssUrl,
  z,
} from './index.js';

const configError = (fn: () => unknown): ConfigError => thrown(ConfigError, fn);

const schema = z.object({
  APP_PORT: port(8080),
  APP_BATCH: positiveInt(10),
  APP_UPSTREAM: wssUrl('wss://localhost:8443/pushmsg'),
  APP_VERBOSE: flag(false),
  LOG_LEVEL,
});

describe('loadEnv', () => {
  test('applies defaults when nothing is set', () => {
    expect(loadEnv(schema, {})).toEqual({
      APP_PORT: 8080,
      APP_BATCH: 10,
      APP_UPSTREAM: 'wss://localhost:8443/pushmsg',
      APP_VERBOSE: false,
      LOG_LEVEL: 'info',
    });
  });

  test('reads and converts set variables, ignoring unrelated ones', () => {
    const env = {
      APP_PORT: '0',
      APP_BATCH: '25',
      APP_UPSTREAM: 'wss://queue:9000/',
      APP_VERBOSE: 'yes',
      LOG_LEVEL: 'debug',
      PATH: '/usr/bin',
    };
    expect(loadEnv(schema, env)).toEqual({
      APP_PORT: 0,
      APP_BATCH: 25,
      APP_UPSTREAM: 'wss://queue:9000/',
      APP_VERBOSE: true,
      LOG_LEVEL: 'debug',
    });
  });

  test('treats empty strings as unset', () => {
    const env = { APP_PORT: '', APP_BATCH: '', APP_UPSTREAM: '', APP_VERBOSE: '', LOG_LEVEL: '' };
    expect(loadEnv(schema, env)).toEqual(loadEnv(schema, {}));
  });

  test('returns a frozen object', () => {
    const config = loadEnv(schema, {});
    expect(Object.isFrozen(config)).toBe(true);
    expect(() => {
      (config as { APP_PORT: number }).APP_PORT = 1;
    }).toThrow(TypeError);
  });

  test('reports every invalid variable at once, each by name', () => {
    const env = {
      APP_PORT: '70000',
      APP_BATCH: '0',
      APP_UPSTREAM: 'http://localhost',
      APP_VERBOSE: 'maybe',
      LOG_LEVEL: 'loud',
    };
    const err = configError(() => loadEnv(schema, env));
    expect(err.issues).toHaveLength(5);
    for (const name of Object.keys(env)) {
      expect(err.issues.filter((issue) => issue.startsWith(`${name}:`))).toHaveLength(1);
      expect(err.message).toContain(name);
    }
  });

  test('valid variables do not add issues', () => {
    const err = configError(() => loadEnv(schema, { APP_PORT: 'x', APP_BATCH: '3' }));
    expect(err.issues).toHaveLength(1);
    expect(err.issues[0]).toMatch(/^APP_PORT:/);
  });
});

describe('port', () => {
  const ports = z.object({ PORT: port(8080) });
  const load = (value: string) => loadEnv(ports, { PORT: value }).PORT;

  test.each([
    ['0', 0],
    ['1', 1],
    ['8443', 8443],
    ['65535', 65535],
  ])('accepts %s', (value, expected) => {
    expect(load(value)).toBe(expected);
  });

  test.each(['65536', '-1', '80.5', 'http', '80abc', 'NaN', 'Infinity', '0x50', '1e3', '+80', ' 80'])(
    'rejects %j',
    (value) => {
      expect(configError(() => load(value)).issues).toHaveLength(1);
    },
  );

  test('a blank value is not read as port 0', () => {
    // Regression: z.coerce.number() turned " " into 0, so PORT=" " silently meant "any free port"
    // (loadEnv only treats "" as unset).
    expect(configError(() => load(' ')).issues).toHaveLength(1);
  });
});

describe('positiveInt', () => {
  const sizes = z.object({ SIZE: positiveInt(5) });
  const load = (value: string | undefined) => loadEnv(sizes, { SIZE: value }).SIZE;

  test('defaults and accepts whole numbers above zero', () => {
    expect(load(undefined)).toBe(5);
    expect(load('1')).toBe(1);
    expect(load('65536')).toBe(65536);
  });

  test.each(['0', '-3', '1.5', 'ten', ' ', '0x10', '1e3', '9007199254740993'])('rejects %j', (value) => {
    expect(configError(() => load(value)).issues).toHaveLength(1);
  });
});

describe('wssUrl', () => {
  const urls = z.object({ URL: wssUrl('wss://localhost:8443') });
  const load = (value: string) => loadEnv(urls, { URL: value }).URL;

  test.each(['wss://localhost:8443/pushmsg', 'wss://127.0.0.1/', 'wss://queue.internal:9000/popmsg?x=1'])(
    'accepts %s',
    (value) => {
      expect(load(value)).toBe(value);
    },
  );

  test.each(['http://localhost:8443', 'https://localhost', 'ws://localhost:8443', 'localhost:8443', 'not a url'])(
    'rejects %s',
    (value) => {
      const err = configError(() => load(value));
      expect(err.issues).toHaveLength(1);
      expect(err.issues[0]).toMatch(/^URL:/);
    },
  );
});

describe('optionalWssUrls', () => {
  const urls = z.object({ URLS: optionalWssUrls() });
  const load = (value: string) => loadEnv(urls, { URLS: value }).URLS;

  test('one URL, a list (spaces around commas are fine), or unset', () => {
    expect(load('wss://mq:8080/pushmsg')).toEqual(['wss://mq:8080/pushmsg']);
    expect(load('wss://mq-1:8080/pushmsg, wss://mq-2:8080/pushmsg')).toEqual([
      'wss://mq-1:8080/pushmsg',
      'wss://mq-2:8080/pushmsg',
    ]);
    expect(load('')).toBeUndefined();
  });

  test.each([
    ['wss://mq-1:8080,http://mq-2:8080', /http:\/\/mq-2:8080/],
    ['wss://mq-1:8080,', /""/],
    ['wss://mq-1:8080,wss://mq-1:8080', /twice/],
  ])('rejects %s, naming the variable and what is wrong', (value, reason) => {
    const err = configError(() => load(value));
    expect(err.issues).toHaveLength(1);
    expect(err.issues[0]).toMatch(/^URLS:/);
    expect(err.issues[0]).toMatch(reason);
  });
});

describe('readableFile', () => {
  const files = z.object({ FILE: readableFile().optional() });
  const dir = mkdtempSync(join(tmpdir(), 'pubsub-config-'));
  const file = join(dir, 'cert.pem');
  writeFileSync(file, 'PEM');

  test('accepts a readable file and leaves it unset when empty', () => {
    expect(loadEnv(files, { FILE: file }).FILE).toBe(file);
    expect(loadEnv(files, { FILE: '' }).FILE).toBeUndefined();
  });

  test.each([
    [join(dir, 'missing.pem'), 'ENOENT'],
    [dir, 'not a regular file'],
  ])('rejects %s (%s), naming the variable and the path', (path, reason) => {
    const err = configError(() => loadEnv(files, { FILE: path }));
    expect(err.issues).toEqual([`FILE: cannot read ${path} (${reason})`]);
  });
});
