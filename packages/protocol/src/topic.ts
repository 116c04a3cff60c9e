import { ProtocolError } from './errors.js';
import { MAX_TOPIC_BYTES } from './limits.js';

// Whitespace would make `sub <topic>` ambiguous, control characters and lone surrogates cannot be
// shown or logged safely, and `*` / `>` are kept for subscription patterns (pattern.ts).
const TOPIC_PATTERN = /^[^\s\p{Cc}\p{Cs}*>]+$/u;

/** Returns the topic when it is valid; throws TOPIC_MISSING, TOPIC_INVALID or TOPIC_TOO_LONG. */
export function validateTopic(topic: unknown): string {
  if (topic === undefined || topic === '') {
    throw new ProtocolError('TOPIC_MISSING');
  }
  if (typeof topic !== 'string' || !TOPIC_PATTERN.test(topic)) {
    throw new ProtocolError('TOPIC_INVALID');
  }
  if (Buffer.byteLength(topic) > MAX_TOPIC_BYTES) {
    throw new ProtocolError('TOPIC_TOO_LONG');
  }
  return topic;
}
