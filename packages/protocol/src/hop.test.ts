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
    expect(decodeHopAck(encodeHopAck(count))).toBe(count);
  });

  test('round trips any non-negative safe integer', () => {
    fc.assert(
      fc.property(fc.maxSafeNat(), (count) => {
        expect(decodeHopAck(encodeHopAck(count))).toBe(count);
      }),
      FC,
    );
  });

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
});
