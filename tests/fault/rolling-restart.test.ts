/**
 * Reliability test plan F4: a graceful rolling restart under load. The three services run as child
 * processes; msgqueue, then publisher, then subscriber get SIGTERM, exit 0 and are started again on
 * the same port, one at a time, each step waiting until every service answers /ready. Publishing
 * clients keep a window of messages in flight throughout and resend what was not acknowledged, by
 * id, when their publisher comes back; subscribing clients resume from their last seq when theirs
 * does. The checker must find nothing lost, duplicated or reordered.
 */
import { check, connect, formatReport, HistoryRecorder, latch, type TestClient, within, ready } from '@pubsub/testkit';
import { describe, expect, test } from 'vitest';
import {
  childServices,
  deliveredAll,
  expectNoAnomalies,
  recordDelivery,
  resumeCommand,
  startFaultChain,
  type FaultChain,
  type ServiceName,
  type Frame,
} from '@pubsub/testkit-chain';

const run = childServices();

const TOPICS = ['red', 'blue'] as const;
/** Messages one publishing client keeps sent and not yet acknowledged. */
const WINDOW = 20;
/** New messages each publishing client may send per phase (before each restart, and after the last). */
const STEP = 150;
/** A service is stopped once this many of its phase's messages are acknowledged: the rest are still to come. */
const STOP_AFTER = STEP / 2;
/** Bound on one graceful stop; the services' own deadline (SHUTDOWN_TIMEOUT_MS) is 10 s. */
const STOP_MS = 15_000;

/** A publishing client that outlives its sockets: what was not acknowledged is sent again, by id. */
interface PublishingClient {
  readonly name: string;
  client: TestClient;
  /** Index of the next new message (`<name>-<next>`). */
  next: number;
  /** Sent and not acknowledged, in send order: id → topic. */
  readonly unacked: Map<string, string>;
  /** Sent on the current socket with no outcome recorded yet. */
  readonly open: Set<string>;
  /** The publisher said it is shutting down: send nothing more on this socket. */
  draining: boolean;
  readonly closes: number[];
  /** Ids sent again on a new socket. */
  resent: number;
}

/** A subscribing client that outlives its sockets: it remembers where it was on each topic. */
interface SubscribingClient {
  readonly name: string;
  client: TestClient;
  readonly lastSeq: Map<string, number>;
  epoch: string | undefined;
  readonly closes: number[];
  /** The `subscribed` replies to its resume commands. */
  readonly resumed: Frame[];
}

/** How one graceful stop went. */
interface StopRecord {
  service: ServiceName;
  exitCode: number | null;
  /** From the signal to the process's exit. */
  ms: number;
  /** Messages sent and not yet acknowledged when the signal went out. */
  inFlight: number;
}

