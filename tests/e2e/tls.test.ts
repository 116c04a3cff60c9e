/**
 * Certificates from files (TLS_CERT_FILE/TLS_KEY_FILE) and mutual TLS on the msgqueue hops
 * (MSGQUEUE_TLS_CLIENT_CA on the msgqueue, TLS_CLIENT_CERT_FILE/TLS_CLIENT_KEY_FILE on the
 * publisher and subscriber), with the chain in this process and, for exit codes, as processes.
 */
import { ConfigError } from '@pubsub/config';
import { silentLogger } from '@pubsub/log';
import * as msgqueue from '@pubsub/msgqueue';
import * as publisher from '@pubsub/publisher';
import type { ServiceHandle } from '@pubsub/service';
import * as subscriber from '@pubsub/subscriber';
import {
  captureLogs,
  connect,
  tempDir,
  testCertificate,
  testPki,
  thrown,
  get,
  ready,
  TsProcess,
} from '@pubsub/testkit';
import { TlsSetupError } from '@pubsub/tls';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect as tlsConnect, type ConnectionOptions } from 'node:tls';
import { afterEach, describe, expect, test } from 'vitest';
import { subscribe } from '@pubsub/testkit-chain';

type Env = Record<string, string>;

const started: ServiceHandle[] = [];
afterEach(async () => {
  await Promise.all(started.splice(0).map((service) => service.close()));
});

async function baseEnv(extra: Env = {}): Promise<Env> {
  const { certDir } = await testCertificate();
  return { WS_CERT_DIR: certDir, MSGQUEUE_STORE: 'memory', UPSTREAM_BACKOFF_MAX_MS: '200', ...extra };
}

async function startQueue(env: Env): Promise<ServiceHandle> {
  const queue = await msgqueue.start(msgqueue.loadConfig({ ...env, MSGQUEUE_PORT: '0' }), { logger: silentLogger() });
  started.push(queue);
  return queue;
}

async function startPublisher(env: Env, queuePort: number, logger = silentLogger()): Promise<ServiceHandle> {
  const pub = await publisher.start(
    publisher.loadConfig({ ...env, PUBLISHER_PORT: '0', PUBLISHER_QUEUE_URL: `wss://localhost:${queuePort}/pushmsg` }),
    { logger },
  );
  started.push(pub);
  return pub;
}

async function startSubscriber(env: Env, queuePort: number, logger = silentLogger()): Promise<ServiceHandle> {
  const sub = await subscriber.start(
    subscriber.loadConfig({
      ...env,
      SUBSCRIBER_PORT: '0',
      SUBSCRIBER_DATA_DIR: tempDir('subscriber'),
      SUBSCRIBER_QUEUE_URL: `wss://localhost:${queuePort}/popmsg`,
    }),
    { logger },
  );
  started.push(sub);
  return sub;
}

/** Publishes one message through the chain and returns what the subscribing client got. */
async function roundTrip(options: { pubPort: number; subPort: number; ca: string; topic: string }) {
  const sub = await connect(`wss://localhost:${options.subPort}/subscribe`, { ca: options.ca });
  await subscribe(sub, options.topic);
  const pub = await connect(`wss://localhost:${options.pubPort}/publish`, { ca: options.ca });
  pub.send({ topic: options.topic, content: 'over mutual TLS', id: 'one' });
  const ack = await pub.next();
  const delivery = await sub.next();
  await Promise.all([pub.close(), sub.close()]);
  return { ack, delivery };
}

/**
 * `GET /health` over a bare TLS socket: 'answered' when the server answered it, else how the
 * connection ended ('closed' without an answer, or the error code).
 */
async function handshake(port: number, options: ConnectionOptions): Promise<string> {
  const socket = tlsConnect({ host: 'localhost', port, ...options });
  // With TLS 1.3 the server's verdict on the client certificate arrives after 'secureConnect'.
  socket.write('GET /health HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n');
  let answer = '';
  let failure: string | undefined;
  socket.on('data', (chunk: Buffer) => (answer += chunk.toString()));
  // The first error tells why; a reset may follow it.
  socket.on('error', (err: NodeJS.ErrnoException) => (failure ??= String(err.code)));
  await new Promise((resolveClose) => socket.once('close', resolveClose));
  if (answer.startsWith('HTTP/1.1 200')) return 'answered';
  return failure ?? 'closed';
}

