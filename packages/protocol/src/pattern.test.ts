import fc from 'fast-check';
import { thrown } from '@pubsub/testkit';
import { describe, expect, test } from 'vitest';
import { ProtocolError } from './errors.js';
import { isPattern, patternCovers, patternMatches, TopicRights, validatePattern } from './pattern.js';
import { validateTopic } from './topic.js';

// Fixed seed so every run checks the same inputs; set FC_SEED to explore others.
const FC = { seed: Number(process.env.FC_SEED ?? 5_550_123), numRuns: 500 } as const;

const codeOf = (subject: unknown) => thrown(ProtocolError, () => validatePattern(subject)).code;

/** Patterns of 1-3 tokens over a tiny alphabet, `>` only last: small enough to check by brute force. */
const patternArb = fc
  .tuple(fc.array(fc.constantFrom('a', 'b', '*'), { minLength: 0, maxLength: 2 }), fc.constantFrom('a', 'b', '*', '>'))
  .map(([head, last]) => [...head, last].join('.'));

/**
 * Every topic of 1-5 tokens over a, b and z. z appears in no pattern, so it stands for "any other
 * token"; 5 tokens is longer than any pattern, so `>` is told apart from fixed lengths.
 */
const TOPICS: string[] = (() => {
  const all: string[][] = [];
  let level: string[][] = [[]];
  for (let length = 1; length <= 5; length++) {
    level = level.flatMap((tokens) => ['a', 'b', 'z'].map((token) => [...tokens, token]));
    all.push(...level);
  }
  return all.map((tokens) => tokens.join('.'));
})();

describe('validatePattern', () => {
  test.each(['news', 'orders.*', 'orders.>', '*', '>', '*.*', '*.new.>', 'a..*', 'héllo.*'])('accepts %j', (p) => {
    expect(validatePattern(p)).toBe(p);
  });

  test.each([
    ['', 'TOPIC_MISSING'],
    [undefined, 'TOPIC_MISSING'],
    [7, 'TOPIC_INVALID'],
    ['orders*', 'TOPIC_INVALID'],
    ['orders.*x', 'TOPIC_INVALID'],
    ['orders.**', 'TOPIC_INVALID'],
    ['orders.>.eu', 'TOPIC_INVALID'],
    ['>.x', 'TOPIC_INVALID'],
    ['or>ders', 'TOPIC_INVALID'],
    ['a b.*', 'TOPIC_INVALID'],
    ['a\u0000.*', 'TOPIC_INVALID'],
    [`${'x'.repeat(255)}.*`, 'TOPIC_TOO_LONG'],
  ])('%j → %s', (subject, code) => {
    expect(codeOf(subject)).toBe(code);
  });

  test('agrees with validateTopic on everything without a wildcard character', () => {
    const outcome = (fn: () => string) => {
      try {
        return fn();
      } catch (err) {
        return (err as ProtocolError).code;
      }
    };
    fc.assert(
      fc.property(
        fc.string({ unit: fc.constantFrom('a', '.', ' ', '\u0000', 'é', '\ud800') }),
        (subject) => outcome(() => validatePattern(subject)) === outcome(() => validateTopic(subject)),
      ),
      FC,
    );
  });

  test('isPattern tells patterns from topics', () => {
    expect(isPattern('orders.*')).toBe(true);
    expect(isPattern('>')).toBe(true);
    expect(isPattern('orders.new')).toBe(false);
  });
});

describe('patternMatches', () => {
  test.each([
    ['orders.*', 'orders.new', true],
    ['orders.*', 'orders.new.eu', false],
    ['orders.*', 'orders', false],
    ['orders.>', 'orders.new', true],
    ['orders.>', 'orders.new.eu', true],
    ['orders.>', 'orders', false],
    ['*.new', 'orders.new', true],
    ['*', 'news', true],
    ['*', 'a.b', false],
    ['>', 'a.b.c', true],
    ['news', 'news', true],
    ['news', 'news.eu', false],
    ['a.*.c', 'a..c', true],
  ])('%j matches %j: %s', (pattern, topic, expected) => {
    expect(patternMatches(pattern, topic)).toBe(expected);
  });

  test('a topic matches itself and nothing else', () => {
    fc.assert(
      fc.property(fc.constantFrom(...TOPICS), fc.constantFrom(...TOPICS), (a, b) => {
        expect(patternMatches(a, b)).toBe(a === b);
      }),
      FC,
    );
  });
});

describe('patternCovers', () => {
  test.each([
    ['orders.>', 'orders.*', true],
    ['orders.>', 'orders.*.eu', true],
    ['orders.*', 'orders.new', true],
    ['orders.new', 'orders.*', false],
    ['orders.*', 'orders.>', false],
    ['*.>', '>', false],
    ['>', '*.*.>', true],
  ])('%j covers %j: %s', (general, specific, expected) => {
    expect(patternCovers(general, specific)).toBe(expected);
  });

  test('covers exactly when every topic the specific pattern matches, the general one matches too', () => {
    fc.assert(
      fc.property(patternArb, patternArb, (general, specific) => {
        const bruteForce = TOPICS.every((t) => !patternMatches(specific, t) || patternMatches(general, t));
        expect(patternCovers(general, specific)).toBe(bruteForce);
      }),
      FC,
    );
  });
});

describe('TopicRights', () => {
  test('allows the topics one of its patterns matches', () => {
    const rights = new TopicRights(['orders.>', 'news']);
    expect(rights.allows('orders.new')).toBe(true);
    expect(rights.allows('news')).toBe(true);
    expect(rights.allows('news.eu')).toBe(false);
    expect(rights.allows('orders')).toBe(false);
    expect(TopicRights.ALL.allows('anything.at.all')).toBe(true);
    expect(TopicRights.NONE.allows('news')).toBe(false);
  });

  test('a pattern subscription needs rights over everything it can match', () => {
    expect(new TopicRights(['orders.>']).covers('orders.*')).toBe(true);
    expect(new TopicRights(['orders.new']).covers('orders.*')).toBe(false);
    expect(new TopicRights(['orders.*']).covers('orders.>')).toBe(false);
    // Together, though neither alone: one token after orders, and two or more.
    expect(new TopicRights(['orders.*', 'orders.*.>']).covers('orders.>')).toBe(true);
    expect(TopicRights.ALL.covers('>')).toBe(true);
    expect(TopicRights.NONE.covers('news')).toBe(false);
  });

  test('covers exactly what the union of its patterns matches', () => {
    fc.assert(
      fc.property(fc.array(patternArb, { maxLength: 4 }), patternArb, (patterns, subject) => {
        const rights = new TopicRights(patterns);
        const bruteForce = TOPICS.every((t) => !patternMatches(subject, t) || rights.allows(t));
        expect(rights.covers(subject)).toBe(bruteForce);
      }),
      FC,
    );
  });
});
