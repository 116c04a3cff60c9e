/** What the driver reads about a server process: its memory (via memory-probe.ts) and its fd limit. */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { askPreload, ROOT, type TsChild } from '../process.js';
import { MEMORY_PREFIX, type MemorySnapshot } from '../types.js';

const PROBE_TIMEOUT_MS = 10_000;

/** Node arguments that load the memory probe into a server process. */
export const MEMORY_PROBE_ARGS = [
  '--expose-gc',
  '--import',
  pathToFileURL(join(ROOT, 'bench', 'fanout', 'memory-probe.ts')).href,
];

/** The process's memory right after a full GC. */
export function probeMemory(server: TsChild): Promise<MemorySnapshot> {
  return askPreload<MemorySnapshot>(server, MEMORY_PREFIX, PROBE_TIMEOUT_MS);
}

/** The soft limit on open files of a process (from /proc/<pid>/limits), undefined off Linux. */
async function openFilesLimit(pid: number): Promise<number | undefined> {
  try {
    const limits = await readFile(`/proc/${pid}/limits`, 'utf8');
    const soft = /^Max open files\s+(\S+)/m.exec(limits)?.[1];
    return soft === undefined ? undefined : soft === 'unlimited' ? Infinity : Number(soft);
  } catch {
    return undefined;
  }
}

/**
 * Fails early when a process cannot hold `sockets` descriptors. Node raises its soft limit to the
 * hard one at start-up; beyond the hard limit only root can go (`ulimit -Hn` before running).
 */
export async function assertOpenFiles(
  who: { name: string; pid: number },
  sockets: number,
): Promise<number | undefined> {
  const limit = await openFilesLimit(who.pid);
  // Listening socket, upstream hops, stdio, libuv and V8 internals: well under 100.
  if (limit !== undefined && limit < sockets + 100) {
    throw new Error(`${who.name} may open only ${limit} files, too few for ${sockets} sockets: raise ulimit -n`);
  }
  return limit;
}
