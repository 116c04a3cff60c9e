import fc from 'fast-check';
import { thrown } from '@pubsub/testkit';
import { describe, expect, test } from 'vitest';
import { ProtocolError, type ErrorCode } from './errors.js';
import { MAX_ID_BYTES, MAX_JSON_DEPTH, MAX_TOPIC_BYTES } from './limits.js';
import { parsePublish, readQueued } from './publish.js';

// Fixed seed so every run checks the same inputs; set FC_SEED to explore others.
const FC = { seed: Number(process.env.FC_SEED ?? 8_675_309), numRuns: 400 } as const;

const protocolError = (fn: () => unknown): ProtocolError => thrown(ProtocolError, fn);

function codeOf(text: string): ErrorCode {
  return protocolError(() => parsePublish(text)).code;
}

/** `levels` arrays nested inside each other: `[[…]]`, depth `levels`. */
function nestedArrays(levels: number): string {
  return '['.repeat(levels) + ']'.repeat(levels);
}

/** Any code point, lone surrogates included (fast-check 4 has no fullUnicodeString). */
const anyCodeUnit = fc.oneof(
  fc.string({ unit: 'binary', minLength: 1, maxLength: 1 }),
  fc.integer({ min: 0xd800, max: 0xdfff }).map((code) => String.fromCharCode(code)),
);

