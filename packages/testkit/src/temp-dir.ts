import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/**
 * A new folder of its own for one service's data (a msgqueue's log, a subscriber's saved
 * state): a test never shares the repository's default data folders with another test, nor with
 * the operator's own services.
 */
export function tempDir(name: string): string {
  return mkdtempSync(join(tmpdir(), `pubsub-${name}-`));
}
