import { check, connect, formatReport, HistoryRecorder, latch, type TestClient, within } from '@pubsub/testkit';
import { describe, expect, test } from 'vitest';
import {
  childServices,
  deliveredAll,
  expectNoAnomalies,
  recordDelivery,
  resumeCommand,
  startFaultChain,
  type Frame,
} from '@pubsub/testkit-chain';

const run = childServices();

/**
 * Reliability test plan F3: kill -9 of the subscriber service mid-stream, a restart on the same
 * port, and subscribing clients that resume from the last seq they got on each topic.
 */

const TOPICS = ['red', 'blue'] as const;
const PER_PUBLISHER = 400;
/** Messages one publishing client keeps sent and not yet answered. */
const WINDOW = 30;
/**
 * The last messages of each publisher wait until every subscribing client has sent its resume
 * commands, so live traffic always overlaps the replay (the restart may take longer than the
 * rest of the stream). Everything before them streams on through the kill and the outage.
 */
const HELD_FOR_RESUME = 60;

interface PublishingClient {
  readonly name: string;
  readonly client: TestClient;
  /** Index of the next message (`<name>-<next>`). */
  next: number;
  /** Sent and not answered yet. */
  readonly unanswered: Set<string>;
  readonly closes: number[];
}

/** A subscribing client that outlives its sockets: it remembers where it was on each topic. */
interface SubscribingClient {
  readonly name: string;
  client: TestClient;
  /** The seq of the last delivery on each topic, on any of its sockets. */
  readonly lastSeq: Map<string, number>;
  epoch: string | undefined;
  /** Close codes of its sockets, in order (the final, normal close excluded). */
  readonly closes: number[];
  /** The `subscribed` replies to its resume commands. */
  readonly resumed: Frame[];
  /** What it sent to resume, per topic. */
  readonly resumedFrom: Map<string, number>;
}

/** Resolves `done` after `count` calls to `countDown()`; no timer of its own (see `within`). */
function countdown(count: number) {
  let release: () => void = () => undefined;
  const done = new Promise<void>((resolveDone) => (release = resolveDone));
  let remaining = count;
  return {
    countDown() {
      if (--remaining === 0) release();
    },
    done,
  };
}

