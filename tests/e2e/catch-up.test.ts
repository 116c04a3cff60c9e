import { silentLogger } from '@pubsub/log';
import * as msgqueue from '@pubsub/msgqueue';
import { encodeDelivery } from '@pubsub/protocol';
import type { ServiceHandle } from '@pubsub/service';
import * as subscriber from '@pubsub/subscriber';
import { captureLogs, connect, testCertificate, type CapturedLogs, type TestClient } from '@pubsub/testkit';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, test } from 'vitest';

type Env = Record<string, string>;

/** What a subscribing client receives: a delivery, a reply or a notice. */
interface Frame {
  type: string;
  topic?: string;
  id?: string;
  seq?: number;
  epoch?: string;
  code?: string;
  gap?: boolean;
  recovered?: boolean;
  from?: number;
  replayed?: number;
  reason?: string;
}

const BEHIND = 'reader behind the live stream; filling from the log';
const STALLED = 'closing a reader that stopped reading';
/** About 1 KB of content: a few thousand messages pass the default high-water mark (1 MiB) several times. */
const BIG = JSON.stringify('x'.repeat(1_000));

const message = (topic: string, id: string, content = BIG) => encodeDelivery({ topic, id, content });

interface Rig {
  readonly logs: CapturedLogs;
  subscribeClient(): Promise<TestClient>;
  /** Pushes frames straight into the msgqueue, as the publisher service would, and waits for its acks. */
  push(frames: readonly string[]): Promise<void>;
  /** Closes the msgqueue (the subscriber stays up). */
  stopQueue(): Promise<void>;
  /** Starts the msgqueue again on the same port. */
  startQueue(): Promise<void>;
  /** Closes the subscriber service and starts a new one (new clients connect to the new one). */
  restartSubscriber(): Promise<void>;
  [Symbol.asyncDispose](): Promise<void>;
}

/** A msgqueue and a subscriber service in this process on free ports; the subscriber's logs are captured. */
async function startRig(options: { queue?: Env; subscriber?: Env } = {}): Promise<Rig> {
  const { certDir, ca } = await testCertificate();
  const logs = captureLogs('subscriber');
  const base = { WS_CERT_DIR: certDir, MSGQUEUE_STORE: 'memory', UPSTREAM_BACKOFF_MAX_MS: '100' };
  const queueEnv = { ...base, ...options.queue };
  let queue: ServiceHandle | undefined = await msgqueue.start(
    msgqueue.loadConfig({ ...queueEnv, MSGQUEUE_PORT: '0' }),
    { logger: silentLogger() },
  );
  const queuePort = queue.port;
  // Its own state folder, kept across restartSubscriber(): the default one is the repository's,
  // shared with every other test that starts a subscriber.
  const dataDir = mkdtempSync(join(tmpdir(), 'pubsub-catch-up-'));
  const startSubscriber = () =>
    subscriber.start(
      subscriber.loadConfig({
        ...base,
        SUBSCRIBER_PORT: '0',
        SUBSCRIBER_QUEUE_URL: `wss://localhost:${queuePort}/popmsg`,
        SUBSCRIBER_DATA_DIR: dataDir,
        ...options.subscriber,
      }),
      { logger: logs.logger },
    );
  let service = await startSubscriber();
  const clients: TestClient[] = [];
  let pusher: TestClient | undefined;
  let pushed = 0;
  const closePusher = async () => {
    await pusher?.close();
    pusher = undefined;
  };
  return {
    logs,
    async subscribeClient() {
      const client = await connect(`wss://localhost:${service.port}/subscribe`, { ca });
      clients.push(client);
      return client;
    },
    async push(frames) {
      if (pusher === undefined) {
        pusher = await connect(`wss://localhost:${queuePort}/pushmsg`, { ca });
        pushed = 0;
      }
      const current = pusher;
      for (const frame of frames) current.send(frame);
      pushed += frames.length;
      while ((await current.next<{ ack: number }>()).ack < pushed);
    },
    async stopQueue() {
      await closePusher();
      await queue?.close();
      queue = undefined;
    },
    async startQueue() {
      queue = await msgqueue.start(msgqueue.loadConfig({ ...queueEnv, MSGQUEUE_PORT: String(queuePort) }), {
        logger: silentLogger(),
      });
    },
    async restartSubscriber() {
      await service.close();
      service = await startSubscriber();
    },
    async [Symbol.asyncDispose]() {
      // A paused client would never see its close frame.
      for (const client of clients) (socketOf(client) as ReturnType<typeof socketOf> | null)?.resume();
      await Promise.all(clients.map((client) => client.close()));
      await closePusher();
      await service.close();
      await queue?.close();
    },
  };
}

