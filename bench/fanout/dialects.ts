/**
 * How a sink talks to each system once the WebSocket is up: what it sends first, and what a
 * server text frame is, told from its first bytes only (no JSON parsing on the counting path).
 */
import { TOPIC, type System } from './types.js';
import type { FrameHead } from './ws-frames.js';

export type Reaction = 'message' | 'ready' | 'other' | { readonly reply: string };

export interface Dialect {
  /** The upgrade request's target. */
  readonly path: string;
  /** Text frames to send right after the upgrade. */
  readonly greeting: readonly string[];
  classify(frame: Readonly<FrameHead>): Reaction;
}

// Byte values looked for in frame heads.
const LETTER_M = 0x6d;
const LETTER_S = 0x73;
const DIGIT_0 = 0x30;
const DIGIT_2 = 0x32;
const DIGIT_3 = 0x33;
const DIGIT_4 = 0x34;
const TYPE_PREFIX = Buffer.from('{"type":"');

/** Our subscriber: `sub t`, then `{"type":"subscribed",…}`, then one `{"type":"message",…}` per message. */
const suite: Dialect = {
  path: '/subscribe',
  greeting: [`sub ${TOPIC}`],
  classify({ buffer, start, bytes }) {
    if (bytes <= TYPE_PREFIX.length) return 'other';
    for (let i = 0; i < TYPE_PREFIX.length; i++) if (buffer[start + i] !== TYPE_PREFIX[i]) return 'other';
    const first = buffer[start + TYPE_PREFIX.length];
    if (first === LETTER_M) return 'message';
    if (first === LETTER_S) return 'ready';
    return 'other';
  },
};

const CONNECT = { reply: '40' } as const;
const JOIN = { reply: `421${JSON.stringify(['join', TOPIC])}` } as const;
const PONG = { reply: '3' } as const;

/**
 * Engine.IO v4 over a plain WebSocket: the server opens with `0{…}`, the sink connects to the
 * main namespace (`40`), joins the room with an event that asks for ack 1 (`421["join","t"]`)
 * and is ready at that ack (`431…`). Messages are events (`42["message",…]`); the server's
 * Engine.IO pings (`2`) must be answered (`3`) or it drops the socket.
 */
const socketIo: Dialect = {
  path: '/socket.io/?EIO=4&transport=websocket',
  greeting: [],
  classify({ buffer, start, bytes }) {
    const first = bytes > 0 ? buffer[start] : undefined;
    const second = bytes > 1 ? buffer[start + 1] : undefined;
    if (first === DIGIT_4) {
      if (second === DIGIT_2) return 'message';
      if (second === DIGIT_0) return JOIN;
      if (second === DIGIT_3) return 'ready';
      return 'other';
    }
    if (first === DIGIT_2 && bytes === 1) return PONG;
    if (first === DIGIT_0) return CONNECT;
    return 'other';
  },
};

export const DIALECTS: Readonly<Record<System, Dialect>> = { suite, 'socket.io': socketIo };