describe('kill -9 of the subscriber service under load', () => {
  test('subscribing clients see 1006, resume from their last seq after the restart, and miss or repeat nothing', async () => {
    const chain = await startFaultChain(run);
    const { ca } = chain;
    const history = new HistoryRecorder();
    const victim = chain.subscriber.proc;

    const total = 2 * PER_PUBLISHER;
    const killAfterAcks = total / 4;
    let acked = 0;
    let killed = false;
    let ackedAtKill = 0;
    let resumeSent = false;
    const refusals: string[] = [];
    const unexpectedFrames: string[] = [];
    const socketErrors: string[] = [];
    /** Problems with the frames that follow a resume reply: they must be seq from+1 … from+replayed. */
    const replayProblems: string[] = [];

    // Subscribing clients. One handler per socket records every frame as the client saw it.
    const firstSubscriptions = latch(2 * TOPICS.length, { name: 'first subscriptions', ms: 10_000 });
    const deadSockets = countdown(2);
    const resumeReplies = countdown(2 * TOPICS.length);
    const attachSubscriber = (sub: SubscribingClient, phase: 'first' | 'resume') => {
      const { ws } = sub.client;
      /** The replay being checked on this socket: topic, next expected seq, frames still to come. */
      let replay: { topic: string; seq: number; left: number } | undefined;
      ws.on('message', (data) => {
        const frame = JSON.parse((data as Buffer).toString()) as Frame;
        if (frame.type === 'message') {
          recordDelivery(history, sub.name, frame);
          const { topic = '', seq } = frame;
          if (seq !== undefined) sub.lastSeq.set(topic, seq);
          sub.epoch = frame.epoch ?? sub.epoch;
          if (replay !== undefined) {
            if (topic !== replay.topic || seq !== replay.seq)
              replayProblems.push(
                `${sub.name}: expected ${replay.topic} seq ${replay.seq} in the replay, got ${topic} seq ${seq}`,
              );
            replay = --replay.left === 0 ? undefined : { ...replay, seq: replay.seq + 1 };
          }
          // Killed from inside a delivery, with messages in flight on every hop.
          if (!killed && acked >= killAfterAcks) {
            killed = true;
            ackedAtKill = acked;
            victim.child.kill('SIGKILL');
          }
        } else if (frame.type === 'subscribed' && phase === 'first') {
          // The client is subscribed from here to the end: resuming is meant to fill the gap.
          history.subscribed({ subscriber: sub.name, topic: frame.topic ?? '' });
          firstSubscriptions.countDown();
        } else if (frame.type === 'subscribed') {
          sub.resumed.push(frame);
          if (replay !== undefined)
            replayProblems.push(`${sub.name}: a reply came ${replay.left} frames into a replay`);
          const left = frame.replayed ?? 0;
          replay = left > 0 ? { topic: frame.topic ?? '', seq: (frame.from ?? 0) + 1, left } : undefined;
          resumeReplies.countDown();
        } else {
          unexpectedFrames.push(`${sub.name}: ${JSON.stringify(frame)}`);
        }
      });
      ws.on('error', (err) => socketErrors.push(`${sub.name}: ${err.message}`));
      ws.once('close', (code) => {
        sub.closes.push(code);
        if (phase === 'first') deadSockets.countDown();
      });
    };
    const subscribers: SubscribingClient[] = [];
    for (const name of ['s1', 's2']) {
      const sub: SubscribingClient = {
        name,
        client: await connect(chain.subscribeUrl, { ca }),
        lastSeq: new Map(),
        epoch: undefined,
        closes: [],
        resumed: [],
        resumedFrom: new Map(),
      };
      subscribers.push(sub);
      attachSubscriber(sub, 'first');
      for (const topic of TOPICS) sub.client.send(`sub ${topic}`);
    }
    await firstSubscriptions.done;

    // Publishing clients: a steady stream with a bounded window, going on through the kill.
    let allAnswered: () => void = () => undefined;
    const answered = new Promise<void>((resolveAnswered) => (allAnswered = resolveAnswered));
    const publishers: PublishingClient[] = [];
    const pump = (pub: PublishingClient) => {
      const limit = resumeSent ? PER_PUBLISHER : PER_PUBLISHER - HELD_FOR_RESUME;
      while (pub.next < limit && pub.unanswered.size < WINDOW) {
        const n = pub.next++;
        const id = `${pub.name}-${n}`;
        const topic = TOPICS[n % TOPICS.length] as string;
        pub.unanswered.add(id);
        history.publishInvoked({ publisher: pub.name, topic, id, body: id });
        pub.client.send({ topic, content: id, id });
      }
    };
    for (const name of ['p1', 'p2']) {
      const pub: PublishingClient = {
        name,
        client: await connect(chain.publishUrl, { ca }),
        next: 0,
        unanswered: new Set(),
        closes: [],
      };
      publishers.push(pub);
      const { ws } = pub.client;
      ws.on('message', (data) => {
        const reply = JSON.parse((data as Buffer).toString()) as Frame;
        const id = reply.id ?? '';
        pub.unanswered.delete(id);
        if (reply.type === 'ack') {
          history.publishOk({ publisher: pub.name, id });
          acked++;
        } else {
          history.publishFailed({ publisher: pub.name, id });
          refusals.push(`${pub.name} ${id}: ${reply.code}`);
        }
        pump(pub);
        if (publishers.every((p) => p.next === PER_PUBLISHER && p.unanswered.size === 0)) allAnswered();
      });
      ws.on('error', (err) => socketErrors.push(`${pub.name}: ${err.message}`));
      ws.on('close', (code) => pub.closes.push(code));
    }
    for (const pub of publishers) pump(pub);

    await within(deadSockets.done, 20_000, () => `subscribing sockets not closed after the kill (killed: ${killed})`);
    expect(await victim.exited).toBeNull();
    expect(victim.child.signalCode).toBe('SIGKILL');
    expect(subscribers.map((sub) => sub.closes)).toEqual([[1006], [1006]]);
    const ackedAtClose = acked;

    expect(await chain.subscriber.restart()).toBe(chain.subscriber.port);
    const ackedAtRestart = acked;
    // The msgqueue's history is one epoch: any delivery tells it (each client resumes with its own).
    const epoch = subscribers.find((sub) => sub.epoch !== undefined)?.epoch;
    expect(epoch).toMatch(/^[0-9a-f]+$/);
    expect(subscribers.map((sub) => sub.epoch ?? epoch)).toEqual([epoch, epoch]);
    for (const sub of subscribers) {
      sub.client = await connect(chain.subscribeUrl, { ca });
      attachSubscriber(sub, 'resume');
      for (const topic of TOPICS) {
        const from = sub.lastSeq.get(topic) ?? 0;
        sub.resumedFrom.set(topic, from);
        sub.client.send(resumeCommand(topic, from, sub.epoch ?? epoch));
      }
    }
    resumeSent = true;
    for (const pub of publishers) pump(pub);
    await within(
      resumeReplies.done,
      15_000,
      () => `resume replies: ${JSON.stringify(subscribers.map((sub) => sub.resumed))}`,
    );
    const ackedAtResume = acked;

    await within(answered, 20_000, () => `not every publish answered:\n${formatReport(check(history.events))}`);
    const summary = () => {
      const report = check(history.events);
      const replayed = subscribers.flatMap((sub) => sub.resumed).reduce((sum, reply) => sum + (reply.replayed ?? 0), 0);
      const perClient = subscribers
        .flatMap((sub) =>
          sub.resumed.map((reply) => `${sub.name} ${reply.topic} from ${reply.from ?? '-'} +${reply.replayed ?? 0}`),
        )
        .join(', ');
      return (
        `kill -9 subscriber: sent ${report.counts.attempted}, acked ${report.counts.acked}, ` +
        `delivered ${report.counts.deliveries} (${report.counts.delivered} ids to ${subscribers.length} subscribers), ` +
        `replayed ${replayed} (${perClient}), lost ${report.lost.length}, duplicated ${report.duplicated.length}, ` +
        `reordered ${report.reordered.length}; acked at kill ${ackedAtKill}, when the sockets closed ${ackedAtClose}, ` +
        `at restart ${ackedAtRestart}, at resume ${ackedAtResume}` +
        (socketErrors.length === 0 ? '' : `; socket errors: ${socketErrors.join(', ')}`)
      );
    };
    // Every acknowledged message must reach both subscribers; wait for the last of them.
    await deliveredAll(
      history,
      subscribers.map((sub) => sub.client),
      { timeoutMs: 15_000, summary },
    );

    expectNoAnomalies(history);
    const report = check(history.events);
    expect(refusals).toEqual([]);
    expect(unexpectedFrames).toEqual([]);
    expect(report.counts.attempted).toBe(total);
    expect(report.counts.acked).toBe(total);

    // Each resume was answered for what was asked, fully recovered, and its replay was exactly
    // the seqs after `from`.
    for (const sub of subscribers) {
      const replies = [...sub.resumed].sort((a, b) => (a.topic ?? '').localeCompare(b.topic ?? ''));
      const asked = [...TOPICS].sort().map((topic) => ({
        type: 'subscribed',
        topic,
        from: sub.resumedFrom.get(topic),
        recovered: true,
        epoch,
        replayed: expect.any(Number) as number,
      }));
      expect(replies, sub.name).toEqual(asked);
    }
    expect(replayProblems).toEqual([]);
    // Messages were acked while no subscriber service ran, so something had to be replayed.
    expect(ackedAtRestart).toBeGreaterThan(ackedAtKill);
    const replayed = subscribers.flatMap((sub) => sub.resumed).reduce((sum, reply) => sum + (reply.replayed ?? 0), 0);
    expect(replayed).toBeGreaterThan(0);

    // The publishing side never noticed: its sockets stayed open, the other services up.
    expect(publishers.map((pub) => pub.closes)).toEqual([[], []]);
    for (const pub of publishers) expect(pub.client.ws.readyState).toBe(pub.client.ws.OPEN);
    for (const { proc } of [chain.msgqueue, chain.publisher]) {
      expect(proc.child.exitCode).toBeNull();
      expect(proc.child.signalCode).toBeNull();
    }
    expect(subscribers.map((sub) => sub.closes)).toEqual([[1006], [1006]]);
    await Promise.all(
      [...subscribers.map((sub) => sub.client), ...publishers.map((pub) => pub.client)].map((client) => client.close()),
    );
  }, 60_000);
});
