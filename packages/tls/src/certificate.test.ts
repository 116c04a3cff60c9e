import { createPrivateKey, X509Certificate } from 'node:crypto';
import { once } from 'node:events';
import { mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect, type ConnectionOptions } from 'node:tls';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import {
  generateCertificate,
  loadServerCertificate,
  readCaFile,
  readCertificatePair,
  TlsSetupError,
  type ServerCertificate,
} from './certificate.js';

const dirs: string[] = [];

async function freshDir(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'pubsub-tls-test-'));
  dirs.push(dir);
  return dir;
}

afterAll(async () => {
  await Promise.all(dirs.map((dir) => rm(dir, { recursive: true, force: true })));
});

async function rejection(promise: Promise<unknown>): Promise<Error> {
  try {
    await promise;
  } catch (err) {
    if (err instanceof Error) return err;
    throw err;
  }
  throw new Error('expected a rejection');
}

describe('loadServerCertificate', () => {
  test('generates a self-signed EC P-256 certificate for localhost in an empty directory', async () => {
    const certDir = await freshDir();
    const result = await loadServerCertificate({ certDir, generate: true });

    expect(result.generated).toBe(true);
    expect(result.certFile).toBe(join(certDir, 'server.crt'));
    expect(await readFile(join(certDir, 'server.crt'), 'utf8')).toBe(result.cert);
    expect(await readFile(join(certDir, 'server.key'), 'utf8')).toBe(result.key);
    expect((await stat(join(certDir, 'server.key'))).mode & 0o777).toBe(0o600);
    // Only the pair is left behind: no lock directory, no temporary files.
    expect((await readdir(certDir)).sort()).toEqual(['server.crt', 'server.key']);

    const x509 = new X509Certificate(result.cert);
    expect(x509.publicKey.asymmetricKeyType).toBe('ec');
    expect(x509.publicKey.asymmetricKeyDetails).toEqual({ namedCurve: 'prime256v1' });
    const sans = (x509.subjectAltName ?? '').split(', ');
    expect(sans).toEqual(expect.arrayContaining(['DNS:localhost', 'IP Address:127.0.0.1']));
    expect(x509.checkPrivateKey(createPrivateKey(result.key))).toBe(true);
    expect(Date.parse(x509.validTo)).toBeGreaterThan(Date.now());
  });

  test('adds extra hosts to the certificate, as DNS names or IP addresses', async () => {
    const certDir = await freshDir();
    const { cert } = await loadServerCertificate({ certDir, generate: true, extraHosts: ['msgqueue', '10.0.0.5'] });
    const sans = (new X509Certificate(cert).subjectAltName ?? '').split(', ');
    expect(sans).toEqual(
      expect.arrayContaining(['DNS:localhost', 'IP Address:127.0.0.1', 'DNS:msgqueue', 'IP Address:10.0.0.5']),
    );
  });

  test('reuses the certificate already in the directory', async () => {
    const certDir = await freshDir();
    const first = await loadServerCertificate({ certDir, generate: true });
    const second = await loadServerCertificate({ certDir, generate: true });
    const third = await loadServerCertificate({ certDir, generate: false });
    for (const again of [second, third]) {
      expect(again.generated).toBe(false);
      expect(again.cert).toBe(first.cert);
      expect(again.key).toBe(first.key);
    }
  });

  test('two concurrent calls on an empty directory end with the same certificate, generated once', async () => {
    const certDir = await freshDir();
    const results = await Promise.all([
      loadServerCertificate({ certDir, generate: true }),
      loadServerCertificate({ certDir, generate: true }),
    ]);
    const [a, b] = results;
    expect(a?.cert).toBe(b?.cert);
    expect(a?.key).toBe(b?.key);
    expect(results.filter((r) => r.generated)).toHaveLength(1);
    expect(await readFile(join(certDir, 'server.crt'), 'utf8')).toBe(a?.cert);
  });

  test('without generate, an empty directory is a TlsSetupError naming the directory', async () => {
    const certDir = await freshDir();
    const err = await rejection(loadServerCertificate({ certDir, generate: false }));
    expect(err).toBeInstanceOf(TlsSetupError);
    expect(err.message).toContain(certDir);
    expect(await readdir(certDir)).toEqual([]);
  });

  test('without generate, a missing directory is a TlsSetupError and is not created', async () => {
    const certDir = join(await freshDir(), 'missing');
    const err = await rejection(loadServerCertificate({ certDir, generate: false }));
    expect(err).toBeInstanceOf(TlsSetupError);
    expect(err.message).toContain(certDir);
    await expect(stat(certDir)).rejects.toMatchObject({ code: 'ENOENT' });
  });

  test('a certificate file that is not PEM is a TlsSetupError', async () => {
    const certDir = await freshDir();
    await writeFile(join(certDir, 'server.crt'), 'not a certificate');
    await writeFile(join(certDir, 'server.key'), 'not a key');
    const err = await rejection(loadServerCertificate({ certDir, generate: true }));
    expect(err).toBeInstanceOf(TlsSetupError);
    expect(err.message).toContain(join(certDir, 'server.crt'));
  });

  test('a certificate without its key is a TlsSetupError when generation is off', async () => {
    const certDir = await freshDir();
    const { cert } = await loadServerCertificate({ certDir: await freshDir(), generate: true });
    await writeFile(join(certDir, 'server.crt'), cert);
    expect(await rejection(loadServerCertificate({ certDir, generate: false }))).toBeInstanceOf(TlsSetupError);
  });
});