describe('parsePublish', () => {
  describe('valid frames', () => {
    test('returns topic, id and content', () => {
      expect(parsePublish('{"topic":"news","content":"hi","id":"m1"}')).toEqual({
        topic: 'news',
        id: 'm1',
        content: '"hi"',
      });
    });

    test('id is optional', () => {
      expect(parsePublish('{"topic":"news","content":1}')).toEqual({ topic: 'news', id: undefined, content: '1' });
    });

    test('accepts keys in any case, as the original Go server did', () => {
      expect(parsePublish('{"Topic":"news","Content":"hi"}')).toEqual({
        topic: 'news',
        id: undefined,
        content: '"hi"',
      });
      expect(parsePublish('{"TOPIC":"news","cOnTeNt":"hi","ID":"x"}')).toEqual({
        topic: 'news',
        id: 'x',
        content: '"hi"',
      });
    });

    test('decodes escaped keys', () => {
      expect(parsePublish('{"\\u0074opic":"news","content":1}').topic).toBe('news');
    });

    test('the last duplicate key wins, whatever its case (like Go)', () => {
      expect(parsePublish('{"topic":"a","Topic":"b","content":1}').topic).toBe('b');
      expect(parsePublish('{"Topic":"b","topic":"a","content":1}').topic).toBe('a');
      expect(parsePublish('{"topic":"t","content":1,"CONTENT":[2]}').content).toBe('[2]');
      expect(parsePublish('{"topic":"t","content":1,"id":"a","Id":"b"}').id).toBe('b');
    });

    test('returns the content byte for byte as the raw JSON text', () => {
      const cases = [
        '12345678901234567890',
        '"\\u0041"',
        '1.50',
        '1e3',
        '-0',
        'null',
        'false',
        '"a\\"}]b"',
        '"\\ud83d\\ude00 \\/ \\n"',
        '{ "b" : [1, 2.50, 1E3], "c":{} }',
        '[ ]',
      ];
      for (const content of cases) {
        expect(parsePublish(`{"topic":"t","content":${content}}`).content).toBe(content);
      }
    });

    test('excludes whitespace around the content', () => {
      expect(parsePublish('{ "topic" : "t" ,\n\t"content" :\r\n [1, 2] \n}').content).toBe('[1, 2]');
      expect(parsePublish('{"topic":"t","content": 12.5e1 }').content).toBe('12.5e1');
      expect(parsePublish('{"topic":"t","content":null\r\n,"id":"m"}').content).toBe('null');
    });

    test('content that looks like a topic does not confuse the top-level lookup', () => {
      const frame = '{"content":{"topic":"inner","content":"x"},"topic":"outer"}';
      expect(parsePublish(frame)).toEqual({
        topic: 'outer',
        id: undefined,
        content: '{"topic":"inner","content":"x"}',
      });
    });

    test('__proto__ and constructor keys cause no prototype pollution', () => {
      const frame =
        '{"__proto__":{"polluted":true},"constructor":{"prototype":{"polluted":true}},' +
        '"topic":"t","content":{"__proto__":{"polluted":true}}}';
      const result = parsePublish(frame);
      expect(result.content).toBe('{"__proto__":{"polluted":true}}');
      expect(Object.getPrototypeOf(result)).toBe(Object.prototype);
      expect(Object.hasOwn(Object.prototype, 'polluted')).toBe(false);
      expect(({} as Record<string, unknown>).polluted).toBeUndefined();
    });

    test('a topic of exactly 256 bytes is accepted, also with multi-byte characters', () => {
      expect(MAX_TOPIC_BYTES).toBe(256);
      for (const topic of ['a'.repeat(256), 'é'.repeat(128), `${'€'.repeat(85)}a`, '😀'.repeat(64)]) {
        expect(Buffer.byteLength(topic)).toBe(256);
        expect(parsePublish(JSON.stringify({ topic, content: 1 })).topic).toBe(topic);
      }
    });

    test('an id of exactly 128 bytes is accepted', () => {
      expect(MAX_ID_BYTES).toBe(128);
      for (const id of ['x'.repeat(128), 'é'.repeat(64)]) {
        expect(parsePublish(JSON.stringify({ topic: 't', content: 1, id })).id).toBe(id);
      }
    });

    test(`nesting of exactly ${MAX_JSON_DEPTH} levels (the frame counting as one) is accepted`, () => {
      const arrays = `{"topic":"t","content":${nestedArrays(MAX_JSON_DEPTH - 1)}}`;
      expect(parsePublish(arrays).content).toBe(nestedArrays(MAX_JSON_DEPTH - 1));
      const objects = `{"topic":"t","content":${'{"a":'.repeat(MAX_JSON_DEPTH - 1)}1${'}'.repeat(MAX_JSON_DEPTH - 1)}}`;
      expect(parsePublish(objects).topic).toBe('t');
    });
  });

  describe('bad input', () => {
    test.each(['', 'not json', '{', '{"topic":"t",}', "{'topic':'t'}", '{"topic":"t","content":1}x'])(
      'BAD_JSON for %j',
      (text) => {
        expect(codeOf(text)).toBe('BAD_JSON');
      },
    );

    test.each(['null', '[]', '[{"topic":"t","content":1}]', '42', '"text"', 'true'])('BAD_MESSAGE for %s', (text) => {
      expect(codeOf(text)).toBe('BAD_MESSAGE');
    });

    test.each(['{"content":1}', '{"topic":"","content":1}'])('TOPIC_MISSING for %s', (text) => {
      expect(codeOf(text)).toBe('TOPIC_MISSING');
    });

    test.each([
      ['a number', 5],
      ['null', null],
      ['an object', { a: 1 }],
      ['an array', ['t']],
      ['a space', 'a b'],
      ['a tab', 'a\tb'],
      ['a newline', 'a\n'],
      ['a non-breaking space', 'a\u00a0b'],
      ['a NUL', 'a\u0000b'],
      ['DEL', 'a\u007fb'],
      ['a C1 control', 'a\u0085b'],
      ['a lone surrogate', 'a\ud800b'],
      ['a star', 'news.*'],
      ['a greater-than', 'news.>'],
      ['only whitespace', ' '],
    ])('TOPIC_INVALID for %s', (_name, topic) => {
      expect(codeOf(JSON.stringify({ topic, content: 1 }))).toBe('TOPIC_INVALID');
    });

    test('TOPIC_TOO_LONG at 257 bytes, also with multi-byte characters', () => {
      for (const topic of ['a'.repeat(257), `${'é'.repeat(128)}a`, `a${'😀'.repeat(64)}`]) {
        expect(Buffer.byteLength(topic)).toBe(257);
        expect(codeOf(JSON.stringify({ topic, content: 1 }))).toBe('TOPIC_TOO_LONG');
      }
    });

    test('CONTENT_MISSING when there is no content member', () => {
      expect(codeOf('{"topic":"t"}')).toBe('CONTENT_MISSING');
      expect(codeOf('{"topic":"t","contents":1}')).toBe('CONTENT_MISSING');
    });

    test.each([
      ['a number', 5],
      ['null', null],
      ['a boolean', true],
      ['an object', { a: 1 }],
      ['empty', ''],
      ['129 bytes', 'x'.repeat(129)],
      ['130 bytes of 2-byte characters', 'é'.repeat(65)],
      ['a control character', 'a\nb'],
      ['a lone surrogate', '\udc00'],
    ])('ID_INVALID for an id that is %s', (_name, id) => {
      expect(codeOf(JSON.stringify({ topic: 't', content: 1, id }))).toBe('ID_INVALID');
    });

    test(`TOO_DEEP at ${MAX_JSON_DEPTH + 1} levels`, () => {
      expect(codeOf(`{"topic":"t","content":${nestedArrays(MAX_JSON_DEPTH)}}`)).toBe('TOO_DEEP');
      const objects = `{"topic":"t","content":${'{"a":'.repeat(MAX_JSON_DEPTH)}1${'}'.repeat(MAX_JSON_DEPTH)}}`;
      expect(codeOf(objects)).toBe('TOO_DEEP');
    });

    test('TOO_DEEP counts nesting in any member, not only content', () => {
      expect(codeOf(`{"topic":"t","content":1,"extra":${nestedArrays(MAX_JSON_DEPTH)}}`)).toBe('TOO_DEEP');
    });

    test('an error after a valid id carries the id as ref', () => {
      const cases: [string, ErrorCode][] = [
        ['{"id":"m1","content":1}', 'TOPIC_MISSING'],
        ['{"id":"m1","topic":"a b","content":1}', 'TOPIC_INVALID'],
        [JSON.stringify({ id: 'm1', topic: 'x'.repeat(257), content: 1 }), 'TOPIC_TOO_LONG'],
        ['{"topic":"t","id":"m1"}', 'CONTENT_MISSING'],
      ];
      for (const [text, code] of cases) {
        const err = protocolError(() => parsePublish(text));
        expect(err.code).toBe(code);
        expect(err.ref).toBe('m1');
      }
    });

    test('errors without a usable id have no ref', () => {
      expect(protocolError(() => parsePublish('{"content":1}')).ref).toBeUndefined();
      expect(protocolError(() => parsePublish('{"id":5,"content":1}')).ref).toBeUndefined();
    });
  });

  describe('properties', () => {
    const anyString = fc.oneof(
      fc.string(),
      fc.string({ unit: 'binary' }),
      fc.string({ unit: anyCodeUnit }),
      // JSON-ish soup, to reach the scanner behind JSON.parse more often.
      fc.string({
        unit: fc.constantFrom('{', '}', '[', ']', '"', ':', ',', '\\', ' ', '\n', 'topic', 'content', 'id', '1', 'u'),
        maxLength: 40,
      }),
      fc.json({ maxDepth: 4 }),
      fc
        .record(
          { topic: fc.oneof(fc.string(), fc.jsonValue()), content: fc.jsonValue(), id: fc.jsonValue() },
          { requiredKeys: [] },
        )
        .map((frame) => JSON.stringify(frame)),
    );

    test('for any string, parsePublish returns or throws a ProtocolError, never another error', () => {
      fc.assert(
        fc.property(anyString, (text) => {
          try {
            parsePublish(text);
          } catch (err) {
            // Rethrown, so fast-check reports the input and the unexpected error.
            if (!(err instanceof ProtocolError)) throw err;
          }
        }),
        FC,
      );
    });

    const validTopic = fc
      .string({ unit: 'grapheme', minLength: 1, maxLength: 60 })
      .filter((topic) => /^[^\s\p{Cc}\p{Cs}*>]+$/u.test(topic) && Buffer.byteLength(topic) <= MAX_TOPIC_BYTES);

    test('a well-formed frame returns its topic, id and the exact text of its content', () => {
      fc.assert(
        fc.property(
          validTopic,
          fc.jsonValue({ maxDepth: 5, stringUnit: 'binary' }),
          fc.constantFrom(undefined, 0, 2, '\t'),
          (topic, content, space) => {
            const contentText = JSON.stringify(content, null, space);
            const frame = `{"topic":${JSON.stringify(topic)},"content":${contentText},"id":"m"}`;
            expect(parsePublish(frame)).toEqual({ topic, id: 'm', content: contentText });
          },
        ),
        FC,
      );
    });
  });
});

