import { hashPassword } from '@pubsub/auth';
import { silentLogger } from '@pubsub/log';
import {
  decodeLogPageMeta,
  decodeTopicPosition,
  encodeDelivery,
  LOG_PAGE_TYPE,
  patternMatches,
  unpackPositioned,
  type LogPageMeta,
  type TopicPositionReply,
} from '@pubsub/protocol';
import { testCertificate, writeUsersFile } from '@pubsub/testkit';
import fc from 'fast-check';
import { mkdtempSync } from 'node:fs';
import type { IncomingHttpHeaders } from 'node:http';
import { Agent, request } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, test } from 'vitest';
import { loadConfig, start } from '../src/server.js';
import { openFileLog } from '../src/store/file-log.js';
import type { MessageLog } from '../src/store/log.js';
import { LogState } from '../src/store/log-state.js';
import { createMemoryLog } from '../src/store/memory-log.js';

// Fixed seed so every run checks the same inputs; set FC_SEED to explore others.
const FC = { seed: Number(process.env.FC_SEED ?? 16_016), numRuns: 200 } as const;

interface RawResponse {
  status: number;
  headers: IncomingHttpHeaders;
  body: Buffer;
}

interface Served {
  readonly port: number;
  readonly log: MessageLog;
  get(path: string, auth?: string): Promise<RawResponse>;
  [Symbol.asyncDispose](): Promise<void>;
}

/** A msgqueue over real HTTPS on a free port, reading from `log`. */
async function serve(log: MessageLog, env: Record<string, string> = {}): Promise<Served> {
  const { certDir, ca } = await testCertificate();
  const queue = await start(
    loadConfig({ WS_CERT_DIR: certDir, MSGQUEUE_STORE: 'memory', MSGQUEUE_PORT: '0', ...env }),
    { logger: silentLogger(), log },
  );
  // Kept alive: a test pages through hundreds of requests, one TLS handshake each would dominate.
  const agent = new Agent({ keepAlive: true, maxSockets: 1 });
  return {
    port: queue.port,
    log,
    get: (path, auth = 'hello:test') =>
      new Promise((resolveGet, reject) => {
        request(`https://localhost:${queue.port}${path}`, { ca, auth, agent }, (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (chunk: Buffer) => chunks.push(chunk));
          res.on('end', () =>
            resolveGet({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }),
          );
          res.on('error', reject);
        })
          .on('error', reject)
          .end();
      }),
    [Symbol.asyncDispose]: async () => {
      agent.destroy();
      await queue.close();
    },
  };
}

const memoryLog = () =>
  createMemoryLog({
    dedupeWindowMs: 60_000,
    dedupeMaxIds: 100_000,
    retentionMs: 3_600_000,
    retentionBytes: 1024 * 1024 * 1024,
  });

const frame = (topic: string, id: string, content: string = JSON.stringify(id)) =>
  encodeDelivery({ topic, id, content });

interface Delivered {
  offset: number;
  topic: string;
  id: string;
  seq: number;
  epoch: string;
}

/** A `/log` answer: where it sits, and its messages with their offsets. */
function decodePage(response: RawResponse): LogPageMeta & { entries: Delivered[] } {
  expect(response.status, response.body.toString()).toBe(200);
  expect(response.headers['content-type']).toContain(LOG_PAGE_TYPE);
  const meta = decodeLogPageMeta(response.headers);
  if (meta === undefined) throw new Error(`no page headers: ${JSON.stringify(response.headers)}`);
  const batch = unpackPositioned(response.body);
  if (batch === undefined) throw new Error('not a positioned batch');
  const entries = batch.frames.map((text, i) => ({
    ...(JSON.parse(text.toString()) as Omit<Delivered, 'offset'>),
    offset: batch.offsets[i] as number,
  }));
  return { ...meta, entries };
}

function decodePosition(response: RawResponse): TopicPositionReply {
  expect(response.status, response.body.toString()).toBe(200);
  const reply = decodeTopicPosition(response.body.toString());
  if (reply === undefined) throw new Error(`not a position: ${response.body.toString()}`);
  return reply;
}