describe('certificate files', () => {
  test('explicit files are loaded instead of the directory, and never generated', async () => {
    const dir = await freshDir();
    const pair = await generateCertificate({ commonName: 'files', usage: 'server', hosts: ['localhost'] });
    await writeFile(join(dir, 'my.crt'), pair.cert);
    await writeFile(join(dir, 'my.key'), pair.key);
    const files = { certFile: join(dir, 'my.crt'), keyFile: join(dir, 'my.key') };
    const certDir = await freshDir();
    const result = await loadServerCertificate({ certDir, generate: true, files });
    expect(result).toEqual({ cert: pair.cert, key: pair.key, certFile: files.certFile, generated: false });
    expect(await readdir(certDir)).toEqual([]);
  });

  test('a missing file, a non-PEM certificate and a key of another certificate each name the file', async () => {
    const dir = await freshDir();
    const [a, b] = await Promise.all([
      generateCertificate({ commonName: 'a', usage: 'server' }),
      generateCertificate({ commonName: 'b', usage: 'server' }),
    ]);
    const file = async (name: string, text: string) => {
      await writeFile(join(dir, name), text);
      return join(dir, name);
    };
    const [aCert, bKey, junk] = await Promise.all([file('a.crt', a.cert), file('b.key', b.key), file('junk', 'x')]);
    const missing = join(dir, 'missing.key');
    const cases = [
      [{ certFile: aCert, keyFile: missing }, `cannot read the key file ${missing}`],
      [{ certFile: junk, keyFile: bKey }, `${junk} is not a PEM certificate`],
      [{ certFile: aCert, keyFile: junk }, `${junk} is not an unencrypted PEM private key`],
      [{ certFile: aCert, keyFile: bKey }, `${bKey} is not the private key of the certificate in ${aCert}`],
    ] as const;
    for (const [files, message] of cases) {
      const err = await rejection(readCertificatePair(files));
      expect(err).toBeInstanceOf(TlsSetupError);
      expect(err.message).toContain(message);
    }
  });
});

describe('generateCertificate', () => {
  test('a CA signs server and client certificates for their TLS role', async () => {
    const ca = await generateCertificate({ commonName: 'test CA', usage: 'ca' });
    const server = await generateCertificate({
      commonName: 'srv',
      usage: 'server',
      hosts: ['localhost', '::1'],
      issuer: ca,
    });
    const client = await generateCertificate({ commonName: 'hop', usage: 'client', issuer: ca });
    const caX509 = new X509Certificate(ca.cert);
    expect(caX509.ca).toBe(true);
    for (const leaf of [server, client]) {
      const x509 = new X509Certificate(leaf.cert);
      expect(x509.ca).toBe(false);
      expect(x509.checkIssued(caX509)).toBe(true);
      expect(x509.verify(caX509.publicKey)).toBe(true);
      expect(x509.checkPrivateKey(createPrivateKey(leaf.key))).toBe(true);
    }
    expect(new X509Certificate(server.cert).keyUsage).toEqual(['1.3.6.1.5.5.7.3.1']);
    expect(new X509Certificate(client.cert).keyUsage).toEqual(['1.3.6.1.5.5.7.3.2']);
    expect((new X509Certificate(server.cert).subjectAltName ?? '').split(', ')).toEqual([
      'DNS:localhost',
      'IP Address:0:0:0:0:0:0:0:1',
    ]);
  });
});

describe('readCaFile', () => {
  test('returns the file content', async () => {
    const file = join(await freshDir(), 'ca.pem');
    await writeFile(file, 'PEM TEXT');
    expect(await readCaFile(file)).toBe('PEM TEXT');
  });

  test('a missing file is a TlsSetupError naming the file', async () => {
    const file = join(await freshDir(), 'missing.pem');
    const err = await rejection(readCaFile(file));
    expect(err).toBeInstanceOf(TlsSetupError);
    expect(err.message).toContain(file);
  });
});

describe('the generated certificate over real TLS', () => {
  let pair: ServerCertificate;
  let port: number;
  let server: Server;

  beforeAll(async () => {
    pair = await loadServerCertificate({ certDir: await freshDir(), generate: true });
    server = createServer({ cert: pair.cert, key: pair.key }, (_req, res) => res.end('ok'));
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    port = (server.address() as AddressInfo).port;
  });

  afterAll(async () => {
    server.closeAllConnections();
    server.close();
    await once(server, 'close');
  });

  /** Connects and resolves with the outcome of the handshake. */
  async function handshake(options: ConnectionOptions): Promise<{ authorized: boolean } | { code: unknown }> {
    const socket = connect({ host: '127.0.0.1', port, ...options });
    try {
      await once(socket, 'secureConnect');
      return { authorized: socket.authorized };
    } catch (err) {
      return { code: (err as NodeJS.ErrnoException).code };
    } finally {
      socket.destroy();
    }
  }

  test('a client trusting the certificate connects to localhost, authorized', async () => {
    expect(await handshake({ ca: pair.cert, servername: 'localhost' })).toEqual({ authorized: true });
  });

  test('a client trusting the certificate connects to 127.0.0.1 by IP, authorized', async () => {
    expect(await handshake({ ca: pair.cert })).toEqual({ authorized: true });
  });

  test('a client with the default CAs refuses the certificate', async () => {
    expect(await handshake({ servername: 'localhost' })).toEqual({ code: 'DEPTH_ZERO_SELF_SIGNED_CERT' });
  });

  test('a client trusting the certificate refuses it for another host name', async () => {
    expect(await handshake({ ca: pair.cert, servername: 'example.com' })).toEqual({
      code: 'ERR_TLS_CERT_ALTNAME_INVALID',
    });
  });
});