/** The TLS socket under a client: pausing it stops the client reading, as a stalled peer would. */
function socketOf(client: TestClient): { pause(): void; resume(): void } {
  return (client.ws as unknown as { _socket: { pause(): void; resume(): void } })._socket;
}

async function send(client: TestClient, command: string): Promise<Frame> {
  client.send(command);
  return client.next<Frame>();
}

async function subscribe(client: TestClient, subject: string): Promise<void> {
  expect(await send(client, `sub ${subject}`)).toEqual({ type: 'subscribed', topic: subject });
}

/** Every frame a client receives from now on, parsed, and a way to wait for a condition on them. */
function record(client: TestClient) {
  const frames: Frame[] = [];
  const waiters = new Set<() => void>();
  client.ws.on('message', (data) => {
    frames.push(JSON.parse((data as Buffer).toString()) as Frame);
    for (const wake of [...waiters]) wake();
  });
  const deliveries = () => frames.filter((frame) => frame.type === 'message');
  return {
    frames,
    deliveries,
    /** Resolves once `check` holds; rejects with `name` after `ms`, or if the socket closes first. */
    until(check: () => boolean, name: string, ms = 15_000): Promise<void> {
      if (check()) return Promise.resolve();
      if (client.ws.readyState === client.ws.CLOSED) {
        return Promise.reject(new Error(`"${name}": socket closed, with ${frames.length} frames received`));
      }
      return new Promise((resolveWait, reject) => {
        const done = (err?: Error) => {
          clearTimeout(timer);
          waiters.delete(wake);
          client.ws.off('close', onClose);
          if (err) reject(err);
          else resolveWait();
        };
        const wake = () => {
          if (check()) done();
        };
        const onClose = () => {
          if (!check()) done(new Error(`"${name}": socket closed first, with ${frames.length} frames received`));
        };
        const timer = setTimeout(
          () => done(new Error(`"${name}" timed out with ${frames.length} frames received`)),
          ms,
        );
        waiters.add(wake);
        client.ws.on('close', onClose);
      });
    },
  };
}

/** The seqs delivered on each topic, in the order they arrived. */
function seqsByTopic(frames: readonly Frame[]): Map<string, number[]> {
  const byTopic = new Map<string, number[]>();
  for (const frame of frames) {
    if (frame.type !== 'message') continue;
    const topic = frame.topic as string;
    let seqs = byTopic.get(topic);
    if (seqs === undefined) byTopic.set(topic, (seqs = []));
    seqs.push(frame.seq as number);
  }
  return byTopic;
}

const oneTo = (count: number) => Array.from({ length: count }, (_, i) => i + 1);

/**
 * Pushes batches made by `next` until the subscriber has logged that a reader left the live
 * stream and at least `atLeast` messages went in; returns how many were pushed.
 */
async function pushUntilBehind(rig: Rig, next: () => string, atLeast: number): Promise<number> {
  let behind = false;
  void rig.logs.waitFor((line) => line.msg === BEHIND).then(() => (behind = true));
  let pushed = 0;
  while (!behind || pushed < atLeast) {
    await rig.push(Array.from({ length: 250 }, next));
    pushed += 250;
    if (pushed > 40_000) throw new Error('no reader fell behind after 40,000 messages');
  }
  return pushed;
}

