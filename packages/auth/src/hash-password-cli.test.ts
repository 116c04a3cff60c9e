import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';
import { describe, expect, test } from 'vitest';
import { parseSecret, secretMatches } from './password.js';

const cli = fileURLToPath(new URL('./hash-password-cli.ts', import.meta.url));

/** Runs the CLI with `stdin` written to it and then closed. */
async function run(args: readonly string[], stdin: string) {
  const child = spawn(process.execPath, ['--import', 'tsx', cli, ...args]);
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  child.stdin.end(stdin);
  const [code] = (await once(child, 'close')) as [number | null];
  return { code, stdout, stderr };
}

async function expectHashOf(stdout: string, password: string): Promise<void> {
  const lines = stdout.split('\n');
  expect(lines).toHaveLength(2);
  expect(lines[0]).toMatch(/^scrypt:/);
  expect(await secretMatches(parseSecret(lines[0] as string), password)).toBe(true);
}

describe('hash-password', () => {
  test.each([
    ['without a trailing newline', 's3cret pass'],
    ['with a trailing newline', 's3cret pass\n'],
    ['with a trailing CRLF', 's3cret pass\r\n'],
  ])('hashes the password on stdin %s', async (_name, stdin) => {
    const { code, stdout, stderr } = await run([], stdin);
    expect({ code, stderr }).toEqual({ code: 0, stderr: '' });
    await expectHashOf(stdout, 's3cret pass');
  });

  test('--help with stdin closed prints the usage and exits 0', async () => {
    const { code, stdout } = await run(['--help'], '');
    expect(code).toBe(0);
    expect(stdout).toContain('Usage: hash-password');
  });

  test.each([
    { name: 'an empty stdin', args: [], stdin: '', message: 'empty password' },
    { name: 'two lines', args: [], stdin: 'one\ntwo\n', message: 'more than one line' },
    { name: 'an argument', args: ['secret'], stdin: '', message: 'unexpected argument' },
  ])('refuses $name with exit code 2', async ({ args, stdin, message }) => {
    const { code, stdout, stderr } = await run(args, stdin);
    expect(code).toBe(2);
    expect(stdout).toBe('');
    expect(stderr).toContain(message);
  });
});