describe('rolling restart with SIGTERM under load', () => {
  test('msgqueue, publisher, subscriber in turn: nothing acknowledged is lost or delivered twice', async () => {
    const chain: FaultChain = await startFaultChain(run);
    const { ca } = chain;
    const history = new HistoryRecorder();
    const refusals: string[] = [];
    const unexpectedFrames: string[] = [];
    const socketErrors: string[] = [];
    const ackedIds = new Set<string>();
    const stops: StopRecord[] = [];
    let limit = STEP;

    // Resolves the waiter once this many distinct messages are acknowledged; checked on every ack.
    let ackWaiter: { count: number; resolve: () => void } | undefined;
    const whenAcked = (count: number) =>
      new Promise<void>((resolveAcked) => {
        if (ackedIds.size >= count) resolveAcked();
        else ackWaiter = { count, resolve: resolveAcked };
      });
    let answeredWaiter: (() => void) | undefined;

    // --- subscribing clients
    const attachSubscriber = (sub: SubscribingClient, phase: 'first' | 'resume', replies: () => void) => {
      const { ws } = sub.client;
      ws.on('message', (data) => {
        const frame = JSON.parse((data as Buffer).toString()) as Frame;
        if (frame.type === 'message') {
          recordDelivery(history, sub.name, frame);
          if (frame.seq !== undefined) sub.lastSeq.set(frame.topic ?? '', frame.seq);
          sub.epoch = frame.epoch ?? sub.epoch;
        } else if (frame.type === 'subscribed') {
          // Subscribed once, from here to the end: a resume is meant to fill the gap.
          if (phase === 'first') history.subscribed({ subscriber: sub.name, topic: frame.topic ?? '' });
          else sub.resumed.push(frame);
          replies();
        } else {
          unexpectedFrames.push(`${sub.name}: ${JSON.stringify(frame)}`);
        }
      });
      ws.on('error', (err) => socketErrors.push(`${sub.name}: ${err.message}`));
      ws.once('close', (code) => sub.closes.push(code));
    };
    const subscribers: SubscribingClient[] = [];
    const firstSubscriptions = latch(2 * TOPICS.length, { name: 'first subscriptions' });
    for (const name of ['s1', 's2']) {
      const sub: SubscribingClient = {
        name,
        client: await connect(chain.subscribeUrl, { ca }),
        lastSeq: new Map(),
        epoch: undefined,
        closes: [],
        resumed: [],
      };
      subscribers.push(sub);
      attachSubscriber(sub, 'first', () => firstSubscriptions.countDown());
      for (const topic of TOPICS) sub.client.send(`sub ${topic}`);
    }
    await firstSubscriptions.done;

    // --- publishing clients
    const publishers: PublishingClient[] = [];
    const send = (pub: PublishingClient, id: string, topic: string) => {
      history.publishInvoked({ publisher: pub.name, topic, id, body: id });
      pub.open.add(id);
      pub.client.send({ topic, content: id, id });
    };
    const pump = (pub: PublishingClient) => {
      const { ws } = pub.client;
      while (ws.readyState === ws.OPEN && !pub.draining && pub.next < limit && pub.unacked.size < WINDOW) {
        const n = pub.next++;
        const id = `${pub.name}-${n}`;
        const topic = TOPICS[n % TOPICS.length] as string;
        pub.unacked.set(id, topic);
        send(pub, id, topic);
      }
    };
    const allAnswered = () => publishers.every((pub) => pub.next === limit && pub.unacked.size === 0);
    const attachPublisher = (pub: PublishingClient) => {
      const { ws } = pub.client;
      ws.on('message', (data) => {
        const reply = JSON.parse((data as Buffer).toString()) as Frame;
        const id = reply.id ?? '';
        pub.open.delete(id);
        if (reply.type === 'ack') {
          pub.unacked.delete(id);
          history.publishOk({ publisher: pub.name, id });
          ackedIds.add(id);
          if (ackWaiter !== undefined && ackedIds.size >= ackWaiter.count) {
            ackWaiter.resolve();
            ackWaiter = undefined;
          }
        } else if (reply.code === 'SHUTTING_DOWN') {
          // Not taken (or, past the publisher's deadline, not confirmed): sent again once it is back.
          history.publishUnknown({ publisher: pub.name, id });
          pub.draining = true;
          refusals.push(`${pub.name} ${id}: ${reply.code}`);
        } else {
          pub.unacked.delete(id);
          history.publishFailed({ publisher: pub.name, id });
          refusals.push(`${pub.name} ${id}: ${reply.code}`);
        }
        pump(pub);
        if (allAnswered()) answeredWaiter?.();
      });
      ws.on('error', (err) => socketErrors.push(`${pub.name}: ${err.message}`));
      ws.once('close', (code) => {
        pub.closes.push(code);
        // No answer came on this socket: the outcome of each of these is unknown.
        for (const id of pub.open) history.publishUnknown({ publisher: pub.name, id });
        pub.open.clear();
      });
    };
    for (const name of ['p1', 'p2']) {
      const pub: PublishingClient = {
        name,
        client: await connect(chain.publishUrl, { ca }),
        next: 0,
        unacked: new Map(),
        open: new Set(),
        draining: false,
        closes: [],
        resent: 0,
      };
      publishers.push(pub);
      attachPublisher(pub);
    }
    const pumpAll = () => publishers.forEach(pump);
    pumpAll();

    /** SIGTERM once half of this phase's messages are acknowledged, then a new process on the same port. */
    const restart = async (service: ServiceName): Promise<void> => {
      const phaseStart = ackedIds.size;
      await within(
        whenAcked(phaseStart + STOP_AFTER),
        20_000,
        () => `${service} phase: ${ackedIds.size - phaseStart} of ${STOP_AFTER} acks`,
      );
      const old = chain[service].proc;
      // The services that dial the msgqueue log a new 'upstream connected' once they reach the new one.
      const marks = { publisher: chain.publisher.proc.lines.length, subscriber: chain.subscriber.proc.lines.length };
      const inFlight = publishers.reduce((sum, pub) => sum + pub.unacked.size, 0);
      const signalled = Date.now();
      old.child.kill('SIGTERM');
      const exitCode = await within(old.exited, STOP_MS, () => `${service} did not exit after SIGTERM`);
      stops.push({ service, exitCode, ms: Date.now() - signalled, inFlight });
      expect(exitCode, `${service} exit code`).toBe(0);
      expect(old.lines.some((line) => line.includes('"msg":"closed"'))).toBe(true);

      await within(chain[service].restart(), 20_000, () => `restarted ${service} not listening`);
      if (service === 'msgqueue') {
        await within(
          Promise.all([
            chain.publisher.proc.waitForLog('upstream connected', marks.publisher),
            chain.subscriber.proc.waitForLog('upstream connected', marks.subscriber),
          ]),
          20_000,
          () => 'publisher and subscriber did not reconnect to the restarted msgqueue',
        );
      } else {
        await within(
          chain[service].proc.waitForLog('upstream connected'),
          20_000,
          () => `restarted ${service} not connected`,
        );
      }
      for (const { port } of [chain.msgqueue, chain.publisher, chain.subscriber])
        expect((await ready(port, ca)).status, `/ready on ${port}`).toBe(200);
    };

    // 1. msgqueue: publishing and subscribing clients stay connected; the publisher buffers and resends.
    await restart('msgqueue');
    limit += STEP;
    pumpAll();

    // 2. publisher: its clients get 1001, reconnect, and resend everything unacknowledged by id.
    await restart('publisher');
    for (const pub of publishers) {
      pub.client = await connect(chain.publishUrl, { ca });
      pub.draining = false;
      attachPublisher(pub);
      for (const [id, topic] of pub.unacked) {
        send(pub, id, topic);
        pub.resent++;
      }
    }
    limit += STEP;
    pumpAll();

    // 3. subscriber: its clients get 1001, reconnect, and resume each topic from their last seq.
    await restart('subscriber');
    const resumeReplies = latch(subscribers.length * TOPICS.length, { name: 'resume replies', ms: 15_000 });
    for (const sub of subscribers) {
      sub.client = await connect(chain.subscribeUrl, { ca });
      attachSubscriber(sub, 'resume', () => resumeReplies.countDown());
      for (const topic of TOPICS) {
        sub.client.send(resumeCommand(topic, sub.lastSeq.get(topic) ?? 0, sub.epoch));
      }
    }
    await resumeReplies.done;

    // A last stretch after the last restart, then every message must be answered and delivered.
    limit += STEP;
    const answered = new Promise<void>((resolveAnswered) => (answeredWaiter = resolveAnswered));
    pumpAll();
    if (allAnswered()) answeredWaiter?.();
    await within(answered, 20_000, () => `not every publish answered:\n${formatReport(check(history.events))}`);
    const summary = () => {
      const report = check(history.events);
      const resent = publishers.reduce((sum, pub) => sum + pub.resent, 0);
      const replayed = subscribers.flatMap((sub) => sub.resumed).reduce((sum, reply) => sum + (reply.replayed ?? 0), 0);
      return (
        `rolling restart: sent ${report.counts.attempted} (+${resent} resent, ${refusals.length} refused while shutting down), ` +
        `acked ${report.counts.acked}, delivered ${report.counts.deliveries} (${report.counts.delivered} ids to ${subscribers.length} subscribers), ` +
        `replayed on resume ${replayed}, lost ${report.lost.length}, duplicated ${report.duplicated.length}, reordered ${report.reordered.length}; ` +
        stops
          .map((stop) => `${stop.service} exit ${stop.exitCode} in ${stop.ms} ms with ${stop.inFlight} in flight`)
          .join(', ') +
        (socketErrors.length === 0 ? '' : `; socket errors: ${socketErrors.join(', ')}`)
      );
    };
    await deliveredAll(
      history,
      subscribers.map((sub) => sub.client),
      { timeoutMs: 15_000, summary },
    );

    expectNoAnomalies(history);
    const report = check(history.events);
    expect(report.counts.attempted).toBe(publishers.length * limit);
    expect(report.counts.acked).toBe(publishers.length * limit);
    // The only refusals are the publisher's while it shut down, and those were sent again.
    expect(refusals.filter((refusal) => !refusal.endsWith('SHUTTING_DOWN'))).toEqual([]);
    expect(unexpectedFrames).toEqual([]);
    expect(stops.map((stop) => [stop.service, stop.exitCode])).toEqual([
      ['msgqueue', 0],
      ['publisher', 0],
      ['subscriber', 0],
    ]);
    // Messages were in flight at every stop.
    for (const stop of stops) expect(stop.inFlight, stop.service).toBeGreaterThan(0);
    // Clients of the stopped service were told it is going away; the others never noticed.
    expect(publishers.map((pub) => pub.closes)).toEqual([[1001], [1001]]);
    expect(subscribers.map((sub) => sub.closes)).toEqual([[1001], [1001]]);
    for (const sub of subscribers) {
      expect(
        sub.resumed.map((reply) => reply.recovered),
        sub.name,
      ).toEqual([true, true]);
    }
    await Promise.all(
      [...subscribers.map((sub) => sub.client), ...publishers.map((pub) => pub.client)].map((client) => client.close()),
    );
  }, 120_000);
});
