import { afterEach, describe, expect, test } from 'vitest';
import { startChain, subscribe } from '@pubsub/testkit-chain';
import { INVALID_SYNTAX } from '../src/interactive-commands.js';
import { chainEnv, killAll, spawnCli } from './cli-process.js';

afterEach(killAll);

describe('clientdemo interactive (stdin piped)', () => {
  test('sub, publish, unsub, exit: the original demo session', async () => {
    await using chain = await startChain();
    const cli = spawnCli([], chainEnv(chain));

    cli.send('sub news');
    await cli.line('stdout', 'subscribed to news');
    cli.send('news hello there');
    await cli.line('stdout', '>[news #1] hello there');
    await cli.line('stdout', '<[news #1] hello there');
    cli.send('unsub news');
    await cli.line('stdout', 'unsubscribed from news');
    cli.send('exit');

    expect(await cli.exited).toEqual({ code: 0, signal: null });
    expect(cli.stderr).toEqual([]);
    // No prompt without a terminal: stdout holds only these lines (ack and delivery in either order).
    expect([...cli.stdout].sort()).toEqual(
      ['subscribed to news', '>[news #1] hello there', '<[news #1] hello there', 'unsubscribed from news'].sort(),
    );
  });

  test('the interactive command publishes what other clients receive and exits 0 at end of input', async () => {
    await using chain = await startChain();
    const sub = await chain.subscribeClient();
    await subscribe(sub, 'sport');
    const cli = spawnCli(['interactive'], chainEnv(chain));

    cli.send('sport goal by   number 9 ');
    expect(await sub.next()).toMatchObject({ type: 'message', topic: 'sport', content: 'goal by   number 9 ' });
    await cli.line('stdout', '>[sport #1] goal by   number 9 ');
    cli.child.stdin.end();

    expect((await cli.exited).code).toBe(0);
  });

  test('bad lines and error replies are reported and the session goes on', async () => {
    await using chain = await startChain();
    const cli = spawnCli([], chainEnv(chain));

    cli.send('justoneword');
    await cli.line('stderr', INVALID_SYNTAX);
    cli.send('bad*topic hello');
    await cli.line('stderr', 'error TOPIC_INVALID: ');
    cli.send('sub bad>topic');
    await cli.line('stderr', 'error TOPIC_INVALID: ');
    cli.send('sub ok');
    await cli.line('stdout', 'subscribed to ok');
    cli.send('exit');

    expect((await cli.exited).code).toBe(0);
    expect(cli.stderr).toEqual([
      INVALID_SYNTAX,
      expect.stringMatching(/^error TOPIC_INVALID: /),
      expect.stringMatching(/^error TOPIC_INVALID: /),
    ]);
  });

  test('help lists the commands; unsub of a topic never subscribed says so; pub --json sends JSON', async () => {
    await using chain = await startChain();
    const sub = await chain.subscribeClient();
    await subscribe(sub, 'news');
    const cli = spawnCli([], chainEnv(chain));

    cli.send('help');
    await cli.line('stdout', 'sub <topic> from <seq> [<epoch>]');
    cli.send('unsub sport');
    await cli.line('stderr', 'not subscribed to sport');
    cli.send('pub news --json {"a": [1, 2]}');
    await cli.line('stdout', '>[news #1] {"a": [1, 2]}');
    expect(await sub.next()).toMatchObject({ type: 'message', topic: 'news', content: { a: [1, 2] } });
    cli.send('pub news --json {nope');
    await cli.line('stderr', '--json: the message is not valid JSON');
    cli.send('exit');
    expect((await cli.exited).code).toBe(0);
  });

  test('sub <topic> from <seq> replays what came after that seq and says whether anything was missed', async () => {
    await using chain = await startChain();
    const pub = await chain.publishClient();
    for (const content of ['one', 'two', 'three']) {
      pub.send({ topic: 'news', content, id: content });
      expect(await pub.next()).toMatchObject({ type: 'ack' });
    }
    const cli = spawnCli([], chainEnv(chain));

    cli.send('sub news from 1');
    await cli.line('stdout', 'resumed news after seq 1: 2 replayed, nothing missed');
    await cli.line('stdout', '<[news #3] three');
    cli.send('sub news from x');
    await cli.line('stderr', 'from needs a seq, a whole number: got x');
    cli.send('exit');
    expect((await cli.exited).code).toBe(0);
    expect(cli.stdout).toEqual([
      'resumed news after seq 1: 2 replayed, nothing missed',
      '<[news #2] two',
      '<[news #3] three',
    ]);
  });

  test('reconnects on 1001: resubscribes resuming after the last seq, resends what has no ack', async () => {
    await using chain = await startChain();
    const cli = spawnCli([], chainEnv(chain));
    cli.send('sub news');
    await cli.line('stdout', 'subscribed to news');
    cli.send('news one');
    await cli.line('stdout', '<[news #1] one');

    // Published while no subscriber service runs: the resume replays it.
    await chain.restartSubscriber(async () => {
      await cli.line('stderr', `connection to ${chain.subscribeUrl} closed by the server: 1001`);
      cli.send('news two');
      await cli.line('stdout', '>[news #2] two');
    });
    await cli.line('stdout', 'resumed news after seq 1: 1 replayed, nothing missed');
    await cli.line('stdout', '<[news #2] two');
    cli.send('news three');
    await cli.line('stdout', '<[news #3] three');

    cli.send('exit');
    expect((await cli.exited).code).toBe(0);
    expect(cli.stdout.filter((line) => line.startsWith('<'))).toEqual([
      '<[news #1] one',
      '<[news #2] two',
      '<[news #3] three',
    ]);
    // One line when it went down, one when it was back: not one per attempt.
    expect(cli.stderr.filter((line) => line.includes(chain.subscribeUrl))).toHaveLength(2);
  });

  test('starts with the subscriber down, says so, and subscribes once it is up', async () => {
    await using chain = await startChain();
    const cli = spawnCli([], { ...chainEnv(chain), CLIENTDEMO_SUBSCRIBE_URL: 'wss://localhost:1/subscribe' });
    await cli.line('stderr', 'cannot connect to wss://localhost:1/subscribe');
    cli.send('news still publishing');
    await cli.line('stdout', '>[news #1] still publishing');
    cli.send('sub news');
    await cli.line('stderr', 'not connected to wss://localhost:1/subscribe: subscribing once it is back');
    cli.child.kill('SIGTERM');
    expect((await cli.exited).code).toBe(0);
  });
});
