import { afterEach, describe, expect, test } from 'vitest';
import { startChain } from '@pubsub/testkit-chain';
import { chainEnv, killAll, spawnCli } from './cli-process.js';

afterEach(killAll);

const GRPC_ENV = { SUBSCRIBER_GRPC_PORT: '0', PUBLISHER_GRPC_PORT: '0' };

describe('clientdemo grpc-subscribe and grpc-publish', () => {
  test('a gRPC publish reaches a gRPC subscriber, printed as subscribe prints it; --from resumes', async () => {
    await using chain = await startChain({ env: GRPC_ENV });
    const env = {
      ...chainEnv(chain),
      CLIENTDEMO_GRPC_SUBSCRIBER: `localhost:${chain.subscriber.grpcPort}`,
      CLIENTDEMO_GRPC_PUBLISHER: `localhost:${chain.publisher.grpcPort}`,
    };
    const sub = spawnCli(['grpc-subscribe', 'news', '--count', '2'], env);
    await sub.line('stderr', 'subscribed to news');
    const first = spawnCli(['grpc-publish', 'news', 'hello', 'there', '--id', 'c1'], env);
    expect(await first.exited).toEqual({ code: 0, signal: null });
    expect(first.stdout).toEqual(['published c1 (news #1)']);
    const second = spawnCli(['grpc-publish', '--json', 'news', '{"n": 2}'], env);
    expect((await second.exited).code).toBe(0);
    expect(await sub.exited).toEqual({ code: 0, signal: null });
    expect(sub.stdout).toEqual(['<[news #1] hello there', '<[news #2] {"n": 2}']);

    const resumed = spawnCli(['grpc-subscribe', '--from', '1', '--count', '1', 'news'], env);
    expect((await resumed.exited).code).toBe(0);
    expect(resumed.stderr).toEqual(['resumed news after seq 1: 1 replayed, nothing missed']);
    expect(resumed.stdout).toEqual(['<[news #2] {"n": 2}']);
  }, 60_000);

  test('a refusal is printed with its status and exits 1', async () => {
    await using chain = await startChain({ env: GRPC_ENV });
    const env = {
      ...chainEnv(chain),
      CLIENTDEMO_PASSWORD: 'wrong',
      CLIENTDEMO_GRPC_PUBLISHER: `localhost:${chain.publisher.grpcPort}`,
    };
    const cli = spawnCli(['grpc-publish', 'news', 'hi'], env);
    expect((await cli.exited).code).toBe(1);
    expect(cli.stderr).toEqual(['error UNAUTHENTICATED: missing or invalid credentials (HTTP Basic Auth)']);
  });
});
