/**
 * Reliability test plan F2: kill -9 of the publisher service mid-stream, then a restart on the same
 * port. The publishing clients resend what was never acknowledged, by id; the msgqueue's dedupe
 * window must keep the copies it already stored from reaching subscribers twice.
 */
import { check, connect, formatReport, HistoryRecorder, type TestClient, within } from '@pubsub/testkit';
import { describe, expect, test } from 'vitest';
import { childServices, deliveredAll, recordedSubscribers, startFaultChain } from '@pubsub/testkit-chain';

const run = childServices();

const PER_PUBLISHER = 400;
/** Messages one publishing client keeps sent and not yet answered. */
const WINDOW = 30;

interface Reply {
  type: string;
  id: string;
  seq?: number;
  code?: string;
}

/** A publishing client that survives its socket: what it sent and has no answer for is resent by id. */
interface PublishingClient {
  readonly name: string;
  client: TestClient;
  /** Index of the next new message (`<name>-<next>`). */
  next: number;
  /** Sent, no answer yet (on this connection or a dead one), in send order: id → topic. */
  readonly unacked: Map<string, string>;
  /** Close codes of its sockets, in order. */
  readonly closes: number[];
  /** Ids sent again after the reconnect. */
  readonly resent: string[];
}

describe('kill -9 of the publisher under load', () => {
  test('clients see 1006, resend unacked ids after the restart, and nothing is lost or delivered twice', async () => {
    const chain = await startFaultChain(run);
    const { ca } = chain;
    const history = new HistoryRecorder();
    const topics = ['red', 'blue'];
    const subscribers = await recordedSubscribers(chain, history, { names: ['s1', 's2'], topics });
    const subscriberCloses: string[] = [];
    for (const [name, client] of subscribers) {
      client.ws.on('close', (code) => subscriberCloses.push(`${name}: ${code}`));
    }

    const total = 2 * PER_PUBLISHER;
    const killAfterAcks = total / 4;
    /** The seq each acked id was acked with. */
    const ackSeqs = new Map<string, number | undefined>();
    const refusals: string[] = [];
    const socketErrors: string[] = [];
    let acked = 0;
    let killed = false;
    const victim = chain.publisher.proc;
    let killPoint: () => void = () => undefined;
    const killedAt = new Promise<void>((resolveKill) => (killPoint = resolveKill));
    let closedSockets = 0;
    let allClosed: () => void = () => undefined;
    const deadSockets = new Promise<void>((resolveClosed) => (allClosed = resolveClosed));
    let allAnswered: () => void = () => undefined;
    const answered = new Promise<void>((resolveAnswered) => (allAnswered = resolveAnswered));

    const send = (pub: PublishingClient, id: string, topic: string) => {
      history.publishInvoked({ publisher: pub.name, topic, id, body: id });
      pub.client.send({ topic, content: id, id });
    };
    // Keeps WINDOW messages in flight while the socket is open: after the kill too, until the
    // client sees the close, as a real client would.
    const pump = (pub: PublishingClient) => {
      while (pub.client.ws.readyState === pub.client.ws.OPEN && pub.next < PER_PUBLISHER && pub.unacked.size < WINDOW) {
        const n = pub.next++;
        const id = `${pub.name}-${n}`;
        const topic = topics[n % 2] as string;
        pub.unacked.set(id, topic);
        send(pub, id, topic);
      }
    };
    const publishers: PublishingClient[] = [];
    const checkAnswered = () => {
      if (killed && publishers.every((pub) => pub.next === PER_PUBLISHER && pub.unacked.size === 0)) allAnswered();
    };
    const attach = (pub: PublishingClient) => {
      const { ws } = pub.client;
      ws.on('message', (data) => {
        const reply = JSON.parse((data as Buffer).toString()) as Reply;
        pub.unacked.delete(reply.id);
        if (reply.type === 'ack') {
          history.publishOk({ publisher: pub.name, id: reply.id });
          ackSeqs.set(reply.id, reply.seq);
          // Killed from inside the ack stream, with messages in flight on both client sockets.
          if (++acked === killAfterAcks) {
            killed = true;
            victim.child.kill('SIGKILL');
            killPoint();
          }
        } else {
          history.publishFailed({ publisher: pub.name, id: reply.id });
          refusals.push(`${pub.name} ${reply.id}: ${reply.code}`);
        }
        pump(pub);
        checkAnswered();
      });
      ws.on('error', (err) => socketErrors.push(`${pub.name}: ${err.message}`));
      ws.once('close', (code) => {
        pub.closes.push(code);
        // No answer came on this socket: the outcome of each of these is unknown.
        for (const id of pub.unacked.keys()) history.publishUnknown({ publisher: pub.name, id });
        if (++closedSockets === publishers.length) allClosed();
      });
    };
    for (const name of ['p1', 'p2']) {
      const pub: PublishingClient = {
        name,
        client: await connect(chain.publishUrl, { ca }),
        next: 0,
        unacked: new Map(),
        closes: [],
        resent: [],
      };
      publishers.push(pub);
      attach(pub);
    }
    for (const pub of publishers) pump(pub);

    await within(killedAt, 20_000, () => `only ${acked} of ${killAfterAcks} acks before the kill point`);
    await within(deadSockets, 10_000, () => `${closedSockets} of ${publishers.length} publishing sockets closed`);
    expect(await victim.exited).toBeNull();
    expect(victim.child.signalCode).toBe('SIGKILL');
    expect(publishers.map((pub) => pub.closes)).toEqual([[1006], [1006]]);
    const inFlightAtClose = publishers.reduce((sum, pub) => sum + pub.unacked.size, 0);
    // The msgqueue has read the dead publisher's hop to its end before the new one connects.
    const hopClosed = JSON.parse(
      await within(
        chain.msgqueue.proc.waitForLine(
          (line) => line.includes('"path":"/pushmsg"') && line.includes('"msg":"connection closed"'),
        ),
        10_000,
        () => 'msgqueue did not log the end of the killed publisher hop',
      ),
    ) as { code: number };
    expect(hopClosed.code).toBe(1006);

    expect(await within(chain.publisher.restart(), 20_000, () => 'restarted publisher not listening')).toBe(
      chain.publisher.port,
    );
    for (const pub of publishers) {
      pub.client = await connect(chain.publishUrl, { ca });
      attach(pub);
      // The same id again: another attempt at the same message, which the msgqueue deduplicates.
      for (const [id, topic] of pub.unacked) {
        send(pub, id, topic);
        pub.resent.push(id);
      }
      pump(pub);
    }
    checkAnswered();
    await within(answered, 20_000, () => `not every message answered:\n${formatReport(check(history.events))}`);

    await deliveredAll(history, subscribers.values(), { timeoutMs: 15_000 });
    const report = check(history.events);
    const resent = publishers.flatMap((pub) => pub.resent);
    // Resent ids a subscriber got before the resend went out: stored from the killed publisher's
    // hop, their acks lost with it. (A lower bound: a stored message may reach subscribers later.)
    const deliveredSoFar = new Set<string>();
    const resentAfterDelivery = new Set<string>();
    for (const event of history.events) {
      if (event.kind === 'deliver') deliveredSoFar.add(event.id);
      if (event.kind === 'publish' && event.outcome === 'invoke' && deliveredSoFar.has(event.id))
        resentAfterDelivery.add(event.id);
    }
    // Only these resends test the dedupe. It is 0 when every ack of a stored message had left the
    // publisher before the kill (1 run in about 25 here); the summary line below shows it.
    const alreadyStored = resent.filter((id) => resentAfterDelivery.has(id)).length;
    // Printed before the assertions, so a failing run shows it too.
    process.stderr.write(
      `kill -9 publisher: sent ${report.counts.attempted} (+${resent.length} resent, ${alreadyStored} of them already stored), ` +
        `acked ${report.counts.acked}, delivered ${report.counts.deliveries} (${report.counts.delivered} ids to ${subscribers.size} subscribers), ` +
        `lost ${report.lost.length}, duplicated ${report.duplicated.length}, reordered ${report.reordered.length}; ` +
        `publishing sockets closed ${publishers.map((pub) => pub.closes[0]).join('/')}` +
        (socketErrors.length === 0 ? '' : `; socket errors: ${socketErrors.join(', ')}`) +
        '\n',
    );

    expect(report.ok, formatReport(report)).toBe(true);
    expect(refusals).toEqual([]);
    expect(report.counts.attempted).toBe(total);
    expect(report.counts.acked).toBe(total);
    expect(report.duplicated).toEqual([]);
    // Messages were in flight at the kill, and exactly those were sent again.
    expect(resent.length).toBeGreaterThan(0);
    expect(resent.length).toBe(inFlightAtClose);
    // A resend the msgqueue deduplicated is acked with the seq of the copy it already had.
    const seqMismatches = history.events.flatMap((event) =>
      event.kind === 'deliver' && event.seq !== ackSeqs.get(event.id)
        ? [`${event.subscriber} got ${event.id} with seq ${event.seq}, acked with ${ackSeqs.get(event.id)}`]
        : [],
    );
    expect(seqMismatches).toEqual([]);

    // The rest of the chain never noticed: subscribers stayed connected, the other services up.
    expect(subscriberCloses).toEqual([]);
    for (const client of subscribers.values()) expect(client.ws.readyState).toBe(client.ws.OPEN);
    for (const { proc } of [chain.msgqueue, chain.subscriber]) {
      expect(proc.child.exitCode).toBeNull();
      expect(proc.child.signalCode).toBeNull();
    }
    await Promise.all(
      [...subscribers.values(), ...publishers.map((pub) => pub.client)].map((client) => client.close()),
    );
  }, 90_000);
});
