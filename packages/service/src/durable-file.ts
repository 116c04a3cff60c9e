import { randomBytes } from 'node:crypto';
import { open, rename } from 'node:fs/promises';
import { dirname } from 'node:path';

const PRIVATE_FILE = 0o600;

/**
 * Replaces `path` with `contents` so that a crash at any moment leaves either the old file or the
 * new one, never a torn mix: write a temporary file, fsync it, rename it over, fsync the folder
 * (without that last step the rename itself can be lost in a power cut). Each write has a
 * temporary file of its own, so two saves of one file that overlap both land (the later rename
 * wins) instead of one renaming the other's file away and failing.
 */
export async function writeFileDurably(path: string, contents: string | Buffer): Promise<void> {
  const temporary = `${path}.${randomBytes(6).toString('hex')}.tmp`;
  const file = await open(temporary, 'w', PRIVATE_FILE);
  try {
    await file.writeFile(contents);
    await file.sync();
  } finally {
    await file.close();
  }
  await rename(temporary, path);
  await syncDirectory(dirname(path));
}

/** Makes the folder's entries (files created, renamed or removed in it) durable. */
export async function syncDirectory(dir: string): Promise<void> {
  const handle = await open(dir, 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}
