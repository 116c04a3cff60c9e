import { generateCertificate, loadServerCertificate } from '@pubsub/tls';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface TestCertificate {
  /** A directory holding server.crt and server.key, for WS_CERT_DIR. */
  readonly certDir: string;
  /** The certificate itself, which clients trust as their CA. */
  readonly ca: string;
}

let shared: Promise<TestCertificate> | undefined;

/** One generated certificate per test process: every test verifies TLS for real. */
export function testCertificate(): Promise<TestCertificate> {
  shared ??= (async () => {
    const certDir = mkdtempSync(join(tmpdir(), 'pubsub-test-certs-'));
    const { cert } = await loadServerCertificate({ certDir, generate: true });
    return { certDir, ca: cert };
  })();
  return shared;
}

/** A certificate with its key, in memory and as files. */
export interface TestKeyPair {
  readonly cert: string;
  readonly key: string;
  readonly certFile: string;
  readonly keyFile: string;
}

/** A small PKI for TLS tests: a CA, certificates it signed, and one it did not. */
export interface TestPki {
  /** The CA certificate (and its file): WS_CA_FILE for clients, MSGQUEUE_TLS_CLIENT_CA for the msgqueue. */
  readonly ca: string;
  readonly caFile: string;
  /** A server certificate for localhost, 127.0.0.1 and ::1, signed by the CA (TLS_CERT_FILE/TLS_KEY_FILE). */
  readonly server: TestKeyPair;
  /** A client certificate signed by the CA (TLS_CLIENT_CERT_FILE/TLS_CLIENT_KEY_FILE). */
  readonly client: TestKeyPair;
  /** A client certificate signed by another CA: a msgqueue trusting only `ca` must refuse it. */
  readonly rogueClient: TestKeyPair;
}

let sharedPki: Promise<TestPki> | undefined;

/** One test PKI per test process, written to a temporary directory. */
export function testPki(): Promise<TestPki> {
  sharedPki ??= (async () => {
    const dir = mkdtempSync(join(tmpdir(), 'pubsub-test-pki-'));
    const write = (name: string, pair: { cert: string; key: string }): TestKeyPair => {
      const certFile = join(dir, `${name}.crt`);
      const keyFile = join(dir, `${name}.key`);
      writeFileSync(certFile, pair.cert);
      writeFileSync(keyFile, pair.key, { mode: 0o600 });
      return { ...pair, certFile, keyFile };
    };
    const ca = write('ca', await generateCertificate({ commonName: 'pubsub test CA', usage: 'ca' }));
    const rogueCa = await generateCertificate({ commonName: 'another CA', usage: 'ca' });
    const [server, client, rogueClient] = await Promise.all([
      generateCertificate({
        commonName: 'localhost',
        usage: 'server',
        hosts: ['localhost', '127.0.0.1', '::1'],
        issuer: ca,
      }),
      generateCertificate({ commonName: 'hop', usage: 'client', issuer: ca }),
      generateCertificate({ commonName: 'hop', usage: 'client', issuer: rogueCa }),
    ]);
    return {
      ca: ca.cert,
      caFile: ca.certFile,
      server: write('server', server),
      client: write('client', client),
      rogueClient: write('rogue-client', rogueClient),
    };
  })();
  return sharedPki;
}
