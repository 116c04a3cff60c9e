import { afterEach, describe, expect, test } from 'vitest';
import { startChain, subscribe } from '../../tests/support/chain.js';
import { chainEnv, killAll, spawnCli } from './cli-process.js';

afterEach(killAll);

describe('clientdemo publish', () => {
  test('publishes a string, prints the acked id and exits 0', async () => {
    await using chain = await startChain();
    const sub = await chain.subscribeClient();
    await subscribe(sub, 'news');

    const cli = spawnCli(['publish', '--id', 'm-1', 'news', 'hello', 'there'], chainEnv(chain));

    expect(await sub.next()).toMatchObject({
      type: 'message',
      topic: 'news',
      id: 'm-1',
      content: 'hello there',
      seq: 1,
    });
    expect(await cli.exited).toEqual({ code: 0, signal: null });
    expect(cli.stdout).toEqual(['published m-1']);
    expect(cli.stderr).toEqual([]);
  });

  test('generates an id when none is given', async () => {
    await using chain = await startChain();
    const sub = await chain.subscribeClient();
    await subscribe(sub, 'news');

    const cli = spawnCli(['publish', 'news', 'hi'], chainEnv(chain));

    const delivery = await sub.next<{ id: string; content: unknown }>();
    expect(delivery.content).toBe('hi');
    expect((await cli.exited).code).toBe(0);
    expect(cli.stdout).toEqual([`published ${delivery.id}`]);
  });

  test('--json sends the message as JSON content, digits intact', async () => {
    await using chain = await startChain();
    const sub = await chain.subscribeClient();
    await subscribe(sub, 'news');

    const cli = spawnCli(
      ['publish', '--json', '--id', 'j1', 'news', '{"n": 12345678901234567890, "s": "é<&>"}'],
      chainEnv(chain),
    );

    expect(await sub.nextText()).toMatch(
      /^\{"type":"message","topic":"news","id":"j1","time":\d{13},"content":\{"n": 12345678901234567890, "s": "é<&>"\},"seq":1,"epoch":"[0-9a-f]+"\}$/,
    );
    expect((await cli.exited).code).toBe(0);
  });

  test('an error reply goes to stderr with exit code 1', async () => {
    await using chain = await startChain();

    const cli = spawnCli(['publish', 'bad*topic', 'hello'], chainEnv(chain));

    expect((await cli.exited).code).toBe(1);
    expect(cli.stderr).toEqual([expect.stringMatching(/^error TOPIC_INVALID: /)]);
    expect(cli.stdout).toEqual([]);
  });
});
