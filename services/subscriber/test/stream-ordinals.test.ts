import { describe, expect, test } from 'vitest';
import { Ordinals, OrdinalFraming, SKIPPED, withOrdinal, type Checkpoint } from '../src/stream-ordinals.js';
import type { LogMessage } from '../src/sink.js';

const at = (ordinal: number, offset: number, epoch = 'e1'): Checkpoint => ({ ordinal, offset, epoch });

/** A stream numbered from offset 100, one message every other offset. */
function counted(upTo: number): Ordinals {
  const ordinals = Ordinals.from(at(0, 100));
  for (let ordinal = 1; ordinal <= upTo; ordinal++) ordinals.record(at(ordinal, 100 + 2 * ordinal));
  return ordinals;
}

describe('Ordinals', () => {
  test('keeps the creation point, one checkpoint about every thousand ordinals, and the latest', () => {
    const ordinals = counted(2_500);
    expect(ordinals.latest).toEqual(at(2_500, 5_100));
    expect(ordinals.toJSON().checkpoints).toEqual([at(0, 100), at(1_000, 2_100), at(2_000, 4_100)]);
    // Nothing older than the latest changes it.
    expect(ordinals.record(at(7, 114))).toBe(false);
    expect(ordinals.latest.ordinal).toBe(2_500);
  });

  test('thins old checkpoints out instead of growing without bound', () => {
    const { checkpoints } = counted(200_000).toJSON();
    expect(checkpoints.length).toBeLessThanOrEqual(64);
    expect(checkpoints[0]).toEqual(at(0, 100));
    expect(checkpoints.map((point) => point.ordinal)).toEqual(
      [...checkpoints.map((point) => point.ordinal)].sort((a, b) => a - b),
    );
  });

  test('a replay counts from the last checkpoint at or before it whose messages are all still retained', () => {
    const ordinals = counted(2_500);
    expect(ordinals.replayStart(1_500, 1)).toEqual({ start: at(1_000, 2_100), lost: false });
    expect(ordinals.replayStart(2_600, 1)).toEqual({ start: at(2_500, 5_100), lost: false });
    // Retention took what follows the checkpoint at 1000: counting from there would be wrong.
    expect(ordinals.replayStart(1_500, 3_000)).toEqual({ start: at(2_000, 4_100), lost: true });
    expect(ordinals.replayStart(2_200, 3_000)).toEqual({ start: at(2_000, 4_100), lost: false });
    // Everything counted is gone: numbering goes on from the latest, past the gap.
    expect(ordinals.replayStart(5, 9_000)).toEqual({ start: at(2_500, 5_100), lost: false });
    // The message at a checkpoint may be gone if all after it are retained.
    expect(ordinals.replayStart(1_200, 2_101)).toEqual({ start: at(1_000, 2_100), lost: false });
  });

  test('another history starts the checkpoints over, numbering on', () => {
    const ordinals = counted(10);
    expect(ordinals.record(at(11, 3, 'e2'))).toBe(true);
    expect(ordinals.toJSON()).toEqual({ checkpoints: [at(11, 3, 'e2')], latest: at(11, 3, 'e2') });
  });
});

describe('OrdinalFraming', () => {
  const message = (offset: number, epoch = 'e1'): LogMessage => ({
    offset,
    topic: 't',
    seq: undefined,
    epoch,
    frame: Buffer.from(`{"type":"message","topic":"t","content":${offset},"seq":1,"epoch":"${epoch}"}`),
  });

  test("numbers on from its start, sends nothing up to the client's from, and reports each ordinal", () => {
    const seen: Checkpoint[] = [];
    const framing = new OrdinalFraming({ latest: at(5, 50), counted: (point) => seen.push(point) }, 6);
    framing.begin(at(4, 40));
    expect(framing.frame(message(41))).toBe(SKIPPED);
    expect(framing.frame(message(42))).toBe(SKIPPED);
    const framed = framing.frame(message(45));
    expect(framed.toString()).toContain('"epoch":"e1","ordinal":7}');
    expect(seen).toEqual([at(5, 41), at(6, 42), at(7, 45)]);
  });

  test('in another history, numbers on past every ordinal the stream gave', () => {
    const seen: Checkpoint[] = [];
    const framing = new OrdinalFraming({ latest: at(20, 90), counted: (point) => seen.push(point) }, 0);
    framing.begin(at(4, 40));
    framing.frame(message(2, 'e2'));
    expect(seen).toEqual([at(21, 2, 'e2')]);
  });

  test("adds the ordinal as the frame's last member", () => {
    expect(withOrdinal(Buffer.from('{"a":1}'), 3).toString()).toBe('{"a":1,"ordinal":3}');
  });
});
