import { writeFileSync } from 'node:fs';
import type * as FsPromises from 'node:fs/promises';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, test, vi } from 'vitest';
import { loadServerCertificate } from './certificate.js';

/**
 * Another process holds the lock directory and finishes writing the pair while this one waits.
 * The moment it finishes is chosen through a wrapped readFile: `onCertMissing` runs each time
 * reading server.crt fails, before the caller sees the failure. This file holds only this test,
 * so no other test sees the mock.
 */
const hook = vi.hoisted(() => ({ onCertMissing: undefined as (() => void) | undefined }));

vi.mock('node:fs/promises', async (importOriginal) => {
  const actual = await importOriginal<typeof FsPromises>();
  const readFile = async (...args: Parameters<typeof actual.readFile>) => {
    try {
      return await actual.readFile(...args);
    } catch (err) {
      const [path] = args;
      if (typeof path === 'string' && path.endsWith('server.crt')) hook.onCertMissing?.();
      throw err;
    }
  };
  return { ...actual, readFile };
});

const dirs: string[] = [];
afterAll(async () => {
  await Promise.all(dirs.map((dir) => rm(dir, { recursive: true, force: true })));
});

describe('loadServerCertificate while another process generates', () => {
  test('a waiter sees a pair that lands right after its last check', async () => {
    const elsewhere = await mkdtemp(join(tmpdir(), 'pubsub-tls-race-'));
    const certDir = await mkdtemp(join(tmpdir(), 'pubsub-tls-race-'));
    dirs.push(elsewhere, certDir);
    const pair = await loadServerCertificate({ certDir: elsewhere, generate: true });
    // The other process's lock: this call has to wait for its certificate.
    await mkdir(join(certDir, '.generating'));

    // Miss 1: the initial read. Miss 2: the waiter's check whether the pair appeared before it
    // started watching. The other process renames the pair into place right then.
    let misses = 0;
    hook.onCertMissing = () => {
      misses++;
      if (misses !== 2) return;
      writeFileSync(join(certDir, 'server.key'), pair.key, { mode: 0o600 });
      writeFileSync(join(certDir, 'server.crt'), pair.cert);
    };

    // Regression: the wait used fs/promises watch(), an async generator whose watcher only starts
    // at the first `for await`, after that check. A pair renamed into place in between was never
    // seen: the call hung for 30 s and then threw TlsSetupError (here: the test timed out).
    const result = await loadServerCertificate({ certDir, generate: true });
    expect(misses).toBeGreaterThanOrEqual(2);
    expect(result).toMatchObject({ cert: pair.cert, key: pair.key, generated: false });
  });
});
