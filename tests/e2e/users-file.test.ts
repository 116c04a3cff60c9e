import { hashPassword } from '@pubsub/auth';
import { connect, handshakeRejection, writeUsersFile, TsProcess } from '@pubsub/testkit';
import { request } from 'node:https';
import { beforeAll, describe, expect, test } from 'vitest';
import { startChain, subscribe } from '@pubsub/testkit-chain';

function status(url: string, ca: string, auth: string): Promise<number> {
  return new Promise((resolveStatus, reject) => {
    request(url, { ca, auth }, (res) => {
      res.resume();
      res.on('end', () => resolveStatus(res.statusCode ?? 0));
    })
      .on('error', reject)
      .end();
  });
}

let usersFile: string;
beforeAll(async () => {
  const password = await hashPassword('pw');
  usersFile = writeUsersFile([
    { name: 'pub-hop', password, role: 'pusher' },
    { name: 'sub-hop', password, role: 'popper' },
    { name: 'orders-app', password, role: 'client', publish: ['orders.>'], subscribe: ['orders.*', 'news'] },
    { name: 'prometheus', password, role: 'monitor' },
  ]);
});

describe('one USERS_FILE for the whole chain', () => {
  test('pusher and popper users carry one hop each, client users their topics, monitor users the metrics', async () => {
    await using chain = await startChain({
      env: {
        USERS_FILE: usersFile,
        PUBLISHER_QUEUE_USER: 'pub-hop',
        PUBLISHER_QUEUE_PASSWORD: 'pw',
        SUBSCRIBER_QUEUE_USER: 'sub-hop',
        SUBSCRIBER_QUEUE_PASSWORD: 'pw',
      },
    });
    const { ca } = chain;
    const sub = await connect(chain.subscribeUrl, { ca, auth: 'orders-app:pw' });
    const pub = await connect(chain.publishUrl, { ca, auth: 'orders-app:pw' });
    await subscribe(sub, 'orders.*');
    pub.send({ topic: 'news', content: 'not mine to publish', id: 'n1' });
    expect(await pub.next()).toMatchObject({ type: 'error', code: 'TOPIC_FORBIDDEN', id: 'n1' });
    pub.send({ topic: 'orders.eu.new', content: 'no subscriber', id: 'o0' });
    pub.send({ topic: 'orders.new', content: 'hello', id: 'o1' });
    expect(await pub.next()).toMatchObject({ type: 'ack', id: 'o0' });
    expect(await pub.next()).toMatchObject({ type: 'ack', id: 'o1' });
    expect(await sub.next()).toMatchObject({ type: 'message', topic: 'orders.new', id: 'o1', content: 'hello' });

    // Each kind of user stays on its side.
    const queueUrl = `wss://localhost:${chain.msgqueue.port}/pushmsg`;
    expect((await handshakeRejection(queueUrl, { ca, auth: 'orders-app:pw' })).status).toBe(403);
    expect((await handshakeRejection(chain.publishUrl, { ca, auth: 'pub-hop:pw' })).status).toBe(403);
    expect((await handshakeRejection(chain.subscribeUrl, { ca, auth: 'prometheus:pw' })).status).toBe(403);
    // The two service accounts are split: the publisher's cannot consume, the subscriber's cannot push.
    const popUrl = `wss://localhost:${chain.msgqueue.port}/popmsg`;
    expect((await handshakeRejection(popUrl, { ca, auth: 'pub-hop:pw' })).status).toBe(403);
    expect((await handshakeRejection(queueUrl, { ca, auth: 'sub-hop:pw' })).status).toBe(403);
    const history = `https://localhost:${chain.msgqueue.port}/history?topic=orders.new`;
    expect(await status(history, ca, 'pub-hop:pw')).toBe(403);
    expect(await status(history, ca, 'sub-hop:pw')).toBe(200);
    for (const port of [chain.msgqueue.port, chain.publisher.port, chain.subscriber.port]) {
      expect(await status(`https://localhost:${port}/metrics`, ca, 'prometheus:pw')).toBe(200);
      expect(await status(`https://localhost:${port}/metrics`, ca, 'orders-app:pw')).toBe(403);
    }
    await Promise.all([sub.close(), pub.close()]);
  });

  test('--check-config names every problem of a broken file by user, never its password, and exits 2', async () => {
    const broken = writeUsersFile([
      { name: 'ok', password: await hashPassword('pw'), role: 'client' },
      { name: 'oops', password: 'plain-hunter2', role: 'client', publish: ['orders.>.eu'] },
    ]);
    const proc = new TsProcess('services/publisher/src/main.ts', { USERS_FILE: broken }, { args: ['--check-config'] });
    expect(await proc.exited).toBe(2);
    const stderr = proc.stderr.join('\n');
    expect(stderr).toContain('invalid configuration');
    expect(stderr).toMatch(/USERS_FILE: user 2 \("oops"\): "password" must be an scrypt hash/);
    expect(stderr).toMatch(/USERS_FILE: user 2 \("oops"\): publish\[0\] "orders\.>\.eu" is not a topic pattern/);
    expect(stderr).not.toContain('hunter2');
  });

  test('NODE_ENV=production: no service starts without configured users (exit 2), none enables hello/test', async () => {
    const services = ['msgqueue', 'publisher', 'subscriber'] as const;
    const procs = services.map(
      (service) =>
        new TsProcess(`services/${service}/src/main.ts`, { NODE_ENV: 'production' }, { args: ['--check-config'] }),
    );
    for (const [index, proc] of procs.entries()) {
      expect(await proc.exited, services[index]).toBe(2);
      const stderr = proc.stderr.join('\n');
      expect(stderr).toContain('invalid configuration');
      expect(stderr).toMatch(/NODE_ENV is production and no users are configured; set USERS_FILE or/);
    }
    // With users configured, production starts as usual.
    const configured = new TsProcess(
      'services/msgqueue/src/main.ts',
      { NODE_ENV: 'production', USERS_FILE: usersFile },
      { args: ['--check-config'] },
    );
    expect(await configured.exited).toBe(0);
  });
});
