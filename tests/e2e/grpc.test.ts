import { hashPassword } from '@pubsub/auth';
import { GrpcStatus, type PubsubGrpcClient } from '@pubsub/grpc';
import { DEV_AUTH, get, writeUsersFile } from '@pubsub/testkit';
import { afterEach, beforeAll, describe, expect, test } from 'vitest';
import { startChain, subscribe, type Chain, grpcClient, GrpcSubscription } from '@pubsub/testkit-chain';

const GRPC_ENV = { SUBSCRIBER_GRPC_PORT: '0', PUBLISHER_GRPC_PORT: '0' };

const clients: PubsubGrpcClient[] = [];
afterEach(() => clients.splice(0).forEach((client) => client.close()));

type Auth = { user: string; password: string } | null;

function subscriberClient(chain: Chain, auth?: Auth): PubsubGrpcClient {
  const client = grpcClient(chain.subscriber.grpcPort as number, chain.ca, auth);
  clients.push(client);
  return client;
}

function publisherClient(chain: Chain, auth?: Auth): PubsubGrpcClient {
  const client = grpcClient(chain.publisher.grpcPort as number, chain.ca, auth);
  clients.push(client);
  return client;
}

/** Publishes over wss and waits for each ack; returns their seqs. */
async function publishWss(chain: Chain, topic: string, contents: unknown[]): Promise<number[]> {
  const pub = await chain.publishClient();
  for (const content of contents) pub.send({ topic, content, id: `${topic}-${Math.random()}` });
  const seqs: number[] = [];
  while (seqs.length < contents.length) seqs.push((await pub.next<{ seq: number }>()).seq);
  await pub.close();
  return seqs;
}

describe('gRPC Subscribe', () => {
  test('is subscribed, then gets each message with its seq, epoch and content byte for byte', async () => {
    await using chain = await startChain({ env: GRPC_ENV });
    const stream = new GrpcSubscription(subscriberClient(chain), { topics: ['news', 'orders.*'] });
    expect(await stream.next()).toMatchObject({ event: 'subscribed', subscribed: { topic: 'news', resumed: false } });
    expect(await stream.next()).toMatchObject({ event: 'subscribed', subscribed: { topic: 'orders.*' } });
    const pub = await chain.publishClient();
    pub.send('{"topic":"news","content":{ "a" : [1, 2.50] },"id":"n1"}');
    expect(await pub.next()).toMatchObject({ type: 'ack', id: 'n1', seq: 1 });
    const first = await stream.next();
    expect(first).toMatchObject({
      event: 'message',
      message: { topic: 'news', id: 'n1', seq: 1, content: '{ "a" : [1, 2.50] }' },
    });
    expect(first.event === 'message' && first.message.epoch).toMatch(/^[0-9a-f]+$/);
    expect(first.event === 'message' && first.message.time).toBeGreaterThan(0);
    await publishWss(chain, 'orders.new', ['x']);
    expect(await stream.next()).toMatchObject({ event: 'message', message: { topic: 'orders.new', content: '"x"' } });
    await pub.close();
  });

  test('resumes from a seq: the rest from the log, then live, with no gap and no duplicate', async () => {
    await using chain = await startChain({ env: GRPC_ENV });
    // Someone is subscribed while they are routed, so the msgqueue keeps them acknowledged.
    const witness = await chain.subscribeClient();
    await subscribe(witness, 'news');
    expect(await publishWss(chain, 'news', [1, 2, 3, 4])).toEqual([1, 2, 3, 4]);
    const { epoch } = await witness.next<{ epoch: string }>();

    const stream = new GrpcSubscription(subscriberClient(chain), { from: [{ topic: 'news', seq: 2, epoch }] });
    expect(await stream.next()).toEqual({
      event: 'subscribed',
      subscribed: { topic: 'news', resumed: true, from: 2, recovered: true, epoch, replayed: 2, gap: false },
    });
    const seqs = async (count: number) => {
      const got: number[] = [];
      for (let i = 0; i < count; i++) {
        const event = await stream.next();
        if (event.event !== 'message') throw new Error(`expected a message, got ${JSON.stringify(event)}`);
        got.push(event.message.seq);
      }
      return got;
    };
    expect(await seqs(2)).toEqual([3, 4]);
    await publishWss(chain, 'news', [5, 6]);
    expect(await seqs(2)).toEqual([5, 6]);
    await witness.close();
  });

  test('wrong or missing credentials end the call UNAUTHENTICATED', async () => {
    await using chain = await startChain({ env: GRPC_ENV });
    const wrong = new GrpcSubscription(subscriberClient(chain, { user: 'hello', password: 'nope' }), {
      topics: ['news'],
    });
    expect(await wrong.status()).toMatchObject({ code: GrpcStatus.UNAUTHENTICATED });
    const anonymous = new GrpcSubscription(subscriberClient(chain, null), { topics: ['news'] });
    expect(await anonymous.status()).toMatchObject({ code: GrpcStatus.UNAUTHENTICATED });
    await expect(publisherClient(chain, null).publish({ topic: 'news', content: '1' })).rejects.toMatchObject({
      code: GrpcStatus.UNAUTHENTICATED,
    });
  });

  test('an invalid topic or resume ends the call INVALID_ARGUMENT', async () => {
    await using chain = await startChain({ env: GRPC_ENV });
    const client = subscriberClient(chain);
    const invalid = new GrpcSubscription(client, { topics: ['bad topic'] });
    expect(await invalid.status()).toMatchObject({ code: GrpcStatus.INVALID_ARGUMENT });
    const none = new GrpcSubscription(client, {});
    expect(await none.status()).toMatchObject({
      code: GrpcStatus.INVALID_ARGUMENT,
      details: 'name one or more topics',
    });
    const pattern = new GrpcSubscription(client, { from: [{ topic: 'orders.*', seq: 1 }] });
    expect(await pattern.status()).toMatchObject({ code: GrpcStatus.INVALID_ARGUMENT });
  });
});

