import { hashPassword } from '@pubsub/auth';
import { captureLogs, handshakeRejection, testCertificate, writeUsersFile } from '@pubsub/testkit';
import type { IncomingHttpHeaders } from 'node:http';
import { request } from 'node:https';
import { beforeAll, describe, expect, test } from 'vitest';
import { startMsgqueue, type TestMsgqueue } from './helpers.js';

interface Response {
  status: number;
  headers: IncomingHttpHeaders;
  body: string;
}

function get(queue: TestMsgqueue, path: string, auth: string): Promise<Response> {
  return testCertificate().then(
    ({ ca }) =>
      new Promise((resolveGet, reject) => {
        request(queue.url(path).replace('wss:', 'https:'), { ca, auth }, (res) => {
          let body = '';
          res.on('data', (chunk: Buffer) => (body += chunk.toString()));
          res.on('end', () => resolveGet({ status: res.statusCode ?? 0, headers: res.headers, body }));
        })
          .on('error', reject)
          .end();
      }),
  );
}

/** The `code` of a JSON error body. */
const codeOf = (response: { body: string }) => (JSON.parse(response.body) as { code: string }).code;

/** The value of one sample line of a Prometheus text page, e.g. `pubsub_auth_failures_total{service="msgqueue"} 3`. */
function sample(text: string, metric: string, labels = ''): number | undefined {
  const line = text.split('\n').find((l) => l.startsWith(`${metric}{`) && l.includes(labels));
  return line === undefined ? undefined : Number(line.slice(line.lastIndexOf(' ') + 1));
}

async function refused(queue: TestMsgqueue, path: string, options: { auth: string; headers?: Record<string, string> }) {
  const { ca } = await testCertificate();
  return handshakeRejection(queue.url(path), { ca, ...options });
}

let usersFile: string;
beforeAll(async () => {
  const password = await hashPassword('pw');
  usersFile = writeUsersFile([
    { name: 'app', password, role: 'client', publish: ['>'], subscribe: ['>'] },
    { name: 'hop', password, role: 'hop' },
    { name: 'mon', password, role: 'monitor' },
  ]);
});

describe('roles', () => {
  test('only hop users reach /pushmsg, /popmsg and /history; others get 403 FORBIDDEN', async () => {
    await using queue = await startMsgqueue({ USERS_FILE: usersFile });
    for (const path of ['/pushmsg', '/popmsg']) {
      for (const auth of ['app:pw', 'mon:pw']) {
        const res = await refused(queue, path, { auth });
        expect(res.status, `${auth} on ${path}`).toBe(403);
        expect(codeOf(res)).toBe('FORBIDDEN');
      }
    }
    for (const auth of ['app:pw', 'mon:pw']) {
      const res = await get(queue, '/history?topic=t', auth);
      expect(res.status).toBe(403);
      expect(codeOf(res)).toBe('FORBIDDEN');
    }
    const hop = await queue.client('/pushmsg', { auth: 'hop:pw' });
    expect(hop.ws.readyState).toBe(hop.ws.OPEN);
    expect((await get(queue, '/history?topic=t', 'hop:pw')).status).toBe(200);
    // Credentials are checked before the role: a wrong password is 401, not 403.
    expect((await refused(queue, '/pushmsg', { auth: 'app:wrong' })).status).toBe(401);
    // With USERS_FILE set and MSGQUEUE_USERS unset, the development user is gone.
    expect((await refused(queue, '/pushmsg', { auth: 'hello:test' })).status).toBe(401);
  });

  test('/metrics is for monitor and hop users, and for the users of MSGQUEUE_USERS', async () => {
    await using queue = await startMsgqueue({ USERS_FILE: usersFile, MSGQUEUE_USERS: 'legacy:old-pw' });
    expect((await get(queue, '/metrics', 'mon:pw')).status).toBe(200);
    expect((await get(queue, '/metrics', 'hop:pw')).status).toBe(200);
    expect((await get(queue, '/metrics', 'legacy:old-pw')).status).toBe(200);
    const client = await get(queue, '/metrics', 'app:pw');
    expect(client.status).toBe(403);
    expect(codeOf(client)).toBe('FORBIDDEN');
    // A MSGQUEUE_USERS user is a hop user here, alongside the file's.
    await queue.client('/popmsg', { auth: 'legacy:old-pw' });
    const metrics = (await get(queue, '/metrics', 'mon:pw')).body;
    expect(sample(metrics, 'pubsub_rejected_total', 'code="FORBIDDEN"')).toBe(1);
  });
});

describe('connection limits', () => {
  test('MAX_CONNECTIONS: one more is refused with 503 until one closes', async () => {
    const logs = captureLogs('msgqueue');
    await using queue = await startMsgqueue({ MSGQUEUE_USERS: 'hop:pw,hop2:pw2', MAX_CONNECTIONS: '2' }, logs.logger);
    const first = await queue.client('/pushmsg', { auth: 'hop:pw' });
    await queue.client('/popmsg', { auth: 'hop2:pw2' });
    const res = await refused(queue, '/pushmsg', { auth: 'hop:pw' });
    expect(res.status).toBe(503);
    expect(codeOf(res)).toBe('TOO_MANY_CONNECTIONS');
    const closedOnServer = logs.waitFor((line) => line.msg === 'connection closed');
    await first.close();
    await closedOnServer;
    await queue.client('/pushmsg', { auth: 'hop:pw' });
    const metrics = (await get(queue, '/metrics', 'hop:pw')).body;
    expect(sample(metrics, 'pubsub_rejected_total', 'code="TOO_MANY_CONNECTIONS"')).toBe(1);
  });

  test('MAX_CONNECTIONS_PER_USER: one more of the same user is refused with 429; other users are not', async () => {
    await using queue = await startMsgqueue({ MSGQUEUE_USERS: 'hop:pw,hop2:pw2', MAX_CONNECTIONS_PER_USER: '1' });
    await queue.client('/pushmsg', { auth: 'hop:pw' });
    const res = await refused(queue, '/popmsg', { auth: 'hop:pw' });
    expect(res.status).toBe(429);
    expect(codeOf(res)).toBe('TOO_MANY_USER_CONNECTIONS');
    await queue.client('/popmsg', { auth: 'hop2:pw2' });
  });
});

