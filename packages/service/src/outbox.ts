import { performance } from 'node:perf_hooks';
import type { Duplex } from 'node:stream';
import { WebSocket } from 'ws';

const FIN_TEXT = 0x81;

/**
 * A server's text frame as it goes on the wire (RFC 6455 §5.2: FIN, opcode 1, no mask since
 * servers do not mask), built once so that a message fanned out to many sockets is framed once.
 */
export function serverTextFrame(text: string | Buffer): Buffer {
  const payloadLength = typeof text === 'string' ? Buffer.byteLength(text) : text.length;
  const headerLength = payloadLength < 126 ? 2 : payloadLength < 65_536 ? 4 : 10;
  const frame = Buffer.allocUnsafe(headerLength + payloadLength);
  frame[0] = FIN_TEXT;
  if (headerLength === 2) {
    frame[1] = payloadLength;
  } else if (headerLength === 4) {
    frame[1] = 126;
    frame.writeUInt16BE(payloadLength, 2);
  } else {
    frame[1] = 127;
    frame.writeBigUInt64BE(BigInt(payloadLength), 2);
  }
  if (typeof text === 'string') frame.write(text, headerLength);
  else text.copy(frame, headerLength);
  return frame;
}

/**
 * The TCP/TLS socket under a server-side WebSocket. Writing prebuilt frames to it is sound only
 * because no server here enables permessage-deflate: without it ws never queues frames itself,
 * so bytes reach the socket in call order whichever way they are written, and `bufferedAmount`
 * still counts them.
 */
function socketOf(ws: WebSocket): Duplex {
  return (ws as unknown as { _socket: Duplex })._socket;
}

/**
 * A flush writes once to every socket with frames queued, and each write costs about the same
 * (65 µs at 10,000 sockets here, docs/performance.md): a fan-out to 10,000 sockets takes 0.65 s.
 * Frames that come a few ms after such a flush starts cost every socket a second write, so a
 * flush expected to take long waits LINGER_SHARE of its expected time first, at most
 * MAX_LINGER_MS, for them to join it: 3 % more time for the delivery that already takes longest,
 * and half the writes when messages come in bursts. A flush expected under 33 ms (acks, replies,
 * a fan-out to fewer than about 500 sockets) does not wait.
 */
const LINGER_SHARE = 0.03;
const MAX_LINGER_MS = 20;

/** What to do with a client that does not read. */
export interface OutboxOptions {
  /** With false, each frame is written at once (the unbatched behaviour, kept for comparison). */
  coalesce: boolean;
  /** A socket with more than this still unsent from earlier turns is handed to `onSlow`. */
  maxBufferedBytes: number;
  /** Called once per slow socket; its frames are dropped from then on. */
  onSlow(ws: WebSocket): void;
  /** The clock flushes are timed with (tests set it); `performance.now` by default. */
  now?: () => number;
}

/**
 * Every frame for a client socket goes through here, so they keep their order. Frames queued
 * during one event-loop turn are written to each socket with one write at the end of the turn (a
 * little later when that flush would take long, see LINGER_SHARE): one socket write (and one TLS
 * record) costs about as much as ten 100-byte frames, so this is what makes fan-out and
 * per-message acks cheap. A client whose unsent bytes from earlier turns pass the limit is slow:
 * it is not written to again, so it cannot make the service hold unbounded memory, and it does
 * not hold up anyone else.
 */
export class Outbox {
  readonly #pending = new Map<WebSocket, Buffer[]>();
  readonly #slow = new WeakSet<WebSocket>();
  readonly #options: OutboxOptions;
  readonly #now: () => number;
  /** The end of the turn or the wait to come, if any: cancelled when `flush` is called before it. */
  #scheduled: { cancel(): void } | undefined;
  /** What one socket's write took in the last flush, ms. */
  #writeMs = 0;

  constructor(options: OutboxOptions) {
    this.#options = options;
    this.#now = options.now ?? (() => performance.now());
  }

  /** Queues a prebuilt frame (see `serverTextFrame`) for `ws`; false when `ws` is closed or slow. */
  write(ws: WebSocket, frame: Buffer): boolean {
    if (ws.readyState !== WebSocket.OPEN || this.#slow.has(ws)) return false;
    // This turn's frames wait here, not in the socket: bufferedAmount is what earlier turns left.
    if (ws.bufferedAmount > this.#options.maxBufferedBytes) {
      this.#slow.add(ws);
      this.#pending.delete(ws);
      this.#options.onSlow(ws);
      return false;
    }
    if (!this.#options.coalesce) {
      socketOf(ws).write(frame);
      return true;
    }
    const frames = this.#pending.get(ws);
    if (frames === undefined) this.#pending.set(ws, [frame]);
    else frames.push(frame);
    if (this.#scheduled === undefined) {
      const immediate = setImmediate(() => this.#endOfTurn());
      this.#scheduled = { cancel: () => clearImmediate(immediate) };
    }
    return true;
  }

  /** Flushes, or first waits for more frames when the flush is expected to take long (see LINGER_SHARE). */
  #endOfTurn(): void {
    const linger = Math.min(MAX_LINGER_MS, LINGER_SHARE * this.#pending.size * this.#writeMs);
    if (linger < 1) {
      this.flush();
      return;
    }
    const timeout = setTimeout(() => this.flush(), linger);
    this.#scheduled = { cancel: () => clearTimeout(timeout) };
  }

  /** Queues a text frame for `ws`. */
  send(ws: WebSocket, text: string): boolean {
    return this.write(ws, serverTextFrame(text));
  }

  /** Writes what is queued now (it also runs by itself at the end of each turn). */
  flush(): void {
    this.#scheduled?.cancel();
    this.#scheduled = undefined;
    const sockets = this.#pending.size;
    if (sockets === 0) return;
    const started = this.#now();
    // In a fan-out, socket after socket has the very same frames queued (sockets are visited in
    // the order they were first written to): join them once and write the same bytes to all.
    let joinedFrames: Buffer[] = [];
    let joined: Buffer | undefined;
    for (const [ws, frames] of this.#pending) {
      // A socket closed meanwhile has sent its close frame: nothing may follow it.
      if (ws.readyState !== WebSocket.OPEN) continue;
      if (frames.length === 1) {
        socketOf(ws).write(frames[0]);
        continue;
      }
      if (joined === undefined || !sameFrames(frames, joinedFrames)) {
        joined = Buffer.concat(frames);
        joinedFrames = frames;
      }
      socketOf(ws).write(joined);
    }
    this.#pending.clear();
    this.#writeMs = (this.#now() - started) / sockets;
  }

  /**
   * Calls back once `ws` has sent what it was given (its socket's `drain`), or once it closes.
   * Queued frames of this turn are written first, so they count.
   */
  onDrain(ws: WebSocket, callback: () => void): void {
    this.flushSocket(ws);
    const socket = socketOf(ws);
    if (ws.readyState !== WebSocket.OPEN || socket.writableLength === 0) {
      callback();
      return;
    }
    const done = () => {
      socket.off('drain', done);
      ws.off('close', done);
      callback();
    };
    socket.on('drain', done);
    ws.on('close', done);
  }

  /** Writes what is queued for one socket, e.g. before closing it with a reason. */
  flushSocket(ws: WebSocket): void {
    const frames = this.#pending.get(ws);
    this.#pending.delete(ws);
    if (frames !== undefined && ws.readyState === WebSocket.OPEN) socketOf(ws).write(Buffer.concat(frames));
  }
}

/** Whether two lists hold the same Buffer objects in the same order. */
function sameFrames(a: readonly Buffer[], b: readonly Buffer[]): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}
