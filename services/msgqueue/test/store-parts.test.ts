import fc from 'fast-check';
import { describe, expect, test } from 'vitest';
import { DedupeWindow } from '../src/store/dedupe-window.js';
import { stampBytes, stampFrame, stampOf } from '../src/store/frame-seq.js';
import { FrameArena, type FrameSpan } from '../src/store/frame-arena.js';
import { LogState } from '../src/store/log-state.js';
import { NumberRing } from '../src/store/number-ring.js';

// Fixed seed so every run checks the same inputs; set FC_SEED to explore others.
const FC = { seed: Number(process.env.FC_SEED ?? 4_242_424), numRuns: 200 } as const;

/** The dedupe window as a plain Map: what DedupeWindow must answer, operation by operation. */
class ModelWindow {
  readonly ids: { id: string; seq: number; time: number }[] = [];
  constructor(
    readonly windowMs: number,
    readonly maxIds: number,
  ) {}
  seqOf(id: string): number | undefined {
    return this.ids.filter((entry) => entry.id === id).at(-1)?.seq;
  }
  expire(now: number): void {
    while ((this.ids[0]?.time ?? Infinity) < now - this.windowMs) this.ids.shift();
  }
  remember(id: string, seq: number, time: number): void {
    this.ids.push({ id, seq, time });
    if (this.ids.length > this.maxIds) this.ids.shift();
  }
}

describe('DedupeWindow', () => {
  test('answers the seq of an id within the window and forgets it after', () => {
    const window = new DedupeWindow({ windowMs: 100, maxIds: 10 });
    window.remember('a', 7, 1_000);
    window.remember('é', 8, 1_050);
    expect(window.seqOf('a')).toBe(7);
    expect(window.seqOf('é')).toBe(8);
    expect(window.seqOf('b')).toBeUndefined();
    window.expire(1_101);
    expect(window.seqOf('a')).toBeUndefined();
    expect(window.seqOf('é')).toBe(8);
  });

  test('keeps at most maxIds, forgetting the oldest', () => {
    const window = new DedupeWindow({ windowMs: 60_000, maxIds: 3 });
    for (const [seq, id] of ['a', 'b', 'c', 'd'].entries()) window.remember(id, seq, 0);
    expect(window.size).toBe(3);
    expect(['a', 'b', 'c', 'd'].map((id) => window.seqOf(id))).toEqual([undefined, 1, 2, 3]);
  });

  test('ids whose hashes collide are told apart', () => {
    // FNV-1a is not collision-free: find two ids with the same 32-bit hash by brute force.
    const seen = new Map<number, string>();
    const fnv = (text: string) => {
      let hash = 0x811c9dc5;
      for (let i = 0; i < text.length; i++) hash = Math.imul(hash ^ text.charCodeAt(i), 0x01000193);
      return hash >>> 0;
    };
    let pair: [string, string] | undefined;
    for (let n = 0; pair === undefined; n++) {
      const id = `id-${n}`;
      const other = seen.get(fnv(id));
      if (other !== undefined) pair = [other, id];
      seen.set(fnv(id), id);
    }
    const window = new DedupeWindow({ windowMs: 60_000, maxIds: 10 });
    window.remember(pair[0], 1, 0);
    expect(window.seqOf(pair[1])).toBeUndefined();
    window.remember(pair[1], 2, 0);
    expect([window.seqOf(pair[0]), window.seqOf(pair[1])]).toEqual([1, 2]);
  });

  test('behaves like a list of the ids remembered, for any sequence of operations', () => {
    const id = fc.constantFrom('a', 'b', 'c', 'd', 'e', 'ü', 'a-long-id-of-a-message');
    const operation = fc.oneof(
      fc.record({ op: fc.constant('remember' as const), id, advance: fc.nat(30) }),
      fc.record({ op: fc.constant('claim' as const), id, advance: fc.nat(30) }),
      fc.record({ op: fc.constant('expire' as const), advance: fc.nat(60) }),
    );
    fc.assert(
      fc.property(fc.array(operation, { maxLength: 300 }), fc.integer({ min: 1, max: 40 }), (operations, maxIds) => {
        const window = new DedupeWindow({ windowMs: 50, maxIds });
        const model = new ModelWindow(50, maxIds);
        let now = 0;
        let seq = 0;
        for (const operation of operations) {
          now += operation.advance;
          if (operation.op === 'expire') {
            window.expire(now);
            model.expire(now);
          } else if (operation.op === 'claim') {
            // As the log appends: the seq it had, or remembered with the next one.
            const earlier = model.seqOf(operation.id);
            expect(window.claim(operation.id, seq + 1, now)).toBe(earlier);
            if (earlier === undefined) model.remember(operation.id, ++seq, now);
          } else if (window.seqOf(operation.id) === undefined) {
            // As the log uses it: an id is remembered again only once it has been forgotten.
            window.remember(operation.id, ++seq, now);
            model.remember(operation.id, seq, now);
          }
          for (const known of ['a', 'b', 'c', 'd', 'e', 'ü', 'a-long-id-of-a-message']) {
            expect(window.seqOf(known)).toBe(model.seqOf(known));
          }
        }
      }),
      FC,
    );
  });

  test('stays correct through growth and wraparound of its table', () => {
    const window = new DedupeWindow({ windowMs: 1_000_000, maxIds: 5_000 });
    const wrongOf = (count: number, expected: (n: number) => number | undefined) =>
      Array.from({ length: count }, (_, n) => `m${n}`).filter((id, n) => window.seqOf(id) !== expected(n));
    // The table doubles at 512, 1,024 and 2,048 ids: every id stored before has been moved.
    for (let n = 0; n < 4_000; n++) window.remember(`m${n}`, n, 0);
    expect(wrongOf(4_000, (n) => n)).toEqual([]);
    for (let n = 4_000; n < 20_000; n++) window.remember(`m${n}`, n, 0);
    expect(window.size).toBe(5_000);
    expect(wrongOf(20_000, (n) => (n >= 15_000 ? n : undefined))).toEqual([]);
  });
});

