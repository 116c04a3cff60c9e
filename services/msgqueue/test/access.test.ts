import { hashPassword } from '@pubsub/auth';
import { captureLogs, connect, handshakeRejection, testCertificate, writeUsersFile } from '@pubsub/testkit';
import type { IncomingHttpHeaders } from 'node:http';
import { request } from 'node:https';
import { connect as tlsConnect, createSecureContext, type TLSSocket } from 'node:tls';
import { beforeAll, describe, expect, test } from 'vitest';
import { startMsgqueue, type TestMsgqueue } from './helpers.js';

interface Response {
  status: number;
  headers: IncomingHttpHeaders;
  body: string;
}

/** GET as `auth` (`user:password`), or with an `Origin` header too. */
function get(queue: TestMsgqueue, path: string, as: string | { auth: string; origin: string }): Promise<Response> {
  const { auth, headers } =
    typeof as === 'string' ? { auth: as, headers: {} } : { auth: as.auth, headers: { Origin: as.origin } };
  return testCertificate().then(
    ({ ca }) =>
      new Promise((resolveGet, reject) => {
        request(queue.url(path).replace('wss:', 'https:'), { ca, auth, headers }, (res) => {
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
let testCa: string;
const ca = () => testCa;
beforeAll(async () => {
  testCa = (await testCertificate()).ca;
  const password = await hashPassword('pw');
  usersFile = writeUsersFile([
    { name: 'app', password, role: 'client', publish: ['>'], subscribe: ['>'] },
    { name: 'pub', password, role: 'pusher' },
    { name: 'sub', password, role: 'popper' },
    { name: 'mon', password, role: 'monitor' },
    { name: 'ops', password, role: 'admin' },
  ]);
});

describe('roles', () => {
  test('only pushers reach /pushmsg, only poppers /popmsg and /history; others get 403 FORBIDDEN', async () => {
    await using queue = await startMsgqueue({ USERS_FILE: usersFile });
    const refusals: [string, string][] = [
      ['/pushmsg', 'app:pw'],
      ['/pushmsg', 'mon:pw'],
      ['/pushmsg', 'ops:pw'],
      // The subscriber's account cannot forge messages, the publisher's cannot read them.
      ['/pushmsg', 'sub:pw'],
      ['/popmsg', 'pub:pw'],
      ['/popmsg', 'app:pw'],
      ['/popmsg', 'mon:pw'],
    ];
    for (const [path, auth] of refusals) {
      const res = await refused(queue, path, { auth });
      expect(res.status, `${auth} on ${path}`).toBe(403);
      expect(codeOf(res)).toBe('FORBIDDEN');
    }
    for (const auth of ['app:pw', 'mon:pw', 'pub:pw']) {
      const res = await get(queue, '/history?topic=t', auth);
      expect(res.status, auth).toBe(403);
      expect(codeOf(res)).toBe('FORBIDDEN');
    }
    const pusher = await queue.client('/pushmsg', { auth: 'pub:pw' });
    expect(pusher.ws.readyState).toBe(pusher.ws.OPEN);
    const popper = await queue.client('/popmsg', { auth: 'sub:pw' });
    expect(popper.ws.readyState).toBe(popper.ws.OPEN);
    expect((await get(queue, '/history?topic=t', 'sub:pw')).status).toBe(200);
    // Credentials are checked before the role: a wrong password is 401, not 403.
    expect((await refused(queue, '/pushmsg', { auth: 'app:wrong' })).status).toBe(401);
    // With USERS_FILE set and MSGQUEUE_USERS unset, the development user is gone.
    expect((await refused(queue, '/pushmsg', { auth: 'hello:test' })).status).toBe(401);
  });

  test('/metrics is for monitor, pusher, popper and admin users, and for the users of MSGQUEUE_USERS', async () => {
    await using queue = await startMsgqueue({ USERS_FILE: usersFile, MSGQUEUE_USERS: 'legacy:old-pw' });
    for (const auth of ['mon:pw', 'pub:pw', 'sub:pw', 'ops:pw'])
      expect((await get(queue, '/metrics', auth)).status).toBe(200);
    expect((await get(queue, '/metrics', 'legacy:old-pw')).status).toBe(200);
    const client = await get(queue, '/metrics', 'app:pw');
    expect(client.status).toBe(403);
    expect(codeOf(client)).toBe('FORBIDDEN');
    // A MSGQUEUE_USERS user pushes and pops, alongside the file's.
    await queue.client('/popmsg', { auth: 'legacy:old-pw' });
    await queue.client('/pushmsg', { auth: 'legacy:old-pw' });
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

describe('browser origins', () => {
  test('the hop endpoints refuse every browser Origin, even a listed one or their own; clients without Origin pass', async () => {
    await using queue = await startMsgqueue({ ALLOWED_ORIGINS: 'https://app.example.com' });
    const own = `https://localhost:${queue.port}`;
    for (const path of ['/pushmsg', '/popmsg']) {
      for (const origin of ['https://evil.example', 'https://app.example.com', own, 'null']) {
        const res = await refused(queue, path, { auth: 'hello:test', headers: { Origin: origin } });
        expect(res.status, `${origin} on ${path}`).toBe(403);
        expect(codeOf(res)).toBe('ORIGIN_FORBIDDEN');
      }
    }
    const history = await get(queue, '/history?topic=t', { auth: 'hello:test', origin: own });
    expect(history.status).toBe(403);
    expect(codeOf(history)).toBe('ORIGIN_FORBIDDEN');
    await queue.client('/pushmsg');
    expect((await get(queue, '/history?topic=t', 'hello:test')).status).toBe(200);
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

  test('guesses from 3 addresses cannot lock a user out: the right password from a fresh address gets in, slowed', async () => {
    // The probe: 60 wrong guesses for the hop account from 3 addresses, then the right password
    // from a fourth. The name's limit is low here so that its slow-down shows.
    await using queue = await startMsgqueue({
      MSGQUEUE_USERS: 'hop:pw,hop2:pw2',
      AUTH_THROTTLE_USER_FAILURES: '10',
      AUTH_THROTTLE_USER_DELAY_MS: '20',
    });
    const from = (localAddress: string, auth: string) =>
      handshakeRejection(queue.url('/pushmsg').replace('localhost', '127.0.0.1'), { ca: ca(), auth, localAddress });
    const statuses: number[] = [];
    for (const address of ['127.0.0.2', '127.0.0.3', '127.0.0.4']) {
      for (let guess = 0; guess < 20; guess++) statuses.push((await from(address, `hop:guess-${guess}`)).status);
    }
    // Per (address, name) pair: five guesses checked, the rest refused unchecked.
    expect(statuses.filter((status) => status === 401)).toHaveLength(15);
    expect(statuses.filter((status) => status === 429)).toHaveLength(45);
    const pair = await from('127.0.0.2', 'hop:pw');
    expect(pair.status).toBe(429);
    expect(pair.body).toContain('for this user from this address');
    // The same address may still log in as another user.
    expect((await from('127.0.0.2', 'hop2:nope')).status).toBe(401);
    const fresh = await connect(queue.url('/pushmsg').replace('localhost', '127.0.0.1'), {
      ca: ca(),
      auth: 'hop:pw',
      localAddress: '127.0.0.5',
    });
    await fresh.close();
    const metrics = (await get(queue, '/metrics', 'hop2:pw2')).body;
    expect(sample(metrics, 'pubsub_auth_throttled_total', 'scope="pair"')).toBe(46);
    // Slowed rather than refused: the check from the fresh address waited.
    expect(sample(metrics, 'pubsub_auth_throttled_total', 'scope="user"')).toBeGreaterThanOrEqual(1);
  });

  test('after N failures from one address every name is refused there, not elsewhere', async () => {
    await using queue = await startMsgqueue({ MSGQUEUE_USERS: 'hop:pw,hop2:pw2', AUTH_THROTTLE_ADDRESS_FAILURES: '4' });
    const from = (localAddress: string, auth: string) =>
      handshakeRejection(queue.url('/pushmsg').replace('localhost', '127.0.0.1'), { ca: ca(), auth, localAddress });
    for (const name of ['a', 'b', 'c', 'd']) expect((await from('127.0.0.6', `${name}:x`)).status).toBe(401);
    expect((await from('127.0.0.6', 'hop2:pw2')).status).toBe(429);
    expect((await from('127.0.0.7', 'hop2:nope')).status).toBe(401);
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

describe('failed logins on HTTP endpoints', () => {
  test('are logged like refused upgrades: user, address, path and reason, never the password', async () => {
    const logs = captureLogs('msgqueue');
    await using queue = await startMsgqueue({ MSGQUEUE_POP_USERS: 'sub:pw' }, logs.logger);
    expect((await get(queue, '/metrics', 'sub:hunter2')).status).toBe(401);
    expect((await get(queue, '/history?topic=t', 'nobody:hunter3')).status).toBe(401);
    const failures = logs.lines.filter((line) => line.msg === 'authentication failed');
    expect(failures).toEqual([
      expect.objectContaining({
        path: '/metrics',
        user: 'sub',
        code: 'AUTH_FAILED',
      }),
      expect.objectContaining({
        path: '/history',
        user: 'nobody',
        reason: 'missing or invalid credentials (HTTP Basic Auth)',
      }),
    ]);
    expect(failures.map((line) => typeof line.remoteAddress)).toEqual(['string', 'string']);
    expect(JSON.stringify(logs.lines)).not.toMatch(/hunter/);
    // Refusals other than 401 are logged too, with their code.
    expect((await get(queue, '/groups', 'sub:pw')).status).toBe(403);
    expect(logs.lines).toContainEqual(
      expect.objectContaining({ msg: 'request refused', path: '/groups', user: 'sub', code: 'FORBIDDEN' }),
    );
  });
});

describe('transport limits', () => {
  /** A bare TLS connection from `localAddress`: resolves with the cipher it got, or 'refused'. */
  function tlsDial(queue: TestMsgqueue, options: { localAddress?: string; ciphers?: string; maxVersion?: 'TLSv1.2' }) {
    return new Promise<{ socket: TLSSocket; cipher: string } | 'refused'>((resolveDial) => {
      const socket = tlsConnect({ host: '127.0.0.1', port: queue.port, servername: 'localhost', ca: ca(), ...options });
      socket.once('secureConnect', () => resolveDial({ socket, cipher: socket.getCipher().name }));
      socket.once('error', () => resolveDial('refused'));
    });
  }

  test('TLS 1.2 offers only ECDHE with AEAD suites; TLS 1.3 is unchanged', async () => {
    await using queue = await startMsgqueue();
    const weak = [
      'ECDHE-ECDSA-AES128-SHA',
      'ECDHE-ECDSA-AES128-SHA256',
      'ECDHE-ECDSA-AES128-CCM8',
      'ECDHE-ECDSA-ARIA128-GCM-SHA256',
    ];
    for (const cipher of weak) {
      try {
        createSecureContext({ ciphers: cipher });
      } catch {
        continue; // this client's OpenSSL cannot even offer it
      }
      expect(await tlsDial(queue, { ciphers: cipher, maxVersion: 'TLSv1.2' }), cipher).toBe('refused');
    }
    for (const cipher of ['ECDHE-ECDSA-AES128-GCM-SHA256', 'ECDHE-ECDSA-CHACHA20-POLY1305']) {
      const dialed = await tlsDial(queue, { ciphers: cipher, maxVersion: 'TLSv1.2' });
      expect(dialed === 'refused' ? dialed : dialed.cipher).toBe(cipher);
      if (dialed !== 'refused') dialed.socket.destroy();
    }
    const modern = await tlsDial(queue, {});
    expect(modern === 'refused' ? modern : modern.socket.getProtocol()).toBe('TLSv1.3');
    if (modern !== 'refused') modern.socket.destroy();
  });

  test('MAX_CONNECTIONS_PER_ADDRESS: one host cannot open more, even before TLS; other hosts can', async () => {
    await using queue = await startMsgqueue({ MAX_CONNECTIONS_PER_ADDRESS: '2' });
    const held = [
      await tlsDial(queue, { localAddress: '127.0.0.8' }),
      await tlsDial(queue, { localAddress: '127.0.0.8' }),
    ];
    expect(held).not.toContain('refused');
    expect(await tlsDial(queue, { localAddress: '127.0.0.8' })).toBe('refused');
    const other = await tlsDial(queue, { localAddress: '127.0.0.9' });
    expect(other).not.toBe('refused');
    for (const dialed of [...held, other]) if (dialed !== 'refused') dialed.socket.destroy();
    const metrics = (await get(queue, '/metrics', 'hello:test')).body;
    expect(sample(metrics, 'pubsub_rejected_total', 'code="TOO_MANY_ADDRESS_CONNECTIONS"')).toBe(1);
  });
});