/** Appends `topics` in order, one message each, ids `m1`, `m2`, …; returns them with offset and seq. */
async function fill(log: MessageLog, topics: readonly string[], content?: (index: number) => string) {
  const inputs = topics.map((topic, i) => ({ topic, id: `m${i + 1}`, frame: frame(topic, `m${i + 1}`, content?.(i)) }));
  const firstOffset = log.nextOffset;
  const results = await log.append(inputs);
  return results.map((result, i) => ({ offset: firstOffset + i, topic: topics[i] as string, seq: result.seq }));
}

/** Follows X-Log-Through from `after` until the end of the log: every page's entries, in order. */
async function pageThrough(queue: Served, query: string, after = 0) {
  const entries: Delivered[] = [];
  let pages = 0;
  for (;;) {
    const page = decodePage(await queue.get(`/log?after=${after}${query}`));
    pages++;
    entries.push(...page.entries);
    expect(page.through).toBeGreaterThanOrEqual(after);
    if (page.through === after) return { entries, pages };
    for (const entry of page.entries) {
      expect(entry.offset).toBeGreaterThan(after);
      expect(entry.offset).toBeLessThanOrEqual(page.through);
    }
    after = page.through;
    if (pages > 10_000) throw new Error('paging does not end');
  }
}

const TOPICS = ['a', 'b', 'w.x', 'w.y', 'w.x.y', 'c'];
/** 60 messages over six topics, in an irregular interleaving. */
const MIXED = Array.from({ length: 60 }, (_, i) => TOPICS[(i * 7 + Math.floor(i / 5)) % TOPICS.length] as string);

