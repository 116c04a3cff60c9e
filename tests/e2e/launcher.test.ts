/**
 * `pnpm start` supervises its services: one that dies is restarted on its port while the others
 * keep running, and their clients carry on; Ctrl-C or SIGTERM stops all three with exit 0.
 */
import { connect, DEV_AUTH, testCertificate, post, TsProcess } from '@pubsub/testkit';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, test } from 'vitest';
import { subscribe } from '@pubsub/testkit-chain';

const started: TsProcess[] = [];
afterEach(async () => {
  await Promise.all(started.splice(0).map((proc) => proc.kill('SIGKILL')));
});

async function launch(extra: Record<string, string> = {}): Promise<{ launcher: TsProcess; ca: string }> {
  const { certDir, ca } = await testCertificate();
  const launcher = new TsProcess('scripts/start.ts', {
    WS_CERT_DIR: certDir,
    MSGQUEUE_PORT: '0',
    PUBLISHER_PORT: '0',
    SUBSCRIBER_PORT: '0',
    PUBLISHER_GRPC_PORT: '0',
    SUBSCRIBER_GRPC_PORT: '0',
    MSGQUEUE_DATA_DIR: mkdtempSync(join(tmpdir(), 'pubsub-launcher-')),
    UPSTREAM_BACKOFF_MAX_MS: '200',
    ...extra,
  });
  started.push(launcher);
  return { launcher, ca };
}

describe('pnpm start supervises the services', () => {
  test('kill -9 of the msgqueue: restarted on its port, the publishing and subscribing clients carry on', async () => {
    const { launcher, ca } = await launch();
    const ready = await launcher.waitForLog('suite ready');
    const pids = ready.pids as Record<string, number>;
    const sub = await connect(ready.subscribeUrl as string, { ca });
    await subscribe(sub, 'news');
    const pub = await connect(ready.publishUrl as string, { ca });
    pub.send({ topic: 'news', content: 'before', id: 'b1' });
    expect(await pub.next()).toMatchObject({ type: 'ack', id: 'b1' });
    expect(await sub.next()).toMatchObject({ topic: 'news', content: 'before' });

    const mark = launcher.lines.length;
    process.kill(pids.msgqueue as number, 'SIGKILL');
    expect(await launcher.waitForLog('service exited; restarting it', mark)).toMatchObject({
      child: 'msgqueue',
      signal: 'SIGKILL',
    });
    const restarted = await launcher.waitForLog('service restarted', mark);
    expect(restarted).toMatchObject({ child: 'msgqueue', restarts: 1 });
    expect(restarted.pid).not.toBe(pids.msgqueue);

    // The same client connections: the publisher buffers and resends, the subscriber redials.
    pub.send({ topic: 'news', content: 'after', id: 'a1' });
    expect(await pub.next()).toMatchObject({ type: 'ack', id: 'a1' });
    expect(await sub.next()).toMatchObject({ topic: 'news', content: 'after' });
    expect(launcher.lines.join('\n')).not.toContain('stopping services');

    expect(await launcher.kill('SIGINT')).toBe(0);
    await pub.close();
    await sub.close();
  }, 60_000);

  test('the console can publish: a sign-in token from the subscriber works on the publisher, from its origin', async () => {
    const { launcher, ca } = await launch();
    const ready = await launcher.waitForLog('suite ready');
    const publisherPort = Number(new URL(ready.publishUrl as string).port);
    const subscriberPort = Number(new URL(ready.subscribeUrl as string).port);
    const signIn = await post(subscriberPort, '/api/token', { ca, auth: DEV_AUTH });
    expect(signIn.status).toBe(200);
    const cookie = (signIn.headers['set-cookie']?.[0] ?? '').split(';')[0] as string;
    for (const origin of [`https://localhost:${subscriberPort}`, `https://127.0.0.1:${subscriberPort}`]) {
      const preflight = await post(publisherPort, '/api/messages', {
        ca,
        method: 'OPTIONS',
        headers: {
          Origin: origin,
          'Access-Control-Request-Method': 'POST',
          'Access-Control-Request-Headers': 'content-type',
        },
      });
      expect(preflight.status).toBe(204);
      expect(preflight.headers['access-control-allow-origin']).toBe(origin);
      expect(preflight.headers['access-control-allow-credentials']).toBe('true');
      expect(preflight.headers['access-control-allow-headers']).toMatch(/content-type/i);
      const published = await post(publisherPort, '/api/messages', {
        ca,
        headers: { 'Content-Type': 'application/json', Origin: origin, Cookie: cookie },
        body: JSON.stringify({ topic: 'console', content: origin }),
      });
      expect(published.status).toBe(200);
      expect(JSON.parse(published.body)).toMatchObject({ seq: expect.any(Number) as number });
    }
    expect(launcher.lines.join('\n')).not.toContain('AUTH_TOKEN_SECRET is unset');
    expect(await launcher.kill('SIGINT')).toBe(0);
  }, 60_000);

  test(
    '--check-config checks all three and starts nothing: 0 when valid, 2 naming the problem',
    async () => {
      const ok = new TsProcess('scripts/start.ts', {}, { args: ['--check-config'] });
      started.push(ok);
      expect(await ok.exited).toBe(0);
      expect([...ok.lines].sort()).toEqual([
        'msgqueue: configuration ok',
        'publisher: configuration ok',
        'subscriber: configuration ok',
      ]);
      const bad = new TsProcess(
        'scripts/start.ts',
        { SUBSCRIBER_MAX_BUFFERED_BYTES: '0' },
        { args: ['--check-config'] },
      );
      started.push(bad);
      expect(await bad.exited).toBe(2);
      expect(bad.lines.sort()).toEqual(['msgqueue: configuration ok', 'publisher: configuration ok']);
      expect(bad.stderr.join('\n')).toMatch(/^subscriber: invalid configuration:\n {2}- SUBSCRIBER_MAX_BUFFERED_BYTES/);
    },
    // Six service processes, three at a time, on a machine that may be busy.
    60_000,
  );
});
