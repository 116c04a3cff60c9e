/**
 * Control frames on the internal hops. Both `/pushmsg` and `/popmsg` acknowledge cumulatively:
 * `{"ack":n}` means "the first n data frames on this connection are done". On `/pushmsg` the
 * ack also lists, in order, the topic seq given to each frame it newly covers (null: refused).
 */
export interface HopAck {
  readonly count: number;
  readonly seqs: readonly (number | null)[] | undefined;
}

export function encodeHopAck(count: number, seqs?: readonly (number | null)[]): string {
  return seqs === undefined ? `{"ack":${count}}` : `{"ack":${count},"seq":${JSON.stringify(seqs)}}`;
}

const isSeq = (value: unknown) =>
  value === null || (typeof value === 'number' && Number.isSafeInteger(value) && value > 0);

export function decodeHopAck(text: string): HopAck | undefined {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return undefined;
  }
  if (typeof value !== 'object' || value === null) return undefined;
  const { ack: count, seq: seqs } = value as { ack?: unknown; seq?: unknown };
  if (typeof count !== 'number' || !Number.isSafeInteger(count) || count < 0) return undefined;
  if (seqs === undefined) return { count, seqs: undefined };
  if (!Array.isArray(seqs) || !seqs.every(isSeq)) return undefined;
  return { count, seqs: seqs as (number | null)[] };
}
