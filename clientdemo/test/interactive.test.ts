import { afterEach, describe, expect, test } from 'vitest';
import { startChain, subscribe } from '../../tests/support/chain.js';
import { chainEnv, killAll, spawnCli } from './cli-process.js';

afterEach(killAll);

describe('clientdemo interactive (stdin piped)', () => {
  test('sub, publish, unsub, exit: the original demo session', async () => {
    await using chain = await startChain();
    const cli = spawnCli([], chainEnv(chain));

    cli.send('sub news');
    await cli.line('stdout', 'subscribed to news');
    cli.send('news hello there');
    await cli.line('stdout', '>[news] hello there');
    await cli.line('stdout', '<[news] hello there');
    cli.send('unsub news');
    await cli.line('stdout', 'unsubscribed from news');
    cli.send('exit');

    expect(await cli.exited).toEqual({ code: 0, signal: null });
    expect(cli.stderr).toEqual([]);
    // No prompt without a terminal: stdout holds only these lines (ack and delivery in either order).
    expect([...cli.stdout].sort()).toEqual(
      ['subscribed to news', '>[news] hello there', '<[news] hello there', 'unsubscribed from news'].sort(),
    );
  });

  test('the interactive command publishes what other clients receive and exits 0 at end of input', async () => {
    await using chain = await startChain();
    const sub = await chain.subscribeClient();
    await subscribe(sub, 'sport');
    const cli = spawnCli(['interactive'], chainEnv(chain));

    cli.send('sport goal by   number 9 ');
    expect(await sub.next()).toMatchObject({ type: 'message', topic: 'sport', content: 'goal by   number 9 ' });
    await cli.line('stdout', '>[sport] goal by   number 9 ');
    cli.child.stdin.end();

    expect((await cli.exited).code).toBe(0);
  });

  test('bad lines and error replies are reported and the session goes on', async () => {
    await using chain = await startChain();
    const cli = spawnCli([], chainEnv(chain));

    cli.send('justoneword');
    await cli.line('stderr', 'Invalid syntax, correct one: <topic> <message> | sub <topic> | unsub <topic> | exit');
    cli.send('bad*topic hello');
    await cli.line('stderr', 'error TOPIC_INVALID: ');
    cli.send('sub bad>topic');
    await cli.line('stderr', 'error TOPIC_INVALID: ');
    cli.send('sub ok');
    await cli.line('stdout', 'subscribed to ok');
    cli.send('exit');

    expect((await cli.exited).code).toBe(0);
    expect(cli.stderr).toEqual([
      'Invalid syntax, correct one: <topic> <message> | sub <topic> | unsub <topic> | exit',
      expect.stringMatching(/^error TOPIC_INVALID: /),
      expect.stringMatching(/^error TOPIC_INVALID: /),
    ]);
  });

  test('exits 1 with the close code and reason when a server closes the connection', async () => {
    await using chain = await startChain();
    const cli = spawnCli([], chainEnv(chain));
    cli.send('sub news');
    await cli.line('stdout', 'subscribed to news');

    await chain.publisher.close();

    expect((await cli.exited).code).toBe(1);
    expect(cli.stderr.join('\n')).toContain(
      `connection to ${chain.publishUrl} closed by the server: 1001 (going away)`,
    );
  });
});
