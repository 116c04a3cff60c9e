import type { z } from '@pubsub/config';
import { writeFileDurably } from '@pubsub/service';
import { readFile } from 'node:fs/promises';

/** A state file that exists but is not what this version wrote: the start stops, naming it. */
export class StateFileError extends Error {
  override readonly name = 'StateFileError';
}

/**
 * Reads and checks a state file of `SUBSCRIBER_DATA_DIR`; undefined when there is none yet.
 * Anything else unreadable is a StateFileError at start, not a wrong state found later.
 */
export async function readStateFile<T>(path: string, schema: z.ZodType<T>): Promise<T | undefined> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw new StateFileError(`cannot read ${path}: ${(err as Error).message}`, { cause: err });
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (err) {
    throw new StateFileError(`${path} is not valid JSON: ${(err as Error).message}`, { cause: err });
  }
  const parsed = schema.safeParse(json);
  if (!parsed.success) {
    const [issue] = parsed.error.issues;
    const where = issue === undefined || issue.path.length === 0 ? '' : ` at ${issue.path.join('.')}`;
    throw new StateFileError(`${path} is not a valid state file${where}: ${issue?.message ?? 'invalid'}`);
  }
  return parsed.data;
}

/**
 * Keeps one JSON state file in step with what `snapshot` returns. Saves are coalesced: one write
 * is in flight at a time, and every save asked for meanwhile is served by one more write of the
 * state as it is when that write starts, so a burst of position updates costs two writes, not one
 * per update. Each write replaces the file whole and durably (a crash leaves the old or the new).
 */
export class StateFile<T> {
  readonly path: string;
  readonly #snapshot: () => T;
  /** The write in flight, if any. */
  #writing: Promise<void> | undefined;
  /** The write that will start once the one in flight ends; every save since then waits on it. */
  #next: Promise<void> | undefined;

  constructor(path: string, snapshot: () => T) {
    this.path = path;
    this.#snapshot = snapshot;
  }

  /** Resolves once the state as it is now (or later) is on disk; rejects if that write failed. */
  save(): Promise<void> {
    if (this.#next !== undefined) return this.#next;
    if (this.#writing === undefined) return this.#start();
    const after = this.#writing.catch(() => undefined);
    this.#next = after.then(() => {
      this.#next = undefined;
      return this.#start();
    });
    return this.#next;
  }

  /** Resolves once every save asked for so far has ended (failed ones included). */
  async flush(): Promise<void> {
    while (this.#next !== undefined || this.#writing !== undefined)
      await (this.#next ?? this.#writing)?.catch(() => undefined);
  }

  #start(): Promise<void> {
    // Taken now, not when asked: the write carries everything changed up to its start.
    const text = `${JSON.stringify(this.#snapshot())}\n`;
    const writing = writeFileDurably(this.path, text).finally(() => {
      if (this.#writing === writing) this.#writing = undefined;
    });
    this.#writing = writing;
    return writing;
  }
}
