import fc from 'fast-check';
import { describe, expect, test } from 'vitest';
import { packBatches, unpackBatch } from './batch.js';

const FC = { seed: Number(process.env.FC_SEED ?? 8_675_309), numRuns: 200 } as const;

const textsOf = (packed: (string | Buffer)[]) =>
  packed.flatMap((frame) => (typeof frame === 'string' ? [frame] : (unpackBatch(frame) ?? []).map(String)));

describe('hop batches', () => {
  test('packs frames into one binary frame and unpacks them in order', () => {
    const packed = packBatches(['{"a":1}', '{"b":"é"}', '{}'], { maxMessages: 10, maxBytes: 1000 });
    expect(packed).toHaveLength(1);
    expect(Buffer.isBuffer(packed[0])).toBe(true);
    expect(textsOf(packed)).toEqual(['{"a":1}', '{"b":"é"}', '{}']);
  });

  test('a lone frame stays a text frame', () => {
    expect(packBatches(['{"a":1}'], { maxMessages: 10, maxBytes: 1000 })).toEqual(['{"a":1}']);
  });

  test('maxMessages 1 sends every frame as text, the unbatched wire', () => {
    expect(packBatches(['x', 'y'], { maxMessages: 1, maxBytes: 1000 })).toEqual(['x', 'y']);
  });

  test('splits by count and by bytes, and sends an oversized frame alone', () => {
    const big = 'b'.repeat(100);
    const packed = packBatches(['1', '2', '3', big, '4'], { maxMessages: 2, maxBytes: 50 });
    expect(packed.map((frame) => (typeof frame === 'string' ? frame : unpackBatch(frame)?.length))).toEqual([
      2,
      '3',
      big,
      '4',
    ]);
    for (const frame of packed) if (Buffer.isBuffer(frame)) expect(frame.length).toBeLessThanOrEqual(50);
  });

  test('keeps any frames, in order, within the limits', () => {
    fc.assert(
      fc.property(
        fc.array(fc.string({ unit: 'grapheme', maxLength: 40 })),
        fc.integer({ min: 1, max: 8 }),
        fc.integer({ min: 4, max: 200 }),
        (frames, maxMessages, maxBytes) => {
          const packed = packBatches(frames, { maxMessages, maxBytes });
          expect(textsOf(packed)).toEqual(frames);
          for (const frame of packed) {
            if (typeof frame === 'string') continue;
            expect(frame.length).toBeLessThanOrEqual(maxBytes);
            expect(unpackBatch(frame)?.length).toBeLessThanOrEqual(maxMessages);
          }
        },
      ),
      FC,
    );
  });

  test.each([
    ['a truncated length', Buffer.from([0, 0])],
    ['a length past the end', Buffer.from([0, 0, 0, 9, 65])],
    ['nothing', Buffer.alloc(0)],
  ])('refuses %s', (_name, batch) => {
    expect(unpackBatch(batch)).toBeUndefined();
  });
});
