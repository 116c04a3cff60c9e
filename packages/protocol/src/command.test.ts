import fc from 'fast-check';
import { thrown } from '@pubsub/testkit';
import { describe, expect, test } from 'vitest';
import { parseCommand } from './command.js';
import { ProtocolError, type ErrorCode } from './errors.js';

// Fixed seed so every run checks the same inputs; set FC_SEED to explore others.
const FC = { seed: Number(process.env.FC_SEED ?? 8_675_309), numRuns: 400 } as const;

const protocolError = (fn: () => unknown): ProtocolError => thrown(ProtocolError, fn);

function codeOf(text: string): ErrorCode {
  return protocolError(() => parseCommand(text)).code;
}

describe('parseCommand', () => {
  describe('text form', () => {
    test('sub and unsub', () => {
      expect(parseCommand('sub news')).toEqual({ op: 'sub', topic: 'news', ref: undefined });
      expect(parseCommand('unsub news')).toEqual({ op: 'unsub', topic: 'news', ref: undefined });
    });

    test.each(['  sub news  ', 'sub news\r\n', '\r\n\tsub news\n', 'sub\tnews', 'sub  news', 'sub \t news'])(
      'ignores surrounding whitespace and repeated separators in %j',
      (text) => {
        expect(parseCommand(text)).toEqual({ op: 'sub', topic: 'news', ref: undefined });
      },
    );

    test('keeps the topic exactly, including non-ASCII characters', () => {
      expect(parseCommand('sub héllo.wörld/😀').topic).toBe('héllo.wörld/😀');
    });

    test.each(['orders.*', 'orders.>', '*', '>', '*.new.>', 'a..*'])('accepts the pattern %j in sub and unsub', (p) => {
      expect(parseCommand(`sub ${p}`)).toEqual({ op: 'sub', topic: p, ref: undefined });
      expect(parseCommand(`unsub ${p}`)).toEqual({ op: 'unsub', topic: p, ref: undefined });
      expect(parseCommand(JSON.stringify({ topic: p, content: 'sub', id: 'r' }))).toEqual({
        op: 'sub',
        topic: p,
        ref: 'r',
      });
    });

    test('resuming a pattern is refused with a message that says why', () => {
      const err = protocolError(() => parseCommand('sub orders.* from 3'));
      expect(err.code).toBe('RESUME_INVALID');
      expect(err.message).toMatch(/exact topic/);
    });
  });

  describe('JSON form', () => {
    test('the original Go form {"Topic": …, "Content": "sub"}', () => {
      expect(parseCommand('{"Topic":"news","Content":"sub"}')).toEqual({ op: 'sub', topic: 'news', ref: undefined });
      expect(parseCommand('{"Topic":"news","Content":"unsub"}')).toEqual({
        op: 'unsub',
        topic: 'news',
        ref: undefined,
      });
    });

    test('lowercase keys and leading whitespace', () => {
      expect(parseCommand('\n  {"topic":"news","content":"unsub"}')).toEqual({
        op: 'unsub',
        topic: 'news',
        ref: undefined,
      });
    });

    test('the id is returned as ref', () => {
      expect(parseCommand('{"topic":"news","content":"sub","id":"c1"}')).toEqual({
        op: 'sub',
        topic: 'news',
        ref: 'c1',
      });
    });
  });

  describe('bad input', () => {
    test.each([
      ['SUB x', 'UNKNOWN_COMMAND'],
      ['Sub x', 'UNKNOWN_COMMAND'],
      ['foo x', 'UNKNOWN_COMMAND'],
      ['foo', 'UNKNOWN_COMMAND'],
      ['', 'UNKNOWN_COMMAND'],
      ['   ', 'UNKNOWN_COMMAND'],
      ['subscribe news', 'UNKNOWN_COMMAND'],
      ['[1]', 'UNKNOWN_COMMAND'],
      ['sub', 'TOPIC_MISSING'],
      ['unsub  \r\n', 'TOPIC_MISSING'],
      ['sub a b', 'TOPIC_INVALID'],
      ['sub news*', 'TOPIC_INVALID'],
      ['sub news.>.eu', 'TOPIC_INVALID'],
      ['sub news.*x', 'TOPIC_INVALID'],
      ['sub news.* from 3', 'RESUME_INVALID'],
      ['sub > from 0 ab', 'RESUME_INVALID'],
      ['{"topic":"news.>","content":"sub","from":1}', 'RESUME_INVALID'],
      ['sub a\u0000b', 'TOPIC_INVALID'],
      [`sub ${'x'.repeat(257)}`, 'TOPIC_TOO_LONG'],
      ['{"topic":"news",', 'BAD_JSON'],
      ['{"topic":"news","content":"SUB"}', 'UNKNOWN_COMMAND'],
      ['{"topic":"news"}', 'UNKNOWN_COMMAND'],
      ['{"topic":"news","content":1}', 'UNKNOWN_COMMAND'],
      ['{"content":"sub"}', 'TOPIC_MISSING'],
      ['{"topic":"a b","content":"sub"}', 'TOPIC_INVALID'],
      ['{"topic":"news","content":"sub","id":""}', 'ID_INVALID'],
    ] satisfies [string, ErrorCode][])('%j → %s', (text, code) => {
      expect(codeOf(text)).toBe(code);
    });

    test('a JSON command keeps its id on errors', () => {
      const cases: [string, ErrorCode][] = [
        ['{"topic":"news","content":"foo","id":"c1"}', 'UNKNOWN_COMMAND'],
        ['{"content":"sub","id":"c1"}', 'TOPIC_MISSING'],
        ['{"id":"c1","topic":"a*","content":"sub"}', 'TOPIC_INVALID'],
      ];
      for (const [text, code] of cases) {
        const err = protocolError(() => parseCommand(text));
        expect(err.code).toBe(code);
        expect(err.ref).toBe('c1');
      }
    });

    test('a text command error has no ref', () => {
      expect(protocolError(() => parseCommand('sub a b')).ref).toBeUndefined();
    });
  });

  test('for any string, parseCommand returns or throws a ProtocolError, never another error', () => {
    const anyCodeUnit = fc.oneof(
      fc.string({ unit: 'binary', minLength: 1, maxLength: 1 }),
      fc.integer({ min: 0xd800, max: 0xdfff }).map((code) => String.fromCharCode(code)),
    );
    const anyString = fc.oneof(
      fc.string(),
      fc.string({ unit: 'binary' }),
      fc.string({ unit: anyCodeUnit }),
      fc.string({
        unit: fc.constantFrom('{', '}', '"', ':', ',', ' ', '\t', 'sub', 'unsub', 'topic', 'content', 'id', 'x'),
        maxLength: 30,
      }),
      fc.json({ maxDepth: 3 }),
    );
    fc.assert(
      fc.property(anyString, (text) => {
        try {
          const { op } = parseCommand(text);
          if (op !== 'sub' && op !== 'unsub') throw new Error(`unexpected op ${String(op)}`);
        } catch (err) {
          // Rethrown, so fast-check reports the input and the unexpected error.
          if (!(err instanceof ProtocolError)) throw err;
        }
      }),
      FC,
    );
  });
});
