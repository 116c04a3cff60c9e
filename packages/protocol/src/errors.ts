/**
 * Every error a client can be told about, by machine-readable code. `close` is set for errors
 * that end the connection; the others are sent as an error reply and the connection stays open.
 */
export const ERRORS = {
  BAD_JSON: { message: 'frame is not valid JSON' },
  BAD_MESSAGE: { message: 'frame must be a JSON object' },
  TOPIC_MISSING: { message: 'message has no topic' },
  TOPIC_INVALID: {
    message:
      'topic must be a non-empty string without whitespace or control characters; "*" and ">" only as whole tokens of a subscription pattern',
  },
  TOPIC_TOO_LONG: { message: 'topic is longer than 256 bytes' },
  CONTENT_MISSING: { message: 'message has no content' },
  ID_INVALID: { message: 'id must be a non-empty string of at most 128 bytes without control characters' },
  TOO_DEEP: { message: 'message nests objects or arrays deeper than 64 levels' },
  UNKNOWN_COMMAND: { message: 'expected "sub <topic>" or "unsub <topic>"' },
  RESUME_INVALID: { message: 'expected "sub <topic> from <seq> [<epoch>]" with seq a whole number and epoch hex' },
  UNAVAILABLE: { message: 'the message queue is unreachable and the buffer is full; retry later' },
  TOPIC_FORBIDDEN: { message: 'this user has no right to this topic' },
  TOO_MANY_SUBSCRIPTIONS: { message: 'this connection has as many subscriptions as it may have' },
  RATE_LIMITED: { message: 'publishing faster than this connection may; the message was not taken, retry later' },
  SHUTTING_DOWN: { message: 'server shutting down', close: 1001 },
  BINARY_UNSUPPORTED: { message: 'binary frames are not supported; send text', close: 1003 },
  SLOW_CONSUMER: { message: 'slow consumer: send buffer limit exceeded', close: 4100 },
  CONSUMER_STALLED: { message: 'slow consumer: read nothing within the stall timeout', close: 4100 },
  INTERNAL: { message: 'internal server error', close: 1011 },
} as const satisfies Record<string, { message: string; close?: number }>;

export type ErrorCode = keyof typeof ERRORS;

/**
 * Refusals answered with an HTTP status instead of a frame (at a handshake or on an HTTP
 * endpoint), by code, for those a service decides from the request itself.
 */
export const HTTP_ERRORS = {
  GROUP_UNKNOWN: {
    status: 403,
    message: 'no such consumer group: consumers may only use the groups in MSGQUEUE_GROUPS',
  },
} as const satisfies Record<string, { status: number; message: string }>;

export type HttpErrorCode = keyof typeof HTTP_ERRORS;

/** A client mistake or a refusal, named by its code. */
export class ProtocolError extends Error {
  override name = 'ProtocolError';
  /** The id of the command or message that failed, when the client gave one. */
  ref: string | undefined = undefined;

  constructor(
    readonly code: ErrorCode,
    message: string = ERRORS[code].message,
    options?: ErrorOptions,
  ) {
    super(message, options);
  }
}
