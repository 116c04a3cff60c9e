import { loadServerCertificate } from '@pubsub/tls';
import { mkdtempSync } from 'node:fs';
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
