import fc from 'fast-check';
import { describe, expect, test } from 'vitest';
import { patternMatches, tokensOf } from './pattern.js';
import { PatternIndex } from './pattern-index.js';

// Fixed seed so every run checks the same inputs; set FC_SEED to explore others.
const FC = { seed: Number(process.env.FC_SEED ?? 7_031_977), numRuns: 400 } as const;

const PATTERNS = ['>', '*', 'a.>', 'a.*', 'a.b', '*.b', 'a.*.c', '*.*', '*.>', 'a.b.>', 'a..*', 'b.*.>', '*.*.*'];
const TOPICS = ['a', 'b', 'a.b', 'a.c', 'b.b', 'a.b.c', 'a..c', 'a.', 'b.a.c.d', 'a.b.c.d', 'c'];

const found = (index: PatternIndex<string>, topic: string) => {
  const values: string[] = [];
  index.match(tokensOf(topic), (value) => values.push(value));
  return values.sort();
};

describe('PatternIndex', () => {
  test('finds every pattern that matches a topic, `>` only with a token left for it', () => {
    const index = new PatternIndex<string>();
    for (const pattern of ['orders.>', 'orders.*', 'orders.new', '*.new', '>', 'orders.*.eu'])
      index.set(pattern, pattern);
    expect(found(index, 'orders')).toEqual(['>']);
    expect(found(index, 'orders.new')).toEqual(['*.new', '>', 'orders.*', 'orders.>', 'orders.new']);
    expect(found(index, 'orders.new.eu')).toEqual(['>', 'orders.*.eu', 'orders.>']);
    expect(found(index, 'news')).toEqual(['>']);
  });

  test('after any sequence of set and delete, match agrees with matching every live pattern, each once', () => {
    const op = fc.record({ kind: fc.constantFrom('set', 'delete'), pattern: fc.constantFrom(...PATTERNS) });
    fc.assert(
      fc.property(fc.array(op, { maxLength: 30 }), (ops) => {
        const index = new PatternIndex<string>();
        const live = new Set<string>();
        for (const { kind, pattern } of ops) {
          if (kind === 'set') {
            index.set(pattern, pattern);
            live.add(pattern);
          } else {
            expect(index.delete(pattern)).toBe(live.delete(pattern));
          }
          for (const topic of TOPICS) {
            const expected = [...live].filter((each) => patternMatches(each, topic)).sort();
            expect(found(index, topic), topic).toEqual(expected);
          }
          expect(index.isEmpty).toBe(live.size === 0);
        }
      }),
      FC,
    );
  });

  test('set replaces the value of a pattern it has', () => {
    const index = new PatternIndex<string>();
    index.set('a.*', 'first');
    index.set('a.*', 'second');
    expect(found(index, 'a.b')).toEqual(['second']);
    expect(index.delete('a.*')).toBe(true);
    expect(found(index, 'a.b')).toEqual([]);
    expect(index.delete('a.*')).toBe(false);
  });
});
