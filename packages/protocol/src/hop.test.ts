import fc from 'fast-check';
import { describe, expect, test } from 'vitest';
import { decodeHopAck, encodeHopAck } from './hop.js';

// Fixed seed so every run checks the same inputs; set FC_SEED to explore others.
const FC = { seed: Number(process.env.FC_SEED ?? 8_675_309), numRuns: 300 } as const;

describe('hop acks', () => {
  test('encodes {"ack":n}', () => {
    expect(encodeHopAck(3)).toBe('{"ack":3}');
  });

  test.each([0, 1, 500, Number.MAX_SAFE_INTEGER])('round trips %d', (count) => {
    expect(decodeHopAck(encodeHopAck(count))).toEqual({ count, seqs: undefined, duplicates: [] });
  });

  test('round trips any non-negative safe integer, with or without seqs', () => {
    fc.assert(
      fc.property(
        fc.maxSafeNat(),
        fc.option(fc.array(fc.option(fc.integer({ min: 1, max: Number.MAX_SAFE_INTEGER }), { nil: null })), {
          nil: undefined,
        }),
        (count, seqs) => {
          // Every other frame a duplicate: the indexes travel with the seqs.
          const duplicates = (seqs ?? []).flatMap((_, index) => (index % 2 === 1 ? [index] : []));
          const expected = { count, seqs, duplicates: seqs === undefined ? [] : duplicates };
          expect(decodeHopAck(encodeHopAck(count, seqs, duplicates))).toEqual(expected);
        },
      ),
      FC,
    );
  });

  test('encodes the seqs a push ack covers, null for a refused frame', () => {
    expect(encodeHopAck(3, [4, null, 5])).toBe('{"ack":3,"seq":[4,null,5]}');
  });

  test.each(['{"ack":1,"seq":[0]}', '{"ack":1,"seq":[1.5]}', '{"ack":1,"seq":"1"}', '{"ack":1,"seq":[-1]}'])(
    'rejects bad seqs %j',
    (text) => {
      expect(decodeHopAck(text)).toBeUndefined();
    },
  );

  test.each([
    encodeHopAck(-1),
    encodeHopAck(1.5),
    encodeHopAck(Number.MAX_SAFE_INTEGER + 1),
    '{"ack":1e300}',
    '{"ack":"1"}',
    '{"ack":null}',
    '{"ack":[1]}',
    '{"Ack":1}',
    '{}',
    '[]',
    'null',
    '1',
    '',
    'garbage',
    '{"ack":1',
  ])('rejects %j', (text) => {
    expect(decodeHopAck(text)).toBeUndefined();
  });

  test('refuses duplicate indexes that point outside the seqs', () => {
    for (const text of [
      '{"ack":1,"seq":[3],"dup":[1]}',
      '{"ack":1,"seq":[3],"dup":[-1]}',
      '{"ack":1,"seq":[3],"dup":"0"}',
    ])
      expect(decodeHopAck(text), text).toBeUndefined();
    expect(decodeHopAck('{"ack":1,"seq":[3],"dup":[0]}')).toEqual({ count: 1, seqs: [3], duplicates: [0] });
  });
});
