import { PubsubGrpcClient } from '@pubsub/grpc';
import { testCertificate, TsProcess } from '@pubsub/testkit';
import { connect } from '@pubsub/testkit';
import { afterEach, describe, expect, test } from 'vitest';
import { subscribe } from '@pubsub/testkit-chain';

const started: TsProcess[] = [];
afterEach(async () => {
  await Promise.all(started.splice(0).map((proc) => proc.kill('SIGKILL')));
});

function run(entry: string, env: Record<string, string>, args: readonly string[] = []): TsProcess {
  const proc = new TsProcess(entry, env, { args });
  started.push(proc);
  return proc;
}

describe('as real processes', () => {
  test('the launcher of the README starts the chain, which delivers, and stops it with exit 0', async () => {
    const { certDir, ca } = await testCertificate();
    const launcher = run('scripts/start.ts', {
      WS_CERT_DIR: certDir,
      MSGQUEUE_STORE: 'memory',
      MSGQUEUE_PORT: '0',
      PUBLISHER_PORT: '0',
      SUBSCRIBER_PORT: '0',
      PUBLISHER_GRPC_PORT: '0',
      SUBSCRIBER_GRPC_PORT: '0',
    });
    const ready = await launcher.waitForLog('suite ready');
    const sub = await connect(ready.subscribeUrl as string, { ca });
    await subscribe(sub, 'news');
    const pub = await connect(ready.publishUrl as string, { ca });
    pub.send({ topic: 'news', content: 'across processes', id: 'p1' });
    expect(await pub.next()).toMatchObject({ type: 'ack', id: 'p1' });
    expect(await sub.next()).toMatchObject({ topic: 'news', content: 'across processes', id: 'p1' });
    // The gRPC listeners are on under the launcher, and said where.
    const grpc = new PubsubGrpcClient(ready.grpcPublisher as string, { ca, auth: { user: 'hello', password: 'test' } });
    expect(await grpc.publish({ topic: 'news', content: '"over gRPC"', id: 'g1' })).toMatchObject({ id: 'g1', seq: 2 });
    grpc.close();
    expect(await sub.next()).toMatchObject({ topic: 'news', content: 'over gRPC', id: 'g1' });
    expect(ready.grpcSubscriber).toMatch(/^localhost:\d+$/);
    const subClosed = sub.closed();
    expect(await launcher.kill('SIGTERM')).toBe(0);
    expect((await subClosed).code).toBe(1001);
    await pub.close();
    expect(launcher.lines.filter((line) => line.includes('"msg":"closed"'))).toHaveLength(3);
  }, 60_000);

  test.each(['msgqueue', 'publisher', 'subscriber'])('%s exits 0 on SIGTERM', async (service) => {
    const { certDir } = await testCertificate();
    const prefix = service.toUpperCase();
    const proc = run(`services/${service}/src/main.ts`, {
      WS_CERT_DIR: certDir,
      MSGQUEUE_STORE: 'memory',
      [`${prefix}_PORT`]: '0',
    });
    await proc.waitForLog('listening');
    expect(await proc.kill('SIGTERM')).toBe(0);
    expect(proc.lines.some((line) => line.includes('"msg":"closed"'))).toBe(true);
  });

  test('a bad configuration is reported at once, variable by variable, with exit code 2', async () => {
    const proc = run('services/publisher/src/main.ts', {
      PUBLISHER_PORT: '99999',
      PUBLISHER_QUEUE_URL: 'http://localhost:8080/pushmsg',
      LOG_LEVEL: 'loud',
    });
    expect(await proc.exited).toBe(2);
    const report = proc.stderr.join('\n');
    for (const variable of ['PUBLISHER_PORT', 'PUBLISHER_QUEUE_URL', 'LOG_LEVEL']) expect(report).toContain(variable);
  });

  test('--check-config validates and exits without starting: 0 when valid, 2 with the problems', async () => {
    const ok = run('services/subscriber/src/main.ts', { SUBSCRIBER_PORT: '9999' }, ['--check-config']);
    expect(await ok.exited).toBe(0);
    expect(ok.lines).toEqual(['configuration ok']);
    const bad = run('services/subscriber/src/main.ts', { SUBSCRIBER_MAX_BUFFERED_BYTES: '0' }, ['--check-config']);
    expect(await bad.exited).toBe(2);
    expect(bad.stderr.join('\n')).toContain('SUBSCRIBER_MAX_BUFFERED_BYTES');
  });

  test('a port already in use fails the start with exit code 1 and says why', async () => {
    const { certDir } = await testCertificate();
    const first = run('services/msgqueue/src/main.ts', {
      WS_CERT_DIR: certDir,
      MSGQUEUE_STORE: 'memory',
      MSGQUEUE_PORT: '0',
    });
    const { port } = await first.waitForLog('listening');
    const second = run('services/msgqueue/src/main.ts', {
      WS_CERT_DIR: certDir,
      MSGQUEUE_STORE: 'memory',
      MSGQUEUE_PORT: String(port),
    });
    expect(await second.exited).toBe(1);
    expect(second.lines.join('\n')).toContain('EADDRINUSE');
  });
});
