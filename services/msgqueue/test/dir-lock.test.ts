import { silentLogger } from '@pubsub/log';
import { captureLogs } from '@pubsub/testkit';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, test } from 'vitest';
import { DataDirLockedError, LOCK_FILE, lockDataDir } from '../src/store/dir-lock.js';

const tempDir = () => mkdtempSync(join(tmpdir(), 'pubsub-lock-'));

/** The PID of a process that has exited: nobody holds a lock with it. */
async function deadPid(): Promise<number> {
  const child = spawn(process.execPath, ['-e', '']);
  await once(child, 'exit');
  return child.pid as number;
}

describe('data directory lock', () => {
  test('holds the PID while taken and is gone after release', async () => {
    const dir = tempDir();
    const lock = await lockDataDir(dir, silentLogger());
    expect(readFileSync(join(dir, LOCK_FILE), 'utf8')).toBe(`${process.pid}\n`);
    await lock.release();
    expect(existsSync(join(dir, LOCK_FILE))).toBe(false);
  });

  test('refuses a directory another live process holds, naming it', async () => {
    const dir = tempDir();
    // The parent of this test process is alive for as long as the test runs.
    writeFileSync(join(dir, LOCK_FILE), `${process.ppid}\n`);
    const taking = lockDataDir(dir, silentLogger());
    await expect(taking).rejects.toThrow(DataDirLockedError);
    await expect(taking).rejects.toThrow(`in use by another msgqueue (pid ${process.ppid}`);
    expect(readFileSync(join(dir, LOCK_FILE), 'utf8')).toBe(`${process.ppid}\n`);
  });

  test.each([
    ['a process that is gone (kill -9, crash)', async () => `${await deadPid()}\n`],
    ['an empty file (a crash between create and write)', () => Promise.resolve('')],
  ])('takes over a stale lock left by %s, with a warning', async (_name, content) => {
    const dir = tempDir();
    writeFileSync(join(dir, LOCK_FILE), await content());
    const logs = captureLogs();
    const lock = await lockDataDir(dir, logs.logger);
    expect(readFileSync(join(dir, LOCK_FILE), 'utf8')).toBe(`${process.pid}\n`);
    expect(logs.lines).toEqual([
      expect.objectContaining({ level: 'warn', msg: 'removed a stale data directory lock' }),
    ]);
    await lock.release();
  });

  test('release leaves a lock that is no longer this process’s alone', async () => {
    const dir = tempDir();
    const lock = await lockDataDir(dir, silentLogger());
    writeFileSync(join(dir, LOCK_FILE), `${process.ppid}\n`);
    await lock.release();
    expect(readFileSync(join(dir, LOCK_FILE), 'utf8')).toBe(`${process.ppid}\n`);
  });
});