describe('GET /log', () => {
  test('refuses bad parameters with 400 and a JSON BAD_REQUEST body', async () => {
    await using queue = await serve(memoryLog());
    await fill(queue.log, ['a']);
    for (const query of [
      'after=-1',
      'after=x',
      'after=1.5',
      'after=1e3',
      'after=',
      'after=1&after=2',
      'limit=0',
      'limit=10001',
      'limit=-3',
      'bytes=0',
      `bytes=${4 * 1024 * 1024 + 1}`,
      'before=0',
      'before=-1',
      'before=x',
      'subject=a%20b',
      'subject=a*',
      'subject=a.%3E.b',
      'subject=',
      'subject=a&subject=b%20c',
    ]) {
      const response = await queue.get(`/log?${query}`);
      expect(response.status, query).toBe(400);
      expect(response.headers['content-type'], query).toContain('application/json');
      expect(JSON.parse(response.body.toString()), query).toMatchObject({ code: 'BAD_REQUEST' });
    }
    // The bounds themselves are fine.
    for (const query of ['after=0', 'limit=1', 'limit=10000', 'bytes=1', `bytes=${4 * 1024 * 1024}`, 'before=1']) {
      expect((await queue.get(`/log?${query}`)).status, query).toBe(200);
    }
  });

  test('following X-Log-Through pages over every message exactly once, in log order, whatever the page size', async () => {
    await using queue = await serve(memoryLog());
    const appended = await fill(queue.log, MIXED, (i) => JSON.stringify('x'.repeat((i * 37) % 200)));
    const expected = appended.map(({ offset, topic, seq }) => ({ offset, topic, seq }));
    for (const query of ['&limit=1', '&limit=7', '&limit=1000', '&bytes=1', '&bytes=500', '&limit=3&bytes=700']) {
      const { entries, pages } = await pageThrough(queue, query);
      expect(
        entries.map(({ offset, topic, seq }) => ({ offset, topic, seq })),
        query,
      ).toEqual(expected);
      for (const entry of entries) expect(entry.epoch).toBe(queue.log.epoch);
      if (query === '&limit=7') expect(pages).toBe(Math.ceil(MIXED.length / 7) + 1);
    }
    // Starting in the middle gives the rest, and nothing before.
    const { entries } = await pageThrough(queue, '&limit=5', 30);
    expect(entries.map((entry) => entry.offset)).toEqual(expected.slice(30).map((entry) => entry.offset));
  });

  test('the page headers say the epoch, the first retained offset and how far the page reaches', async () => {
    await using queue = await serve(memoryLog());
    await fill(queue.log, MIXED);
    const page = decodePage(await queue.get('/log?after=10&limit=4'));
    expect(page).toMatchObject({ epoch: queue.log.epoch, first: 1, through: 14 });
    expect(page.entries.map((entry) => entry.offset)).toEqual([11, 12, 13, 14]);
    // At the end: nothing, and through stays where it was asked.
    const end = decodePage(await queue.get(`/log?after=${MIXED.length}`));
    expect(end).toMatchObject({ through: MIXED.length, entries: [] });
    expect((await queue.get(`/log?after=${MIXED.length}`)).body.length).toBe(0);
    // Beyond the end too.
    expect(decodePage(await queue.get('/log?after=500'))).toMatchObject({ through: 500, entries: [] });
  });

  test('subject filters by exact topics and by patterns, and no subject means every topic', async () => {
    await using queue = await serve(memoryLog());
    const appended = await fill(queue.log, MIXED);
    const wanted = (subjects: string[]) =>
      appended
        .filter((entry) => subjects.length === 0 || subjects.some((subject) => patternMatches(subject, entry.topic)))
        .map((entry) => entry.offset);
    const cases: [string, string[]][] = [
      ['a', ['a']],
      ['w.x', ['w.x']],
      ['a&subject=b', ['a', 'b']],
      ['w.*', ['w.*']],
      ['w.%3E', ['w.>']],
      ['a&subject=w.*', ['a', 'w.*']],
      ['*', ['*']],
      ['nothing.here', ['nothing.here']],
    ];
    for (const [query, subjects] of cases) {
      const { entries } = await pageThrough(queue, `&limit=4&subject=${query}`);
      expect(
        entries.map((entry) => entry.offset),
        query,
      ).toEqual(wanted(subjects));
    }
    // Spot checks of the pattern semantics the expectation relies on.
    expect(wanted(['w.*']).map((offset) => appended[offset - 1]?.topic)).not.toContain('w.x.y');
    expect(wanted(['w.>']).map((offset) => appended[offset - 1]?.topic)).toContain('w.x.y');
    const all = await pageThrough(queue, '&limit=9');
    expect(all.entries.map((entry) => entry.offset)).toEqual(wanted([]));
    // A sparse subject still moves on: through reaches the end even with nothing wanted.
    const none = decodePage(await queue.get('/log?after=0&subject=nothing.here'));
    expect(none).toMatchObject({ through: MIXED.length, entries: [] });
  });

  test('before bounds a page: nothing at or above it, and through stops below it', async () => {
    await using queue = await serve(memoryLog());
    await fill(queue.log, MIXED);
    const page = decodePage(await queue.get('/log?after=5&before=12'));
    expect(page.entries.map((entry) => entry.offset)).toEqual([6, 7, 8, 9, 10, 11]);
    expect(page.through).toBe(11);
    const filtered = decodePage(await queue.get('/log?after=0&before=20&subject=a'));
    expect(filtered.through).toBe(19);
    expect(filtered.entries.every((entry) => entry.offset < 20 && entry.topic === 'a')).toBe(true);
    expect(filtered.entries.length).toBe(MIXED.slice(0, 19).filter((topic) => topic === 'a').length);
    // A bound at or below the position: an empty page that does not move.
    for (const before of [1, 5, 6]) {
      expect(decodePage(await queue.get(`/log?after=5&before=${before}`)), `before=${before}`).toMatchObject({
        through: 5,
        entries: [],
      });
    }
    // A bound beyond the end changes nothing.
    expect(decodePage(await queue.get('/log?after=55&before=1000')).entries.map((entry) => entry.offset)).toEqual([
      56, 57, 58, 59, 60,
    ]);
  });

  test('bytes bounds a page, but its first message comes whatever its size', async () => {
    await using queue = await serve(memoryLog());
    await fill(queue.log, ['a', 'a', 'a'], () => JSON.stringify('y'.repeat(5_000)));
    const one = decodePage(await queue.get('/log?after=0&bytes=10'));
    expect(one.entries.map((entry) => entry.offset)).toEqual([1]);
    expect(one.through).toBe(1);
    const two = decodePage(await queue.get('/log?after=0&bytes=10500'));
    expect(two.entries.map((entry) => entry.offset)).toEqual([1, 2]);
    expect(two.through).toBe(2);
  });

  test('a file store answers only what is committed', async () => {
    let releaseSync!: () => void;
    let syncStarted!: () => void;
    const started = new Promise<void>((resolveStarted) => (syncStarted = resolveStarted));
    const release = new Promise<void>((resolveRelease) => (releaseSync = resolveRelease));
    let held = true;
    const log = await openFileLog({
      dir: mkdtempSync(join(tmpdir(), 'pubsub-log-read-')),
      dedupeWindowMs: 60_000,
      dedupeMaxIds: 1_000,
      retentionMs: 3_600_000,
      retentionBytes: 1024 * 1024 * 1024,
      segmentBytes: 1024 * 1024,
      logger: silentLogger(),
      commit: async (file, records) => {
        if (held) {
          syncStarted();
          await release;
        }
        await file.writev(records);
      },
    });
    await using queue = await serve(log);
    const appended = log.append(
      ['t', 't', 'u'].map((topic, i) => ({ topic, id: `c${i}`, frame: frame(topic, `c${i}`) })),
    );
    await started;
    try {
      // Assigned offsets 1-3, not on disk yet: invisible to readers.
      expect(log.nextOffset).toBe(4);
      expect(decodePage(await queue.get('/log?after=0'))).toMatchObject({ through: 0, entries: [] });
      expect(decodePosition(await queue.get('/position?topic=t&after=0'))).toMatchObject({
        offset: 0,
        count: 0,
        last: 0,
        through: 0,
      });
    } finally {
      // Released whatever happened above, or closing the log would wait for this commit forever.
      held = false;
      releaseSync();
    }
    await appended;
    const page = decodePage(await queue.get('/log?after=0'));
    expect(page.entries.map((entry) => [entry.offset, entry.topic, entry.seq])).toEqual([
      [1, 't', 1],
      [2, 't', 2],
      [3, 'u', 1],
    ]);
    expect(page.through).toBe(3);
    expect(decodePosition(await queue.get('/position?topic=t&after=0'))).toMatchObject({
      offset: 0,
      first: 1,
      last: 2,
      count: 2,
      through: 3,
    });
  });
});

