import { silentLogger } from '@pubsub/log';
import * as msgqueue from '@pubsub/msgqueue';
import { encodeDelivery } from '@pubsub/protocol';
import { captureLogs, connect, tempDir, testCertificate, type TestClient } from '@pubsub/testkit';
import { hostname } from 'node:os';
import { describe, expect, test } from 'vitest';
import { loadConfig, start } from '../src/server.js';

describe('SUBSCRIBER_NODE_ID', () => {
  test('unset, the subscriber drains SUBSCRIBER_GROUP (default "default"), as on one box', () => {
    expect(loadConfig({})).toMatchObject({ group: 'default', nodeId: undefined });
    expect(loadConfig({ SUBSCRIBER_GROUP: 'sub-b' }).group).toBe('sub-b');
  });

  test('set, the node drains its own group node.<id>; auto names it after the host and port', () => {
    const config = loadConfig({ SUBSCRIBER_NODE_ID: 'sub-1' });
    expect(config).toMatchObject({ group: 'node.sub-1', nodeId: 'sub-1' });
    expect(config.queue.urls).toEqual(['wss://localhost:8080/popmsg?group=node.sub-1']);
    const auto = loadConfig({ SUBSCRIBER_NODE_ID: 'auto', SUBSCRIBER_PORT: '9002' });
    const host = hostname().replace(/[^A-Za-z0-9._-]/g, '-');
    expect(auto.nodeId).toBe(`${host.slice(0, 59 - '-9002'.length)}-9002`);
    expect(auto.group).toBe(`node.${auto.nodeId}`);
  });

  test('with SUBSCRIBER_GROUP too, or not a valid id, it is a configuration error naming the variable', () => {
    expect(() => loadConfig({ SUBSCRIBER_NODE_ID: 'a', SUBSCRIBER_GROUP: 'b' })).toThrow(/SUBSCRIBER_GROUP: not with/);
    expect(() => loadConfig({ SUBSCRIBER_NODE_ID: 'a b' })).toThrow(/SUBSCRIBER_NODE_ID/);
    expect(() => loadConfig({ SUBSCRIBER_NODE_ID: 'x'.repeat(60) })).toThrow(/SUBSCRIBER_NODE_ID/);
  });
});

describe('subscriber nodes', () => {
  test('every socket subscribed to a topic, on every node, gets every message of it', async () => {
    const { certDir, ca } = await testCertificate();
    const logger = silentLogger();
    const base = { WS_CERT_DIR: certDir, MSGQUEUE_STORE: 'memory' };
    await using queue = await msgqueue.start(
      msgqueue.loadConfig({ ...base, MSGQUEUE_PORT: '0', MSGQUEUE_NODE_GROUPS: 'true' }),
      { logger },
    );
    const node = async (id: string) => {
      const logs = captureLogs('subscriber');
      const handle = await start(
        loadConfig({
          ...base,
          SUBSCRIBER_PORT: '0',
          SUBSCRIBER_DATA_DIR: tempDir(`subscriber-${id}`),
          SUBSCRIBER_NODE_ID: id,
          SUBSCRIBER_QUEUE_URL: `wss://localhost:${queue.port}/popmsg`,
        }),
        { logger: logs.logger },
      );
      // Its group is made when it connects; what is pushed before that is not its.
      await logs.waitFor((line) => line.msg === 'upstream connected');
      return handle;
    };
    await using a = await node('a');
    await using b = await node('b');
    const clients: TestClient[] = [];
    for (const port of [a.port, a.port, b.port]) {
      const client = await connect(`wss://localhost:${port}/subscribe`, { ca });
      client.send('sub news');
      expect(await client.next()).toEqual({ type: 'subscribed', topic: 'news' });
      clients.push(client);
    }
    const pusher = await connect(`wss://localhost:${queue.port}/pushmsg`, { ca });
    const ids = ['m1', 'm2', 'm3', 'm4'];
    for (const id of ids) pusher.send(encodeDelivery({ topic: 'news', id, content: `"${id}"` }));
    for (const client of clients) {
      const got: unknown[] = [];
      while (got.length < ids.length) got.push((await client.next<{ id: string }>()).id);
      expect(got).toEqual(ids);
    }
    await Promise.all([pusher.close(), ...clients.map((client) => client.close())]);
  });
});
