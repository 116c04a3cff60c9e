import { createPrivateKey, X509Certificate } from 'node:crypto';
import { mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { setTimeout as delay } from 'node:timers/promises';
import { isIP } from 'node:net';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { generate } from 'selfsigned';

/** `certs/` at the repository root: where development certificates are written. */
export const DEFAULT_CERT_DIR = resolve(fileURLToPath(new URL('../../../certs', import.meta.url)));

const CERT_FILE = 'server.crt';
const KEY_FILE = 'server.key';
const LOCK_DIR = '.generating';
const DEV_HOSTS = ['localhost', '127.0.0.1', '::1'];
const DEV_VALIDITY_DAYS = 825;
const GENERATION_WAIT_MS = 30_000;
const GENERATION_POLL_MS = 50;

export class TlsSetupError extends Error {
  override name = 'TlsSetupError';
}

export interface ServerCertificateOptions {
  /** Directory holding `server.crt` and `server.key`. */
  certDir: string;
  /** Write a self-signed development certificate when the directory has none. */
  generate: boolean;
  /** Extra DNS names or IPs for a generated certificate (e.g. compose service names). */
  extraHosts?: readonly string[];
  /** Explicit certificate and key files: used instead of `certDir`, never generated. */
  files?: CertificateFiles;
}

/** A PEM certificate (chain) file and the file with its private key. */
export interface CertificateFiles {
  readonly certFile: string;
  readonly keyFile: string;
}

export interface ServerCertificate {
  readonly cert: string;
  readonly key: string;
  readonly certFile: string;
  /** True when this call created the certificate. */
  readonly generated: boolean;
}

async function readPair(certDir: string): Promise<{ cert: string; key: string } | undefined> {
  try {
    const [cert, key] = await Promise.all([
      readFile(join(certDir, CERT_FILE), 'utf8'),
      readFile(join(certDir, KEY_FILE), 'utf8'),
    ]);
    return { cert, key };
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw new TlsSetupError(`cannot read the certificate in ${certDir}: ${(err as Error).message}`, {
      cause: err,
    });
  }
}

async function createDevCertificate(hosts: readonly string[]): Promise<{ cert: string; key: string }> {
  const notBeforeDate = new Date();
  const notAfterDate = new Date(notBeforeDate.getTime() + DEV_VALIDITY_DAYS * 86_400_000);
  const pems = await generate([{ name: 'commonName', value: 'pubsub development certificate' }], {
    keyType: 'ec',
    curve: 'P-256',
    algorithm: 'sha256',
    notBeforeDate,
    notAfterDate,
    extensions: [
      { name: 'basicConstraints', cA: true },
      { name: 'keyUsage', digitalSignature: true, keyCertSign: true },
      { name: 'extKeyUsage', serverAuth: true },
      {
        name: 'subjectAltName',
        altNames: hosts.map((host) => (isIP(host) ? { type: 7, ip: host } : { type: 2, value: host })),
      },
    ],
  });
  return { cert: pems.cert, key: pems.private };
}

/**
 * Several services may start at once against an empty directory: one of them takes the lock
 * directory and writes the pair (key first, each by rename), the others wait for the certificate.
 */
async function generateOnce(certDir: string, hosts: readonly string[]): Promise<boolean> {
  await mkdir(certDir, { recursive: true });
  const lock = join(certDir, LOCK_DIR);
  try {
    await mkdir(lock);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    await waitForCertificate(certDir);
    return false;
  }
  try {
    if ((await readPair(certDir)) !== undefined) return false;
    const pair = await createDevCertificate(hosts);
    await writeFile(join(lock, KEY_FILE), pair.key, { mode: 0o600 });
    await writeFile(join(lock, CERT_FILE), pair.cert, { mode: 0o644 });
    await rename(join(lock, KEY_FILE), join(certDir, KEY_FILE));
    await rename(join(lock, CERT_FILE), join(certDir, CERT_FILE));
    return true;
  } finally {
    await rm(lock, { recursive: true, force: true });
  }
}

async function waitForCertificate(dir: string): Promise<void> {
  // Polling, not fs.watch: a watcher that starts after the check can miss the rename, and this
  // only runs while another process generates the certificate, once, at first start.
  const deadline = Date.now() + GENERATION_WAIT_MS;
  while ((await readPair(dir)) === undefined) {
    if (Date.now() > deadline) {
      throw new TlsSetupError(
        `another process is generating the certificate in ${dir} and did not finish within ${GENERATION_WAIT_MS} ms; remove ${join(dir, LOCK_DIR)} if it was interrupted`,
      );
    }
    await delay(GENERATION_POLL_MS);
  }
}

/**
 * Loads `server.crt` / `server.key` from `certDir`. When they are missing, generates a
 * self-signed EC P-256 development certificate if `generate` is set, and fails with a message
 * naming the directory otherwise.
 */
export async function loadServerCertificate(options: ServerCertificateOptions): Promise<ServerCertificate> {
  if (options.files !== undefined) {
    const pair = await readCertificatePair(options.files);
    return { ...pair, certFile: options.files.certFile, generated: false };
  }
  const certFile = join(options.certDir, CERT_FILE);
  let generated = false;
  let pair = await readPair(options.certDir);
  if (pair === undefined && options.generate) {
    generated = await generateOnce(options.certDir, [...DEV_HOSTS, ...(options.extraHosts ?? [])]);
    pair = await readPair(options.certDir);
  }
  if (pair === undefined) {
    throw new TlsSetupError(
      `no TLS certificate: ${certFile} and ${join(options.certDir, KEY_FILE)} must exist (set WS_CERT_DIR to a directory holding both)`,
    );
  }
  try {
    new X509Certificate(pair.cert);
  } catch (err) {
    throw new TlsSetupError(`${certFile} is not a PEM certificate`, { cause: err });
  }
  return { ...pair, certFile, generated };
}

/** Reads the CA bundle clients trust; fails with a message naming the file. */
export async function readCaFile(file: string): Promise<string> {
  try {
    return await readFile(file, 'utf8');
  } catch (err) {
    throw new TlsSetupError(`cannot read the CA file ${file}: ${(err as Error).message}`, {
      cause: err,
    });
  }
}

/**
 * Reads a certificate and its private key from two PEM files and checks that they belong
 * together; fails with a message naming the file at fault.
 */
export async function readCertificatePair(files: CertificateFiles): Promise<{ cert: string; key: string }> {
  const read = async (file: string, what: string) => {
    try {
      return await readFile(file, 'utf8');
    } catch (err) {
      throw new TlsSetupError(`cannot read the ${what} file ${file}: ${(err as Error).message}`, { cause: err });
    }
  };
  const [cert, key] = await Promise.all([read(files.certFile, 'certificate'), read(files.keyFile, 'key')]);
  checkCertificatePair({ cert, key }, files);
  return { cert, key };
}

/** Checks that `cert` is a PEM certificate and `key` its private key; the error names the file at fault. */
export function checkCertificatePair(pair: { cert: string; key: string }, files: CertificateFiles): void {
  const { cert, key } = pair;
  let x509: X509Certificate;
  try {
    x509 = new X509Certificate(cert);
  } catch (err) {
    throw new TlsSetupError(`${files.certFile} is not a PEM certificate`, { cause: err });
  }
  let privateKey: ReturnType<typeof createPrivateKey>;
  try {
    privateKey = createPrivateKey(key);
  } catch (err) {
    throw new TlsSetupError(`${files.keyFile} is not an unencrypted PEM private key`, { cause: err });
  }
  if (!x509.checkPrivateKey(privateKey)) {
    throw new TlsSetupError(`${files.keyFile} is not the private key of the certificate in ${files.certFile}`);
  }
}

export interface GenerateCertificateOptions {
  commonName: string;
  /** `ca` signs other certificates; `server` and `client` are leaf certificates for that TLS role. */
  usage: 'ca' | 'server' | 'client';
  /** DNS names or IPs (subjectAltName), for a server certificate. */
  hosts?: readonly string[];
  /** The CA that signs it; self-signed without one. */
  issuer?: { cert: string; key: string };
  validityDays?: number;
}

const USAGE_EXTENSIONS = {
  ca: [
    { name: 'basicConstraints', cA: true, critical: true },
    { name: 'keyUsage', keyCertSign: true, cRLSign: true, digitalSignature: true, critical: true },
  ],
  server: [
    { name: 'basicConstraints', cA: false },
    { name: 'keyUsage', digitalSignature: true, critical: true },
    { name: 'extKeyUsage', serverAuth: true },
  ],
  client: [
    { name: 'basicConstraints', cA: false },
    { name: 'keyUsage', digitalSignature: true, critical: true },
    { name: 'extKeyUsage', clientAuth: true },
  ],
} as const;

/**
 * Creates an EC P-256 certificate and key: a CA, or a server or client certificate signed by
 * `issuer`. For tests and for trying mutual TLS; production certificates come from your own CA.
 */
export async function generateCertificate(options: GenerateCertificateOptions): Promise<{ cert: string; key: string }> {
  const notBeforeDate = new Date();
  const notAfterDate = new Date(notBeforeDate.getTime() + (options.validityDays ?? DEV_VALIDITY_DAYS) * 86_400_000);
  const hosts = options.hosts ?? [];
  const pems = await generate([{ name: 'commonName', value: options.commonName }], {
    keyType: 'ec',
    curve: 'P-256',
    algorithm: 'sha256',
    notBeforeDate,
    notAfterDate,
    ...(options.issuer === undefined ? {} : { ca: options.issuer }),
    extensions: [
      ...USAGE_EXTENSIONS[options.usage],
      ...(hosts.length === 0
        ? []
        : [
            {
              name: 'subjectAltName' as const,
              altNames: hosts.map((host) =>
                isIP(host) ? { type: 7 as const, ip: host } : { type: 2 as const, value: host },
              ),
            },
          ]),
    ],
  });
  return { cert: pems.cert, key: pems.private };
}
