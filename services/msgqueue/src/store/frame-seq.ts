const CLOSE_OBJECT = 0x7d;
const OPEN_OBJECT = 0x7b;
const COMMA = 0x2c;

/** The members the log adds to a frame: `"seq":5,"epoch":"…"` (ASCII). */
export function stampOf(seq: number, epoch: string): string {
  return `"seq":${seq},"epoch":"${epoch}"`;
}

/** Most bytes `stampFrame` adds for a log with this epoch. */
export function stampBytes(epoch: string): number {
  return stampOf(Number.MAX_SAFE_INTEGER, epoch).length + 2;
}

function isJsonWhitespace(byte: number | undefined): boolean {
  return byte === 0x20 || byte === 0x0a || byte === 0x0d || byte === 0x09;
}

/**
 * Adds the log's seq and epoch (`stampOf`) to a delivery frame written at `buffer[start, start +
 * length)`, in place and without decoding it; returns the stamped length (`stampBytes` more at most).
 * They go last, so they win over any same-named member a pusher put in (JSON decoders keep the
 * last duplicate): `{"type":"message",…}` → `{"type":"message",…,"seq":5,"epoch":"…"}`.
 * The frame must end with `}` and optional whitespace (the pusher's frame was read as an object).
 */
export function stampFrame(
  { buffer, start }: { buffer: Buffer; start: number },
  length: number,
  stamp: string,
): number {
  let close = start + length - 1;
  while (close > start && buffer[close] !== CLOSE_OBJECT) close--;
  let before = close - 1;
  while (before > start && isJsonWhitespace(buffer[before])) before--;
  let at = before + 1;
  if (buffer[before] !== OPEN_OBJECT) buffer[at++] = COMMA;
  at += buffer.write(stamp, at, 'latin1');
  buffer[at++] = CLOSE_OBJECT;
  return at - start;
}