describe('readQueued topic', () => {
  test('reads the topic of a delivery frame without parsing its content', () => {
    expect(readQueued('{"type":"message","topic":"news","id":"m1","content":{"topic":"inner"}}')?.topic).toBe('news');
  });

  test('reads a Go-style frame', () => {
    expect(readQueued('{"Topic":"x","Content":"y"}')?.topic).toBe('x');
  });

  test.each([
    '',
    'garbage',
    '[]',
    'null',
    '{"content":1}',
    '{"topic":""}',
    '{"topic":5}',
    '{"topic":"a b"}',
    '{"topic":"news.*"}',
    '{"topic":tru}',
    '{"topic":"news"',
    '{"topic":"news",',
    '{"topic":"news"}trailing',
    JSON.stringify({ topic: 'x'.repeat(257) }),
  ])('returns undefined for %j', (frame) => {
    expect(readQueued(frame)?.topic).toBeUndefined();
  });

  test('for any string, readQueued never throws', () => {
    fc.assert(
      fc.property(fc.oneof(fc.string({ unit: anyCodeUnit }), fc.json({ maxDepth: 3 })), (frame) => {
        const topic = readQueued(frame)?.topic;
        expect(topic === undefined || typeof topic === 'string').toBe(true);
      }),
      FC,
    );
  });
});

