import { ProtocolError } from './errors.js';
import { MAX_TOPIC_BYTES } from './limits.js';

/**
 * Topic patterns, NATS-style, over `.`-separated tokens: `*` stands for exactly one token, `>`
 * for one or more trailing tokens (last token only). `orders.*` matches `orders.new`, not
 * `orders.new.eu`; `orders.>` matches both, and neither matches `orders`. A token is whatever
 * lies between dots, so `a..b` has an empty middle token, which `*` matches too.
 */
export const ONE_TOKEN = '*';
export const TAIL_TOKENS = '>';

// A pattern has the characters of a topic, `*` and `>` included; where they may stand is checked
// token by token.
const SUBJECT_PATTERN = /^[^\s\p{Cc}\p{Cs}]+$/u;

export function tokensOf(subject: string): string[] {
  return subject.split('.');
}

/** True when the subject holds a wildcard token, i.e. is a pattern rather than one topic. */
export function isPattern(subject: string): boolean {
  return tokensOf(subject).some((token) => token === ONE_TOKEN || token === TAIL_TOKENS);
}

/**
 * Returns the subject of a subscription (a topic or a pattern) when it is valid; throws
 * TOPIC_MISSING, TOPIC_INVALID or TOPIC_TOO_LONG as validateTopic does. `*` and `>` are allowed
 * only as whole tokens, and `>` only as the last one.
 */
export function validatePattern(subject: unknown): string {
  if (subject === undefined || subject === '') throw new ProtocolError('TOPIC_MISSING');
  if (typeof subject !== 'string' || !SUBJECT_PATTERN.test(subject)) throw new ProtocolError('TOPIC_INVALID');
  if (Buffer.byteLength(subject) > MAX_TOPIC_BYTES) throw new ProtocolError('TOPIC_TOO_LONG');
  const tokens = tokensOf(subject);
  tokens.forEach((token, index) => {
    const wildcard = token === ONE_TOKEN || (token === TAIL_TOKENS && index === tokens.length - 1);
    if (!wildcard && (token.includes(ONE_TOKEN) || token.includes(TAIL_TOKENS))) {
      throw new ProtocolError('TOPIC_INVALID');
    }
  });
  return subject;
}

/** Whether a pattern, as tokens, matches a topic, as tokens. */
export function matchTokens(pattern: readonly string[], topic: readonly string[]): boolean {
  for (let i = 0; i < pattern.length; i++) {
    const token = pattern[i];
    if (token === TAIL_TOKENS) return topic.length > i;
    if (i >= topic.length) return false;
    if (token !== ONE_TOKEN && token !== topic[i]) return false;
  }
  return topic.length === pattern.length;
}

/** Whether `pattern` (or an exact topic) matches `topic`. */
export function patternMatches(pattern: string, topic: string): boolean {
  return matchTokens(tokensOf(pattern), tokensOf(topic));
}

/** Whether every topic that `specific` matches is matched by `general` too (both as tokens). */
function coversTokens(general: readonly string[], specific: readonly string[]): boolean {
  for (let i = 0; i < general.length; i++) {
    const token = general[i];
    if (token === TAIL_TOKENS) return specific.length > i;
    if (i >= specific.length) return false;
    const other = specific[i];
    // `>` in `specific` reaches topics of any length, which only a `>` here could match.
    if (other === TAIL_TOKENS) return false;
    if (token !== ONE_TOKEN && token !== other) return false;
  }
  return specific.length === general.length;
}

/** Whether every topic `specific` can match is matched by `general`: `orders.>` covers `orders.*`. */
export function patternCovers(general: string, specific: string): boolean {
  return coversTokens(tokensOf(general), tokensOf(specific));
}

/**
 * A user's rights on topics for one operation (publish or subscribe): a list of patterns. A topic
 * is allowed when one of them matches it; a pattern when they match everything it can.
 */
export class TopicRights {
  /** Every topic: what users listed in `*_USERS` variables get. */
  static readonly ALL = new TopicRights([TAIL_TOKENS]);
  /** No topic at all. */
  static readonly NONE = new TopicRights([]);

  readonly patterns: readonly string[];
  readonly #tokens: readonly (readonly string[])[];
  readonly #longest: number;

  /** The patterns must be valid (validatePattern). */
  constructor(patterns: readonly string[]) {
    this.patterns = [...patterns];
    this.#tokens = patterns.map(tokensOf);
    this.#longest = Math.max(0, ...this.#tokens.map((tokens) => tokens.length));
  }

  /** Whether `topic` (an exact topic) is allowed. */
  allows(topic: string): boolean {
    const tokens = tokensOf(topic);
    return this.#tokens.some((pattern) => matchTokens(pattern, tokens));
  }

  /**
   * Whether every topic `subject` (a topic or a pattern) can match is allowed. The rights may
   * cover it together without one covering it alone: `a.*` and `a.*.>` cover `a.>`.
   */
  covers(subject: string): boolean {
    const tokens = tokensOf(subject);
    if (this.#coveredByOne(tokens)) return true;
    if (tokens.at(-1) !== TAIL_TOKENS) {
      // Without `>`, one right must cover it: a topic with a fresh token in place of each `*`
      // can only be matched by a right with a wildcard there, and that right covers it all.
      return false;
    }
    // `>` stands for 1, 2, … tokens: check each length up to the longest right's, beyond which
    // only rights ending in `>` can match, and one of them must cover all longer topics at once.
    const prefix = tokens.slice(0, -1);
    const longest = Math.max(this.#longest, tokens.length);
    for (let length = prefix.length + 1; length <= longest; length++) {
      const fixed = [...prefix, ...Array<string>(length - prefix.length).fill(ONE_TOKEN)];
      if (!this.#coveredByOne(fixed)) return false;
    }
    const beyond = [...prefix, ...Array<string>(longest - prefix.length).fill(ONE_TOKEN), TAIL_TOKENS];
    return this.#coveredByOne(beyond);
  }

  #coveredByOne(tokens: readonly string[]): boolean {
    return this.#tokens.some((right) => coversTokens(right, tokens));
  }
}
