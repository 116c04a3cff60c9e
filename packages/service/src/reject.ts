import { ERRORS, type ErrorCode } from '@pubsub/protocol';
import { STATUS_CODES, type ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';

export interface Rejection {
  status: number;
  code: ErrorCode;
  message: string;
  headers?: Record<string, string>;
  /** Where in the request the problem is, e.g. the `index` of a batch's element and its `id`. */
  where?: Readonly<Record<string, string | number | undefined>>;
}

/**
 * The refusal the error table gives for `code`: its HTTP status, and its message unless a more
 * precise one is given (naming the limit, the path or the user in question).
 */
export function rejectionOf(
  code: ErrorCode,
  message: string = ERRORS[code].message,
  extra?: Pick<Rejection, 'headers' | 'where'>,
): Rejection {
  return { status: ERRORS[code].http, code, message, ...extra };
}

/** JSON body used for every HTTP error the services send. */
export function errorBody(rejection: Rejection): string {
  return JSON.stringify({
    statusCode: rejection.status,
    code: rejection.code,
    message: rejection.message,
    ...rejection.where,
  });
}

/** Answers a plain HTTP request with the rejection's status, headers and JSON body. */
export function sendRejection(res: ServerResponse, rejection: Rejection): void {
  res
    .writeHead(rejection.status, { ...rejection.headers, 'Content-Type': 'application/json; charset=utf-8' })
    .end(errorBody(rejection));
}

/** Answers an upgrade request with a complete HTTP error response instead of a WebSocket. */
export function rejectUpgrade(socket: Duplex, rejection: Rejection): void {
  if (!socket.writable) {
    socket.destroy();
    return;
  }
  const body = errorBody(rejection);
  const headers = {
    Connection: 'close',
    'Content-Type': 'application/json; charset=utf-8',
    'Content-Length': String(Buffer.byteLength(body)),
    ...rejection.headers,
  };
  const head = Object.entries(headers)
    .map(([name, value]) => `${name}: ${value}\r\n`)
    .join('');
  socket.end(`HTTP/1.1 ${rejection.status} ${STATUS_CODES[rejection.status] ?? ''}\r\n${head}\r\n${body}`);
}