/** A frame maker that cycles through topics, counting what each got. */
function cycle(topics: readonly string[]) {
  const counts = new Map<string, number>(topics.map((topic) => [topic, 0]));
  let n = 0;
  return {
    counts,
    next(): string {
      const topic = topics[n++ % topics.length] as string;
      const count = (counts.get(topic) as number) + 1;
      counts.set(topic, count);
      return message(topic, `${topic}-${count}`);
    },
  };
}

describe('catch-up from the log', () => {
  test('a reader that reads nothing while behind is closed with 4100 after the stall timeout; readers on the same and another topic get every message in order', async () => {
    await using rig = await startRig({ subscriber: { SUBSCRIBER_STALL_TIMEOUT_MS: '300' } });
    const [stalled, same, other] = await Promise.all([
      rig.subscribeClient(),
      rig.subscribeClient(),
      rig.subscribeClient(),
    ]);
    await subscribe(stalled, 'flood');
    await subscribe(same, 'flood');
    await subscribe(other, 'side');
    const stalledSeen = record(stalled);
    const sameSeen = record(same);
    const otherSeen = record(other);
    socketOf(stalled).pause();
    const stalledClosed = stalled.closed();

    const topics = cycle(['flood', 'flood', 'flood', 'side']);
    await pushUntilBehind(rig, () => topics.next(), 4_000);
    const closing = await rig.logs.waitFor((line) => line.msg === STALLED);
    expect(closing.bufferedBytes).toBeGreaterThan(0);
    // Publishing goes on after the close; the others are not held up by it.
    await rig.push(Array.from({ length: 400 }, () => topics.next()));
    const floods = topics.counts.get('flood') as number;
    const sides = topics.counts.get('side') as number;
    await Promise.all([
      sameSeen.until(() => sameSeen.deliveries().length >= floods, 'same topic: every message'),
      otherSeen.until(() => otherSeen.deliveries().length >= sides, 'other topic: every message'),
    ]);

    // It reads again only now, within the second the server gives a closed slow client.
    socketOf(stalled).resume();
    const { code } = await stalledClosed;
    expect(code).toBe(4100);
    const last = stalledSeen.frames.at(-1);
    expect(last).toMatchObject({ type: 'error', code: 'CONSUMER_STALLED' });
    // Before its close: an unbroken run from the first message, each once, and nothing but deliveries.
    const before = stalledSeen.frames.slice(0, -1);
    expect(before.every((frame) => frame.type === 'message' && frame.topic === 'flood')).toBe(true);
    expect(before.map((frame) => frame.seq)).toEqual(oneTo(before.length));
    expect(before.length).toBeLessThan(floods);

    await same.roundTrip();
    await other.roundTrip();
    expect(sameSeen.frames.every((frame) => frame.type === 'message')).toBe(true);
    expect(otherSeen.frames.every((frame) => frame.type === 'message')).toBe(true);
    expect(seqsByTopic(sameSeen.frames)).toEqual(new Map([['flood', oneTo(floods)]]));
    expect(seqsByTopic(otherSeen.frames)).toEqual(new Map([['side', oneTo(sides)]]));
    expect(same.ws.readyState).toBe(same.ws.OPEN);
    expect(other.ws.readyState).toBe(other.ws.OPEN);
    expect(rig.logs.lines.filter((line) => line.msg === STALLED)).toHaveLength(1);
  });

  test('a socket on several topics and a pattern falls behind, reads again, and gets exactly its messages, each once, in order per topic', async () => {
    await using rig = await startRig();
    const client = await rig.subscribeClient();
    for (const subject of ['a', 'b', 'w.*']) await subscribe(client, subject);
    const seen = record(client);
    socketOf(client).pause();
    // `c`, `w` and `w.x.y` are not its own: `w.*` matches one token after `w.` only.
    const topics = cycle(['a', 'w.x', 'b', 'c', 'w.y', 'a', 'w.x.y', 'w', 'b', 'w.x']);
    await pushUntilBehind(rig, () => topics.next(), 4_000);
    socketOf(client).resume();
    // Publishing goes on while it catches up, so it rejoins with live messages on their way.
    for (let batch = 0; batch < 12; batch++) await rig.push(Array.from({ length: 100 }, () => topics.next()));
    const mine = ['a', 'b', 'w.x', 'w.y'];
    const owed = mine.reduce((sum, topic) => sum + (topics.counts.get(topic) as number), 0);
    await seen.until(() => seen.deliveries().length >= owed, 'every message it is owed');
    // Live again: one more message comes, and nothing else.
    await rig.push([topics.next()]);
    await seen.until(() => seen.deliveries().length >= owed + 1, 'the live message after the catch-up');
    await client.roundTrip();

    expect(seen.frames.filter((frame) => frame.type !== 'message')).toEqual([]);
    expect(rig.logs.lines.some((line) => line.msg === BEHIND)).toBe(true);
    expect(seqsByTopic(seen.frames)).toEqual(
      new Map(mine.map((topic) => [topic, oneTo(topics.counts.get(topic) as number)])),
    );
  });

  test('a msgqueue restart during a catch-up: the reader gets every message, in order, none twice', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'pubsub-catch-up-'));
    await using rig = await startRig({ queue: { MSGQUEUE_STORE: 'file', MSGQUEUE_DATA_DIR: dataDir } });
    const client = await rig.subscribeClient();
    const witness = await rig.subscribeClient();
    await subscribe(client, 'r');
    await subscribe(witness, 'r');
    const seen = record(client);
    const witnessSeen = record(witness);
    socketOf(client).pause();
    const topics = cycle(['r']);
    await pushUntilBehind(rig, () => topics.next(), 3_000);
    // Everything pushed so far has been routed: the witness, live, has it.
    const beforeRestart = topics.counts.get('r') as number;
    await witnessSeen.until(() => witnessSeen.deliveries().length >= beforeRestart, 'witness before the restart');

    await rig.stopQueue();
    // It reads what it was given while the msgqueue is away; the fill goes on once it is back.
    socketOf(client).resume();
    await seen.until(() => seen.deliveries().length >= 200, 'part of the catch-up while the msgqueue is down');
    await rig.startQueue();
    await rig.push(Array.from({ length: 300 }, () => topics.next()));
    const total = topics.counts.get('r') as number;
    await seen.until(() => seen.deliveries().length >= total, 'every message');
    await rig.push([topics.next()]);
    await seen.until(() => seen.deliveries().length >= total + 1, 'a live message after the catch-up');
    await client.roundTrip();

    expect(seen.frames.filter((frame) => frame.type !== 'message')).toEqual([]);
    expect(seen.deliveries().map((frame) => frame.seq)).toEqual(oneTo(total + 1));
    expect(new Set(seen.deliveries().map((frame) => frame.epoch)).size).toBe(1);
  });

  test('unsub during a catch-up: after the unsubscribed reply no message of that topic arrives; the other topic gets each of its messages once, in order', async () => {
    await using rig = await startRig();
    const client = await rig.subscribeClient();
    await subscribe(client, 'a');
    await subscribe(client, 'b');
    const seen = record(client);
    socketOf(client).pause();
    const topics = cycle(['a', 'b']);
    await pushUntilBehind(rig, () => topics.next(), 4_000);
    // Sent while it does not read: answered behind what is already queued for it.
    client.send('unsub a');
    await rig.logs.waitFor((line) => line.msg === 'command' && line.op === 'unsub' && line.topic === 'a');
    await rig.push(Array.from({ length: 400 }, () => topics.next()));
    socketOf(client).resume();
    const bs = topics.counts.get('b') as number;
    const replied = () => seen.frames.findIndex((frame) => frame.type === 'unsubscribed');
    await seen.until(
      () => replied() >= 0 && seqsByTopic(seen.frames).get('b')?.length === bs,
      'the reply and every b message',
    );
    await rig.push([message('a', 'a-late'), message('b', 'b-late')]);
    await seen.until(() => seqsByTopic(seen.frames).get('b')?.length === bs + 1, 'a live b message after the reply');
    await client.roundTrip();

    const reply = replied();
    expect(seen.frames[reply]).toEqual({ type: 'unsubscribed', topic: 'a' });
    expect(reply).toBeGreaterThan(0);
    const after = seen.frames.slice(reply + 1);
    expect(after.filter((frame) => frame.topic === 'a')).toEqual([]);
    expect(after.every((frame) => frame.type === 'message')).toBe(true);
    expect(seqsByTopic(seen.frames).get('b')).toEqual(oneTo(bs + 1));
    // What came before the reply was its a messages in order, from the first, none twice.
    const earlierA = seqsByTopic(seen.frames.slice(0, reply)).get('a') ?? [];
    expect(earlierA).toEqual(oneTo(earlierA.length));
  });

  test('a resume sent while the msgqueue is down waits, says so, then replays exactly what follows its seq and goes live', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'pubsub-resume-'));
    await using rig = await startRig({ queue: { MSGQUEUE_STORE: 'file', MSGQUEUE_DATA_DIR: dataDir } });
    const witness = await rig.subscribeClient();
    await subscribe(witness, 't');
    // Another topic in between, so offsets and seqs differ.
    await rig.push(['t', 'u', 't', 'u', 't', 't', 'u', 't'].map((topic, i) => message(topic, `${topic}${i}`, `${i}`)));
    const witnessSeen = record(witness);
    await witnessSeen.until(() => witnessSeen.deliveries().length >= 5, 'witness');
    const epoch = witnessSeen.deliveries()[0]?.epoch as string;
    expect(epoch).toMatch(/^[0-9a-f]+$/);

    await rig.stopQueue();
    const client = await rig.subscribeClient();
    client.send(`sub t from 2 ${epoch}`);
    // Answered only once the replay is written.
    client.send('sub u');
    const waiting = await client.next<Frame>();
    expect(waiting).toMatchObject({ type: 'waiting', topic: 't' });
    expect(waiting.reason).toMatch(/unreachable/);
    await rig.startQueue();
    expect(await client.next<Frame>()).toEqual({
      type: 'subscribed',
      topic: 't',
      from: 2,
      recovered: true,
      epoch,
      replayed: 3,
    });
    for (const seq of [3, 4, 5])
      expect(await client.next<Frame>()).toMatchObject({ type: 'message', topic: 't', seq, epoch });
    expect(await client.next<Frame>()).toEqual({ type: 'subscribed', topic: 'u' });
    await rig.push([message('t', 't-live'), message('u', 'u-live')]);
    expect(await client.next<Frame>()).toMatchObject({ type: 'message', topic: 't', seq: 6, epoch });
    expect(await client.next<Frame>()).toMatchObject({ type: 'message', topic: 'u', seq: 4, epoch });
    await client.roundTrip();
    expect(client.buffered).toEqual([]);
  });

  test('retention removes what a reader behind is owed: it is told with a gap notice before what follows, never a silent gap', async () => {
    await using rig = await startRig({ queue: { MSGQUEUE_RETENTION_BYTES: '1' } });
    const client = await rig.subscribeClient();
    await subscribe(client, 'r');
    const seen = record(client);
    socketOf(client).pause();
    const topics = cycle(['r']);
    await pushUntilBehind(rig, () => topics.next(), 4_000);
    // Retention runs as messages are appended: these drop what the subscriber has acked meanwhile.
    await rig.push(Array.from({ length: 250 }, () => topics.next()));
    socketOf(client).resume();
    await seen.until(() => seen.frames.some((frame) => frame.gap === true), 'the gap notice');
    await rig.push(Array.from({ length: 20 }, () => topics.next()));
    const total = topics.counts.get('r') as number;
    await seen.until(() => seen.deliveries().at(-1)?.seq === total, 'the last message');
    await client.roundTrip();

    const epoch = seen.deliveries()[0]?.epoch as string;
    const notices = seen.frames.filter((frame) => frame.type !== 'message');
    expect(notices.length).toBeGreaterThan(0);
    for (const notice of notices) {
      expect(notice).toEqual({ type: 'subscribed', topic: 'r', recovered: false, epoch, gap: true });
    }
    // Seqs only grow, from the first; every jump comes right after a gap notice.
    let last = 0;
    let told = false;
    let jumps = 0;
    for (const frame of seen.frames) {
      if (frame.type !== 'message') {
        told = true;
        continue;
      }
      const seq = frame.seq as number;
      expect(seq).toBeGreaterThan(last);
      if (seq !== last + 1) {
        expect(told, `seq ${seq} after ${last} without a gap notice`).toBe(true);
        jumps++;
      }
      told = false;
      last = seq;
    }
    expect(seen.deliveries()[0]?.seq).toBe(1);
    expect(jumps).toBeGreaterThan(0);
    expect(last).toBe(total);
  });

  test('on a subscriber that has routed nothing yet, a live sub and a resume on one socket: the replay, then only new messages', async () => {
    await using rig = await startRig();
    const witness = await rig.subscribeClient();
    await subscribe(witness, 't');
    await subscribe(witness, 'u');
    await rig.push(['t', 'u', 't', 'u', 't', 't', 'u', 't'].map((topic, i) => message(topic, `${topic}${i}`, `${i}`)));
    const witnessSeen = record(witness);
    await witnessSeen.until(() => witnessSeen.deliveries().length >= 8, 'witness');
    const epoch = witnessSeen.deliveries()[0]?.epoch as string;
    // A new subscriber process (a deploy): it has routed nothing, the msgqueue keeps the history.
    await rig.restartSubscriber();
    const client = await rig.subscribeClient();
    await subscribe(client, 'u');
    client.send(`sub t from 2 ${epoch}`);
    expect(await client.next<Frame>()).toEqual({
      type: 'subscribed',
      topic: 't',
      from: 2,
      recovered: true,
      epoch,
      replayed: 3,
    });
    for (const seq of [3, 4, 5]) expect(await client.next<Frame>()).toMatchObject({ type: 'message', topic: 't', seq });
    await rig.push([message('u', 'u-live'), message('t', 't-live')]);
    // `sub u` was live: u's messages from before it are not its to get.
    expect(await client.next<Frame>()).toMatchObject({ type: 'message', topic: 'u', seq: 4 });
    expect(await client.next<Frame>()).toMatchObject({ type: 'message', topic: 't', seq: 6 });
    await client.roundTrip();
    expect(client.buffered).toEqual([]);
  });

  test('on a subscriber that has routed nothing yet, the command after a resume is answered once the replay is written', async () => {
    await using rig = await startRig();
    const witness = await rig.subscribeClient();
    await subscribe(witness, 't');
    await rig.push(['t', 'u', 't', 't', 'u', 't', 't'].map((topic, i) => message(topic, `${topic}${i}`, `${i}`)));
    const witnessSeen = record(witness);
    await witnessSeen.until(() => witnessSeen.deliveries().length >= 5, 'witness');
    const epoch = witnessSeen.deliveries()[0]?.epoch as string;
    await rig.restartSubscriber();
    const client = await rig.subscribeClient();
    const seen = record(client);
    client.send(`sub t from 2 ${epoch}`);
    client.send('sub u');
    // Nothing is published meanwhile: the replay alone must be enough for the next reply.
    await seen.until(() => seen.frames.length >= 5, 'the resume, its replay and the next reply', 5_000);
    expect(seen.frames).toEqual([
      { type: 'subscribed', topic: 't', from: 2, recovered: true, epoch, replayed: 3 },
      expect.objectContaining({ type: 'message', topic: 't', seq: 3 }),
      expect.objectContaining({ type: 'message', topic: 't', seq: 4 }),
      expect.objectContaining({ type: 'message', topic: 't', seq: 5 }),
      { type: 'subscribed', topic: 'u' },
    ]);
  });
});
