import { encodeDelivery } from '@pubsub/protocol';
import { afterEach, describe, expect, test } from 'vitest';
import type { AppendInput, MessageLog } from '../src/store/log.js';

/** What a contract test may set when it opens a store; the rest is the store's test default. */
export interface StoreOptions {
  now?: () => number;
  retentionMs?: number;
  retentionBytes?: number;
  dedupeWindowMs?: number;
}

/** One store under test: opening it again after a close is a restart. */
export interface StoreFixture {
  /** Whether a restart keeps what was appended (and the epoch, ids and group positions). */
  readonly durable: boolean;
  open(options?: StoreOptions): Promise<MessageLog>;
  /** Removes whatever the store left behind (files, keys). */
  cleanup(): Promise<void>;
}

const input = (id: string | undefined, topic = 't', content: string = id ?? 'x'): AppendInput => ({
  topic,
  id,
  frame: encodeDelivery({ topic, id: id ?? 'none', content: JSON.stringify(content) }),
});

const seqs = (log: MessageLog, topic: string) =>
  log.topicHistory(topic, { afterSeq: 0, limit: Infinity }).map((entry) => entry.seq);

const scanAll = (log: MessageLog, wants: (topic: string) => boolean = () => true, afterOffset = 0) =>
  log.scan({ afterOffset, wants, limit: Infinity, maxBytes: Infinity, maxScanned: Infinity });

/**
 * The behaviours every MessageLog keeps, whatever holds its messages: run by each store's test
 * with a fixture that opens a fresh store of that kind.
 */
