import fc from 'fast-check';
import { describe, expect, test } from 'vitest';
import { findMember, pickMembers, scanObject, splitArray, type ObjectScan } from './json-scan.js';

// Fixed seed so every run checks the same inputs; set FC_SEED to explore others.
const FC = { seed: Number(process.env.FC_SEED ?? 8_675_309), numRuns: 300 } as const;

const parseJson = (text: string): unknown => JSON.parse(text);

/** True nesting depth of a JSON value: objects and arrays count 1 each, scalars 0. */
function depthOf(value: unknown): number {
  if (typeof value !== 'object' || value === null) return 0;
  const children: unknown[] = Array.isArray(value) ? value : Object.values(value);
  return 1 + Math.max(0, ...children.map(depthOf));
}

function scanned(text: string): ObjectScan {
  const scan = scanObject(text);
  if (scan === undefined) throw new Error(`scanObject returned undefined for ${text}`);
  return scan;
}

/** Any UTF-16 code unit sequence, lone surrogates included. */
const anyCodeUnit = fc.oneof(
  fc.string({ unit: 'binary', minLength: 1, maxLength: 1 }),
  fc.integer({ min: 0xd800, max: 0xdfff }).map((code) => String.fromCharCode(code)),
  fc.constantFrom('"', '\\', '{', '}', '[', ']', ':', ','),
);
const key = fc.string({ unit: anyCodeUnit, maxLength: 8 });
const value = fc.jsonValue({ maxDepth: 6, stringUnit: anyCodeUnit });
const jsonObject = fc.dictionary(key, value, { maxKeys: 8 });
/** JSON.stringify `space` arguments; ' \r\n' puts every kind of JSON whitespace in the text. */
const spacing = fc.constantFrom(undefined, 2, '\t', ' \r\n');
const objectText = fc.tuple(jsonObject, spacing).map(([object, space]) => JSON.stringify(object, null, space));

describe('scanObject', () => {
  test('finds each member with the span of its value', () => {
    const text = '{"a":1 , "b" : "x,}"\n,"c":[1,{"d":2}]\t,"e":{}\r\n,"f":true\n}';
    const scan = scanned(text);
    expect(scan.members.map((m) => [m.key, text.slice(m.start, m.end)])).toEqual([
      ['a', '1'],
      ['b', '"x,}"'],
      ['c', '[1,{"d":2}]'],
      ['e', '{}'],
      ['f', 'true'],
    ]);
    expect(scan.depth).toBe(3);
  });

  test('an empty object has no members and depth 1', () => {
    expect(scanObject('{}')).toEqual({ members: [], depth: 1 });
    expect(scanObject(' \n{ \t}\r\n')).toEqual({ members: [], depth: 1 });
  });

  test('decodes escaped keys', () => {
    expect(scanned('{"\\u0074opic":1,"a\\"b":2}').members.map((m) => m.key)).toEqual(['topic', 'a"b']);
  });

  test('keeps duplicate members in order', () => {
    expect(scanned('{"a":1,"A":2,"a":3}').members.map((m) => m.key)).toEqual(['a', 'A', 'a']);
  });

  test('brackets and quotes inside strings do not count', () => {
    const text = '{"a":["]\\"}", "[[[{"],"b":"\\\\"}';
    const scan = scanned(text);
    expect(scan.depth).toBe(2);
    expect(scan.members.map((m) => parseJson(text.slice(m.start, m.end)))).toEqual([[']"}', '[[[{'], '\\']);
  });

  test.each([
    '',
    ' ',
    '[]',
    '[{}]',
    'null',
    '"{}"',
    '1',
    '{',
    '{"a"',
    '{"a":',
    '{"a":1',
    '{"a":1,',
    '{"a":1}x',
    '{}{}',
  ])('returns undefined for %j', (text) => {
    expect(scanObject(text)).toBeUndefined();
  });

  describe('properties', () => {
    test('every member span parses to the same value as the member of the whole object', () => {
      fc.assert(
        fc.property(objectText, (text) => {
          const whole = parseJson(text) as Record<string, unknown>;
          const scan = scanned(text);
          expect(scan.members.map((m) => m.key).sort()).toEqual(Object.keys(whole).sort());
          for (const member of scan.members) {
            const span = text.slice(member.start, member.end);
            expect(Object.hasOwn(whole, member.key)).toBe(true);
            expect(parseJson(span)).toEqual(whole[member.key]);
            // The span is the value alone, without the whitespace around it.
            expect(span.trim()).toBe(span);
          }
        }),
        FC,
      );
    });

    test('depth is the true nesting depth, the object itself counting as 1', () => {
      fc.assert(
        fc.property(objectText, (text) => {
          expect(scanned(text).depth).toBe(depthOf(parseJson(text)));
        }),
        FC,
      );
    });

    test('a truncated object is rejected', () => {
      fc.assert(
        fc.property(objectText, fc.nat(), (text, cut) => {
          expect(scanObject(text.slice(0, cut % text.length))).toBeUndefined();
        }),
        FC,
      );
    });

    test('the text of any JSON value that is not an object is rejected', () => {
      const notObject = fc
        .jsonValue({ maxDepth: 4, stringUnit: anyCodeUnit })
        .filter((v) => typeof v !== 'object' || v === null || Array.isArray(v));
      fc.assert(
        fc.property(notObject, spacing, (v, space) => {
          expect(scanObject(JSON.stringify(v, null, space))).toBeUndefined();
        }),
        FC,
      );
    });

    test('any string is scanned without throwing, and spans stay inside the text', () => {
      const soup = fc.string({
        unit: fc.oneof(anyCodeUnit, fc.constantFrom(' ', '"a"', '1', 'true', '{"k":', '"\\u0041"')),
        maxLength: 60,
      });
      fc.assert(
        fc.property(fc.oneof(soup, fc.string({ unit: 'binary' }), fc.json({ maxDepth: 3 })), (text) => {
          const scan = scanObject(text);
          if (scan === undefined) return;
          expect(scan.depth).toBeGreaterThanOrEqual(1);
          for (const member of scan.members) {
            expect(0 <= member.start && member.start < member.end && member.end <= text.length).toBe(true);
          }
        }),
        FC,
      );
    });
  });
});