describe('GET /position', () => {
  test('refuses bad parameters with 400 and a JSON BAD_REQUEST body', async () => {
    await using queue = await serve(memoryLog());
    for (const query of ['', 'after=1', 'topic=', 'topic=a%20b', 'topic=a.*', 'topic=a&after=-1', 'topic=a&after=x']) {
      const response = await queue.get(`/position?${query}`);
      expect(response.status, query).toBe(400);
      expect(JSON.parse(response.body.toString()), query).toMatchObject({ code: 'BAD_REQUEST' });
    }
  });

  test("maps a seq to an offset: the topic's messages after it, and only those, lie after that offset", async () => {
    await using queue = await serve(memoryLog());
    const appended = await fill(queue.log, MIXED);
    const last = appended.at(-1)?.offset as number;
    for (const topic of ['a', 'w.x.y', 'c']) {
      const mine = appended.filter((entry) => entry.topic === topic);
      const lastSeq = mine.at(-1)?.seq as number;
      for (let after = 0; after <= lastSeq + 1; after++) {
        const position = decodePosition(await queue.get(`/position?topic=${topic}&after=${after}`));
        const later = mine.filter((entry) => entry.seq > after);
        expect(position, `${topic} after ${after}`).toEqual({
          epoch: queue.log.epoch,
          offset: position.offset,
          first: 1,
          last: lastSeq,
          count: later.length,
          through: last,
        });
        for (const entry of mine) {
          if (entry.seq > after) expect(entry.offset).toBeGreaterThan(position.offset);
          else expect(entry.offset).toBeLessThanOrEqual(position.offset);
        }
        // Reading the log after that offset gives exactly the seqs after `after`.
        const { entries } = await pageThrough(queue, `&subject=${topic}`, position.offset);
        expect(entries.map((entry) => entry.seq)).toEqual(later.map((entry) => entry.seq));
      }
    }
    // A topic never seen: nothing to replay, and what comes next lies after the head.
    expect(decodePosition(await queue.get('/position?topic=never&after=0'))).toMatchObject({
      offset: last,
      first: 1,
      last: 0,
      count: 0,
      through: last,
    });
  });
});

