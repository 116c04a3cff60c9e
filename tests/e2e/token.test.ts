import * as publisher from '@pubsub/publisher';
import { signToken, TOKEN_COOKIE } from '@pubsub/service';
import { captureLogs, connect, DEV_AUTH, handshakeRejection, post, openEvents } from '@pubsub/testkit';
import { describe, expect, test } from 'vitest';
import { startChain, subscribe, type Chain } from '@pubsub/testkit-chain';

const SECRET = 'a-test-secret-of-at-least-32-characters';

/** Both services share the secret, so a token from either works on both. */
const tokenEnv = { AUTH_TOKEN_SECRET: SECRET };

async function signIn(chain: Chain, port = chain.publisher.port, auth: string = DEV_AUTH) {
  const answer = await post(port, '/api/token', { ca: chain.ca, auth });
  return { ...answer, json: JSON.parse(answer.body) as { token: string; expiresAt: string } };
}

function apiPublish(chain: Chain, query: string, headers: Record<string, string> = {}) {
  return post(chain.publisher.port, `/api/messages${query}`, {
    ca: chain.ca,
    headers: { 'Content-Type': 'application/json', ...headers },
    body: JSON.stringify({ topic: 't', content: 'by token' }),
  });
}

describe('browser sign-in with POST /api/token', () => {
  test('issues a signed token in the body and an HttpOnly, Secure, SameSite=Strict cookie', async () => {
    await using chain = await startChain({ env: { ...tokenEnv, AUTH_TOKEN_TTL_MS: '60000' } });
    const before = Date.now();
    const answer = await signIn(chain);
    expect(answer.status).toBe(200);
    expect(answer.json.token).toMatch(/^[\w-]+\.[\w-]+$/);
    const expiresAt = Date.parse(answer.json.expiresAt);
    expect(expiresAt).toBeGreaterThanOrEqual(before + 60_000);
    expect(expiresAt).toBeLessThanOrEqual(Date.now() + 60_000);
    const cookie = answer.headers['set-cookie']?.[0] ?? '';
    expect(cookie).toContain(`${TOKEN_COOKIE}=${answer.json.token}`);
    expect(cookie).toMatch(/HttpOnly/);
    expect(cookie).toMatch(/Secure/);
    expect(cookie).toMatch(/SameSite=Strict/);
    expect(answer.headers['cache-control']).toBe('no-store');
  });

  test('the token works on /publish, /subscribe, /events and /api/messages; never logged', async () => {
    const logs = captureLogs();
    await using chain = await startChain({ env: tokenEnv, logger: logs.logger });
    const { token } = (await signIn(chain, chain.subscriber.port)).json;
    const q = `?access_token=${encodeURIComponent(token)}`;
    const sub = await connect(`${chain.subscribeUrl}${q}`, { ca: chain.ca, auth: null });
    await subscribe(sub, 't');
    const sse = await openEvents({ port: chain.subscriber.port, ca: chain.ca }, `${q}&topic=t`, { auth: null });
    expect(sse.status).toBe(200);
    await sse.stream.until(() => sse.stream.retry !== undefined);
    const pub = await connect(`${chain.publishUrl}${q}`, { ca: chain.ca, auth: null });
    pub.send({ topic: 't', content: 'over wss', id: 'w' });
    expect(await pub.next()).toMatchObject({ type: 'ack', id: 'w', seq: 1 });
    const byQuery = await apiPublish(chain, q);
    expect(byQuery.status).toBe(200);
    const byCookie = await apiPublish(chain, '', { Cookie: `other=1; ${TOKEN_COOKIE}=${token}` });
    expect(byCookie.status).toBe(200);
    expect(await sub.next()).toMatchObject({ id: 'w' });
    await sse.stream.until(() => sse.stream.messages().length >= 3);
    expect(sse.stream.messages().map((message) => message.content)).toEqual(['over wss', 'by token', 'by token']);
    sse.stream.close();
    await Promise.all([sub.close(), pub.close()]);
    expect(JSON.stringify(logs.lines)).not.toContain(token);
  });

  test('expired and forged tokens get 401 AUTH_FAILED with a message saying which', async () => {
    await using chain = await startChain({ env: tokenEnv });
    const expired = signToken(SECRET, { user: 'hello', expiresAt: Date.now() - 1 });
    const forged = signToken('another-secret-of-at-least-32-characters', {
      user: 'hello',
      expiresAt: Date.now() + 60_000,
    });
    const valid = signToken(SECRET, { user: 'hello', expiresAt: Date.now() + 60_000 });
    const tampered = `${Buffer.from(JSON.stringify({ u: 'root', exp: Date.now() + 60_000 })).toString('base64url')}.${valid.split('.')[1]}`;
    const cases: [string, RegExp][] = [
      [expired, /expired/],
      [forged, /not valid/],
      [tampered, /not valid/],
      ['garbage', /not valid/],
    ];
    for (const [token, message] of cases) {
      const q = `?access_token=${encodeURIComponent(token)}`;
      const api = await apiPublish(chain, q);
      expect(api.status, token).toBe(401);
      expect(JSON.parse(api.body), token).toMatchObject({
        code: 'AUTH_FAILED',
        message: expect.stringMatching(message) as unknown,
      });
      const ws = await handshakeRejection(`${chain.subscribeUrl}${q}`, { ca: chain.ca, auth: null });
      expect(ws.status, token).toBe(401);
      expect(JSON.parse(ws.body), token).toMatchObject({
        code: 'AUTH_FAILED',
        message: expect.stringMatching(message) as unknown,
      });
    }
  });

  test('a token cannot buy the next one: /api/token takes Basic Auth only', async () => {
    await using chain = await startChain({ env: tokenEnv });
    const { token } = (await signIn(chain)).json;
    const renewal = await post(chain.publisher.port, `/api/token?access_token=${token}`, { ca: chain.ca });
    expect(renewal.status).toBe(401);
    expect(renewal.headers['www-authenticate']).toMatch(/^Basic/);
    expect((await signIn(chain, chain.publisher.port, 'hello:wrong')).status).toBe(401);
  });

  test('a token does not get past the Origin check', async () => {
    await using chain = await startChain({ env: tokenEnv });
    const { token } = (await signIn(chain)).json;
    const refused = await openEvents({ port: chain.subscriber.port, ca: chain.ca }, `?topic=t&access_token=${token}`, {
      auth: null,
      headers: { Origin: 'https://evil.example' },
    });
    expect(refused.status).toBe(403);
    expect(JSON.parse(await refused.body())).toMatchObject({ code: 'ORIGIN_FORBIDDEN' });
  });

  test('NODE_ENV=production requires AUTH_TOKEN_SECRET', () => {
    const env = { NODE_ENV: 'production', PUBLISHER_USERS: DEV_AUTH };
    expect(() => publisher.loadConfig(env)).toThrow(/AUTH_TOKEN_SECRET/);
    expect(publisher.loadConfig({ ...env, AUTH_TOKEN_SECRET: SECRET }).tokens.secret).toBe(SECRET);
  });
});
