import { ConfigError, readableFile } from '@pubsub/config';
import { checkCertificatePair, type CertificateFiles } from '@pubsub/tls';
import { readFileSync } from 'node:fs';

/** Certificate and key files every service reads, each pair set together or not at all. */
export const tlsFilesEnv = {
  TLS_CERT_FILE: readableFile().optional(),
  TLS_KEY_FILE: readableFile().optional(),
  TLS_CLIENT_CERT_FILE: readableFile().optional(),
  TLS_CLIENT_KEY_FILE: readableFile().optional(),
};

type TlsFilesEnv = { readonly [K in keyof typeof tlsFilesEnv]?: string | undefined };

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
