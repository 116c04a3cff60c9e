import { ERRORS, type ErrorCode } from './errors.js';
import { parseJsonObject } from './json-object.js';

// Frames are assembled from strings: the content is already JSON text and must pass unchanged.
const str = JSON.stringify;

/**
 * The frame a subscriber receives; also the envelope that travels through the msgqueue. `time`
 * is when the publisher accepted the message (ms since 1970), for publish-to-delivery latency.
 */
export function encodeDelivery(message: { topic: string; id: string; content: string; time?: number }): string {
  const time = message.time === undefined ? '' : `"time":${message.time},`;
  return `{"type":"message","topic":${str(message.topic)},"id":${str(message.id)},${time}"content":${message.content}}`;
}

/** The publisher's answer once the msgqueue holds a message: its id and seq within the topic. */
/** With `duplicate`, the id was stored already (a resend): the seq is the first copy's, and it was delivered once. */
export function encodeAck(id: string, seq: number, duplicate = false): string {
  return `{"type":"ack","id":${str(id)},"seq":${seq}${duplicate ? ',"duplicate":true' : ''}}`;
}

/** How a resuming `sub` went: `recovered` is false when messages after `from` are gone. */
export interface Recovery {
  readonly from: number;
  readonly recovered: boolean;
  /** The current history's epoch. */
  readonly epoch: string;
  /** Messages replayed right after this reply. */
  readonly replayed: number;
}

export function encodeSubscribed(topic: string, ref: string | undefined, recovery?: Recovery): string {
  const head = `{"type":"subscribed","topic":${str(topic)}`;
  if (recovery === undefined) return withRef(head, ref);
  const { from, recovered, epoch, replayed } = recovery;
  return withRef(`${head},"from":${from},"recovered":${recovered},"epoch":${str(epoch)},"replayed":${replayed}`, ref);
}

/**
 * A subscription that fell behind and was owed messages that retention has removed since: the
 * same notice as a resume that could not recover, sent before what follows the gap.
 */
export function encodeGap(subject: string, epoch: string): string {
  return `{"type":"subscribed","topic":${str(subject)},"recovered":false,"epoch":${str(epoch)},"gap":true}`;
}

/** A resume that waits for the msgqueue's history (unreachable now); its `subscribed` follows once it can be read. */
export function encodeWaiting(topic: string, ref: string | undefined, reason: string): string {
  return withRef(`{"type":"waiting","topic":${str(topic)},"reason":${str(reason)}`, ref);
}

export function encodeUnsubscribed(topic: string, ref: string | undefined): string {
  return withRef(`{"type":"unsubscribed","topic":${str(topic)}`, ref);
}

export function encodeError(error: { code: ErrorCode; message?: string }, ref: string | undefined): string {
  const message = error.message ?? ERRORS[error.code].message;
  return withRef(`{"type":"error","code":${str(error.code)},"message":${str(message)}`, ref);
}

function withRef(head: string, ref: string | undefined): string {
  return ref === undefined ? `${head}}` : `${head},"id":${str(ref)}}`;
}

/** Every frame a service sends to a client, as a client decodes it. */
export type ServerFrame =
  | { type: 'message'; topic: string; id: string; content: unknown; time?: number; seq?: number; epoch?: string }
  | { type: 'ack'; id: string; seq?: number; duplicate?: boolean }
  | {
      type: 'subscribed';
      topic: string;
      id?: string;
      from?: number;
      recovered?: boolean;
      epoch?: string;
      replayed?: number;
      /** Set on the notice of a gap in a subscription that fell behind (see encodeGap). */
      gap?: boolean;
    }
  | { type: 'waiting'; topic: string; reason: string; id?: string }
  | { type: 'unsubscribed'; topic: string; id?: string }
  | { type: 'error'; code: ErrorCode; message: string; id?: string };

const SERVER_FRAME_TYPES = new Set(['message', 'ack', 'subscribed', 'waiting', 'unsubscribed', 'error']);

/** Decodes a frame from a service; undefined when it is not one this protocol defines. */
export function decodeServerFrame(text: string): ServerFrame | undefined {
  const value = parseJsonObject(text);
  if (value === undefined) return undefined;
  const type = (value as { type?: unknown }).type;
  return typeof type === 'string' && SERVER_FRAME_TYPES.has(type) ? (value as ServerFrame) : undefined;
}
