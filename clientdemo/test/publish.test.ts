import { afterEach, describe, expect, test } from 'vitest';
import { startChain, subscribe } from '@pubsub/testkit-chain';
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
    expect(cli.stdout).toEqual(['published m-1 (news #1)']);
    expect(cli.stderr).toEqual([]);
  });

  test("a republish of an id says it was a duplicate, with the first copy's seq", async () => {
    await using chain = await startChain();
    const args = ['publish', '--id', 'again', 'news', 'hi'];
    const first = spawnCli(args, chainEnv(chain));
    expect((await first.exited).code).toBe(0);
    const second = spawnCli(args, chainEnv(chain));
    expect((await second.exited).code).toBe(0);
    expect(first.stdout).toEqual(['published again (news #1)']);
    expect(second.stdout).toEqual([
      'published again (news #1) (duplicate: this id was stored already; not delivered again)',
    ]);
  });

  test('generates an id when none is given', async () => {
    await using chain = await startChain();
    const sub = await chain.subscribeClient();
    await subscribe(sub, 'news');

    const cli = spawnCli(['publish', 'news', 'hi'], chainEnv(chain));

    const delivery = await sub.next<{ id: string; content: unknown }>();
    expect(delivery.content).toBe('hi');
    expect((await cli.exited).code).toBe(0);
    expect(cli.stdout).toEqual([`published ${delivery.id} (news #1)`]);
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

  test('"-" publishes what stdin holds, less the trailing newline', async () => {
    await using chain = await startChain();
    const sub = await chain.subscribeClient();
    await subscribe(sub, 'news');

    const cli = spawnCli(['publish', 'news', '-'], chainEnv(chain));
    cli.child.stdin.end('two\nlines\n');

    expect(await sub.next()).toMatchObject({ content: 'two\nlines' });
    expect((await cli.exited).code).toBe(0);
  });

  test("publishing to the subscriber's URL says it is the wrong endpoint", async () => {
    await using chain = await startChain();

    const cli = spawnCli(['publish', 'news', 'hi'], { ...chainEnv(chain), CLIENTDEMO_PUBLISH_URL: chain.subscribeUrl });

    expect((await cli.exited).code).toBe(1);
    expect(cli.stderr.join('\n')).toContain(`${chain.subscribeUrl} looks like the subscriber's endpoint`);
  });

  test('--timeout gives up with exit code 1 while the msgqueue is away, saying how to resend', async () => {
    await using chain = await startChain();
    await chain.msgqueue.close();

    const cli = spawnCli(['publish', '--timeout', '1', '--id', 'late-1', 'news', 'hi'], chainEnv(chain));

    expect((await cli.exited).code).toBe(1);
    expect(cli.stderr).toEqual([
      expect.stringContaining('no ack within 1 s; it may still be stored: publish again with --id late-1'),
    ]);
    await chain.restartMsgqueue();
  });
});
