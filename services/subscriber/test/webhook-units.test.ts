import { ConfigError } from '@pubsub/config';
import { describe, expect, test } from 'vitest';
import { loadConfig } from '../src/config.js';
import { parseCidrList, TargetGuard, TargetRefused } from '../src/target-guard.js';
import { retryAfterMs } from '../src/webhook-post.js';
import { retryDelay, signature } from '../src/webhook-sink.js';

describe('TargetGuard', () => {
  const strict = new TargetGuard([]);

  test.each([
    '127.0.0.1',
    '127.9.9.9',
    '10.0.0.1',
    '172.16.5.4',
    '192.168.1.1',
    '169.254.169.254',
    '100.64.0.1',
    '0.0.0.0',
    '224.0.0.1',
    '255.255.255.255',
    '::1',
    '::',
    'fe80::1',
    'fd12:3456::1',
    'fc00::1',
    'ff02::1',
    '::ffff:127.0.0.1',
    '::ffff:10.0.0.1',
    '::ffff:7f00:1',
  ])('refuses %s', (address) => {
    expect(strict.refusal(address)).toMatch(/ is a \w+ address/);
  });

  test.each(['93.184.216.34', '8.8.8.8', '2606:4700::1111', '::ffff:8.8.8.8'])('allows the public %s', (address) => {
    expect(strict.refusal(address)).toBeUndefined();
  });

  test('allows exactly the configured ranges', () => {
    const guard = new TargetGuard(parseCidrList('127.0.0.0/8, ::1/128'));
    expect(guard.refusal('127.0.0.1')).toBeUndefined();
    expect(guard.refusal('::ffff:127.0.0.1')).toBeUndefined();
    expect(guard.refusal('::1')).toBeUndefined();
    expect(guard.refusal('10.0.0.1')).toBeDefined();
    expect(guard.refusal('fe80::1')).toBeDefined();
  });

  test('checks a name by every address it resolves to, at creation and at connect time', async () => {
    await expect(strict.check('localhost')).rejects.toBeInstanceOf(TargetRefused);
    await expect(strict.check('[::1]')).rejects.toThrow('[::1] resolves to ::1 is a loopback address');
    const connected = await new Promise<Error | null>((resolveLookup) =>
      strict.lookup('localhost', { all: true }, (err) => resolveLookup(err)),
    );
    expect(connected).toBeInstanceOf(TargetRefused);
    const allowed = new TargetGuard(parseCidrList('127.0.0.0/8,::1/128'));
    await allowed.check('localhost');
    const address = await new Promise<string>((resolveLookup, reject) =>
      allowed.lookup('localhost', { family: 4 }, (err, found) =>
        err === null ? resolveLookup(found as string) : reject(err),
      ),
    );
    expect(address).toBe('127.0.0.1');
  });

  test('a range list with a mistake is a configuration error naming it', () => {
    expect(() => parseCidrList('127.0.0.0/8,10.0.0.0')).toThrow('"10.0.0.0" is not a CIDR range');
    expect(() => loadConfig({ SUBSCRIBER_WEBHOOK_ALLOW_PRIVATE: '300.0.0.0/8' })).toThrow(ConfigError);
    expect(() => loadConfig({ SUBSCRIBER_WEBHOOK_DEAD_LETTER_PREFIX: 'dead letter.' })).toThrow(
      /SUBSCRIBER_WEBHOOK_DEAD_LETTER_PREFIX/,
    );
    expect(loadConfig({}).webhooks).toMatchObject({
      attempts: 8,
      backoffBaseMs: 1_000,
      backoffMaxMs: 60_000,
      timeoutMs: 10_000,
      allowPrivate: [],
      deadLetterPrefix: 'deadletter.',
      push: { urls: ['wss://localhost:8080/pushmsg'], user: 'hello', password: 'test' },
    });
    expect(
      loadConfig({ SUBSCRIBER_QUEUE_URL: 'wss://mq:9000/popmsg,wss://mq2:9000/popmsg', SUBSCRIBER_PUSH_USER: 'dl' })
        .webhooks.push,
    ).toEqual({
      urls: ['wss://mq:9000/pushmsg', 'wss://mq2:9000/pushmsg'],
      user: 'dl',
      password: 'test',
    });
  });
});

describe('retries', () => {
  const policy = { attempts: 8, baseMs: 100, maxMs: 5_000 };

  test('full jitter: from 0 up to base·2^(attempt-1), never past the maximum', () => {
    expect(retryDelay(policy, 1, { retryAfterMs: undefined, random: 0.999 })).toBe(99);
    expect(retryDelay(policy, 4, { retryAfterMs: undefined, random: 0.5 })).toBe(400);
    expect(retryDelay(policy, 20, { retryAfterMs: undefined, random: 0.999 })).toBe(4_995);
    expect(retryDelay(policy, 3, { retryAfterMs: undefined, random: 0 })).toBe(0);
  });

  test('Retry-After wins, up to the maximum', () => {
    expect(retryDelay(policy, 1, { retryAfterMs: 3_000, random: 0 })).toBe(3_000);
    expect(retryDelay(policy, 1, { retryAfterMs: 3_600_000, random: 0 })).toBe(5_000);
    expect(retryAfterMs('2')).toBe(2_000);
    expect(retryAfterMs('Thu, 03 Dec 2026 16:00:10 GMT', Date.parse('Thu, 03 Dec 2026 16:00:00 GMT'))).toBe(10_000);
    expect(retryAfterMs('soon')).toBeUndefined();
    expect(retryAfterMs(undefined)).toBeUndefined();
  });

  test('the signature is HMAC-SHA256 of the body, hex, after sha256=', () => {
    // The RFC 4231-style example every HMAC library documents.
    expect(signature('key', Buffer.from('The quick brown fox jumps over the lazy dog'))).toBe(
      'sha256=f7bc83f430538424b13298e6aa6fb143ef4d59a14946175997479dbc2d1a3cd8',
    );
  });
});
