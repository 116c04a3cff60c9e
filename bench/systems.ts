import type { TsChild } from './process.js';
import type { FsyncCounters } from './types.js';

/**
 * The three processes of a chain: our services, or the bare chain's hops in the same places
 * (A = publisher, B = msgqueue, C = subscriber), so their CPU figures line up.
 */
export type Role = 'msgqueue' | 'publisher' | 'subscriber';
export const ROLES: readonly Role[] = ['msgqueue', 'publisher', 'subscriber'];

/** A running chain the load generator drives: client → publish port … subscribe port → client. */
export interface System {
  readonly publishPort: number;
  readonly subscribePort: number;
  readonly children: Record<Role, TsChild>;
  /** The msgqueue's fsync/writev counters, where it has them. */
  fsyncCounters(): Promise<FsyncCounters | undefined>;
  /** Warnings, errors and stderr lines beyond the usual start-up ones, per process. */
  unexpectedLogLines(): Partial<Record<Role, string[]>>;
  /** Stops every process (gracefully, then SIGKILL) and returns the exit codes. */
  stop(): Promise<Record<Role, number | null>>;
}

export type SystemId = 'file' | 'memory' | 'memory-unopt' | 'ceiling';

interface Definition {
  readonly id: SystemId;
  /** Column heading in the tables. */
  readonly title: string;
  /** Its name in ratio headings ("durable ÷ ceiling"). */
  readonly short: string;
  /** More environment for every process of the chain. */
  readonly env: Record<string, string>;
}

export type SystemDefinition =
  | (Definition & { readonly kind: 'suite'; readonly store: 'file' | 'memory' })
  | (Definition & { readonly kind: 'ceiling' });

/**
 * The services' behaviour before the hop batching and write coalescing: one message per internal
 * frame, one socket write per frame. The defaults (unset) are the optimised path.
 */
export const UNOPTIMISED_ENV = { HOP_BATCH_MESSAGES: '1', COALESCE_WRITES: 'false' } as const;

export const SYSTEMS: Record<SystemId, SystemDefinition> = {
  file: { id: 'file', title: 'durable (file store)', short: 'durable', kind: 'suite', store: 'file', env: {} },
  memory: { id: 'memory', title: 'memory store', short: 'memory', kind: 'suite', store: 'memory', env: {} },
  'memory-unopt': {
    id: 'memory-unopt',
    title: 'memory store, unoptimised',
    short: 'unoptimised',
    kind: 'suite',
    store: 'memory',
    env: UNOPTIMISED_ENV,
  },
  ceiling: { id: 'ceiling', title: 'bare ws chain (ceiling)', short: 'ceiling', kind: 'ceiling', env: {} },
};