describe('gRPC rights', () => {
  let usersFile: string;
  beforeAll(async () => {
    const password = await hashPassword('pw');
    usersFile = writeUsersFile([
      { name: 'watcher', password, role: 'client', subscribe: ['news'], publish: ['news'] },
      { name: 'pusher', password, role: 'pusher' },
      { name: 'popper', password, role: 'popper' },
    ]);
  });
  const env = () => ({
    ...GRPC_ENV,
    USERS_FILE: usersFile,
    PUBLISHER_QUEUE_USER: 'pusher',
    PUBLISHER_QUEUE_PASSWORD: 'pw',
    SUBSCRIBER_QUEUE_USER: 'popper',
    SUBSCRIBER_QUEUE_PASSWORD: 'pw',
  });

  test('a topic without the right ends the call PERMISSION_DENIED, and so does a publish', async () => {
    await using chain = await startChain({ env: env() });
    const watcher = { user: 'watcher', password: 'pw' };
    const forbidden = new GrpcSubscription(subscriberClient(chain, watcher), { topics: ['news', 'secret'] });
    expect(await forbidden.next()).toMatchObject({ event: 'subscribed', subscribed: { topic: 'news' } });
    expect(await forbidden.status()).toMatchObject({
      code: GrpcStatus.PERMISSION_DENIED,
      details: 'user "watcher" may not subscribe to secret',
    });
    await expect(publisherClient(chain, watcher).publish({ topic: 'secret', content: '1' })).rejects.toMatchObject({
      code: GrpcStatus.PERMISSION_DENIED,
    });
    // A service account has no right to the client endpoints at all.
    const hop = new GrpcSubscription(subscriberClient(chain, { user: 'popper', password: 'pw' }), { topics: ['news'] });
    expect(await hop.status()).toMatchObject({ code: GrpcStatus.PERMISSION_DENIED });
  });
});