describe('NumberRing', () => {
  test('keeps rows in order as blocks are added and dropped', () => {
    const ring = new NumberRing(2, 4);
    let next = 0;
    let first = 0;
    for (let round = 0; round < 50; round++) {
      for (let i = 0; i < 3; i++) {
        const row = ring.push();
        ring.set(row, 0, next);
        ring.set(row, 1, -next);
        next++;
      }
      ring.shift(2);
      first += 2;
      for (let index = 0; index < ring.length; index++) {
        expect(ring.get(ring.at(index), 0)).toBe(first + index);
        expect(ring.get(ring.at(index), 1)).toBe(-(first + index));
      }
    }
    expect(ring.length).toBe(50);
    expect(ring.at(50)).toBe(-1);
    expect(ring.at(-1)).toBe(-1);
  });

  test('keeps its rows for any sequence of pushes and shifts', () => {
    fc.assert(
      fc.property(fc.array(fc.tuple(fc.nat(40), fc.nat(40)), { maxLength: 40 }), (steps) => {
        const ring = new NumberRing(1, 2);
        const model: number[] = [];
        let next = 0;
        for (const [pushes, shifts] of steps) {
          for (let i = 0; i < pushes; i++) {
            ring.set(ring.push(), 0, next);
            model.push(next++);
          }
          ring.shift(shifts);
          model.splice(0, shifts);
          expect(Array.from({ length: ring.length }, (_, index) => ring.get(ring.at(index), 0))).toEqual(model);
        }
      }),
      FC,
    );
  });
});

describe('stampFrame', () => {
  const stamp = (frame: string) => {
    const buffer = Buffer.alloc(frame.length * 3 + stampBytes('abc'));
    const written = buffer.write(frame);
    return buffer.toString('utf8', 0, stampFrame({ buffer, start: 0 }, written, stampOf(12, 'abc')));
  };

  test('adds seq and epoch last, after any trailing whitespace and before the closing brace', () => {
    expect(stamp('{"type":"message","topic":"t"}')).toBe('{"type":"message","topic":"t","seq":12,"epoch":"abc"}');
    expect(stamp('{"a":"é" } \n')).toBe('{"a":"é","seq":12,"epoch":"abc"}');
    expect(stamp('{ }')).toBe('{"seq":12,"epoch":"abc"}');
  });

  test('the stamped frame parses to the frame plus seq and epoch, which win over the pusher’s', () => {
    fc.assert(
      fc.property(fc.dictionary(fc.string(), fc.jsonValue()), (object) => {
        const stamped = JSON.parse(stamp(JSON.stringify(object))) as unknown;
        expect(stamped).toEqual({ ...object, seq: 12, epoch: 'abc' });
      }),
      FC,
    );
  });
});