describe('readQueued seq and time', () => {
  /** What readQueued gave when it handed every number to JSON.parse: the frame is refused (undefined) when one is not JSON. */
  const parsed = (raw: string): { seq: number | undefined } | undefined => {
    try {
      const value: unknown = JSON.parse(raw);
      return { seq: typeof value === 'number' && Number.isSafeInteger(value) ? value : undefined };
    } catch {
      return undefined;
    }
  };
  const number = fc.oneof(
    fc.nat().map(String),
    fc.maxSafeNat().map(String),
    fc.bigInt({ min: 0n, max: 10n ** 20n }).map(String),
    fc.integer().map(String),
    fc.double({ noNaN: true, noDefaultInfinity: true }).map((value) => JSON.stringify(value)),
    fc.constantFrom('0', '-0', '007', '00', '1e3', '1E3', '1.0', '9007199254740993', '123456789012345', '-', '1-'),
  );

  test('reads a number as JSON.parse does, the plain whole numbers of every frame included', () => {
    fc.assert(
      fc.property(number, (raw) => {
        const queued = readQueued(`{"topic":"t","seq":${raw},"time":${raw},"epoch":"e"}`);
        const expected = parsed(raw);
        expect(queued === undefined ? undefined : { seq: queued.seq }).toEqual(expected);
        if (queued !== undefined) expect(queued.time).toBe(expected?.seq);
      }),
      FC,
    );
  });

  test('reads a string value with escapes as JSON', () => {
    expect(readQueued('{"topic":"t","epoch":"a\\u0062c"}')?.epoch).toBe('abc');
  });
});