export function describeMessageLog(name: string, makeStore: () => Promise<StoreFixture>): void {
  describe(`MessageLog contract: ${name}`, () => {
    const opened: MessageLog[] = [];
    let fixture: StoreFixture | undefined;
    const store = async () => {
      fixture = await makeStore();
      return fixture;
    };
    const open = async (from: StoreFixture, options?: StoreOptions) => {
      const log = await from.open(options);
      opened.push(log);
      return log;
    };
    afterEach(async () => {
      await Promise.all(opened.splice(0).map((log) => log.close()));
      await fixture?.cleanup();
      fixture = undefined;
    });

    test('numbers each topic from 1 and the whole log by offset, and stamps seq and epoch into the frame', async () => {
      const log = await open(await store());
      const start = log.nextOffset;
      const results = await log.append([input('a', 'x'), input('b', 'y'), input('c', 'x')]);
      expect(results).toEqual([
        { seq: 1, duplicate: false },
        { seq: 1, duplicate: false },
        { seq: 2, duplicate: false },
      ]);
      expect(log.nextOffset).toBe(start + 3);
      expect(log.committedOffset).toBe(start + 3);
      const third = log.read(start + 2);
      expect(third).toMatchObject({ offset: start + 2, topic: 'x', seq: 2 });
      expect(JSON.parse(third?.frame ?? '{}')).toMatchObject({ topic: 'x', id: 'c', seq: 2, epoch: log.epoch });
      expect(log.epoch).toMatch(/^[0-9a-f]+$/);
      expect(log.topicRange('x')).toEqual({ first: 1, last: 2 });
      expect(log.topicRange('never')).toEqual({ first: 1, last: 0 });
      expect(log.read(start + 3)).toBeUndefined();
    });

    test('keeps the order of appends, within one and across concurrent ones', async () => {
      const log = await open(await store());
      const start = log.nextOffset;
      const batches = Array.from({ length: 20 }, (_, b) =>
        Array.from({ length: 5 }, (_, i) => input(`m${b}-${i}`, b % 2 === 0 ? 'even' : 'odd')),
      );
      const results = await Promise.all(batches.map((batch) => log.append(batch)));
      expect(results.flat().every((result) => !result.duplicate)).toBe(true);
      const ids = scanAll(log).offsets.map(
        (offset) => (JSON.parse(log.read(offset)?.frame ?? '{}') as { id: string }).id,
      );
      expect(ids).toEqual(batches.flat().map((item) => item.id));
      expect(scanAll(log).offsets).toEqual(Array.from({ length: 100 }, (_, i) => start + i));
      expect(seqs(log, 'even')).toEqual(Array.from({ length: 50 }, (_, i) => i + 1));
      // Each append's seqs are in the order of its inputs.
      expect(results[1]?.map((result) => result.seq)).toEqual([1, 2, 3, 4, 5]);
      expect(results[3]?.map((result) => result.seq)).toEqual([6, 7, 8, 9, 10]);
    });

    test('stores an id once, within one append and across appends, answering with the earlier seq', async () => {
      const log = await open(await store());
      const start = log.nextOffset;
      expect(await log.append([input('a'), input('a'), input(undefined), input(undefined)])).toEqual([
        { seq: 1, duplicate: false },
        { seq: 1, duplicate: true },
        { seq: 2, duplicate: false },
        { seq: 3, duplicate: false },
      ]);
      expect(await log.append([input('b'), input('a')])).toEqual([
        { seq: 4, duplicate: false },
        { seq: 1, duplicate: true },
      ]);
      // Concurrent resends of one new id: stored once.
      const [first, second] = await Promise.all([log.append([input('c')]), log.append([input('c')])]);
      expect([first, second]).toEqual([[{ seq: 5, duplicate: false }], [{ seq: 5, duplicate: true }]]);
      expect(log.nextOffset).toBe(start + 5);
      expect(seqs(log, 't')).toEqual([1, 2, 3, 4, 5]);
    });

    test('nothing an append adds is readable before the append resolves', async () => {
      const log = await open(await store());
      await log.append([input('before')]);
      const committed = log.committedOffset;
      const pending = log.append([input('a', 't'), input('b', 'u')]);
      // Checked before the append could have resolved: its messages are not kept yet.
      expect(log.committedOffset).toBe(committed);
      expect(seqs(log, 't')).toEqual([1]);
      expect(scanAll(log, () => true, committed - 2).offsets).toEqual([committed - 1]);
      expect(log.topicPosition('u', 0)).toMatchObject({ count: 0, last: 0, through: committed - 1 });
      await pending;
      expect(seqs(log, 't')).toEqual([1, 2]);
      expect(log.topicPosition('u', 0)).toMatchObject({ offset: committed - 1 + 1, count: 1, last: 1 });
    });

    test('reads by offset range, subject and size, and maps a topic seq to a log position', async () => {
      const log = await open(await store());
      const start = log.nextOffset;
      const topics = ['a', 'b', 'a', 'c', 'a', 'b'];
      await log.append(topics.map((topic, i) => input(`r${i}`, topic)));
      const wantsA = (topic: string) => topic === 'a';
      expect(scanAll(log, wantsA).offsets).toEqual([start, start + 2, start + 4]);
      expect(scanAll(log, wantsA, start).offsets).toEqual([start + 2, start + 4]);
      // A page stops at its limit; `through` says how far it is complete.
      const page = log.scan({ afterOffset: 0, wants: wantsA, limit: 2, maxBytes: Infinity, maxScanned: Infinity });
      expect(page).toEqual({ offsets: [start, start + 2], through: start + 3 });
      const bounded = log.scan({ afterOffset: 0, wants: () => true, limit: 10, maxBytes: Infinity, maxScanned: 2 });
      expect(bounded).toEqual({ offsets: [start, start + 1], through: start + 1 });
      const below = log.scan({
        afterOffset: 0,
        wants: () => true,
        limit: 10,
        maxBytes: Infinity,
        maxScanned: Infinity,
        beforeOffset: start + 2,
      });
      expect(below.offsets).toEqual([start, start + 1]);
      // The first entry comes whatever its size; the next only within the byte bound.
      const size = log.frameBytes(start) as number;
      expect(log.scan({ afterOffset: 0, wants: () => true, limit: 10, maxBytes: 1, maxScanned: 10 }).offsets).toEqual([
        start,
      ]);
      const copy = Buffer.alloc(size);
      expect(log.copyFrame(start, copy, 0)).toBe(size);
      expect(copy.toString()).toBe(log.read(start)?.frame);
      expect(log.bytesFrom(start + 5)).toBe(log.frameBytes(start + 5));
      expect(log.bytes).toBe(log.bytesFrom(log.firstOffset));
      expect(log.topicHistory('a', { afterSeq: 1, limit: 1 }).map((entry) => entry.offset)).toEqual([start + 2]);
      expect(log.topicPosition('a', 1)).toEqual({
        offset: start + 1,
        first: 1,
        last: 3,
        count: 2,
        through: start + 5,
      });
      expect(log.topicPosition('a', 3)).toMatchObject({ offset: start + 5, count: 0 });
    });

    test('records, releases and forgets consumer-group positions', async () => {
      const log = await open(await store());
      log.setGroupFloor('g', 1);
      log.setGroupFloor('h', 1);
      log.setGroupFloor('g', 3);
      expect(Object.fromEntries(log.groups())).toEqual({ g: 3, h: 1 });
      log.releaseGroup('h');
      expect(log.groups().get('h')).toBe(1);
      log.deleteGroup('h');
      expect([...log.groups().keys()]).toEqual(['g']);
    });

    test('retention removes old messages, never one a group still needs, and a resume sees the gap', async () => {
      let now = 1_000_000;
      const log = await open(await store(), { now: () => now, retentionMs: 1_000 });
      const start = log.nextOffset;
      log.setGroupFloor('slow', start + 1);
      log.setGroupFloor('idle', start);
      log.releaseGroup('idle');
      await log.append([input('old1')]);
      await log.append([input('old2')]);
      now += 10_000;
      await log.append([input('new')]);
      await log.append([input('newer')]);
      // Offset start is old and needed by no holding group: gone. start + 1 is old but still needed.
      expect(log.read(start)).toBeUndefined();
      expect(log.read(start + 1)?.frame).toContain('old2');
      expect(log.firstOffset).toBe(start + 1);
      expect(log.topicRange('t')).toEqual({ first: 2, last: 4 });
      // A reader at seq 0 learns that seq 1 is gone: the first retained seq is above 1.
      expect(log.topicPosition('t', 0)).toMatchObject({ first: 2, count: 3 });
      log.setGroupFloor('slow', start + 3);
      await log.append([input('newest')]);
      expect(log.read(start + 1)).toBeUndefined();
      expect(log.firstOffset).toBe(start + 2);
      expect(seqs(log, 't')).toEqual([3, 4, 5]);
    });

    test('retention by size keeps the bytes under the bound, except what a group needs', async () => {
      const log = await open(await store(), { retentionBytes: 1 });
      const start = log.nextOffset;
      log.setGroupFloor('g', start + 2);
      await log.append([input('s1'), input('s2'), input('s3')]);
      await log.append([input('s4')]);
      expect(log.firstOffset).toBe(start + 2);
      expect(log.read(start + 2)?.frame).toContain('s3');
    });

    test('a restart keeps messages, seqs, epoch, ids and group positions, or is a new epoch', async () => {
      const fixture = await store();
      const first = await fixture.open();
      const start = first.nextOffset;
      await first.append([input('a', 'x'), input('b', 'y'), input('c', 'x')]);
      first.setGroupFloor('g', start + 2);
      const frame = first.read(start + 2)?.frame;
      await first.close();

      const second = await open(fixture);
      if (!fixture.durable) {
        expect(second.epoch).not.toBe(first.epoch);
        expect(second.read(start)).toBeUndefined();
        expect(second.topicRange('x')).toEqual({ first: 1, last: 0 });
        return;
      }
      expect(second.epoch).toBe(first.epoch);
      expect(second.nextOffset).toBe(start + 3);
      expect(second.read(start + 2)?.frame).toBe(frame);
      expect(second.topicRange('x')).toEqual({ first: 1, last: 2 });
      expect(second.groups().get('g')).toBe(start + 2);
      expect(await second.append([input('d', 'x'), input('a', 'x')])).toEqual([
        { seq: 3, duplicate: false },
        { seq: 1, duplicate: true },
      ]);
      expect(second.read(start + 3)).toMatchObject({ offset: start + 3, seq: 3, topic: 'x' });
    });

    test('refuses appends once closed', async () => {
      const fixture = await store();
      const log = await fixture.open();
      await log.close();
      await expect(log.append([input('late')])).rejects.toThrow(/closed/);
    });
  });
}
