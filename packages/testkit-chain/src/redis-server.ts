import { serverUrl } from '@pubsub/testkit';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { existsSync, mkdtempSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';

const REDIS_SERVER = '/usr/bin/redis-server';

/** A Redis for one test file: its URL and how to stop it. */
export interface TestRedis {
  readonly url: string;
  /** Whether this file started it (and so may stop it): false for the shared server. */
  readonly own: boolean;
  stop(): Promise<void>;
}

/** A TCP port that was free a moment ago. */
async function freePort(): Promise<number> {
  const server = createServer();
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as { port: number };
  server.close();
  await once(server, 'close');
  return port;
}

/** Whether this machine can give a test its own Redis (or, failing that, has the shared one). */
export const ownRedisPossible = (): boolean => existsSync(REDIS_SERVER);

/**
 * Starts a redis-server of this test's own, on a free port with a fresh data directory and the
 * settings of the no-loss promise (`appendonly yes`, `appendfsync always`), stopped by its PID.
 * Without the binary it falls back to the shared server (`serverUrl('redis')`), never stopped:
 * tests then keep apart by key prefix.
 */
export async function startTestRedis(): Promise<TestRedis> {
  if (!ownRedisPossible()) return { url: serverUrl('redis'), own: false, stop: () => Promise.resolve() };
  const dir = mkdtempSync(join(tmpdir(), 'pubsub-redis-'));
  const port = await freePort();
  const child = spawn(
    REDIS_SERVER,
    [
      ...['--bind', '127.0.0.1', '--port', String(port), '--dir', dir],
      ...['--appendonly', 'yes', '--appendfsync', 'always', '--save', ''],
      ...['--daemonize', 'no'],
    ],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  const exited = once(child, 'exit');
  const output: string[] = [];
  const ready = new Promise<void>((resolveReady, reject) => {
    createInterface({ input: child.stdout }).on('line', (line) => {
      output.push(line);
      if (line.includes('Ready to accept connections')) resolveReady();
    });
    createInterface({ input: child.stderr }).on('line', (line) => output.push(line));
    void exited.then(() => reject(new Error(`redis-server exited before it was ready:\n${output.join('\n')}`)));
  });
  await ready;
  return {
    url: `redis://127.0.0.1:${port}`,
    own: true,
    async stop() {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
      await exited;
    },
  };
}
