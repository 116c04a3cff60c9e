import { silentLogger } from '@pubsub/log';
import { captureLogs, connect, testCertificate } from '@pubsub/testkit';
import { constants, mkdtempSync, readdirSync, readFileSync, statSync, truncateSync, writeFileSync } from 'node:fs';
import type { FileHandle } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, test, vi } from 'vitest';
import { encodeDelivery } from '@pubsub/protocol';
import { loadConfig, start } from '../src/server.js';
import { openFileLog, StoreCorruptError, type FileLogOptions } from '../src/store/file-log.js';
import type { AppendInput } from '../src/store/log.js';

const tempDir = () => mkdtempSync(join(tmpdir(), 'pubsub-log-'));

function options(dir: string, extra: Partial<FileLogOptions> = {}): FileLogOptions {
  return {
    dir,
    dedupeWindowMs: 120_000,
    dedupeMaxIds: 1_000_000,
    retentionMs: 3_600_000,
    retentionBytes: 1024 * 1024 * 1024,
    segmentBytes: 1024 * 1024,
    logger: silentLogger(),
    ...extra,
  };
}

/** A file log whose commits wait for `releaseSync()`; `started` resolves when the first begins. */
async function heldSyncLog() {
  let releaseSync!: () => void;
  let syncStarted!: () => void;
  const started = new Promise<void>((resolveStarted) => (syncStarted = resolveStarted));
  const release = new Promise<void>((resolveRelease) => (releaseSync = resolveRelease));
  const log = await openFileLog(
    options(tempDir(), {
      commit: async (file, records) => {
        syncStarted();
        await release;
        await file.writev(records);
      },
    }),
  );
  return { log, started, releaseSync };
}

const input = (id: string, topic = 't'): AppendInput => ({
  topic,
  id,
  frame: encodeDelivery({ topic, id, content: JSON.stringify(id) }),
});

const segmentFiles = (dir: string) =>
  readdirSync(dir)
    .filter((name) => name.endsWith('.seg'))
    .sort();