describe('access', () => {
  let usersFile: string;
  beforeAll(async () => {
    const password = await hashPassword('pw');
    usersFile = writeUsersFile([
      { name: 'app', password, role: 'client', publish: ['>'], subscribe: ['>'] },
      { name: 'hop', password, role: 'popper' },
      { name: 'push', password, role: 'pusher' },
      { name: 'mon', password, role: 'monitor' },
    ]);
  });

  test('/log and /position are for poppers only: others (a pusher too) get 403, a wrong password 401', async () => {
    await using queue = await serve(memoryLog(), { USERS_FILE: usersFile });
    await fill(queue.log, ['a']);
    for (const path of ['/log?after=0', '/position?topic=a&after=0']) {
      for (const auth of ['app:pw', 'mon:pw', 'push:pw']) {
        const response = await queue.get(path, auth);
        expect(response.status, `${auth} on ${path}`).toBe(403);
        expect(JSON.parse(response.body.toString())).toMatchObject({ code: 'FORBIDDEN' });
      }
      expect((await queue.get(path, 'hop:wrong')).status).toBe(401);
      expect((await queue.get(path, 'hop:pw')).status).toBe(200);
    }
  });
});

/** Random logs: appends over a few topics and retention cuts, with a plain list as the model. */
type Step = { op: 'append'; topics: string[]; sizes: number[] } | { op: 'drop'; count: number };
const SUBJECTS = ['a', 'b', 'w.x', 'w.y', 'w.*', 'w.>', '*'];
const STEP: fc.Arbitrary<Step> = fc.oneof(
  {
    weight: 3,
    arbitrary: fc.record({
      op: fc.constant('append' as const),
      topics: fc.array(fc.constantFrom('a', 'b', 'w.x', 'w.y'), { maxLength: 8 }),
      sizes: fc.array(fc.nat(60), { minLength: 8, maxLength: 8 }),
    }),
  },
  { weight: 1, arbitrary: fc.record({ op: fc.constant('drop' as const), count: fc.nat(6) }) },
);

interface ModelEntry {
  offset: number;
  topic: string;
  seq: number;
  bytes: number;
}

function build(steps: readonly Step[]) {
  const state = new LogState({ epoch: 'e', dedupeWindowMs: 60_000, dedupeMaxIds: 100 });
  const model: ModelEntry[] = [];
  const lastSeq = new Map<string, number>();
  for (const step of steps) {
    if (step.op === 'append') {
      const inputs = step.topics.map((topic, i) => ({
        topic,
        id: undefined,
        frame: `{"topic":"${topic}","content":"${'z'.repeat(step.sizes[i] ?? 0)}"}`,
      }));
      const { added } = state.assign(inputs);
      added.forEach(({ offset }, i) => {
        const topic = step.topics[i] as string;
        const seq = (lastSeq.get(topic) ?? 0) + 1;
        lastSeq.set(topic, seq);
        model.push({ offset, topic, seq, bytes: state.frameBytes(offset) as number });
      });
    } else {
      const cut = (model[0]?.offset ?? state.nextOffset) + step.count;
      state.dropBefore(cut);
      while (model.length > 0 && (model[0]?.offset as number) < cut) model.shift();
    }
  }
  return { state, model, lastSeq };
}

