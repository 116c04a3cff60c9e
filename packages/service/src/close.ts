import { encodeError, ERRORS, type ErrorCode } from '@pubsub/protocol';
import { WebSocket } from 'ws';

/** The codes of the error table that end a connection. */
export type ClosingCode = { [K in ErrorCode]: (typeof ERRORS)[K] extends { close: number } ? K : never }[ErrorCode];

const MAX_REASON_BYTES = 123;

/** Closes with the close code and reason (its message) the error table gives for `code`. */
export function closeAs(ws: WebSocket, code: ClosingCode): void {
  const { message, close } = ERRORS[code];
  ws.close(close, Buffer.from(message).subarray(0, MAX_REASON_BYTES).toString());
}

/** Tells the client why (an error frame), then closes as the error table says (`closeAs`). */
export function closeWithError(ws: WebSocket, code: ClosingCode, ref?: string): void {
  if (ws.readyState !== WebSocket.OPEN) return;
  ws.send(encodeError({ code }, ref));
  closeAs(ws, code);
}

// A slow client's close frame sits behind the data it is not reading: do not wait for it long.
const SLOW_CLIENT_TERMINATE_MS = 1_000;

/** Closes a client that stopped reading with 4100, and drops it if it does not read even that. */
export function closeSlowClient(ws: WebSocket, code: 'SLOW_CONSUMER' | 'CONSUMER_STALLED' = 'SLOW_CONSUMER'): void {
  closeWithError(ws, code);
  setTimeout(() => ws.terminate(), SLOW_CLIENT_TERMINATE_MS).unref();
}
