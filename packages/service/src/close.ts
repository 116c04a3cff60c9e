import { encodeError, ERRORS, type ErrorCode } from '@pubsub/protocol';
import { WebSocket } from 'ws';

type ClosingCode = { [K in ErrorCode]: (typeof ERRORS)[K] extends { close: number } ? K : never }[ErrorCode];

const MAX_REASON_BYTES = 123;

/** Tells the client why (an error frame), then closes with the code the error table gives. */
export function closeWithError(ws: WebSocket, code: ClosingCode, ref?: string): void {
  if (ws.readyState !== WebSocket.OPEN) return;
  const { message, close } = ERRORS[code];
  ws.send(encodeError({ code }, ref));
  ws.close(close, Buffer.from(message).subarray(0, MAX_REASON_BYTES).toString());
}