describe('gRPC Publish', () => {
  test('is answered once stored, and reaches a wss and a gRPC subscriber', async () => {
    await using chain = await startChain({ env: GRPC_ENV });
    const wss = await chain.subscribeClient();
    await subscribe(wss, 'news');
    const stream = new GrpcSubscription(subscriberClient(chain), { topics: ['news'] });
    expect(await stream.next()).toMatchObject({ event: 'subscribed' });
    const publisher = publisherClient(chain);
    expect(await publisher.publish({ topic: 'news', content: '{"price": 3}', id: 'g1' })).toEqual({
      id: 'g1',
      seq: 1,
      duplicate: false,
    });
    expect(await wss.nextText()).toMatch(/^\{"type":"message","topic":"news","id":"g1",.*"content":\{"price": 3\}/);
    expect(await stream.next()).toMatchObject({
      event: 'message',
      message: { topic: 'news', id: 'g1', seq: 1, content: '{"price": 3}' },
    });
    // A resend of the id is stored once and says so.
    expect(await publisher.publish({ topic: 'news', content: '{"price": 3}', id: 'g1' })).toEqual({
      id: 'g1',
      seq: 1,
      duplicate: true,
    });
    const named = await publisher.publish({ topic: 'news', content: '"hi"' });
    expect(named).toMatchObject({ seq: 2, duplicate: false });
    expect(await stream.next()).toMatchObject({ event: 'message', message: { id: named.id, seq: 2, content: '"hi"' } });
    await wss.close();
  });

  test('content that is not one JSON value, or a bad topic, is INVALID_ARGUMENT; nothing is stored', async () => {
    await using chain = await startChain({ env: GRPC_ENV });
    const publisher = publisherClient(chain);
    for (const request of [
      { topic: 'news', content: 'hello' },
      { topic: 'news', content: '1,"topic":"other"' },
      { topic: 'news', content: '' },
      { topic: 'bad topic', content: '1' },
      { topic: 'news', content: '1', id: 'x'.repeat(200) },
    ]) {
      await expect(publisher.publish(request), JSON.stringify(request)).rejects.toMatchObject({
        code: GrpcStatus.INVALID_ARGUMENT,
      });
    }
    expect(await publisher.publish({ topic: 'news', content: '1' })).toMatchObject({ seq: 1 });
  });

  test('a message over MAX_PAYLOAD_BYTES is RESOURCE_EXHAUSTED', async () => {
    await using chain = await startChain({ env: { ...GRPC_ENV, MAX_PAYLOAD_BYTES: '1024' } });
    await expect(
      publisherClient(chain).publish({ topic: 'news', content: JSON.stringify('x'.repeat(1_000)) }),
    ).rejects.toMatchObject({ code: GrpcStatus.RESOURCE_EXHAUSTED });
  });
});

describe('gRPC flow control', () => {
  test('a stream that stops reading leaves the live stream, is filled from the log, and misses nothing', async () => {
    const env = { ...GRPC_ENV, SUBSCRIBER_MAX_BUFFERED_BYTES: '16384', PUBLISHER_RATE_LIMIT: '0' };
    await using chain = await startChain({ env });
    const stream = new GrpcSubscription(subscriberClient(chain), { topics: ['news'] });
    expect(await stream.next()).toMatchObject({ event: 'subscribed' });
    stream.pause();
    const count = 3_000;
    const content = JSON.stringify('x'.repeat(200));
    const pub = await chain.publishClient();
    for (let n = 1; n <= count; n++) pub.send({ topic: 'news', content: JSON.parse(content) as string, id: `f${n}` });
    for (let n = 1; n <= count; n++) expect(await pub.next()).toMatchObject({ type: 'ack', seq: n });
    const metrics = await get(chain.subscriber.port, '/metrics', { ca: chain.ca, auth: DEV_AUTH });
    expect(metrics.body).toMatch(/^pubsub_subscriber_readers_behind\{[^}]*\} 1$/m);
    stream.resume();
    const seqs: number[] = [];
    while (seqs.length < count) {
      const event = await stream.next();
      if (event.event === 'message') seqs.push(event.message.seq);
    }
    expect(seqs).toEqual(Array.from({ length: count }, (_, i) => i + 1));
    await pub.close();
  });
});
