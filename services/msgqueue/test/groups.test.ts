import { encodeDelivery } from '@pubsub/protocol';
import { captureLogs, handshakeRejection, testCertificate, type TestClient } from '@pubsub/testkit';
import { mkdtempSync } from 'node:fs';
import { request } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, test } from 'vitest';
import { startMsgqueue, type TestMsgqueue } from './helpers.js';

const frame = (id: string) => encodeDelivery({ topic: 't', id, content: JSON.stringify(id) });

async function http(queue: TestMsgqueue, request_: { method: string; path: string; auth?: string }) {
  const { method, path, auth = 'hello:test' } = request_;
  const { ca } = await testCertificate();
  return new Promise<{ status: number; body: string }>((resolveRequest, reject) => {
    request(queue.url(path).replace('wss:', 'https:'), { ca, auth, method }, (res) => {
      let body = '';
      res.on('data', (chunk: Buffer) => (body += chunk.toString()));
      res.on('end', () => resolveRequest({ status: res.statusCode ?? 0, body }));
    })
      .on('error', reject)
      .end();
  });
}

/** Pushes `count` messages and resolves once the msgqueue has acknowledged them all. */
async function pushAll(push: TestClient, count: number, prefix = 'm'): Promise<void> {
  for (let i = 0; i < count; i++) push.send(frame(`${prefix}${i}`));
  let acked = 0;
  while (acked < count) acked = (await push.next<{ ack: number }>()).ack;
}

/** Acknowledges every message the consumer gets, as a subscriber service does. */
function drain(pop: TestClient): void {
  let received = 0;
  pop.ws.on('message', () => pop.send(JSON.stringify({ ack: ++received })));
}

const groupsOf = async (queue: TestMsgqueue, auth?: string) =>
  (
    JSON.parse((await http(queue, { method: 'GET', path: '/groups', ...(auth && { auth }) })).body) as {
      groups: Record<string, unknown>[];
    }
  ).groups;

