import { latch } from '@pubsub/testkit';
import { describe, expect, test } from 'vitest';
import { allAcknowledged, startChain, subscribe, type Chain, type Frame } from '@pubsub/testkit-chain';

/** Publishes `count` messages to `topic` and waits for every ack; returns their seqs. */
async function publishAll(chain: Chain, topic: string, count: number): Promise<number[]> {
  const pub = await chain.publishClient();
  for (let n = 0; n < count; n++) pub.send({ topic, content: n, id: `${topic}-${n}-${Math.random()}` });
  const seqs: number[] = [];
  for (let n = 0; n < count; n++) seqs.push((await pub.next<{ seq: number }>()).seq);
  await pub.close();
  return seqs;
}

describe('history and resume', () => {
  test('sub from a seq replays what came after it, says it recovered, then goes live', async () => {
    await using chain = await startChain();
    // Someone is subscribed while the first five are routed, so they are acknowledged and kept.
    const witness = await chain.subscribeClient();
    await subscribe(witness, 'news');
    expect(await publishAll(chain, 'news', 5)).toEqual([1, 2, 3, 4, 5]);
    const { epoch } = await witness.next<Frame>();

    const client = await chain.subscribeClient();
    client.send(`sub news from 2 ${epoch}`);
    expect(await client.next()).toEqual({
      type: 'subscribed',
      topic: 'news',
      from: 2,
      recovered: true,
      epoch,
      replayed: 3,
    });
    for (const seq of [3, 4, 5]) expect(await client.next<Frame>()).toMatchObject({ topic: 'news', seq, epoch });
    await publishAll(chain, 'news', 1);
    expect(await client.next<Frame>()).toMatchObject({ seq: 6 });
  });

  test('the JSON form resumes too, with the id echoed', async () => {
    await using chain = await startChain();
    await publishAll(chain, 'news', 2);
    const client = await chain.subscribeClient();
    client.send({ topic: 'news', content: 'sub', from: 1, id: 'r1' });
    expect(await client.next()).toMatchObject({ type: 'subscribed', id: 'r1', from: 1, recovered: true, replayed: 1 });
    expect(await client.next<Frame>()).toMatchObject({ seq: 2 });
  });

  test('a client whose epoch is not the current one is told, and gets everything retained', async () => {
    await using chain = await startChain();
    await publishAll(chain, 'news', 2);
    const client = await chain.subscribeClient();
    client.send('sub news from 7 0123abcd');
    expect(await client.next()).toMatchObject({ type: 'subscribed', recovered: false, replayed: 2 });
    expect(await client.next<Frame>()).toMatchObject({ seq: 1 });
    expect(await client.next<Frame>()).toMatchObject({ seq: 2 });
  });

  test('a position older than the retained history is recovered only in part, and said so', async () => {
    await using chain = await startChain({ env: { MSGQUEUE_RETENTION_BYTES: '1' } });
    const witness = await chain.subscribeClient();
    await subscribe(witness, 'news');
    await publishAll(chain, 'news', 3);
    // Acknowledged by the only group, so retention may drop all but what a group still needs.
    await witness.next();
    await witness.next();
    await witness.next();
    await allAcknowledged(chain);
    await publishAll(chain, 'news', 1);
    await witness.next();
    const client = await chain.subscribeClient();
    client.send('sub news from 1');
    const reply = await client.next<{ recovered: boolean; replayed: number }>();
    expect(reply).toMatchObject({ type: 'subscribed', recovered: false });
    expect(reply.replayed).toBeLessThan(3);
  });

  test('switching from replay to live loses nothing and repeats nothing, while publishing goes on', async () => {
    await using chain = await startChain();
    const witness = await chain.subscribeClient();
    await subscribe(witness, 'stream');
    const pub = await chain.publishClient();
    const total = 300;
    const acked = latch(total, { name: 'acks' });
    const third = latch(total / 3, { name: 'first third acked' });
    pub.ws.on('message', () => {
      acked.countDown();
      third.countDown();
    });
    let next = 0;
    const stream = () => {
      for (let i = 0; i < 5 && next < total; i++, next++) pub.send({ topic: 'stream', content: next, id: `s${next}` });
      if (next < total) setImmediate(stream);
    };
    stream();
    await third.done;
    const client = await chain.subscribeClient();
    client.send('sub stream from 50');
    expect(await client.next()).toMatchObject({ type: 'subscribed', from: 50, recovered: true });
    await acked.done;
    for (let seq = 51; seq <= total; seq++) expect((await client.next<Frame>()).seq).toBe(seq);
    await client.roundTrip();
    expect(client.buffered).toEqual([]);
  });

  test('bad resume commands are refused with RESUME_INVALID', async () => {
    await using chain = await startChain();
    const client = await chain.subscribeClient();
    for (const command of [
      'sub news from',
      'sub news from -1',
      'sub news from x',
      'sub news from 1 NOTHEX',
      'sub news from 1 ab cd',
    ]) {
      client.send(command);
      expect(await client.next(), command).toMatchObject({ type: 'error', code: 'RESUME_INVALID' });
    }
    client.send('unsub news from 1');
    expect(await client.next()).toMatchObject({ type: 'error', code: 'TOPIC_INVALID' });
  });
});