describe('findMember', () => {
  test('matches the name ignoring the case of the key, the last duplicate winning', () => {
    const text = '{"Topic":1,"content":2,"TOPIC":3,"topics":4}';
    const scan = scanned(text);
    const topic = findMember(scan, 'topic');
    expect(topic && text.slice(topic.start, topic.end)).toBe('3');
    const content = findMember(scan, 'content');
    expect(content && text.slice(content.start, content.end)).toBe('2');
    expect(findMember(scan, 'id')).toBeUndefined();
    expect(findMember(scan, 'topi')).toBeUndefined();
  });

  test('for any object, finds the member of each lowercase key', () => {
    fc.assert(
      fc.property(objectText, (text) => {
        const scan = scanned(text);
        for (const member of scan.members) {
          const name = member.key.toLowerCase();
          const expected = [...scan.members]
            .reverse()
            .find((m) => m.key.length === name.length && m.key.toLowerCase() === name);
          expect(findMember(scan, name)).toBe(expected);
        }
      }),
      FC,
    );
  });
});

describe('pickMembers', () => {
  const NAMES = ['topic', 'id', 'content', 'seq'];
  /** What scanObject and findMember give for the same names. */
  const viaScan = (text: string) => {
    const scan = scanObject(text);
    if (scan === undefined) return undefined;
    const spans = NAMES.map((name) => {
      const member = findMember(scan, name);
      return member === undefined ? undefined : [member.start, member.end];
    });
    return { depth: scan.depth, spans };
  };

  test('picks the last member of each name in any case, escaped keys included', () => {
    const text = '{"Topic":1,"content":2,"T\\u004fPIC":3,"topics":4,"ID":"x"}';
    const picked = pickMembers(text, NAMES);
    expect(picked?.spans.map((span) => span && text.slice(...span))).toEqual(['3', '"x"', '2', undefined]);
    expect(picked?.depth).toBe(1);
  });

  test('agrees with scanObject and findMember on any object, and on any text', () => {
    const named = fc.dictionary(fc.oneof(key, fc.constantFrom('topic', 'TOPIC', 'Id', 'content', 'seq')), value, {
      maxKeys: 8,
    });
    const texts = fc.oneof(
      fc.tuple(named, spacing).map(([object, space]) => JSON.stringify(object, null, space)),
      objectText.chain((text) => fc.nat().map((cut) => text.slice(0, cut % (text.length + 1)))),
      fc.string({ unit: 'binary' }),
    );
    fc.assert(
      fc.property(texts, (text) => {
        expect(pickMembers(text, NAMES)).toEqual(viaScan(text));
      }),
      FC,
    );
  });
});

describe('splitArray', () => {
  test('gives each element byte for byte, whatever it holds', () => {
    const text = ' [ {"a":[1,{"b":"]"}]} , 12345678901234567890, "x,y" ,null,[] ] ';
    expect(splitArray(text)).toEqual(['{"a":[1,{"b":"]"}]}', '12345678901234567890', '"x,y"', 'null', '[]']);
    expect(splitArray('[]')).toEqual([]);
  });

  test('is undefined for what is not an array', () => {
    for (const text of ['{}', '[1,', '[1 2]', '[1]x', '', '"[]"']) expect(splitArray(text), text).toBeUndefined();
  });
});