describe('Origin allowlist', () => {
  test('a browser origin not in ALLOWED_ORIGINS gets 403; listed origins and clients without Origin pass', async () => {
    await using queue = await startMsgqueue({ ALLOWED_ORIGINS: 'https://app.example.com' });
    const res = await refused(queue, '/pushmsg', { auth: 'hello:test', headers: { Origin: 'https://evil.example' } });
    expect(res.status).toBe(403);
    expect(codeOf(res)).toBe('ORIGIN_FORBIDDEN');
    expect((await refused(queue, '/pushmsg', { auth: 'hello:test', headers: { Origin: 'null' } })).status).toBe(403);
    // The same origin spelled differently is the same origin.
    await queue.client('/pushmsg', { headers: { Origin: 'https://APP.example.com:443' } });
    await queue.client('/pushmsg');
  });

  test('an empty list allows every origin', async () => {
    await using queue = await startMsgqueue();
    await queue.client('/pushmsg', { headers: { Origin: 'https://anywhere.example' } });
  });
});

describe('auth-failure throttling', () => {
  test('after N failures from one address, logins are refused unchecked with 429 and Retry-After', async () => {
    await using queue = await startMsgqueue({
      MSGQUEUE_USERS: 'hop:pw,hop2:pw2',
      AUTH_THROTTLE_ADDRESS_FAILURES: '3',
      AUTH_THROTTLE_WINDOW_MS: '600000',
    });
    // Verified once before the attack: a remembered pair is let in throughout.
    await (await queue.client('/pushmsg', { auth: 'hop:pw' })).close();
    for (const guess of ['a', 'b', 'c']) {
      expect((await refused(queue, '/pushmsg', { auth: `hop:${guess}` })).status).toBe(401);
    }
    const throttled = await refused(queue, '/pushmsg', { auth: 'hop:d' });
    expect(throttled.status).toBe(429);
    expect(codeOf(throttled)).toBe('AUTH_THROTTLED');
    const retryAfter = Number(throttled.headers['retry-after']);
    expect(retryAfter).toBeGreaterThanOrEqual(1);
    expect(retryAfter).toBeLessThanOrEqual(600);
    // Not checked: even the right password of a user not yet verified is refused.
    expect((await refused(queue, '/pushmsg', { auth: 'hop2:pw2' })).status).toBe(429);
    // The HTTP endpoints share the throttle.
    expect((await get(queue, '/metrics', 'hop:wrong')).status).toBe(429);
    // Successful logins are not slowed.
    await queue.client('/popmsg', { auth: 'hop:pw' });
    const metrics = (await get(queue, '/metrics', 'hop:pw')).body;
    expect(sample(metrics, 'pubsub_auth_failures_total')).toBe(3);
    expect(sample(metrics, 'pubsub_auth_throttled_total', 'scope="address"')).toBe(3);
  });

  test('after N failures for one user name, that name is refused; other users are not', async () => {
    await using queue = await startMsgqueue({ MSGQUEUE_USERS: 'hop:pw,hop2:pw2', AUTH_THROTTLE_USER_FAILURES: '2' });
    for (const guess of ['a', 'b']) {
      expect((await refused(queue, '/pushmsg', { auth: `hop:${guess}` })).status).toBe(401);
    }
    const throttled = await refused(queue, '/pushmsg', { auth: 'hop:c' });
    expect(throttled.status).toBe(429);
    expect(throttled.body).toContain('for this user');
    // The name is locked until the window ends, unless its pair was verified before.
    expect((await refused(queue, '/pushmsg', { auth: 'hop:pw' })).status).toBe(429);
    await queue.client('/pushmsg', { auth: 'hop2:pw2' });
    const metrics = (await get(queue, '/metrics', 'hop2:pw2')).body;
    expect(sample(metrics, 'pubsub_auth_throttled_total', 'scope="user"')).toBe(2);
  });

  test('concurrent guesses are bounded too; a reconnect storm of one client is not throttled', async () => {
    await using queue = await startMsgqueue({ MSGQUEUE_USERS: 'hop:pw,hop2:pw2', AUTH_THROTTLE_ADDRESS_FAILURES: '2' });
    // Six identical logins at once share one check.
    const storm = await Promise.all(Array.from({ length: 6 }, () => queue.client('/pushmsg', { auth: 'hop2:pw2' })));
    expect(storm).toHaveLength(6);
    // Six different guesses at once: only as many as the limit are checked.
    const guesses = await Promise.all(
      ['a', 'b', 'c', 'd', 'e', 'f'].map((guess) => refused(queue, '/pushmsg', { auth: `hop:${guess}` })),
    );
    const statuses = guesses.map((res) => res.status).sort();
    expect(statuses).toEqual([401, 401, 429, 429, 429, 429]);
  });
});