describe('consumer groups', () => {
  test('an undeclared group is refused before the upgrade (403 GROUP_UNKNOWN): made-up groups cannot stall publishing', async () => {
    // The probe: five made-up groups, then more pushes than MSGQUEUE_MAX_MESSAGES.
    await using queue = await startMsgqueue({ MSGQUEUE_MAX_MESSAGES: '5' });
    const { ca } = await testCertificate();
    for (let i = 0; i < 5; i++) {
      const res = await handshakeRejection(queue.url(`/popmsg?group=made-up-${i}`), { ca });
      expect(res.status).toBe(403);
      const body = JSON.parse(res.body) as { code: string; message: string };
      expect(body.code).toBe('GROUP_UNKNOWN');
      expect(body.message).toContain(`"made-up-${i}"`);
    }
    expect((await groupsOf(queue)).map((group) => group.name)).toEqual(['default']);
    drain(await queue.client('/popmsg'));
    await pushAll(await queue.client('/pushmsg'), 50);
    const metrics = (await http(queue, { method: 'GET', path: '/metrics' })).body;
    expect(metrics).toMatch(/pubsub_rejected_total\{code="GROUP_UNKNOWN",service="msgqueue"\} 5/);
  });

  test('a group nobody consumes for MSGQUEUE_GROUP_IDLE_MS stops holding the backlog, with a warning; its next consumer resumes', async () => {
    const logs = captureLogs('msgqueue');
    await using queue = await startMsgqueue(
      { MSGQUEUE_GROUPS: 'default,lazy', MSGQUEUE_MAX_MESSAGES: '5', MSGQUEUE_GROUP_IDLE_MS: '200' },
      logs.logger,
    );
    drain(await queue.client('/popmsg'));
    // 'lazy' has no consumer: without the idle rule the pushers would stay paused after 5.
    await pushAll(await queue.client('/pushmsg'), 20);
    const idle = await logs.waitFor((line) => String(line.msg).startsWith('consumer group idle'));
    expect(idle).toMatchObject({ level: 'warn', group: 'lazy' });
    const full = logs.lines.find((line) => line.msg === 'queue full, pausing pushers');
    if (full !== undefined) expect(full.groups).toContainEqual(expect.objectContaining({ name: 'lazy', consumers: 0 }));
    expect(await groupsOf(queue)).toContainEqual(expect.objectContaining({ name: 'lazy', holding: false, floor: 1 }));
    expect((await http(queue, { method: 'GET', path: '/metrics' })).body).toMatch(
      /pubsub_msgqueue_group_holding\{group="lazy",service="msgqueue"\} 0/,
    );
    // Retention kept everything here, so its consumer starts at the first message, and holds again.
    const lazy = await queue.client('/popmsg?group=lazy');
    expect(await lazy.next()).toMatchObject({ id: 'm0' });
    expect(await groupsOf(queue)).toContainEqual(
      expect.objectContaining({ name: 'lazy', holding: true, consumers: 1 }),
    );
  });

  test('GET /groups lists the groups; DELETE /groups/<name>, for admins only, closes its consumers and frees the backlog', async () => {
    const logs = captureLogs('msgqueue');
    await using queue = await startMsgqueue(
      { MSGQUEUE_GROUPS: 'lazy', MSGQUEUE_MAX_MESSAGES: '5', MSGQUEUE_USERS: 'ops:pw', MSGQUEUE_POP_USERS: 'sub:pw' },
      logs.logger,
    );
    const stuck = await queue.client('/popmsg?group=lazy', { auth: 'sub:pw' });
    const push = await queue.client('/pushmsg', { auth: 'ops:pw' });
    const pushed = pushAll(push, 10);
    await logs.waitFor((line) => line.msg === 'queue full, pausing pushers');
    const [listed, ...others] = await groupsOf(queue, 'ops:pw');
    expect(others).toEqual([]);
    expect(listed).toMatchObject({ name: 'lazy', floor: 1, consumers: 1, holding: true, idleMs: 0 });
    expect(listed?.backlog).toBeGreaterThanOrEqual(5);
    expect((await http(queue, { method: 'GET', path: '/metrics', auth: 'ops:pw' })).body).toMatch(
      /pubsub_msgqueue_group_backlog\{group="lazy",service="msgqueue"\} (5|6|7|8|9|10)\n/,
    );
    // A popper may consume its group, not remove it.
    const forbidden = await http(queue, { method: 'DELETE', path: '/groups/lazy', auth: 'sub:pw' });
    expect(forbidden.status).toBe(403);
    expect(JSON.parse(forbidden.body)).toMatchObject({ code: 'FORBIDDEN' });
    const closed = stuck.closed();
    const removed = await http(queue, { method: 'DELETE', path: '/groups/lazy', auth: 'ops:pw' });
    expect(removed).toEqual({ status: 200, body: '{"removed":"lazy"}' });
    expect(await closed).toEqual({ code: 4410, reason: 'group "lazy" was removed' });
    await pushed;
    expect(await logs.waitFor((line) => line.msg === 'removed a consumer group')).toMatchObject({
      group: 'lazy',
      user: 'ops',
    });
    expect((await http(queue, { method: 'DELETE', path: '/groups/lazy', auth: 'ops:pw' })).status).toBe(404);
    const { ca } = await testCertificate();
    expect((await handshakeRejection(queue.url('/popmsg?group=lazy'), { ca, auth: 'sub:pw' })).status).toBe(403);
  });

  test("GET /stats gives popper users the depth and each group's backlog and consumers; clients get 403", async () => {
    await using queue = await startMsgqueue({
      MSGQUEUE_GROUPS: 'default,other',
      MSGQUEUE_POP_USERS: 'sub:pw',
      MSGQUEUE_PUSH_USERS: 'pub:pw',
    });
    drain(await queue.client('/popmsg?group=default', { auth: 'sub:pw' }));
    await pushAll(await queue.client('/pushmsg', { auth: 'pub:pw' }), 4);
    const stats = await http(queue, { method: 'GET', path: '/stats', auth: 'sub:pw' });
    expect(stats.status).toBe(200);
    const body = JSON.parse(stats.body) as { depth: number; groups: { name: string }[] };
    // `other` has no consumer yet and holds all four back; `default` may still be acking.
    expect(body.depth).toBe(4);
    expect(body.groups.find((group) => group.name === 'other')).toEqual({ name: 'other', backlog: 4, consumers: 0 });
    expect(body.groups.find((group) => group.name === 'default')).toMatchObject({ consumers: 1 });
    expect((await http(queue, { method: 'GET', path: '/stats', auth: 'pub:pw' })).status).toBe(403);
  });

  test('a saved position of a group no longer declared is dropped at start, with a warning', async () => {
    const dataDir = join(mkdtempSync(join(tmpdir(), 'pubsub-groups-')), 'data');
    const env = { MSGQUEUE_STORE: 'file', MSGQUEUE_DATA_DIR: dataDir };
    {
      await using first = await startMsgqueue({ ...env, MSGQUEUE_GROUPS: 'default,old' });
      await pushAll(await first.client('/pushmsg'), 3);
    }
    const logs = captureLogs('msgqueue');
    await using second = await startMsgqueue({ ...env, MSGQUEUE_GROUPS: 'default' }, logs.logger);
    expect(logs.lines.find((line) => String(line.msg).startsWith('dropped the saved position'))).toMatchObject({
      group: 'old',
    });
    expect((await groupsOf(second)).map((group) => group.name)).toEqual(['default']);
  });
});
