/**
 * Every error a client can be told about, by machine-readable code. `close` is set for errors
 * that end the connection; the others are sent as an error reply and the connection stays open.
 * `http` is the status an HTTP transport (`POST /api/messages`, `GET /events`) answers with, so
 * every transport takes its answers from this one table.
 */
export const ERRORS = {
  BAD_JSON: { message: 'frame is not valid JSON', http: 400 },
  BAD_MESSAGE: { message: 'frame must be a JSON object', http: 400 },
  TOPIC_MISSING: { message: 'message has no topic', http: 400 },
  TOPIC_INVALID: {
    message:
      'topic must be a non-empty string without whitespace or control characters; "*" and ">" only as whole tokens of a subscription pattern',
    http: 400,
  },
  TOPIC_TOO_LONG: { message: 'topic is longer than 256 bytes', http: 400 },
  CONTENT_MISSING: { message: 'message has no content', http: 400 },
  ID_INVALID: { message: 'id must be a non-empty string of at most 128 bytes without control characters', http: 400 },
  TOO_DEEP: { message: 'message nests objects or arrays deeper than 64 levels', http: 400 },
  UNKNOWN_COMMAND: { message: 'expected "sub <topic>" or "unsub <topic>"', http: 400 },
  RESUME_INVALID: {
    message: 'expected "sub <topic> from <seq> [<epoch>]" with seq a whole number and epoch hex',
    http: 400,
  },
  UNAVAILABLE: { message: 'the message queue is unreachable and the buffer is full; retry later', http: 503 },
  TOPIC_FORBIDDEN: { message: 'this user has no right to this topic', http: 403 },
  TOO_MANY_SUBSCRIPTIONS: { message: 'this connection has as many subscriptions as it may have', http: 400 },
  RATE_LIMITED: {
    message: 'publishing faster than this connection may; the message was not taken, retry later',
    http: 429,
  },
  SHUTTING_DOWN: { message: 'server shutting down', http: 503, close: 1001 },
  BINARY_UNSUPPORTED: { message: 'binary frames are not supported; send text', http: 415, close: 1003 },
  SLOW_CONSUMER: { message: 'slow consumer: send buffer limit exceeded', http: 500, close: 4100 },
  CONSUMER_STALLED: { message: 'slow consumer: read nothing within the stall timeout', http: 500, close: 4100 },
  INTERNAL: { message: 'internal server error', http: 500, close: 1011 },
  /** A stream deleted (or expired) while connected: like a removed consumer group, nothing more comes. */
  STREAM_GONE: { message: 'this stream was deleted or expired', http: 410, close: 4410 },
} as const satisfies Record<string, { message: string; http: number; close?: number }>;

export type ErrorCode = keyof typeof ERRORS;

/**
 * Refusals answered with an HTTP status instead of a frame (at a handshake or on an HTTP
 * endpoint), by code, for those a service decides from the request itself.
 */
export const HTTP_ERRORS = {
  GROUP_UNKNOWN: {
    status: 403,
    message:
      'no such consumer group: consumers may only use the groups in MSGQUEUE_GROUPS (and node.<id> groups where MSGQUEUE_NODE_GROUPS is on)',
  },
  GROUPS_FULL: {
    status: 503,
    message:
      'as many consumer groups exist as MSGQUEUE_MAX_GROUPS allows: remove one (DELETE /groups/<name>) or let an idle node group expire (MSGQUEUE_GROUP_EXPIRE_MS)',
  },
  PAYLOAD_TOO_LARGE: { status: 413, message: 'the request body is larger than this endpoint takes' },
  UNSUPPORTED_MEDIA_TYPE: { status: 415, message: 'send the body as Content-Type: application/json' },
  STREAM_UNKNOWN: { status: 404, message: 'no such stream: the URL is wrong, or the stream never existed here' },
  STREAM_FORBIDDEN: { status: 403, message: 'only the user who created a stream may delete it' },
  TOO_MANY_STREAMS: {
    status: 429,
    message: 'this user has as many streams as it may (SUBSCRIBER_MAX_USER_STREAMS); delete one first',
  },
  WEBHOOK_INVALID: {
    status: 400,
    message: 'expected a JSON object {"topic" or "pattern", "url", and optionally "secret" (16-256 characters)}',
  },
  WEBHOOK_URL_INVALID: {
    status: 400,
    message: 'url must be an absolute http:// or https:// URL without a user or password, at most 2048 characters',
  },
  WEBHOOK_TARGET_FORBIDDEN: {
    status: 403,
    message: 'the target does not resolve to public addresses only (see SUBSCRIBER_WEBHOOK_ALLOW_PRIVATE)',
  },
  WEBHOOK_NOT_FOUND: { status: 404, message: 'no such webhook subscription of this user' },
  TOO_MANY_WEBHOOKS: {
    status: 409,
    message: 'this user has as many webhook subscriptions as it may have (SUBSCRIBER_WEBHOOK_MAX_PER_USER)',
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
