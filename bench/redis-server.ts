/**
 * A redis-server of a bench script's own: on a free port, with its data in `dir`, stopped by PID.
 * The peers section has its own (TLS, a password, installed when missing): bench/peers/brokers.ts.
 */
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { createInterface } from 'node:readline';
import { freePorts } from './services.js';

export interface BenchRedis {
  readonly url: string;
  readonly pid: number;
  stop(): Promise<void>;
}

/** `settings` are redis-server arguments (`--appendfsync always`, …); RDB snapshots are off. */
export async function startBenchRedis(dir: string, settings: readonly string[]): Promise<BenchRedis> {
  const [port] = await freePorts(1);
  const child = spawn('redis-server', [
    '--bind',
    '127.0.0.1',
    '--port',
    String(port),
    '--dir',
    dir,
    '--save',
    '',
    ...settings,
  ]);
  await new Promise<void>((resolveReady, reject) => {
    createInterface({ input: child.stdout }).on('line', (line) => {
      if (line.includes('Ready to accept connections')) resolveReady();
    });
    child.once('exit', (code) => reject(new Error(`redis-server exited (${code}) while starting`)));
  });
  return {
    url: `redis://127.0.0.1:${port}`,
    pid: child.pid as number,
    async stop() {
      const exited = once(child, 'exit');
      process.kill(child.pid as number, 'SIGTERM');
      await exited;
    },
  };
}
