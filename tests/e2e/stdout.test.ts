/**
 * A service whose stdout nobody reads any more still stops within its deadline: logging never
 * blocks the process (packages/log/src/stdout.ts). `| jq` or `| tee` end on Ctrl-C with the
 * service, closing the pipe; a reader that stops reading fills it.
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { closeSync, constants, mkdtempSync, openSync, writeSync } from 'node:fs';
import { Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { testCertificate, within, REPO_ROOT } from '@pubsub/testkit';
import { afterEach, describe, expect, test } from 'vitest';

const SHUTDOWN_TIMEOUT_MS = 1_000;
/** What operations.md promises: stopped by the deadline plus 2 s, whatever happens. */
const PROMISED_MS = SHUTDOWN_TIMEOUT_MS + 2_000;
const children: ChildProcess[] = [];

afterEach(() => {
  for (const child of children.splice(0)) if (child.exitCode === null) child.kill('SIGKILL');
});

async function msgqueue(stdout: 'pipe' | number): Promise<ChildProcess> {
  const { certDir } = await testCertificate();
  const child = spawn(process.execPath, ['--import', 'tsx', 'services/msgqueue/src/main.ts'], {
    cwd: REPO_ROOT,
    env: {
      ...process.env,
      WS_CERT_DIR: certDir,
      MSGQUEUE_PORT: '0',
      MSGQUEUE_STORE: 'memory',
      SHUTDOWN_TIMEOUT_MS: String(SHUTDOWN_TIMEOUT_MS),
    },
    stdio: ['ignore', stdout, 'inherit'],
  });
  children.push(child);
  return child;
}

/** Reads `input` until the service's `listening` line has come through. */
function untilListening(input: NodeJS.ReadableStream): Promise<void> {
  let text = '';
  return new Promise((resolveListening, reject) => {
    const onData = (chunk: Buffer) => {
      text += chunk.toString();
      if (!text.includes('"msg":"listening"')) return;
      input.off('data', onData);
      input.pause();
      resolveListening();
    };
    input.on('data', onData);
    input.once('end', () => reject(new Error(`stdout ended before "listening":\n${text}`)));
  });
}

/** Signals the child and resolves with its exit code and how long it took to exit. */
async function stop(child: ChildProcess): Promise<{ code: number | null; ms: number }> {
  const exited = once(child, 'exit');
  const signalled = Date.now();
  child.kill('SIGTERM');
  const [code] = (await within(exited, PROMISED_MS + 10_000, () => 'still running after SIGTERM')) as [number | null];
  return { code, ms: Date.now() - signalled };
}

describe('a service stops within its deadline whatever its stdout is', () => {
  test('stdout a closed pipe (the reader has exited)', async () => {
    const child = await msgqueue('pipe');
    await untilListening(child.stdout!);
    child.stdout!.destroy();

    const { code, ms } = await stop(child);
    expect(code).toBe(0);
    expect(ms).toBeLessThan(PROMISED_MS);
  });

  test('stdout a full pipe (the reader is alive and reads nothing)', async () => {
    const fifo = join(mkdtempSync(join(tmpdir(), 'pubsub-stdout-')), 'stdout');
    execFileSync('mkfifo', [fifo]);
    // The pipe's buffer is all that stands between the writer and a block: this reader holds the
    // pipe open, so writes do not fail with EPIPE, and never reads.
    const idleReader = openSync(fifo, constants.O_RDONLY | constants.O_NONBLOCK);
    const lineReader = new Socket({ fd: openSync(fifo, constants.O_RDONLY | constants.O_NONBLOCK), writable: false });
    const serviceEnd = openSync(fifo, constants.O_WRONLY);
    const child = await msgqueue(serviceEnd);
    closeSync(serviceEnd);
    await untilListening(lineReader);
    const readerClosed = once(lineReader, 'close');
    lineReader.destroy();
    await readerClosed;
    const filler = openSync(fifo, constants.O_WRONLY | constants.O_NONBLOCK);
    const block = Buffer.alloc(64 * 1024, 'x');
    let full = false;
    while (!full) {
      try {
        writeSync(filler, block);
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'EAGAIN') throw err;
        full = true;
      }
    }

    try {
      const { code, ms } = await stop(child);
      expect(code).toBe(0);
      expect(ms).toBeLessThan(PROMISED_MS);
    } finally {
      closeSync(filler);
      closeSync(idleReader);
    }
  });
});
