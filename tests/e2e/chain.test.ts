import { describe, expect, test } from 'vitest';
import { latch } from '@pubsub/testkit';
import { startChain, subscribe } from '@pubsub/testkit-chain';

describe('chain in one process', () => {
  test('delivers a published message to a subscriber, content intact', async () => {
    await using chain = await startChain();
    const sub = await chain.subscribeClient();
    await subscribe(sub, 'news');
    const pub = await chain.publishClient();
    pub.send('{"topic":"news","content":{"n":12345678901234567890,"s":"é<&>"},"id":"m1"}');
    expect(await pub.next()).toEqual({ type: 'ack', id: 'm1', seq: 1 });
    expect(await sub.nextText()).toMatch(
      /^\{"type":"message","topic":"news","id":"m1","time":\d{13},"content":\{"n":12345678901234567890,"s":"é<&>"\},"seq":1,"epoch":"[0-9a-f]+"\}$/,
    );
  });

  test('serves clients of the original Go implementation unchanged', async () => {
    await using chain = await startChain();
    const sub = await chain.subscribeClient();
    sub.send('{"Topic":"news","Content":"sub"}\n');
    expect(await sub.next()).toMatchObject({ type: 'subscribed', topic: 'news' });
    const pub = await chain.publishClient();
    pub.send('{"Topic":"news","Content":"a\\u003cb\\u003e\\u0026c \\"q\\" é"}\n');
    // What Go's json decoder reads, case-insensitively: Topic and Content.
    const delivery = await sub.next();
    expect(delivery.topic).toBe('news');
    expect(delivery.content).toBe('a<b>&c "q" é');
  });

  test('a message sent twice with the same id is stored once and acknowledged twice with one seq', async () => {
    await using chain = await startChain();
    const sub = await chain.subscribeClient();
    await subscribe(sub, 'orders');
    const pub = await chain.publishClient();
    pub.send({ topic: 'orders', content: 'first copy', id: 'order-42' });
    const first = await pub.next<{ seq: number }>();
    pub.send({ topic: 'orders', content: 'resent copy', id: 'order-42' });
    pub.send({ topic: 'orders', content: 'next', id: 'order-43' });
    expect(await pub.next()).toEqual({ type: 'ack', id: 'order-42', seq: first.seq, duplicate: true });
    expect(await pub.next()).toEqual({ type: 'ack', id: 'order-43', seq: first.seq + 1 });
    expect(await sub.next()).toMatchObject({ id: 'order-42', content: 'first copy' });
    expect(await sub.next()).toMatchObject({ id: 'order-43' });
  });

  test('stops deliveries after unsub is acknowledged', async () => {
    await using chain = await startChain();
    const sub = await chain.subscribeClient();
    await subscribe(sub, 'a');
    await subscribe(sub, 'b');
    const pub = await chain.publishClient();
    pub.send({ topic: 'a', content: 1, id: 'a1' });
    expect(await sub.next()).toMatchObject({ id: 'a1' });
    sub.send('unsub a');
    expect(await sub.next()).toEqual({ type: 'unsubscribed', topic: 'a' });
    pub.send({ topic: 'a', content: 2, id: 'a2' });
    pub.send({ topic: 'b', content: 3, id: 'b1' });
    // Both come from one publisher connection, in order: a2 would have arrived before b1.
    expect(await sub.next()).toMatchObject({ id: 'b1' });
  });

  test('several publishers and subscribers: each subscriber gets its topics, each publisher in order', async () => {
    await using chain = await startChain();
    const topics = ['red', 'blue'];
    const perPublisher = 200;
    const publishers = await Promise.all([0, 1, 2].map(() => chain.publishClient()));
    const subscribers = await Promise.all([0, 1, 2, 3].map(() => chain.subscribeClient()));
    // Subscribers 0 and 1 take red, 2 takes blue, 3 takes both.
    const wanted = [['red'], ['red'], ['blue'], ['red', 'blue']];
    await Promise.all(
      subscribers.map(async (sub, i) => {
        for (const topic of wanted[i] ?? []) await subscribe(sub, topic);
      }),
    );
    for (let n = 0; n < perPublisher; n++) {
      publishers.forEach((pub, p) =>
        pub.send({ topic: topics[(n + p) % 2] as string, content: { p, n }, id: `p${p}-${n}` }),
      );
    }
    for (const [i, sub] of subscribers.entries()) {
      const topicsOfSub = wanted[i] ?? [];
      const expected = (publishers.length * perPublisher * topicsOfSub.length) / 2;
      const lastSeen = new Map<number, number>();
      for (let k = 0; k < expected; k++) {
        const delivery = await sub.next<{ topic: string; content: { p: number; n: number } }>();
        expect(topicsOfSub).toContain(delivery.topic);
        const { p, n } = delivery.content;
        expect(n).toBeGreaterThan(lastSeen.get(p) ?? -1);
        lastSeen.set(p, n);
      }
    }
    for (const pub of publishers) {
      for (let n = 0; n < perPublisher; n++) expect(await pub.next()).toMatchObject({ type: 'ack' });
    }
  });

  test('a message of exactly the maximum payload is delivered end to end', async () => {
    await using chain = await startChain({ env: { MAX_PAYLOAD_BYTES: '4096' } });
    const sub = await chain.subscribeClient();
    await subscribe(sub, 'big');
    const pub = await chain.publishClient();
    const skeleton = JSON.stringify({ topic: 'big', content: '', id: 'i'.repeat(128) });
    const frame = JSON.stringify({
      topic: 'big',
      content: '\\'.repeat((4096 - skeleton.length) / 2),
      id: 'i'.repeat(128),
    });
    expect(Buffer.byteLength(frame)).toBe(4096);
    pub.send(frame);
    expect(await pub.next()).toMatchObject({ type: 'ack' });
    expect((await sub.next<{ content: string }>()).content).toHaveLength((4096 - skeleton.length) / 2);
  });

  test('the msgqueue restarted mid-stream loses nothing, and publishing resumes by itself', async () => {
    await using chain = await startChain();
    const sub = await chain.subscribeClient();
    await subscribe(sub, 'stream');
    const pub = await chain.publishClient();
    const total = 400;
    const acked = latch(total, { name: 'acks', ms: 15_000 });
    const quarter = latch(total / 4, { name: 'first quarter acked' });
    pub.ws.on('message', () => {
      acked.countDown();
      quarter.countDown();
    });
    const publish = (from: number, to: number) => {
      for (let n = from; n < to; n++) pub.send({ topic: 'stream', content: n, id: `m${n}` });
    };
    publish(0, total / 2);
    await quarter.done;
    // The second half reaches a msgqueue that is shutting down, then the new one.
    const restarted = chain.restartMsgqueue();
    publish(total / 2, total);
    for (let n = 0; n < total; n++) {
      expect((await sub.next<{ content: number }>()).content).toBe(n);
    }
    await restarted;
    await acked.done;
  });
});
