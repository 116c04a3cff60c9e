import { afterEach, describe, expect, test } from 'vitest';
import { startChain } from '@pubsub/testkit-chain';
import { chainEnv, killAll, spawnCli } from './cli-process.js';

afterEach(killAll);

describe('clientdemo stream', () => {
  // Six CLI runs, each a Node start with tsx: seconds each on a busy machine.
  test(
    'create prints the URL; follow reads it without credentials, numbered, and from an ordinal; delete ends it',
    { timeout: 90_000 },
    async () => {
      await using chain = await startChain();
      const env = chainEnv(chain);
      const create = spawnCli(['stream', 'create', 'news', 'orders.*'], env);
      expect((await create.exited).code).toBe(0);
      const [url] = create.stdout;
      expect(url).toMatch(/^wss:\/\/localhost:\d+\/streams\/[A-Za-z0-9_-]{32}$/);

      // No user or password at all: the URL is the credential.
      const anonymous = { ...env, CLIENTDEMO_USER: 'nobody', CLIENTDEMO_PASSWORD: 'wrong' };
      const follow = spawnCli(['stream', 'follow', url as string, '--count', '2'], anonymous);
      await follow.line('stderr', 'following the stream');
      const pub = await chain.publishClient();
      pub.send({ topic: 'news', content: 'first', id: 'n1' });
      pub.send({ topic: 'orders.new', content: 'second', id: 'o1' });
      expect((await follow.exited).code).toBe(0);
      expect(follow.stdout).toEqual(['#1 <[news #1] first', '#2 <[orders.new #1] second']);
      await pub.close();

      const replay = spawnCli(['stream', 'follow', url as string, '--from', '1', '--count', '1'], anonymous);
      expect((await replay.exited).code).toBe(0);
      expect(replay.stdout).toEqual(['#2 <[orders.new #1] second']);

      const list = spawnCli(['stream', 'list'], env);
      expect((await list.exited).code).toBe(0);
      expect(list.stdout).toEqual([expect.stringContaining(`${url}  news,orders.*  ordinal 2  idle, expires `)]);

      const remove = spawnCli(['stream', 'delete', url as string], env);
      expect((await remove.exited).code).toBe(0);
      const gone = spawnCli(['stream', 'follow', url as string], anonymous);
      expect((await gone.exited).code).toBe(1);
      expect(gone.stderr.join('\n')).toContain('deleted or expired (410)');
    },
  );

  test("a refused creation exits 1 with the server's reason", async () => {
    await using chain = await startChain();
    const create = spawnCli(['stream', 'create', 'bad*topic'], chainEnv(chain));
    expect((await create.exited).code).toBe(1);
    expect(create.stderr.join('\n')).toMatch(/refused \(400 TOPIC_INVALID\)/);
  });
});
