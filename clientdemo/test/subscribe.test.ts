import { afterEach, describe, expect, test } from 'vitest';
import { startChain } from '@pubsub/testkit-chain';
import { chainEnv, killAll, spawnCli } from './cli-process.js';

afterEach(killAll);

describe('clientdemo subscribe', () => {
  test('--count 2 prints two deliveries and exits 0', async () => {
    await using chain = await startChain();
    const cli = spawnCli(['subscribe', 'news', '--count', '2'], chainEnv(chain));
    await cli.line('stderr', 'subscribed to news');

    const pub = await chain.publishClient();
    pub.send({ topic: 'news', content: 'first message', id: 'a' });
    pub.send('{"topic":"news","content":{"n":12345678901234567890,"list":[1,"two"]},"id":"b"}');

    expect(await cli.exited).toEqual({ code: 0, signal: null });
    expect(cli.stdout).toEqual(['<[news #1] first message', '<[news #2] {"n":12345678901234567890,"list":[1,"two"]}']);
    expect(cli.stderr).toEqual(['subscribed to news']);
  });

  test('subscribes to every topic and --json prints the frames as received', async () => {
    await using chain = await startChain();
    const cli = spawnCli(['subscribe', '--json', '--count', '2', 'news', 'sport'], chainEnv(chain));
    await cli.line('stderr', 'subscribed to sport');
    expect(cli.stderr).toEqual(['subscribed to news', 'subscribed to sport']);

    const pub = await chain.publishClient();
    pub.send({ topic: 'sport', content: 'goal', id: 's1' });
    expect(await pub.next()).toMatchObject({ type: 'ack', id: 's1' });
    pub.send({ topic: 'news', content: [true, null], id: 'n1' });

    expect((await cli.exited).code).toBe(0);
    expect(cli.stdout).toEqual([
      expect.stringMatching(
        /^\{"type":"message","topic":"sport","id":"s1","time":\d{13},"content":"goal","seq":1,"epoch":"[0-9a-f]+"\}$/,
      ),
      expect.stringMatching(
        /^\{"type":"message","topic":"news","id":"n1","time":\d{13},"content":\[true,null\],"seq":1,"epoch":"[0-9a-f]+"\}$/,
      ),
    ]);
  });

  test('an error reply to a subscription exits 1', async () => {
    await using chain = await startChain();
    const cli = spawnCli(['subscribe', 'news', 'bad*topic'], chainEnv(chain));

    expect((await cli.exited).code).toBe(1);
    expect(cli.stderr).toEqual(['subscribed to news', expect.stringMatching(/^error TOPIC_INVALID: /)]);
  });

  test('SIGTERM ends the subscription with exit code 0', async () => {
    await using chain = await startChain();
    const cli = spawnCli(['subscribe', 'news'], chainEnv(chain));
    await cli.line('stderr', 'subscribed to news');

    cli.child.kill('SIGTERM');

    expect(await cli.exited).toEqual({ code: 0, signal: null });
  });

  test('the server closing the connection exits 1 with the code and reason', async () => {
    await using chain = await startChain();
    const cli = spawnCli(['subscribe', 'news'], chainEnv(chain));
    await cli.line('stderr', 'subscribed to news');

    await chain.subscriber.close();

    expect((await cli.exited).code).toBe(1);
    expect(cli.stderr.join('\n')).toMatch(/closed by the server: 1001 \(going away\) server shutting down/);
  });
});
