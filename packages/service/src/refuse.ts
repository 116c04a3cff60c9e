import type { ErrorCode } from '@pubsub/protocol';
import type { ServerResponse } from 'node:http';
import type { WebSocket } from 'ws';
import { closeWithError, type ClosingCode } from './close.js';
import type { ConnectionContext } from './context.js';
import { sendRejection, type Rejection } from './reject.js';

/** Where a refusal is counted and logged: an admitted client's context (its logger names the connection). */
export type RefusalContext = Pick<ConnectionContext, 'log' | 'metrics'>;

/**
 * Counts a refusal by its code (`pubsub_rejected_total`) and logs it at debug level: every
 * refusal of an admitted client, on any transport, is recorded here, then answered the
 * transport's way (`refuseSocket`, `refuseRequest`, an error reply, a gRPC status).
 */
export function noteRefusal(context: RefusalContext, code: ErrorCode, fields: Record<string, unknown> = {}): void {
  context.metrics.refused(code);
  context.log.debug({ ...fields, code }, 'refused');
}

/** Records the refusal, tells the client why and closes the socket with the table's close code. */
export function refuseSocket(ws: WebSocket, context: RefusalContext, code: ClosingCode): void {
  noteRefusal(context, code);
  closeWithError(ws, code);
}

/** Records the refusal and answers the request with its status and JSON body. */
export function refuseRequest(res: ServerResponse, context: RefusalContext, rejection: Rejection): void {
  noteRefusal(context, rejection.code, { reason: rejection.message, ...rejection.where });
  sendRejection(res, rejection);
}