describe('LogState.scan', () => {
  test('one scan: wanted, retained entries in order within its bounds, none it passed left out', () => {
    fc.assert(
      fc.property(
        fc.array(STEP, { maxLength: 25 }),
        fc.record({
          after: fc.nat(60),
          subjects: fc.subarray(SUBJECTS),
          limit: fc.integer({ min: 1, max: 6 }),
          maxBytes: fc.integer({ min: 1, max: 300 }),
          maxScanned: fc.integer({ min: 1, max: 12 }),
          before: fc.option(fc.integer({ min: 1, max: 70 }), { nil: undefined }),
        }),
        (steps, query) => {
          const { state, model } = build(steps);
          const wants = (topic: string) =>
            query.subjects.length === 0 || query.subjects.some((subject) => patternMatches(subject, topic));
          const result = state.scan({
            afterOffset: query.after,
            wants,
            limit: query.limit,
            maxBytes: query.maxBytes,
            maxScanned: query.maxScanned,
            ...(query.before !== undefined && { beforeOffset: query.before }),
          });
          const end = Math.min(query.before ?? Infinity, state.nextOffset);
          const owed = model.filter((entry) => entry.offset > query.after && entry.offset < end && wants(entry.topic));
          // Exactly the owed entries up to `through`, in order.
          expect(result.offsets).toEqual(
            owed.filter((entry) => entry.offset <= result.through).map((entry) => entry.offset),
          );
          expect(result.through).toBeGreaterThanOrEqual(query.after);
          // Within the bound, unless nothing is retained there: then it may say so up to the first retained offset.
          expect(result.through).toBeLessThanOrEqual(Math.max(end - 1, query.after, state.firstOffset - 1));
          expect(result.offsets.length).toBeLessThanOrEqual(query.limit);
          const bytes = result.offsets.reduce((sum, offset) => sum + (state.frameBytes(offset) as number), 0);
          if (result.offsets.length > 1) expect(bytes).toBeLessThanOrEqual(query.maxBytes);
          // It moves on whenever there is something left to look at.
          if (Math.max(query.after + 1, state.firstOffset) < end) expect(result.through).toBeGreaterThan(query.after);
        },
      ),
      FC,
    );
  });

  test('paging from any position with after = through reaches the end and yields every owed entry once', () => {
    fc.assert(
      fc.property(
        fc.array(STEP, { maxLength: 25 }),
        fc.record({
          start: fc.nat(40),
          subjects: fc.subarray(SUBJECTS),
          limit: fc.integer({ min: 1, max: 4 }),
          maxScanned: fc.integer({ min: 1, max: 5 }),
        }),
        (steps, { start, subjects, limit, maxScanned }) => {
          const { state, model } = build(steps);
          const wants = (topic: string) =>
            subjects.length === 0 || subjects.some((subject) => patternMatches(subject, topic));
          const seen: number[] = [];
          let after = start;
          for (let pages = 0; ; pages++) {
            const { offsets, through } = state.scan({ afterOffset: after, wants, limit, maxBytes: 100, maxScanned });
            seen.push(...offsets);
            if (through === after) break;
            after = through;
            expect(pages).toBeLessThan(1_000);
          }
          expect(after).toBe(Math.max(start, state.nextOffset - 1));
          expect(seen).toEqual(
            model.filter((entry) => entry.offset > start && wants(entry.topic)).map((entry) => entry.offset),
          );
        },
      ),
      FC,
    );
  });
});

describe('LogState.topicPosition', () => {
  test('offset, count, first and last agree with the retained entries, at any committed bound', () => {
    fc.assert(
      fc.property(
        fc.array(STEP, { maxLength: 25 }),
        fc.record({
          topic: fc.constantFrom('a', 'b', 'w.x', 'never'),
          afterSeq: fc.nat(25),
          before: fc.option(fc.integer({ min: 1, max: 70 }), { nil: undefined }),
        }),
        (steps, { topic, afterSeq, before }) => {
          const { state, model, lastSeq } = build(steps);
          const position = state.topicPosition(topic, afterSeq, before);
          const through = Math.min(before ?? Infinity, state.nextOffset) - 1;
          const mine = model.filter((entry) => entry.topic === topic);
          const committed = mine.filter((entry) => entry.offset <= through);
          const later = committed.filter((entry) => entry.seq > afterSeq);
          const { first } = state.topicRange(topic);
          expect(position.through).toBe(through);
          expect(position.count).toBe(later.length);
          expect(position.first).toBe(first);
          expect(position.first).toBe(mine[0]?.seq ?? (lastSeq.get(topic) ?? 0) + 1);
          expect(position.last).toBe(committed.at(-1)?.seq ?? first - 1);
          // Every retained message of the topic after the seq lies after the offset, every other at or before it.
          for (const entry of mine) if (entry.seq > afterSeq) expect(entry.offset).toBeGreaterThan(position.offset);
          for (const entry of committed)
            if (entry.seq <= afterSeq) expect(entry.offset).toBeLessThanOrEqual(position.offset);
          // Nothing committed after the seq: the offset is the committed head, so what comes next lies after it.
          if (later.length === 0) expect(position.offset).toBe(through);
          expect(position.offset).toBeGreaterThanOrEqual(0);
        },
      ),
      FC,
    );
  });
});