describe('LogState', () => {
  test('each topic keeps its history, range and frames through appends and drops', () => {
    const step = fc.oneof(
      fc.record({
        op: fc.constant('append' as const),
        topics: fc.array(fc.constantFrom('a', 'b', 'ü'), { maxLength: 6 }),
      }),
      fc.record({ op: fc.constant('drop' as const), count: fc.nat(8) }),
    );
    fc.assert(
      fc.property(fc.array(step, { maxLength: 40 }), (steps) => {
        const state = new LogState({ epoch: 'e', dedupeWindowMs: 60_000, dedupeMaxIds: 100 });
        const model: { offset: number; topic: string; seq: number; content: number }[] = [];
        const lastSeq = new Map<string, number>();
        let content = 0;
        for (const current of steps) {
          if (current.op === 'append') {
            const inputs = current.topics.map((topic) => ({
              topic,
              id: undefined,
              frame: `{"topic":"${topic}","content":${++content}}`,
            }));
            const { added } = state.assign(inputs);
            added.forEach(({ offset }, index) => {
              const topic = current.topics[index] as string;
              lastSeq.set(topic, (lastSeq.get(topic) ?? 0) + 1);
              model.push({
                offset,
                topic,
                seq: lastSeq.get(topic) as number,
                content: content - inputs.length + index + 1,
              });
            });
          } else {
            const cut = (model[0]?.offset ?? state.nextOffset) + current.count;
            state.dropBefore(cut);
            while (model.length > 0 && (model[0]?.offset as number) < cut) model.shift();
          }
          for (const topic of ['a', 'b', 'ü']) {
            const kept = model.filter((entry) => entry.topic === topic);
            const history = state.topicHistory(topic, { afterSeq: 0, limit: Infinity });
            expect(history.map((entry) => [entry.offset, entry.seq])).toEqual(
              kept.map((entry) => [entry.offset, entry.seq]),
            );
            expect(history.map((entry) => JSON.parse(entry.frame) as unknown)).toEqual(
              kept.map((entry) => ({ topic, content: entry.content, seq: entry.seq, epoch: 'e' })),
            );
            // A page from the middle, short of the newest entry: what /history reads.
            const query = {
              afterSeq: kept[Math.floor(kept.length / 2)]?.seq ?? 0,
              limit: 2,
              beforeOffset: state.nextOffset - 1,
            };
            expect(state.topicHistory(topic, query).map((entry) => entry.seq)).toEqual(
              kept
                .filter((entry) => entry.seq > query.afterSeq && entry.offset < query.beforeOffset)
                .slice(0, query.limit)
                .map((entry) => entry.seq),
            );
            const last = lastSeq.get(topic) ?? 0;
            expect(state.topicRange(topic)).toEqual(
              lastSeq.has(topic) ? { first: kept[0]?.seq ?? last + 1, last } : { first: 1, last: 0 },
            );
          }
          expect(state.firstOffset).toBe(model[0]?.offset ?? state.nextOffset);
        }
      }),
      FC,
    );
  });
});

describe('FrameArena', () => {
  test('frames stay intact across chunks, releases and reused chunks', () => {
    const arena = new FrameArena();
    const kept: { span: FrameSpan; text: string }[] = [];
    for (let n = 0; n < 40; n++) {
      // 300 KB frames: three to a 1 MiB chunk; every fifth one larger than a chunk.
      const text = String(n % 10).repeat(n % 5 === 4 ? 1_200_000 : 300_000);
      const room = arena.reserve(text.length);
      const length = room.buffer.write(text, room.start);
      arena.commit(length);
      kept.push({ span: { chunk: room.chunk, start: room.start, length }, text });
      if (kept.length > 6) {
        kept.shift();
        arena.releaseBefore((kept[0] as { span: FrameSpan }).span.chunk);
      }
      for (const frame of kept) expect(arena.toString(frame.span)).toBe(frame.text);
    }
  });
});
