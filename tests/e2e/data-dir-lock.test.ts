/**
 * One msgqueue per data directory (docs/operations.md#scale): a second one on the same directory
 * refuses to start, and a lock left by a killed msgqueue does not stop the next one.
 */
import { testCertificate } from '@pubsub/testkit';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, test } from 'vitest';
import { childServices, listening } from '@pubsub/testkit-chain';

const run = childServices();

describe('msgqueue data directory lock', () => {
  test('a second msgqueue on the same directory exits 1 naming the first; after kill -9 the next one starts', async () => {
    const { certDir } = await testCertificate();
    const env = {
      WS_CERT_DIR: certDir,
      MSGQUEUE_PORT: '0',
      MSGQUEUE_DATA_DIR: mkdtempSync(join(tmpdir(), 'pubsub-lock-e2e-')),
    };
    const first = run('msgqueue', env);
    await listening(first);

    const second = run('msgqueue', env);
    expect(await second.exited).toBe(1);
    const refusal = await second.waitForLog('cannot start');
    // Logged as the error itself, stack and all, not only its message.
    expect(refusal.err).toMatchObject({ type: 'DataDirLockedError', stack: expect.stringContaining('\n') as string });
    expect((refusal.err as { message: string }).message).toContain(
      `in use by another msgqueue (pid ${first.child.pid}`,
    );

    expect(await first.kill('SIGKILL')).toBe(null);
    const third = run('msgqueue', env);
    await listening(third);
    expect(await third.waitForLog('removed a stale data directory lock')).toMatchObject({ pid: first.child.pid });
    expect(await third.kill('SIGTERM')).toBe(0);
  }, 60_000);
});