describe('file log', () => {
  test('keeps its data private: the directory 0700, segments, meta.json and groups.json 0600', async () => {
    const dir = join(tempDir(), 'data');
    const log = await openFileLog(options(dir));
    await log.append([input('a')]);
    log.setGroupFloor('g', 1);
    await log.close();
    const mode = (path: string) => statSync(path).mode & 0o777;
    expect(mode(dir)).toBe(0o700);
    const files = readdirSync(dir).sort();
    expect(files).toEqual([...segmentFiles(dir), 'groups.json', 'meta.json'].sort());
    for (const name of files) expect(mode(join(dir, name)), name).toBe(0o600);
  });

  test('cuts a torn record at the end of the log and keeps everything before it', async () => {
    const dir = tempDir();
    const log = await openFileLog(options(dir));
    for (const id of ['m1', 'm2', 'm3']) await log.append([input(id)]);
    await log.close();
    const [segment] = segmentFiles(dir);
    const path = join(dir, segment as string);
    truncateSync(path, statSync(path).size - 5);

    const logs = captureLogs('msgqueue');
    const reopened = await openFileLog(options(dir, { logger: logs.logger }));
    expect(reopened.nextOffset).toBe(3);
    expect(reopened.read(2)?.frame).toContain('"id":"m2"');
    expect(reopened.read(3)).toBeUndefined();
    expect(logs.lines.find((line) => line.msg === 'cut a torn record at the end of the log')).toBeDefined();
    // The next append goes where the torn one was, and a reopen sees a clean log.
    await reopened.append([input('m3 again')]);
    await reopened.close();
    const again = await openFileLog(options(dir));
    expect(again.read(3)?.frame).toContain('"id":"m3 again"');
    await again.close();
  });

  test('treats a zero-filled tail as torn', async () => {
    const dir = tempDir();
    const log = await openFileLog(options(dir));
    await log.append([input('m1')]);
    await log.close();
    const path = join(dir, segmentFiles(dir)[0] as string);
    writeFileSync(path, Buffer.concat([readFileSync(path), Buffer.alloc(64)]));
    const reopened = await openFileLog(options(dir));
    expect(reopened.nextOffset).toBe(2);
    await reopened.close();
  });

  test('refuses to start on damage with intact records after it', async () => {
    const dir = tempDir();
    const log = await openFileLog(options(dir));
    for (const id of ['m1', 'm2', 'm3']) await log.append([input(id)]);
    await log.close();
    const path = join(dir, segmentFiles(dir)[0] as string);
    const data = readFileSync(path);
    data[20] = (data[20] as number) ^ 0xff; // inside the first record's body
    writeFileSync(path, data);
    await expect(openFileLog(options(dir))).rejects.toThrow(StoreCorruptError);
  });

  test('refuses to start when an older segment is damaged', async () => {
    const dir = tempDir();
    const log = await openFileLog(options(dir, { segmentBytes: 1 }));
    for (const id of ['m1', 'm2', 'm3']) await log.append([input(id)]);
    await log.close();
    const files = segmentFiles(dir);
    expect(files.length).toBeGreaterThan(1);
    truncateSync(join(dir, files[0] as string), 10);
    await expect(openFileLog(options(dir, { segmentBytes: 1 }))).rejects.toThrow(/damaged/);
  });

  test('removes whole segments past retention, but none a consumer group still needs', async () => {
    // What the log reads after retention is the contract suite's (store-contract.ts); here, the files.
    const dir = tempDir();
    let now = 1_000_000;
    const log = await openFileLog(options(dir, { segmentBytes: 1, retentionMs: 1000, now: () => now }));
    log.setGroupFloor('slow', 2);
    await log.append([input('old1')]);
    await log.append([input('old2')]);
    now += 10_000;
    await log.append([input('new')]);
    await vi.waitFor(() => expect(segmentFiles(dir)[0]).toBe('00000000000000000002.seg'));
    log.setGroupFloor('slow', 4);
    await log.append([input('newer')]);
    await vi.waitFor(() => expect(segmentFiles(dir)[0]).toBe('00000000000000000003.seg'));
    await log.close();
  });

  test.runIf(process.platform === 'linux')(
    'commits to every segment, the first and those after a roll, through O_DSYNC so a commit is on disk when it returns',
    async () => {
      const dir = tempDir();
      const flagsOfCommits: number[] = [];
      const log = await openFileLog(
        options(dir, {
          segmentBytes: 1,
          commit: async (file: FileHandle, records: Buffer[]) => {
            const fdinfo = readFileSync(`/proc/self/fdinfo/${file.fd}`, 'utf8');
            flagsOfCommits.push(Number.parseInt(/^flags:\s+(\d+)/m.exec(fdinfo)?.[1] ?? '0', 8));
            await file.writev(records);
          },
        }),
      );
      await log.append([input('a')]);
      await log.append([input('b')]);
      expect(segmentFiles(dir).length).toBeGreaterThanOrEqual(2);
      expect(flagsOfCommits.map((flags) => flags & constants.O_DSYNC)).toEqual([constants.O_DSYNC, constants.O_DSYNC]);
      await log.close();
    },
  );

  test('groups the appends that arrive during one commit into the next one', async () => {
    const dir = tempDir();
    let commits = 0;
    const log = await openFileLog(
      options(dir, {
        commit: async (file: FileHandle, records: Buffer[]) => {
          commits++;
          await file.writev(records);
        },
      }),
    );
    await Promise.all(Array.from({ length: 100 }, (_, i) => log.append([input(`m${i}`)])));
    expect(commits).toBeLessThan(100);
    expect(commits).toBeGreaterThanOrEqual(1);
    await log.close();
  });

  test('the msgqueue delivers, replays or answers a resend of a message only after its fsync', async () => {
    const { log, started, releaseSync } = await heldSyncLog();
    const { certDir, ca } = await testCertificate();
    const append = vi.spyOn(log, 'append');
    await using queue = await start(loadConfig({ WS_CERT_DIR: certDir, MSGQUEUE_PORT: '0' }), {
      logger: silentLogger(),
      log,
    });
    const url = (path: string) => `wss://localhost:${queue.port}${path}`;
    const push = await connect(url('/pushmsg'), { ca });
    push.send(encodeDelivery({ topic: 't', id: 'durable', content: '1' }));
    await started;
    // A consumer arriving now makes the queue dispatch, and a resend on another connection is a
    // duplicate of a message that is not on disk yet: neither may get anything before the fsync.
    const consumer = await connect(url('/popmsg'), { ca });
    const resend = await connect(url('/pushmsg'), { ca });
    resend.send(encodeDelivery({ topic: 't', id: 'durable', content: '1' }));
    await vi.waitFor(() => expect(append).toHaveBeenCalledTimes(2));
    for (const client of [consumer, resend]) await client.roundTrip();
    expect([consumer.buffered, resend.buffered, push.buffered]).toEqual([[], [], []]);
    // Nor is it replayed to a resuming subscriber.
    expect(log.topicHistory('t', { afterSeq: 0, limit: 10 })).toEqual([]);
    releaseSync();
    expect(await consumer.next()).toMatchObject({ id: 'durable', seq: 1 });
    expect(log.topicHistory('t', { afterSeq: 0, limit: 10 }).map((entry) => entry.seq)).toEqual([1]);
    expect(await resend.next()).toEqual({ ack: 1, seq: [1], dup: [0] });
    expect(await push.next()).toEqual({ ack: 1, seq: [1] });
    for (const client of [consumer, resend, push]) await client.close();
  });

  test('the msgqueue acknowledges a push only after the fsync that covers it', async () => {
    const { log, started, releaseSync } = await heldSyncLog();
    const { certDir, ca } = await testCertificate();
    const append = vi.spyOn(log, 'append');
    await using queue = await start(loadConfig({ WS_CERT_DIR: certDir, MSGQUEUE_PORT: '0' }), {
      logger: silentLogger(),
      log,
    });
    const push = await connect(`wss://localhost:${queue.port}/pushmsg`, { ca });
    push.send(encodeDelivery({ topic: 't', id: 'durable', content: '1' }));
    await started;
    await push.roundTrip();
    expect(push.buffered).toEqual([]);
    // A second push is appended while the first fsync is still running, so it can share the next.
    push.send(encodeDelivery({ topic: 't', id: 'second', content: '2' }));
    await vi.waitFor(() => expect(append).toHaveBeenCalledTimes(2));
    releaseSync();
    expect(await push.next()).toEqual({ ack: 1, seq: [1] });
    expect(await push.next()).toEqual({ ack: 2, seq: [2] });
    await push.close();
  });
});
