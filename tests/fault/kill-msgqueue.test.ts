import { check, connect, formatReport, HistoryRecorder, within } from '@pubsub/testkit';
import { describe, expect, test } from 'vitest';
import { childServices, deliveredAll, recordedSubscribers, startFaultChain } from '@pubsub/testkit-chain';

const run = childServices();

describe('kill -9 of the msgqueue under load', () => {
  test('loses no acknowledged message, duplicates none, and keeps per-topic order', async () => {
    const chain = await startFaultChain(run);
    const { ca } = chain;

    const history = new HistoryRecorder();
    const topics = ['red', 'blue'];
    const subscribers = await recordedSubscribers(chain, history, { names: ['s1', 's2'], topics });

    const perPublisher = 400;
    const total = 2 * perPublisher;
    let replies = 0;
    let acked = 0;
    let killAt: (() => void) | undefined;
    const killPoint = new Promise<void>((resolveKill) => (killAt = resolveKill));
    let allReplied: () => void = () => undefined;
    const done = new Promise<void>((resolveDone) => (allReplied = resolveDone));
    const publishers = await Promise.all(
      ['p1', 'p2'].map(async (name) => {
        const client = await connect(chain.publishUrl, { ca });
        client.ws.on('message', (data) => {
          const reply = JSON.parse((data as Buffer).toString()) as { type: string; id: string };
          if (reply.type === 'ack') {
            history.publishOk({ publisher: name, id: reply.id });
            // Killed from inside the ack stream, with messages in flight on every hop.
            if (++acked === total / 4) {
              chain.msgqueue.proc.child.kill('SIGKILL');
              killAt?.();
            }
          } else history.publishFailed({ publisher: name, id: reply.id });
          if (++replies === total) allReplied();
        });
        return { name, client };
      }),
    );

    const send = (n: number) => {
      for (const { name, client } of publishers) {
        const topic = topics[n % 2] as string;
        const id = `${name}-${n}`;
        history.publishInvoked({ publisher: name, topic, id, body: id });
        client.send({ topic, content: id, id });
      }
    };
    // A steady stream with up to 60 messages in flight, going on through the kill.
    let next = 0;
    const pump = () => {
      while (next < perPublisher && 2 * next - replies < 60) send(next++);
    };
    for (const { client } of publishers) client.ws.on('message', pump);
    pump();
    await within(killPoint, 15_000, () => `only ${acked} acks before the kill point`);
    expect(await chain.msgqueue.proc.exited).toBeNull();
    const sentAtKill = next;
    await chain.msgqueue.restart();
    await within(done, 20_000, () => `${replies} of ${total} replies:\n${formatReport(check(history.events))}`);
    expect(sentAtKill).toBeLessThan(perPublisher);

    // Every acknowledged message must arrive at both subscribers; wait for the last of them.
    await deliveredAll(history, subscribers.values(), { timeoutMs: 15_000 });
    const report = check(history.events);
    expect(report.ok, formatReport(report)).toBe(true);
    expect(report.counts.acked).toBe(total);
    expect(report.duplicated).toEqual([]);
    expect(chain.msgqueue.proc.lines.some((line) => line.includes('"msg":"recovered the log"'))).toBe(true);
    process.stderr.write(`kill -9 msgqueue: ${formatReport(report).split('\n')[0]}\n`);
    await Promise.all([...subscribers.values(), ...publishers.map((p) => p.client)].map((client) => client.close()));
  }, 60_000);
});