describe('certificate files', () => {
  test('TLS_CERT_FILE/TLS_KEY_FILE are served instead of WS_CERT_DIR, verified against WS_CA_FILE', async () => {
    const pki = await testPki();
    const dev = await testCertificate();
    // WS_CERT_DIR still holds the development certificate: the files must win over it.
    const env = await baseEnv({
      TLS_CERT_FILE: pki.server.certFile,
      TLS_KEY_FILE: pki.server.keyFile,
      WS_CA_FILE: pki.caFile,
    });
    const queue = await startQueue(env);
    const pub = await startPublisher(env, queue.port);
    const sub = await startSubscriber(env, queue.port);

    const { ack, delivery } = await roundTrip({ pubPort: pub.port, subPort: sub.port, ca: pki.ca, topic: 'files' });
    expect(ack).toMatchObject({ type: 'ack', id: 'one' });
    expect(delivery).toMatchObject({ type: 'message', topic: 'files', id: 'one', content: 'over mutual TLS' });
    for (const service of [queue, pub, sub]) {
      expect(await handshake(service.port, { ca: pki.ca })).toBe('answered');
      // The development certificate in WS_CERT_DIR is not what is served.
      expect(await handshake(service.port, { ca: dev.ca })).toBe('UNABLE_TO_VERIFY_LEAF_SIGNATURE');
    }
  });

  test('without WS_CA_FILE the hops trust TLS_CERT_FILE itself', async () => {
    const pki = await testPki();
    const config = publisher.loadConfig({ TLS_CERT_FILE: pki.server.certFile, TLS_KEY_FILE: pki.server.keyFile });
    expect(config.caFile).toBe(pki.server.certFile);
    expect(config.tls.files).toEqual({ certFile: pki.server.certFile, keyFile: pki.server.keyFile });
  });
});

describe('mutual TLS on the msgqueue hops', () => {
  test('with client certificates the chain works end to end, history requests included', async () => {
    const pki = await testPki();
    const { ca } = await testCertificate();
    const env = await baseEnv();
    const hop = { TLS_CLIENT_CERT_FILE: pki.client.certFile, TLS_CLIENT_KEY_FILE: pki.client.keyFile };
    const queue = await startQueue({ ...env, MSGQUEUE_TLS_CLIENT_CA: pki.caFile });
    const pub = await startPublisher({ ...env, ...hop }, queue.port);
    const subLogs = captureLogs('subscriber');
    const sub = await startSubscriber({ ...env, ...hop }, queue.port, subLogs.logger);

    const { ack, delivery } = await roundTrip({ pubPort: pub.port, subPort: sub.port, ca, topic: 'mtls' });
    expect(ack).toMatchObject({ type: 'ack', id: 'one', seq: 1 });
    expect(delivery).toMatchObject({ topic: 'mtls', id: 'one', seq: 1 });

    // A resume reads the msgqueue's /history over the same mutual TLS.
    const late = await connect(`wss://localhost:${sub.port}/subscribe`, { ca });
    late.send('sub mtls from 0');
    expect(await late.next()).toMatchObject({ type: 'subscribed', topic: 'mtls', recovered: true, replayed: 1 });
    expect(await late.next()).toMatchObject({ type: 'message', id: 'one', seq: 1 });
    await late.close();
    expect(subLogs.lines.filter((line) => line.msg === 'cannot read history; subscribed live only')).toEqual([]);

    // The msgqueue itself: the handshake needs a certificate from that CA; Basic Auth comes on top.
    expect(await handshake(queue.port, { ca, cert: pki.client.cert, key: pki.client.key })).toBe('answered');
    // Refused: TLS 1.3 sends the alert after the client's 'secureConnect', or just closes.
    const refusals = [
      await handshake(queue.port, { ca }),
      await handshake(queue.port, { ca, maxVersion: 'TLSv1.2' }),
      await handshake(queue.port, { ca, cert: pki.rogueClient.cert, key: pki.rogueClient.key }),
      await handshake(queue.port, { ca, cert: pki.rogueClient.cert, key: pki.rogueClient.key, maxVersion: 'TLSv1.2' }),
    ];
    process.stderr.write(`mTLS refusals (none, none TLS 1.2, other CA, other CA TLS 1.2): ${refusals.join(', ')}\n`);
    expect(refusals[0]).toBe('ERR_SSL_TLSV13_ALERT_CERTIFICATE_REQUIRED');
    for (const refusal of refusals) expect(refusal).not.toBe('answered');
    // Probes and scrapes of this msgqueue need the client certificate too.
    const mtls = { ca, cert: pki.client.cert, key: pki.client.key };
    expect((await get(queue.port, '/ready', mtls)).status).toBe(200);
    expect((await get(queue.port, '/metrics', { ...mtls, auth: 'hello:test' })).status).toBe(200);
  });

  test.each([
    ['no client certificate', {}, /certificate required/],
    // The server closes the handshake without an alert the client can name.
    ['a certificate from another CA', 'rogue', /socket hang up|ECONNRESET|unknown ca/],
  ] as const)('a publisher with %s is refused at the handshake and stays not ready', async (_name, which, error) => {
    const pki = await testPki();
    const { ca } = await testCertificate();
    const env = await baseEnv();
    const queue = await startQueue({ ...env, MSGQUEUE_TLS_CLIENT_CA: pki.caFile });
    const hop =
      which === 'rogue'
        ? { TLS_CLIENT_CERT_FILE: pki.rogueClient.certFile, TLS_CLIENT_KEY_FILE: pki.rogueClient.keyFile }
        : which;
    const logs = captureLogs('publisher');
    const pub = await startPublisher({ ...env, ...hop }, queue.port, logs.logger);
    const refused = await logs.waitFor((line) => line.msg === 'cannot reach upstream');
    expect((refused.err as { message: string }).message).toMatch(error);
    expect(await ready(pub.port, ca)).toEqual({
      status: 503,
      body: { status: 'not ready', service: 'publisher', reason: 'msgqueue unreachable' },
    });
    expect(logs.lines.some((line) => line.msg === 'upstream connected')).toBe(false);
  });
});

