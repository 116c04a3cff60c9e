import { describe, expect, test } from 'vitest';
import { authenticate, challengeHeader } from './basic.js';
import { parseUsers } from './users.js';

const users = parseUsers('alice:a1,bob:p:w');

function basic(credentials: string): { headers: { authorization: string } } {
  return { headers: { authorization: `Basic ${Buffer.from(credentials).toString('base64')}` } };
}

describe('authenticate', () => {
  test('returns the user name for good credentials', async () => {
    expect(await authenticate(basic('alice:a1'), users)).toBe('alice');
    // Only the first colon separates name from password.
    expect(await authenticate(basic('bob:p:w'), users)).toBe('bob');
  });

  test('accepts the scheme in any case', async () => {
    const header = `basic ${Buffer.from('alice:a1').toString('base64')}`;
    expect(await authenticate({ headers: { authorization: header } }, users)).toBe('alice');
  });

  test.each([
    ['no header', {}],
    ['an empty header', { authorization: '' }],
    ['another scheme', { authorization: 'Bearer x' }],
    ['another scheme with valid-looking credentials', { authorization: `Bearer ${btoa('alice:a1')}` }],
    ['bad base64', { authorization: 'Basic !!!' }],
    ['base64 without a colon', { authorization: `Basic ${btoa('alice')}` }],
    ['no credentials', { authorization: 'Basic' }],
  ])('undefined for %s', async (_name, headers) => {
    expect(await authenticate({ headers }, users)).toBeUndefined();
  });

  test('undefined for a wrong password or an unknown user', async () => {
    expect(await authenticate(basic('alice:wrong'), users)).toBeUndefined();
    expect(await authenticate(basic('mallory:a1'), users)).toBeUndefined();
    expect(await authenticate(basic(':a1'), users)).toBeUndefined();
  });

  test('the decoy entry for unknown names cannot be logged in to over Basic auth', async () => {
    // Regression: Basic credentials may carry NUL, and "\0decoy:\0decoy" used to match the decoy
    // entry that unknown names are checked against.
    expect(await authenticate(basic('\0decoy:\0decoy'), users)).toBeUndefined();
  });
});

describe('challengeHeader', () => {
  test('names the realm and the charset', () => {
    expect(challengeHeader('msgqueue')).toBe('Basic realm="msgqueue", charset="UTF-8"');
  });
});
