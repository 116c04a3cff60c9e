import { ConfigError, readableFile, z } from '@pubsub/config';
import { checkCertificatePair, type CertificateFiles } from '@pubsub/tls';
import { readFileSync } from 'node:fs';
import { createSecureContext } from 'node:tls';

/**
 * TLS 1.2 suites the services offer: forward secrecy (ECDHE) and AEAD only, no CBC, SHA-1, CCM8
 * or ARIA. TLS 1.3 has only AEAD suites and keeps OpenSSL's list.
 */
export const DEFAULT_TLS_CIPHERS = [
  'ECDHE-ECDSA-AES128-GCM-SHA256',
  'ECDHE-RSA-AES128-GCM-SHA256',
  'ECDHE-ECDSA-AES256-GCM-SHA384',
  'ECDHE-RSA-AES256-GCM-SHA384',
  'ECDHE-ECDSA-CHACHA20-POLY1305',
  'ECDHE-RSA-CHACHA20-POLY1305',
].join(':');

/** `TLS_CIPHERS`: an OpenSSL cipher list, checked by OpenSSL itself when the configuration loads. */
const cipherList = () =>
  z
    .string()
    .default(DEFAULT_TLS_CIPHERS)
    .superRefine((ciphers, ctx) => {
      try {
        createSecureContext({ ciphers });
      } catch (err) {
        ctx.addIssue({ code: 'custom', message: `not a usable OpenSSL cipher list (${(err as Error).message})` });
      }
    });

/** Certificate and key files every service reads, each pair set together or not at all. */
export const tlsFilesEnv = {
  TLS_CERT_FILE: readableFile().optional(),
  TLS_KEY_FILE: readableFile().optional(),
  TLS_CLIENT_CERT_FILE: readableFile().optional(),
  TLS_CLIENT_KEY_FILE: readableFile().optional(),
  TLS_CIPHERS: cipherList(),
};

type TlsFilesEnv = { readonly [K in Exclude<keyof typeof tlsFilesEnv, 'TLS_CIPHERS'>]?: string | undefined };

export interface TlsFiles {
  /** The certificate this service serves, instead of `WS_CERT_DIR/server.{crt,key}`. */
  readonly server?: CertificateFiles;
  /** The client certificate the publisher and subscriber present to the msgqueue (mutual TLS). */
  readonly client?: CertificateFiles;
}

/**
 * The two file pairs. A certificate without its key (or the reverse), or a key that is not the
 * certificate's, is a configuration error naming the variables, so `--check-config` finds it too.
 */
export function tlsFiles(env: TlsFilesEnv): TlsFiles {
  const issues: string[] = [];
  const pair = (certVar: keyof TlsFilesEnv, keyVar: keyof TlsFilesEnv): CertificateFiles | undefined => {
    const [certFile, keyFile] = [env[certVar], env[keyVar]];
    if (certFile !== undefined && keyFile !== undefined) {
      try {
        checkCertificatePair(
          { cert: readFileSync(certFile, 'utf8'), key: readFileSync(keyFile, 'utf8') },
          { certFile, keyFile },
        );
      } catch (err) {
        issues.push(`${certVar}, ${keyVar}: ${(err as Error).message}`);
      }
      return { certFile, keyFile };
    }
    if (certFile !== undefined) issues.push(`${keyVar}: must be set with ${certVar} (the certificate's private key)`);
    if (keyFile !== undefined) issues.push(`${certVar}: must be set with ${keyVar} (the key's certificate)`);
    return undefined;
  };
  const server = pair('TLS_CERT_FILE', 'TLS_KEY_FILE');
  const client = pair('TLS_CLIENT_CERT_FILE', 'TLS_CLIENT_KEY_FILE');
  if (issues.length > 0) throw new ConfigError(issues);
  return { ...(server && { server }), ...(client && { client }) };
}
