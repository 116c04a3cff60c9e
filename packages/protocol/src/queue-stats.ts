import { parseJsonObject } from './json-object.js';

/**
 * `GET /stats` on the msgqueue (popper users): how much it holds and how far each consumer
 * group is behind, for the subscriber's `GET /api/stats` (the web console). `GET /groups` says
 * more but needs the admin right, which a subscriber's hop account need not have.
 */
export interface QueueStats {
  /** Messages not yet acknowledged by every consumer group that holds messages back. */
  readonly depth: number;
  readonly groups: readonly GroupStats[];
}

export interface GroupStats {
  readonly name: string;
  /** Messages appended that the group has not acknowledged (its lag). */
  readonly backlog: number;
  readonly consumers: number;
}

const count = (value: unknown): value is number => Number.isSafeInteger(value) && (value as number) >= 0;

function groupOf(value: unknown): GroupStats | undefined {
  if (typeof value !== 'object' || value === null) return undefined;
  const { name, backlog, consumers } = value as Record<string, unknown>;
  return typeof name === 'string' && count(backlog) && count(consumers) ? { name, backlog, consumers } : undefined;
}

/** Reads a `GET /stats` answer; undefined when it is not one. */
export function decodeQueueStats(text: string): QueueStats | undefined {
  const value = parseJsonObject(text);
  if (value === undefined) return undefined;
  const { depth, groups } = value;
  if (!count(depth) || !Array.isArray(groups)) return undefined;
  const decoded = groups.map(groupOf);
  return decoded.every((group): group is GroupStats => group !== undefined) ? { depth, groups: decoded } : undefined;
}
