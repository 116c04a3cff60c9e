import { encodeDelivery } from '@pubsub/protocol';
import { captureLogs, handshakeRejection, testCertificate, type TestClient } from '@pubsub/testkit';
import { mkdtempSync } from 'node:fs';
import { request } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, test } from 'vitest';
import { startMsgqueue, type TestMsgqueue } from './helpers.js';

const frame = (id: string) => encodeDelivery({ topic: 't', id, content: JSON.stringify(id) });

async function pushAll(push: TestClient, ids: readonly string[]): Promise<void> {
  for (const id of ids) push.send(frame(id));
  let acked = 0;
  while (acked < ids.length) acked = (await push.next<{ ack: number }>()).ack;
}

async function groupNames(queue: TestMsgqueue): Promise<string[]> {
  const { ca } = await testCertificate();
  const body = await new Promise<string>((resolveBody, reject) => {
    request(queue.url('/groups').replace('wss:', 'https:'), { ca, auth: 'hello:test' }, (res) => {
      let text = '';
      res.on('data', (chunk: Buffer) => (text += chunk.toString()));
      res.on('end', () => resolveBody(text));
    })
      .on('error', reject)
      .end();
  });
  return (JSON.parse(body) as { groups: { name: string }[] }).groups.map((group) => group.name);
}

const NODE_GROUPS = { MSGQUEUE_NODE_GROUPS: 'true' };

describe('node groups (MSGQUEUE_NODE_GROUPS)', () => {
  test('off (the default), node.<id> is refused like any undeclared group', async () => {
    await using queue = await startMsgqueue();
    const { ca } = await testCertificate();
    const res = await handshakeRejection(queue.url('/popmsg?group=node.a'), { ca });
    expect(res.status).toBe(403);
    expect(JSON.parse(res.body)).toMatchObject({ code: 'GROUP_UNKNOWN' });
  });

  test("on, a popper's first connection makes its node's group at the end of the log, and only a popper may", async () => {
    await using queue = await startMsgqueue({
      ...NODE_GROUPS,
      MSGQUEUE_USERS: 'hello:test',
      MSGQUEUE_PUSH_USERS: 'pub:pw',
      MSGQUEUE_POP_USERS: 'sub:pw',
    });
    const { ca } = await testCertificate();
    const push = await queue.client('/pushmsg', { auth: 'pub:pw' });
    await pushAll(push, ['before']);
    expect((await handshakeRejection(queue.url('/popmsg?group=node.a'), { ca, auth: 'pub:pw' })).status).toBe(403);
    const a = await queue.client('/popmsg?group=node.a', { auth: 'sub:pw' });
    const b = await queue.client('/popmsg?group=node.b', { auth: 'sub:pw' });
    expect(await groupNames(queue)).toEqual(['default', 'node.a', 'node.b']);
    await pushAll(push, ['after']);
    // Each node's group gets every message: fan-out across nodes, not work-sharing.
    expect(await a.next()).toMatchObject({ id: 'after' });
    expect(await b.next()).toMatchObject({ id: 'after' });
  });

  test('a node group made for a consumer that says where it was starts there, in the same epoch only', async () => {
    await using queue = await startMsgqueue(NODE_GROUPS);
    const watcher = await queue.client('/popmsg');
    await pushAll(await queue.client('/pushmsg'), ['m1', 'm2', 'm3']);
    const { epoch } = await watcher.next<{ epoch: string }>();
    // Offsets count from 1: it has had m1 and goes on at m2.
    const resumed = await queue.client(`/popmsg?group=node.a&from=2&epoch=${epoch}`);
    expect(await resumed.next()).toMatchObject({ id: 'm2' });
    expect(await resumed.next()).toMatchObject({ id: 'm3' });
    // An offset of another history starts at the end of this one.
    const other = await queue.client('/popmsg?group=node.b&from=1&epoch=0123456789ab');
    const pusher = await queue.client('/pushmsg');
    await pushAll(pusher, ['m4']);
    expect(await other.next()).toMatchObject({ id: 'm4' });
  });

  test('with the groups at MSGQUEUE_MAX_GROUPS, a new node group is refused with 503 GROUPS_FULL', async () => {
    await using queue = await startMsgqueue({ ...NODE_GROUPS, MSGQUEUE_MAX_GROUPS: '2' });
    const { ca } = await testCertificate();
    await queue.client('/popmsg?group=node.a');
    const res = await handshakeRejection(queue.url('/popmsg?group=node.b'), { ca });
    expect(res.status).toBe(503);
    expect(JSON.parse(res.body)).toMatchObject({ code: 'GROUPS_FULL' });
    // One already made is still open.
    await queue.client('/popmsg?group=node.a');
  });

  test('a node group without consumers for MSGQUEUE_GROUP_EXPIRE_MS is removed, with a warning; declared groups stay', async () => {
    const logs = captureLogs('msgqueue');
    await using queue = await startMsgqueue(
      { ...NODE_GROUPS, MSGQUEUE_GROUPS: 'default,lazy', MSGQUEUE_GROUP_EXPIRE_MS: '100' },
      logs.logger,
    );
    const gone = await queue.client('/popmsg?group=node.gone');
    await pushAll(await queue.client('/pushmsg'), ['m1']);
    expect(await gone.next()).toMatchObject({ id: 'm1' });
    await gone.close();
    const removed = await logs.waitFor((line) => String(line.msg).startsWith('removed a node group'));
    // It never acknowledged m1: that held nothing back for good.
    expect(removed).toMatchObject({ level: 'warn', group: 'node.gone', backlog: 1 });
    expect(await groupNames(queue)).toEqual(['default', 'lazy']);
    // Its next consumer, if the node comes back after all, starts it again.
    await queue.client('/popmsg?group=node.gone');
    expect(await groupNames(queue)).toEqual(['default', 'lazy', 'node.gone']);
  });

  test("a node group's position outlives a restart; it is dropped at start once node groups are off", async () => {
    const dataDir = join(mkdtempSync(join(tmpdir(), 'pubsub-node-groups-')), 'data');
    const env = { ...NODE_GROUPS, MSGQUEUE_STORE: 'file', MSGQUEUE_DATA_DIR: dataDir };
    {
      await using first = await startMsgqueue(env);
      const node = await first.client('/popmsg?group=node.a');
      await pushAll(await first.client('/pushmsg'), ['m1', 'm2']);
      expect(await node.next()).toMatchObject({ id: 'm1' });
      node.send('{"ack":1}');
      await node.next();
    }
    {
      await using second = await startMsgqueue(env);
      expect(await groupNames(second)).toEqual(['default', 'node.a']);
      // m1 was acknowledged; m2 was not, and comes again.
      const node = await second.client('/popmsg?group=node.a');
      expect(await node.next()).toMatchObject({ id: 'm2' });
    }
    const logs = captureLogs('msgqueue');
    await using third = await startMsgqueue({ ...env, MSGQUEUE_NODE_GROUPS: 'false' }, logs.logger);
    expect(logs.lines.find((line) => String(line.msg).startsWith('dropped the saved position'))).toMatchObject({
      group: 'node.a',
    });
    expect(await groupNames(third)).toEqual(['default']);
  });
});
