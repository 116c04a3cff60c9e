/**
 * Just enough of RFC 6455 for a sink that must cost the server-side benchmark as little as
 * possible: a hand-made upgrade request, masked client frames, and a reader that looks at each
 * server frame's header and first bytes only, skipping the rest of the payload unparsed.
 */
import { createHash, randomBytes, randomFillSync } from 'node:crypto';

const ACCEPT_GUID = '258EAFA5-E914-47DA-95CA-C5AB0DC85B11';

export const OPCODE = { text: 1, close: 8, ping: 9, pong: 10 } as const;

/** Bytes of a data frame's payload handed to the frame handler: enough to tell frames apart. */
const DATA_HEAD_BYTES = 16;
/** Control frames are handed on whole (they are at most 125 bytes): a pong echoes its ping. */
const CONTROL_MAX_BYTES = 125;

/** The upgrade request of a client, and the Sec-WebSocket-Accept the server must answer with. */
export function upgradeRequest(options: { host: string; path: string; authorization: string }): {
  request: string;
  accept: string;
} {
  const key = randomBytes(16).toString('base64');
  const request = [
    `GET ${options.path} HTTP/1.1`,
    `Host: ${options.host}`,
    'Upgrade: websocket',
    'Connection: Upgrade',
    `Sec-WebSocket-Key: ${key}`,
    'Sec-WebSocket-Version: 13',
    `Authorization: ${options.authorization}`,
    '',
    '',
  ].join('\r\n');
  return {
    request,
    accept: createHash('sha1')
      .update(key + ACCEPT_GUID)
      .digest('base64'),
  };
}

/**
 * Checks the server's answer to `upgradeRequest` (the bytes up to the blank line) and returns
 * why it is not a valid 101, or undefined when it is.
 */
export function upgradeProblem(head: string, accept: string): string | undefined {
  const [status = '', ...lines] = head.split('\r\n');
  if (!/^HTTP\/1\.1 101 /.test(status)) return `upgrade refused: ${status}`;
  const acceptLine = lines.find((line) => line.toLowerCase().startsWith('sec-websocket-accept:'));
  if (acceptLine?.slice(acceptLine.indexOf(':') + 1).trim() !== accept) return 'bad Sec-WebSocket-Accept';
  return undefined;
}

/** A masked client frame with a payload of at most 125 bytes: all a sink ever sends. */
export function maskedFrame(opcode: number, payload: Buffer): Buffer {
  if (payload.length > CONTROL_MAX_BYTES) throw new RangeError('sink frames carry at most 125 bytes');
  const frame = Buffer.allocUnsafe(6 + payload.length);
  frame[0] = 0x80 | opcode;
  frame[1] = 0x80 | payload.length;
  randomFillSync(frame, 2, 4);
  for (let i = 0; i < payload.length; i++) frame[6 + i] = (payload[i] as number) ^ (frame[2 + (i & 3)] as number);
  return frame;
}

/**
 * A frame as the handler sees it: its opcode, its payload length, and where its first payload
 * bytes are (data frames: up to 16; control frames: all of them). Reused for every frame and
 * pointing into buffers that are reused too: valid only during the handler's call.
 */
export interface FrameHead {
  opcode: number;
  length: number;
  buffer: Buffer;
  start: number;
  bytes: number;
}

export type FrameHandler = (frame: Readonly<FrameHead>) => void;

/** Bytes of a server frame's header, from its second byte. */
function headerSize(second: number): number {
  if ((second & 0x80) !== 0) throw new Error('the server sent a masked frame');
  const code = second & 0x7f;
  return code === 126 ? 4 : code === 127 ? 10 : 2;
}

/**
 * Splits a server's byte stream into frames, whatever the chunk boundaries. What lies whole in
 * a chunk (nearly everything) is read in place: no copy and no allocation per frame.
 */
export class FrameReader {
  readonly #onFrame: FrameHandler;
  readonly #frame: FrameHead = { opcode: 0, length: 0, buffer: Buffer.alloc(0), start: 0, bytes: 0 };
  /** A header or head split across chunks is gathered here. */
  readonly #header = Buffer.alloc(10);
  #headerHave = 0;
  readonly #head = Buffer.alloc(CONTROL_MAX_BYTES);
  #headHave = 0;
  /** Payload bytes of the current frame not consumed yet. */
  #remaining = 0;
  #inPayload = false;

  constructor(onFrame: FrameHandler) {
    this.#onFrame = onFrame;
  }

  /** Reads `chunk` up to `end` (its length by default: a shared read buffer is longer than its data). */
  push(chunk: Buffer, end = chunk.length): void {
    let at = 0;
    while (at < end) {
      if (!this.#inPayload) {
        at = this.#readHeader(chunk, at, end);
        continue;
      }
      const want = this.#frame.bytes;
      if (this.#headHave < want) {
        if (this.#headHave === 0 && end - at >= want) {
          this.#emit(chunk, at);
          this.#headHave = want;
        } else {
          const n = Math.min(want - this.#headHave, end - at);
          chunk.copy(this.#head, this.#headHave, at, at + n);
          this.#headHave += n;
          if (this.#headHave === want) this.#emit(this.#head, 0);
        }
      }
      const skip = Math.min(this.#remaining, end - at);
      this.#remaining -= skip;
      at += skip;
      if (this.#remaining === 0) this.#inPayload = false;
    }
  }

  /** Parses a frame header (2, 4 or 10 bytes: servers do not mask); returns the new offset. */
  #readHeader(chunk: Buffer, from: number, end: number): number {
    if (this.#headerHave === 0 && end - from >= 2) {
      const size = headerSize(chunk[from + 1] as number);
      if (end - from >= size) {
        this.#startFrame(chunk, from);
        return from + size;
      }
    }
    let at = from;
    while (at < end) {
      this.#header[this.#headerHave++] = chunk[at++] as number;
      if (this.#headerHave >= 2 && this.#headerHave === headerSize(this.#header[1] as number)) {
        this.#headerHave = 0;
        this.#startFrame(this.#header, 0);
        break;
      }
    }
    return at;
  }

  #startFrame(header: Buffer, at: number): void {
    const frame = this.#frame;
    const code = (header[at + 1] as number) & 0x7f;
    frame.length =
      code === 126 ? header.readUInt16BE(at + 2) : code === 127 ? Number(header.readBigUInt64BE(at + 2)) : code;
    frame.opcode = (header[at] as number) & 0x0f;
    frame.bytes = Math.min(frame.length, frame.opcode >= OPCODE.close ? CONTROL_MAX_BYTES : DATA_HEAD_BYTES);
    this.#headHave = 0;
    this.#remaining = frame.length;
    if (frame.length === 0) this.#emit(header, at);
    this.#inPayload = frame.length > 0;
  }

  #emit(buffer: Buffer, start: number): void {
    this.#frame.buffer = buffer;
    this.#frame.start = start;
    this.#onFrame(this.#frame);
  }
}
