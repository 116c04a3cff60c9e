import { afterEach, describe, expect, test } from 'vitest';
import { startChain, type Chain } from '@pubsub/testkit-chain';
import { chainEnv, killAll, spawnCli } from './cli-process.js';

afterEach(killAll);

async function publish(chain: Chain, ...contents: string[]): Promise<void> {
  const pub = await chain.publishClient();
  for (const content of contents) pub.send({ topic: 'news', content, id: `${content}-${Math.random()}` });
  for (let i = 0; i < contents.length; i++) expect(await pub.next()).toMatchObject({ type: 'ack' });
  await pub.close();
}

describe('clientdemo subscribe --reconnect', () => {
  test('resumes after the subscriber service restarts: every message once, in order', async () => {
    await using chain = await startChain();
    const cli = spawnCli(['subscribe', '--reconnect', '--count', '4', 'news'], chainEnv(chain));
    await cli.line('stderr', 'subscribed to news');
    await publish(chain, 'one', 'two');
    await cli.line('stdout', '<[news #2] two');

    // Published while no subscriber service runs: the msgqueue keeps it for the next one.
    await chain.restartSubscriber(() => publish(chain, 'three'));
    await cli.line('stderr', 'resumed news after seq 2');
    await publish(chain, 'four');

    expect((await cli.exited).code).toBe(0);
    expect(cli.stdout).toEqual(['<[news #1] one', '<[news #2] two', '<[news #3] three', '<[news #4] four']);
    expect(cli.stderr.join('\n')).toMatch(/1001/);
    expect(cli.stderr.join('\n')).toContain('nothing missed');
  });

  test('--from replays what came after that seq, exclusive, and says so', async () => {
    await using chain = await startChain();
    await publish(chain, 'one', 'two', 'three');
    const cli = spawnCli(['subscribe', '--from', '1', '--count', '3', 'news'], chainEnv(chain));
    await cli.line('stderr', 'resumed news after seq 1: 2 replayed, nothing missed');
    await publish(chain, 'four');

    expect((await cli.exited).code).toBe(0);
    expect(cli.stdout).toEqual(['<[news #2] two', '<[news #3] three', '<[news #4] four']);
  });

  test('--from with an epoch that is not the current one replays all that is retained and says messages may be missing', async () => {
    await using chain = await startChain();
    await publish(chain, 'one');
    const cli = spawnCli(['subscribe', '--from', '5', '--epoch', 'abc123', '--count', '1', 'news'], chainEnv(chain));
    await cli.line('stderr', 'resumed news after seq 5: 1 replayed, some messages were no longer available');
    expect((await cli.exited).code).toBe(0);
    expect(cli.stdout).toEqual(['<[news #1] one']);
  });

  test('without --reconnect, a closed connection ends the command with exit code 1', async () => {
    await using chain = await startChain();
    const cli = spawnCli(['subscribe', 'news'], chainEnv(chain));
    await cli.line('stderr', 'subscribed to news');
    await chain.restartSubscriber();
    expect((await cli.exited).code).toBe(1);
  });
});