describe('TLS configuration errors', () => {
  const configError = (fn: () => unknown) => thrown(ConfigError, fn);

  test('a certificate file without its key, or a key without its certificate, names both variables', async () => {
    const pki = await testPki();
    expect(configError(() => publisher.loadConfig({ TLS_CERT_FILE: pki.server.certFile })).issues).toEqual([
      "TLS_KEY_FILE: must be set with TLS_CERT_FILE (the certificate's private key)",
    ]);
    expect(
      configError(() =>
        subscriber.loadConfig({ TLS_CLIENT_KEY_FILE: pki.client.keyFile, TLS_KEY_FILE: pki.server.keyFile }),
      ).issues,
    ).toEqual([
      "TLS_CERT_FILE: must be set with TLS_KEY_FILE (the key's certificate)",
      "TLS_CLIENT_CERT_FILE: must be set with TLS_CLIENT_KEY_FILE (the key's certificate)",
    ]);
  });

  test('a key that is not the certificate’s is a configuration error', async () => {
    const pki = await testPki();
    const [issue] = configError(() =>
      msgqueue.loadConfig({ TLS_CERT_FILE: pki.server.certFile, TLS_KEY_FILE: pki.client.keyFile }),
    ).issues;
    expect(issue).toBe(
      `TLS_CERT_FILE, TLS_KEY_FILE: ${pki.client.keyFile} is not the private key of the certificate in ${pki.server.certFile}`,
    );
  });

  test('missing, unreadable or non-file paths are reported by variable, all at once', () => {
    const dir = mkdtempSync(join(tmpdir(), 'pubsub-tls-config-'));
    const issues = configError(() =>
      msgqueue.loadConfig({
        TLS_CERT_FILE: join(dir, 'missing.crt'),
        TLS_KEY_FILE: dir,
        MSGQUEUE_TLS_CLIENT_CA: join(dir, 'missing-ca.pem'),
      }),
    ).issues;
    expect(issues).toEqual([
      `TLS_CERT_FILE: cannot read ${join(dir, 'missing.crt')} (ENOENT)`,
      `TLS_KEY_FILE: cannot read ${dir} (not a regular file)`,
      `MSGQUEUE_TLS_CLIENT_CA: cannot read ${join(dir, 'missing-ca.pem')} (ENOENT)`,
    ]);
  });

  test('a client key that does not match when the service starts fails the start (TlsSetupError)', async () => {
    const pki = await testPki();
    const env = await baseEnv();
    const config = publisher.loadConfig({
      ...env,
      PUBLISHER_PORT: '0',
      TLS_CLIENT_CERT_FILE: pki.client.certFile,
      TLS_CLIENT_KEY_FILE: pki.client.keyFile,
    });
    const swapped = { ...config, hopClientCert: { certFile: pki.client.certFile, keyFile: pki.server.keyFile } };
    await expect(publisher.start(swapped, { logger: silentLogger() })).rejects.toThrow(TlsSetupError);
  });

  test.each([[], ['--check-config']])(
    'as a process (%j): exit code 2 and every problem on stderr',
    async (...args) => {
      const pki = await testPki();
      const proc = new TsProcess(
        'services/publisher/src/main.ts',
        {
          PUBLISHER_PORT: '0',
          TLS_CERT_FILE: pki.server.certFile,
          TLS_CLIENT_CERT_FILE: pki.client.certFile,
          TLS_CLIENT_KEY_FILE: pki.server.keyFile,
        },
        { args },
      );
      expect(await proc.exited).toBe(2);
      const report = proc.stderr.join('\n');
      expect(report).toContain("TLS_KEY_FILE: must be set with TLS_CERT_FILE (the certificate's private key)");
      expect(report).toContain(
        `TLS_CLIENT_CERT_FILE, TLS_CLIENT_KEY_FILE: ${pki.server.keyFile} is not the private key`,
      );
      expect(proc.lines).toEqual([]);
    },
    60_000,
  );
});
