import { ProtocolError } from './errors.js';
import { findMember, hasBackslash, pickMembers, scanObject, type ObjectScan, type PickedMembers } from './json-scan.js';
import { MAX_ID_BYTES, MAX_JSON_DEPTH } from './limits.js';
import { validateTopic } from './topic.js';

/** A validated publish. `content` is the publisher's JSON text for the value, byte for byte. */
export interface Publish {
  readonly topic: string;
  readonly id: string | undefined;
  readonly content: string;
}

const ID_PATTERN = /^[^\p{Cc}\p{Cs}]+$/u;
/** Digits of a whole number that is always exact as a double (below 2^53). */
const MAX_PLAIN_DIGITS = 15;

/** The JSON value of the last member named `name` (any case); undefined when absent. */
export function readMember(text: string, scan: ObjectScan, name: string): unknown {
  const member = findMember(scan, name);
  return member === undefined ? undefined : JSON.parse(text.slice(member.start, member.end));
}

/** Checks an optional message or command id; throws ID_INVALID. */
export function validateId(id: unknown): string | undefined {
  if (id === undefined) return undefined;
  if (typeof id !== 'string' || !ID_PATTERN.test(id) || Buffer.byteLength(id) > MAX_ID_BYTES) {
    throw new ProtocolError('ID_INVALID');
  }
  return id;
}

/** Throws unless `text` is a JSON object: BAD_JSON, BAD_MESSAGE. */
function checkJsonObject(text: string): void {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    throw new ProtocolError('BAD_JSON');
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new ProtocolError('BAD_MESSAGE');
  }
}

/**
 * Parses and validates a JSON object frame, returning its scan. Keys are matched without regard
 * to case elsewhere, so `{"Topic": …}` from clients of the original Go implementation works.
 */
export function parseObjectFrame(text: string): ObjectScan {
  checkJsonObject(text);
  const scan = scanObject(text);
  if (scan === undefined) throw new ProtocolError('BAD_JSON');
  if (scan.depth > MAX_JSON_DEPTH) throw new ProtocolError('TOO_DEEP');
  return scan;
}

/**
 * The JSON value of a picked member. A string without escapes is cut out and a small whole
 * number read digit by digit rather than parsed: a queued frame's seq and time are read on every
 * hop.
 */
function pickedValue(text: string, picked: PickedMembers, index: number): unknown {
  const span = picked.spans[index];
  if (span === undefined) return undefined;
  const [start, end] = span;
  const first = text.charCodeAt(start);
  if (first === 0x22) {
    if (!hasBackslash(text, start, end)) return text.slice(start + 1, end - 1);
  } else if (end - start <= MAX_PLAIN_DIGITS && (first !== 0x30 || end - start === 1)) {
    let value = 0;
    let i = start;
    for (; i < end; i++) {
      const digit = text.charCodeAt(i) - 0x30;
      if (digit < 0 || digit > 9) break;
      value = value * 10 + digit;
    }
    if (i === end) return value;
  }
  return JSON.parse(text.slice(start, end));
}

const PUBLISH_MEMBERS = ['id', 'topic', 'content'];

/** Parses a client's publish frame `{"topic": …, "content": …, "id"?: …}`; throws ProtocolError. */
export function parsePublish(text: string): Publish {
  checkJsonObject(text);
  const picked = pickMembers(text, PUBLISH_MEMBERS);
  if (picked === undefined) throw new ProtocolError('BAD_JSON');
  if (picked.depth > MAX_JSON_DEPTH) throw new ProtocolError('TOO_DEEP');
  const id = validateId(pickedValue(text, picked, 0));
  try {
    const topic = validateTopic(pickedValue(text, picked, 1));
    const content = picked.spans[2];
    if (content === undefined) throw new ProtocolError('CONTENT_MISSING');
    return { topic, id, content: text.slice(content[0], content[1]) };
  } catch (err) {
    // Keep the id so the client can match the error to its message.
    if (err instanceof ProtocolError) err.ref = id;
    throw err;
  }
}

const ROUTING_MEMBERS = ['topic', 'id'];

/**
 * The topic and id of a queued frame, found without parsing the content; undefined when the
 * frame has no valid topic. An invalid id counts as none.
 */
export function readRouting(frame: string): { topic: string; id: string | undefined } | undefined {
  const picked = pickMembers(frame, ROUTING_MEMBERS);
  if (picked === undefined) return undefined;
  try {
    const topic = validateTopic(pickedValue(frame, picked, 0));
    let id: string | undefined;
    try {
      id = validateId(pickedValue(frame, picked, 1));
    } catch {
      id = undefined;
    }
    return { topic, id };
  } catch {
    return undefined;
  }
}

/** What the subscriber needs of a queued frame: its topic, the msgqueue's seq and epoch, and when it was published. */
export interface QueuedMessage {
  readonly topic: string;
  /** When the publisher accepted it (ms since 1970). */
  readonly time: number | undefined;
  readonly seq: number | undefined;
  readonly epoch: string | undefined;
}

const QUEUED_MEMBERS = ['topic', 'seq', 'epoch', 'time'];

/** Reads a queued frame's routing fields without parsing its content; undefined without a valid topic. */
export function readQueued(frame: string): QueuedMessage | undefined {
  const picked = pickMembers(frame, QUEUED_MEMBERS);
  if (picked === undefined) return undefined;
  try {
    const topic = validateTopic(pickedValue(frame, picked, 0));
    const seq = pickedValue(frame, picked, 1);
    const epoch = pickedValue(frame, picked, 2);
    const time = pickedValue(frame, picked, 3);
    return {
      topic,
      time: typeof time === 'number' && Number.isSafeInteger(time) ? time : undefined,
      seq: typeof seq === 'number' && Number.isSafeInteger(seq) ? seq : undefined,
      epoch: typeof epoch === 'string' ? epoch : undefined,
    };
  } catch {
    return undefined;
  }
}

/** A delivery frame's fields, its content as the JSON text it is, byte for byte (for transports that do not send the frame itself). */
export interface DeliveryFields extends QueuedMessage {
  readonly id: string | undefined;
  readonly content: string;
}

const DELIVERY_MEMBERS = ['topic', 'seq', 'epoch', 'time', 'id', 'content'];

/** Reads a delivery frame without parsing its content; undefined without a valid topic or any content. */
export function readDelivery(frame: string): DeliveryFields | undefined {
  const picked = pickMembers(frame, DELIVERY_MEMBERS);
  const content = picked?.spans[5];
  if (picked === undefined || content === undefined) return undefined;
  try {
    const topic = validateTopic(pickedValue(frame, picked, 0));
    const [seq, epoch, time, id] = [1, 2, 3, 4].map((index) => pickedValue(frame, picked, index));
    return {
      topic,
      time: typeof time === 'number' && Number.isSafeInteger(time) ? time : undefined,
      seq: typeof seq === 'number' && Number.isSafeInteger(seq) ? seq : undefined,
      epoch: typeof epoch === 'string' ? epoch : undefined,
      id: typeof id === 'string' ? id : undefined,
      content: frame.slice(content[0], content[1]),
    };
  } catch {
    return undefined;
  }
}
