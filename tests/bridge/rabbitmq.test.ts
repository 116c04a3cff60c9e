import { DEAD_LETTER_HEADERS } from '@pubsub/bridge';
import { captureLogs, serverAvailable, serverUrl } from '@pubsub/testkit';
import { connect, type Channel, type ChannelModel } from 'amqplib';
import { execFile, spawnSync } from 'node:child_process';
import { promisify } from 'node:util';
import { afterEach, beforeEach, describe, expect, test } from 'vitest';
import { deliveries, startRig, subscribe, uniqueName } from './rig.js';

const url = serverUrl('rabbitmq');
const available = await serverAvailable('rabbitmq');
// Closing the bridge's connection from the server side needs rabbitmqctl and the right to use it
// (root or the rabbitmq user, with the Erlang cookie): where it cannot, that one test is skipped.
const rabbitmqctl =
  available && spawnSync('rabbitmqctl', ['-q', 'list_connections', 'pid'], { timeout: 30_000 }).status === 0;

describe.runIf(available)('RabbitMQ bridge', () => {
  let amqp: ChannelModel;
  let channel: Channel;
  let queue: string;
  const exchanges: string[] = [];
  beforeEach(async () => {
    amqp = await connect(url);
    channel = await amqp.createChannel();
    queue = uniqueName('bridge');
  });
  afterEach(async () => {
    for (const name of [queue, `${queue}.dead`]) await channel.deleteQueue(name);
    for (const name of [...exchanges.splice(0), `${queue}.dead`]) await channel.deleteExchange(name);
    await amqp.close();
  });

  /** The messages waiting in a queue, taken off it. */
  async function drainQueue(name: string): Promise<{ body: string; headers: Record<string, unknown> }[]> {
    const got: { body: string; headers: Record<string, unknown> }[] = [];
    for (
      let message = await channel.get(name, { noAck: true });
      message !== false;
      message = await channel.get(name, { noAck: true })
    ) {
      got.push({
        body: message.content.toString(),
        headers: message.properties.headers ?? {},
      });
    }
    return got;
  }

  test('a queue: messages arrive on a wss subscriber in order, and are acked only once stored', async () => {
    const topic = `amqp.${queue}`;
    await using rig = await startRig({
      BRIDGE_AMQP_URL: url,
      BRIDGE_AMQP_QUEUE: queue,
      BRIDGE_AMQP_TOPICS: `${queue}=${topic}`,
      BRIDGE_AMQP_PREFETCH: '16',
    });
    const client = await rig.subscribeClient();
    await subscribe(client, topic);
    await expect.poll(async () => (await rig.bridgeJson('/ready')).status, { timeout: 10_000 }).toBe('ready');
    for (let n = 1; n <= 100; n++) channel.sendToQueue(queue, Buffer.from(JSON.stringify({ n })));
    channel.sendToQueue(queue, Buffer.from('plain text'));
    const got = await deliveries(client, 101);
    expect(got.map((frame) => frame.content)).toEqual([
      ...Array.from({ length: 100 }, (_, i) => ({ n: i + 1 })),
      'plain text',
    ]);
    // Closed gracefully: anything unacknowledged would be back in the queue now.
    await rig.bridge.close();
    expect((await channel.checkQueue(queue)).messageCount).toBe(0);
  });

  test('an exchange and binding keys: routing key → topic; message_id is the id, a resend of it stored once', async () => {
    const exchange = uniqueName('events');
    exchanges.push(exchange);
    await using rig = await startRig({
      BRIDGE_AMQP_URL: url,
      BRIDGE_AMQP_QUEUE: queue,
      BRIDGE_AMQP_EXCHANGE: exchange,
      BRIDGE_AMQP_BINDINGS: 'orders.*,audit.#',
      BRIDGE_AMQP_TOPIC_PREFIX: `${exchange}.`,
    });
    const client = await rig.subscribeClient();
    await subscribe(client, `${exchange}.orders.created`);
    await subscribe(client, `${exchange}.audit.login.failed`);
    await expect.poll(async () => (await rig.bridgeJson('/ready')).status, { timeout: 10_000 }).toBe('ready');
    channel.publish(exchange, 'orders.created', Buffer.from('{"order":1}'), { messageId: 'order-1' });
    channel.publish(exchange, 'ignored.key', Buffer.from('"not bound"'));
    channel.publish(exchange, 'orders.created', Buffer.from('{"order":1}'), { messageId: 'order-1' });
    channel.publish(exchange, 'audit.login.failed', Buffer.from('{"user":"x"}'));
    const got = await deliveries(client, 2);
    expect(got.map((frame) => [frame.topic, frame.id, frame.content])).toEqual([
      [`${exchange}.orders.created`, 'order-1', { order: 1 }],
      [`${exchange}.audit.login.failed`, expect.stringMatching(/^amqp:[\w-]{32}$/) as unknown, { user: 'x' }],
    ]);
    await expect
      .poll(async () => (await rig.bridgeGet('/metrics')).body)
      .toMatch(/pubsub_bridge_duplicates_total\{source="rabbitmq",service="bridge"\} 1/);
  });

  test('poison messages go to the dead-letter exchange with the reason in headers, logged, and never come back', async () => {
    const exchange = uniqueName('events');
    exchanges.push(exchange);
    const logs = captureLogs('bridge');
    await using rig = await startRig(
      { BRIDGE_AMQP_URL: url, BRIDGE_AMQP_QUEUE: queue, BRIDGE_AMQP_EXCHANGE: exchange, BRIDGE_AMQP_BINDINGS: '#' },
      logs.logger,
    );
    const client = await rig.subscribeClient();
    await subscribe(client, 'good');
    await expect.poll(async () => (await rig.bridgeJson('/ready')).status, { timeout: 10_000 }).toBe('ready');
    channel.publish(exchange, 'bad topic', Buffer.from('1'), { messageId: 'p1' });
    channel.publish(exchange, 'good', Buffer.from([0xff, 0xfe]), { messageId: 'p2' });
    channel.publish(exchange, 'good', Buffer.from('{"deep":' + '['.repeat(70) + ']'.repeat(70) + '}'), {
      messageId: 'p3',
    });
    channel.publish(exchange, 'good', Buffer.from('"after them"'));
    expect((await deliveries(client, 1)).map((frame) => frame.content)).toEqual(['after them']);
    const logged = await logs.waitFor(
      (line) => line.msg === 'message refused; sent to the dead-letter exchange' && line.messageId === 'p3',
    );
    expect(logged).toMatchObject({
      code: 'TOO_DEEP',
      routingKey: 'good',
      reason: expect.stringContaining('deeper than 64') as unknown,
    });
    // Counted when RabbitMQ confirms the dead letter, just before the original is acknowledged.
    await expect
      .poll(async () => (await rig.bridgeGet('/metrics')).body, { timeout: 10_000 })
      .toMatch(/pubsub_bridge_dead_letters_total\{source="rabbitmq",code="TOO_DEEP",service="bridge"\} 1/);
    await rig.bridge.close();
    // In the order refused, which need not be the queue's: a body that is no UTF-8 is refused before the ingress sees it.
    const dead = new Map(
      (await drainQueue(`${queue}.dead`)).map((message) => [message.headers[DEAD_LETTER_HEADERS.code], message]),
    );
    expect([...dead.keys()].sort()).toEqual(['BINARY_UNSUPPORTED', 'TOO_DEEP', 'TOPIC_INVALID']);
    const invalid = dead.get('TOPIC_INVALID')?.headers;
    expect(invalid?.[DEAD_LETTER_HEADERS.routingKey]).toBe('bad topic');
    expect(invalid?.[DEAD_LETTER_HEADERS.reason]).toMatch(/^topic must be/);
    expect(invalid?.[DEAD_LETTER_HEADERS.exchange]).toBe(exchange);
    expect(dead.get('BINARY_UNSUPPORTED')?.headers[DEAD_LETTER_HEADERS.routingKey]).toBe('good');
    expect(dead.get('TOO_DEEP')?.body).toMatch(/^\{"deep":\[\[/);
    // Acknowledged after the dead letter was confirmed: nothing is left to be redelivered.
    expect(await drainQueue(queue)).toEqual([]);
  });

  test.runIf(rabbitmqctl)(
    'its connection closed by the broker, it reconnects and takes what came meanwhile',
    { timeout: 90_000 },
    async () => {
      const topic = `amqp.${queue}`;
      const name = uniqueName('bridge-conn');
      const logs = captureLogs('bridge');
      await using rig = await startRig(
        {
          BRIDGE_AMQP_URL: url,
          BRIDGE_AMQP_QUEUE: queue,
          BRIDGE_AMQP_TOPICS: `${queue}=${topic}`,
          BRIDGE_AMQP_CONNECTION_NAME: name,
        },
        logs.logger,
      );
      const client = await rig.subscribeClient();
      await subscribe(client, topic);
      await expect.poll(async () => (await rig.bridgeJson('/ready')).status, { timeout: 10_000 }).toBe('ready');
      for (let n = 1; n <= 50; n++) channel.sendToQueue(queue, Buffer.from(String(n)), { messageId: `m${n}` });
      expect((await deliveries(client, 50)).map((frame) => frame.content)).toEqual(
        Array.from({ length: 50 }, (_, i) => i + 1),
      );
      await closeConnection(name);
      await logs.waitFor((line) => line.msg === 'RabbitMQ connection lost');
      for (let n = 51; n <= 100; n++) channel.sendToQueue(queue, Buffer.from(String(n)), { messageId: `m${n}` });
      const got = await deliveries(client, 50);
      expect(got.map((frame) => frame.content)).toEqual(Array.from({ length: 50 }, (_, i) => i + 51));
      expect(logs.lines.filter((line) => line.msg === 'RabbitMQ connected').length).toBe(2);
      await client.roundTrip();
      expect(client.buffered).toEqual([]);
    },
  );
});

const run = promisify(execFile);

/** Closes the connection of that name from the broker's side, as an operator would. */
async function closeConnection(name: string): Promise<void> {
  const { stdout } = await run('rabbitmqctl', ['-q', 'list_connections', 'pid', 'client_properties'], {
    timeout: 30_000,
  });
  const line = stdout.split('\n').find((row) => row.includes(`"${name}"`) || row.includes(name));
  const pid = line?.split('\t')[0];
  if (pid === undefined) throw new Error(`no connection named ${name}:\n${stdout}`);
  await run('rabbitmqctl', ['-q', 'close_connection', pid, 'closed by a test'], { timeout: 30_000 });
}
