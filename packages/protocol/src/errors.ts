/**
 * Every error the suite can answer or count, by machine-readable code: frame errors, handshake
 * refusals and HTTP statuses in one table. `close` is set for errors that end a WebSocket
 * connection; the other frame errors are sent as an error reply and the connection stays open.
 * `http` is the status an HTTP transport (`POST /api/messages`, `GET /events`, a refused
 * handshake) answers with and `grpc` the status a gRPC call ends with (the name of a gRPC status
 * code), so every transport takes its answers from this one table; `pubsub_rejected_total` counts
 * by these codes.
 */
export const ERRORS = {
  BAD_JSON: { message: 'frame is not valid JSON', http: 400, grpc: 'INVALID_ARGUMENT' },
  BAD_MESSAGE: { message: 'frame must be a JSON object', http: 400, grpc: 'INVALID_ARGUMENT' },
  TOPIC_MISSING: { message: 'message has no topic', http: 400, grpc: 'INVALID_ARGUMENT' },
  TOPIC_INVALID: {
    message:
      'topic must be a non-empty string without whitespace or control characters; "*" and ">" only as whole tokens of a subscription pattern',
    http: 400,
    grpc: 'INVALID_ARGUMENT',
  },
  TOPIC_TOO_LONG: { message: 'topic is longer than 256 bytes', http: 400, grpc: 'INVALID_ARGUMENT' },
  CONTENT_MISSING: { message: 'message has no content', http: 400, grpc: 'INVALID_ARGUMENT' },
  ID_INVALID: {
    message: 'id must be a non-empty string of at most 128 bytes without control characters',
    http: 400,
    grpc: 'INVALID_ARGUMENT',
  },
  TOO_DEEP: { message: 'message nests objects or arrays deeper than 64 levels', http: 400, grpc: 'INVALID_ARGUMENT' },
  UNKNOWN_COMMAND: { message: 'expected "sub <topic>" or "unsub <topic>"', http: 400, grpc: 'INVALID_ARGUMENT' },
  RESUME_INVALID: {
    message: 'expected "sub <topic> from <seq> [<epoch>]" with seq a whole number and epoch hex',
    http: 400,
    grpc: 'INVALID_ARGUMENT',
  },
  UNAVAILABLE: {
    message: 'the message queue is unreachable and the buffer is full; retry later',
    http: 503,
    grpc: 'UNAVAILABLE',
  },
  TOPIC_FORBIDDEN: { message: 'this user has no right to this topic', http: 403, grpc: 'PERMISSION_DENIED' },
  TOO_MANY_SUBSCRIPTIONS: {
    message: 'this connection has as many subscriptions as it may have',
    http: 400,
    grpc: 'RESOURCE_EXHAUSTED',
  },
  RATE_LIMITED: {
    message: 'publishing faster than this connection may; the message was not taken, retry later',
    http: 429,
    grpc: 'RESOURCE_EXHAUSTED',
  },
  SHUTTING_DOWN: { message: 'server shutting down', http: 503, grpc: 'UNAVAILABLE', close: 1001 },
  BINARY_UNSUPPORTED: {
    message: 'binary frames are not supported; send text',
    http: 415,
    grpc: 'INVALID_ARGUMENT',
    close: 1003,
  },
  /** A hop's binary frame that is not a batch of UTF-8 frames (packages/protocol/src/batch.ts). */
  BAD_BATCH: {
    message: 'binary frames must be message batches of UTF-8 frames',
    http: 400,
    grpc: 'INVALID_ARGUMENT',
    close: 1007,
  },
  SLOW_CONSUMER: {
    message: 'slow consumer: send buffer limit exceeded',
    http: 500,
    grpc: 'RESOURCE_EXHAUSTED',
    close: 4100,
  },
  CONSUMER_STALLED: {
    message: 'slow consumer: read nothing within the stall timeout',
    http: 500,
    grpc: 'RESOURCE_EXHAUSTED',
    close: 4100,
  },
  INTERNAL: { message: 'internal server error', http: 500, grpc: 'INTERNAL', close: 1011 },
  /** A stream deleted (or expired) while connected: like a removed consumer group, nothing more comes. */
  STREAM_GONE: { message: 'this stream was deleted or expired', http: 410, grpc: 'NOT_FOUND', close: 4410 },

  // Refusals answered with an HTTP status instead of a frame (at a handshake or on an HTTP
  // endpoint), for those a service decides from the request itself.
  GROUP_UNKNOWN: {
    http: 403,
    grpc: 'PERMISSION_DENIED',
    message:
      'no such consumer group: consumers may only use the groups in MSGQUEUE_GROUPS (and node.<id> groups where MSGQUEUE_NODE_GROUPS is on)',
  },
  GROUPS_FULL: {
    http: 503,
    grpc: 'RESOURCE_EXHAUSTED',
    message:
      'as many consumer groups exist as MSGQUEUE_MAX_GROUPS allows: remove one (DELETE /groups/<name>) or let an idle node group expire (MSGQUEUE_GROUP_EXPIRE_MS)',
  },
  PAYLOAD_TOO_LARGE: {
    http: 413,
    grpc: 'RESOURCE_EXHAUSTED',
    message: 'the request body is larger than this endpoint takes',
  },
  UNSUPPORTED_MEDIA_TYPE: {
    http: 415,
    grpc: 'INVALID_ARGUMENT',
    message: 'send the body as Content-Type: application/json',
  },
  STREAM_UNKNOWN: {
    http: 404,
    grpc: 'NOT_FOUND',
    message: 'no such stream: the URL is wrong, or the stream never existed here',
  },
  STREAM_FORBIDDEN: {
    http: 403,
    grpc: 'PERMISSION_DENIED',
    message: 'only the user who created a stream, or an admin user, may delete it',
  },
  TOO_MANY_STREAMS: {
    http: 429,
    grpc: 'RESOURCE_EXHAUSTED',
    message: 'this user has as many streams as it may (SUBSCRIBER_MAX_USER_STREAMS); delete one first',
  },
  WEBHOOK_INVALID: {
    http: 400,
    grpc: 'INVALID_ARGUMENT',
    message: 'expected a JSON object {"topic" or "pattern", "url", and optionally "secret" (16-256 characters)}',
  },
  WEBHOOK_URL_INVALID: {
    http: 400,
    grpc: 'INVALID_ARGUMENT',
    message: 'url must be an absolute http:// or https:// URL without a user or password, at most 2048 characters',
  },
  WEBHOOK_TARGET_FORBIDDEN: {
    http: 403,
    grpc: 'PERMISSION_DENIED',
    message: 'the target does not resolve to public addresses only (see SUBSCRIBER_WEBHOOK_ALLOW_PRIVATE)',
  },
  WEBHOOK_NOT_FOUND: { http: 404, grpc: 'NOT_FOUND', message: 'no such webhook subscription of this user' },
  TOO_MANY_WEBHOOKS: {
    http: 409,
    grpc: 'RESOURCE_EXHAUSTED',
    message: 'this user has as many webhook subscriptions as it may have (SUBSCRIBER_WEBHOOK_MAX_PER_USER)',
  },
  // The admission gate's (packages/service), which words its messages with the limit or user in question.
  AUTH_FAILED: { http: 401, grpc: 'UNAUTHENTICATED', message: 'missing or invalid credentials (HTTP Basic Auth)' },
  AUTH_THROTTLED: { http: 429, grpc: 'UNAVAILABLE', message: 'too many failed logins; retry later' },
  FORBIDDEN: { http: 403, grpc: 'PERMISSION_DENIED', message: 'this user has no right to this endpoint' },
  TOO_MANY_CONNECTIONS: {
    http: 503,
    grpc: 'UNAVAILABLE',
    message: 'the service has as many connections as it takes',
  },
  TOO_MANY_USER_CONNECTIONS: {
    http: 429,
    grpc: 'RESOURCE_EXHAUSTED',
    message: 'this user has as many connections open as one user may',
  },
  BAD_REQUEST: { http: 400, grpc: 'INVALID_ARGUMENT', message: 'the request could not be read' },
  NOT_FOUND: { http: 404, grpc: 'NOT_FOUND', message: 'no such endpoint' },
  UPGRADE_REQUIRED: { http: 426, grpc: 'INVALID_ARGUMENT', message: 'this path takes WebSocket connections only' },
  ORIGIN_FORBIDDEN: { http: 403, grpc: 'PERMISSION_DENIED', message: 'this Origin may not connect' },
  // Counted, never answered: the first is refused before TLS, the second has no channel to answer on.
  TOO_MANY_ADDRESS_CONNECTIONS: {
    http: 429,
    grpc: 'RESOURCE_EXHAUSTED',
    message: 'this address has as many connections open as one address may',
  },
  TLS_HANDSHAKE_FAILED: { http: 400, grpc: 'UNAVAILABLE', message: 'the TLS handshake failed' },
} as const satisfies Record<string, { message: string; http: number; grpc: GrpcStatusName; close?: number }>;

export type ErrorCode = keyof typeof ERRORS;

/** The gRPC status codes a refusal maps to (named as in the gRPC spec and `@grpc/grpc-js`'s `status`). */
export type GrpcStatusName =
  | 'INVALID_ARGUMENT'
  | 'NOT_FOUND'
  | 'UNAUTHENTICATED'
  | 'PERMISSION_DENIED'
  | 'RESOURCE_EXHAUSTED'
  | 'UNAVAILABLE'
  | 'INTERNAL';

/** The gRPC status of a code of the table; INTERNAL for any other string. */
export function grpcStatusOf(code: string): GrpcStatusName {
  return Object.hasOwn(ERRORS, code) ? ERRORS[code as ErrorCode].grpc : 'INTERNAL';
}

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
