import type { Logger } from '@pubsub/log';
import { open, readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';

/** The lock file in the data directory: the PID of the msgqueue that has it open. */
export const LOCK_FILE = 'msgqueue.lock';

/** Another live process holds the data directory. */
export class DataDirLockedError extends Error {
  override name = 'DataDirLockedError';
}

export interface DirLock {
  /** Removes the lock file, if it is still this process's. */
  release(): Promise<void>;
}

/** Alive, as far as signal 0 can tell: EPERM means it exists but belongs to someone else. */
function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

async function readHolder(path: string): Promise<number | undefined> {
  try {
    const pid = Number.parseInt(await readFile(path, 'utf8'), 10);
    return Number.isSafeInteger(pid) && pid > 0 ? pid : undefined;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
}

/**
 * Takes the data directory for this process: the log has exactly one writer, and a second
 * msgqueue on the same directory would interleave records and corrupt it. The lock file is
 * created exclusively and holds the PID. One left behind by a process that no longer runs
 * (`kill -9`, a crash, a power cut) is stale and taken over; so is one with this process's own
 * PID, which in a container (always PID 1) was left by an earlier run. A holder that cannot be
 * read (an empty file from a crash between create and write) counts as stale too.
 */
export async function lockDataDir(dir: string, log: Logger): Promise<DirLock> {
  const path = join(dir, LOCK_FILE);
  // Twice at most: once as found, once after removing a stale lock.
  for (let attempt = 0; ; attempt++) {
    if (await createExclusively(path)) {
      return {
        async release() {
          if ((await readHolder(path)) === process.pid) await rm(path, { force: true });
        },
      };
    }
    const holder = await readHolder(path);
    if (holder !== undefined && holder !== process.pid && isAlive(holder)) {
      throw new DataDirLockedError(
        `the data directory ${dir} is in use by another msgqueue (pid ${holder}, lock file ${path}); ` +
          'run one msgqueue per MSGQUEUE_DATA_DIR',
      );
    }
    if (attempt > 0) throw new DataDirLockedError(`cannot take the lock file ${path}: another msgqueue is starting`);
    log.warn({ lockFile: path, pid: holder }, 'removed a stale data directory lock');
    await rm(path, { force: true });
  }
}

/** Creates the lock file with this PID; false when it exists already. */
async function createExclusively(path: string): Promise<boolean> {
  let file;
  try {
    // Private like the rest of the data directory (0600).
    file = await open(path, 'wx', 0o600);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EEXIST') return false;
    throw err;
  }
  try {
    await file.writeFile(`${process.pid}\n`);
    await file.sync();
  } finally {
    await file.close();
  }
  return true;
}
