import { parseJsonObject } from './json-object.js';

/**
 * Control frames on the internal hops. Both `/pushmsg` and `/popmsg` acknowledge cumulatively:
 * `{"ack":n}` means "the first n data frames on this connection are done". On `/pushmsg` the
 * ack also lists, in order, the topic seq given to each frame it newly covers (null: refused).
 */
export interface HopAck {
  readonly count: number;
  readonly seqs: readonly (number | null)[] | undefined;
  /** Indexes into `seqs` of frames whose id was stored already (a resend): the seq is the first copy's. */
  readonly duplicates: readonly number[];
}

export function encodeHopAck(
  count: number,
  seqs?: readonly (number | null)[],
  duplicates: readonly number[] = [],
): string {
  if (seqs === undefined) return `{"ack":${count}}`;
  const dup = duplicates.length === 0 ? '' : `,"dup":${JSON.stringify(duplicates)}`;
  return `{"ack":${count},"seq":${JSON.stringify(seqs)}${dup}}`;
}

const isSeq = (value: unknown) =>
  value === null || (typeof value === 'number' && Number.isSafeInteger(value) && value > 0);

export function decodeHopAck(text: string): HopAck | undefined {
  const value = parseJsonObject(text);
  if (value === undefined) return undefined;
  const { ack: count, seq: seqs, dup = [] } = value as { ack?: unknown; seq?: unknown; dup?: unknown };
  if (typeof count !== 'number' || !Number.isSafeInteger(count) || count < 0) return undefined;
  if (seqs === undefined) return { count, seqs: undefined, duplicates: [] };
  if (!Array.isArray(seqs) || !seqs.every(isSeq)) return undefined;
  const inRange = (index: unknown) =>
    Number.isSafeInteger(index) && (index as number) >= 0 && (index as number) < seqs.length;
  if (!Array.isArray(dup) || !dup.every(inRange)) return undefined;
  return { count, seqs: seqs as (number | null)[], duplicates: dup as number[] };
}
