import { afterEach, describe, expect, test } from 'vitest';
import { killAll, spawnCli } from './cli-process.js';

afterEach(killAll);

describe('usage', () => {
  test('--help prints the usage and exits 0', async () => {
    const cli = spawnCli(['--help']);
    expect(await cli.exited).toEqual({ code: 0, signal: null });
    const help = cli.stdout.join('\n');
    expect(help).toContain('Usage: clientdemo [options] [command]');
    for (const word of ['publish', 'subscribe', 'interactive', '--publish-url', '--ca', 'WS_CA_FILE']) {
      expect(help).toContain(word);
    }
  });

  test('--version prints the version, also through the bin script', async () => {
    const cli = spawnCli(['--version']);
    expect(await cli.exited).toEqual({ code: 0, signal: null });
    expect(cli.stdout).toEqual([expect.stringMatching(/^\d+\.\d+\.\d+$/)]);
  });

  test.each([
    { name: 'an unknown command', args: ['frobnicate'], message: "unknown command 'frobnicate'" },
    { name: 'an unknown option', args: ['publish', '--bogus', 'news', 'hi'], message: "unknown option '--bogus'" },
    { name: 'a missing argument', args: ['publish', 'news'], message: "missing required argument 'message'" },
    { name: 'a missing topic', args: ['subscribe'], message: "missing required argument 'topic'" },
    { name: '--epoch without --from', args: ['subscribe', '--epoch', 'ab', 'news'], message: '--epoch needs --from' },
    { name: 'a bad --from', args: ['subscribe', '--from', '-1', 'news'], message: 'must be a whole number' },
    { name: 'a bad --count', args: ['subscribe', 'news', '--count', '0'], message: 'must be a positive integer' },
    { name: 'invalid --json content', args: ['publish', '--json', 'news', '{nope'], message: 'not valid JSON' },
    {
      name: 'a URL that is not wss',
      args: ['--publish-url', 'ws://localhost:1/publish', 'publish', 'a', 'b'],
      message: 'expected a wss:// URL',
    },
  ])('rejects $name with exit code 2', async ({ args, message }) => {
    const cli = spawnCli(args);
    expect((await cli.exited).code).toBe(2);
    expect(cli.stderr.join('\n')).toContain(message);
    expect(cli.stdout).toEqual([]);
  });
});
