/**
 * Control frames on the internal hops. Both `/pushmsg` and `/popmsg` acknowledge cumulatively:
 * `{"ack":n}` means "the first n data frames on this connection are done".
 */
export function encodeHopAck(count: number): string {
  return `{"ack":${count}}`;
}

export function decodeHopAck(text: string): number | undefined {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return undefined;
  }
  const count = typeof value === 'object' && value !== null ? (value as { ack?: unknown }).ack : undefined;
  return typeof count === 'number' && Number.isSafeInteger(count) && count >= 0 ? count : undefined;
}
