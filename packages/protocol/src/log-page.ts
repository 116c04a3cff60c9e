import { parseJsonObject } from './json-object.js';

/**
 * The msgqueue's read side for catching up, shared by the msgqueue (which answers) and the
 * subscriber (which asks): `GET /log` gives a page of the whole log as a positioned batch (see
 * `unpackPositioned`), its place in the log in these headers; `GET /position` maps a topic's
 * seq to a log offset.
 */
export const LOG_PAGE_HEADERS = {
  epoch: 'x-log-epoch',
  /** Oldest offset still retained: a reader positioned below it has lost what lay between. */
  first: 'x-log-first',
  /** Every wanted message at or below this offset was in the page. */
  through: 'x-log-through',
} as const;

export const LOG_PAGE_TYPE = 'application/vnd.pubsub.batch';

/** Where a page sits in the log. */
export interface LogPageMeta {
  readonly epoch: string;
  readonly first: number;
  readonly through: number;
}

/** Reads a `GET /log` response's headers; undefined when one is missing or not a number. */
export function decodeLogPageMeta(
  headers: Readonly<Record<string, string | string[] | undefined>>,
): LogPageMeta | undefined {
  const epoch = headers[LOG_PAGE_HEADERS.epoch];
  const first = Number(headers[LOG_PAGE_HEADERS.first]);
  const through = Number(headers[LOG_PAGE_HEADERS.through]);
  if (typeof epoch !== 'string' || !Number.isSafeInteger(first) || !Number.isSafeInteger(through)) return undefined;
  return { epoch, first, through };
}

/** `GET /position?topic=<t>&after=<seq>`: the log offset after which the topic's seqs above `after` start. */
export interface TopicPositionReply {
  readonly epoch: string;
  readonly offset: number;
  /** The topic's first retained seq and its last committed seq. */
  readonly first: number;
  readonly last: number;
  /** Retained messages of the topic after the seq asked for, up to `through`. */
  readonly count: number;
  /** The last committed log offset when it was answered. */
  readonly through: number;
  /** With `group=<name>`: the offset below which that group has acknowledged everything. */
  readonly floor?: number;
}

const POSITION_FIELDS = ['offset', 'first', 'last', 'count', 'through'] as const;

export function encodeTopicPosition(reply: TopicPositionReply): string {
  const { epoch, offset, first, last, count, through, floor } = reply;
  return JSON.stringify({ epoch, offset, first, last, count, through, floor });
}

/** Parses a `GET /position` body; undefined when it is not one. */
export function decodeTopicPosition(body: string): TopicPositionReply | undefined {
  const value = parseJsonObject(body);
  if (value === undefined) return undefined;
  const fields = value;
  if (typeof fields.epoch !== 'string') return undefined;
  if (!POSITION_FIELDS.every((name) => Number.isSafeInteger(fields[name]))) return undefined;
  if (fields.floor !== undefined && !Number.isSafeInteger(fields.floor)) return undefined;
  return fields as unknown as TopicPositionReply;
}
