import type { Logger } from '@pubsub/log';
import { loadServerCertificate, readCaFile } from '@pubsub/tls';
import type { CommonConfig, Users } from './common-config.js';

export interface ServiceTls {
  cert: string;
  key: string;
  /** The CA bundle for dialing the next hop; undefined for a service that dials nothing. */
  ca: string | undefined;
}

/** Loads (or, for development, creates) the certificate, and the CA when the service dials out. */
export async function loadServiceTls(
  config: CommonConfig,
  options: { logger: Logger; dialsUpstream: boolean },
): Promise<ServiceTls> {
  const certificate = await loadServerCertificate(config.tls);
  if (certificate.generated) {
    options.logger.warn({ certFile: certificate.certFile }, 'generated a self-signed development certificate');
  }
  const ca = options.dialsUpstream ? await readCaFile(config.caFile) : undefined;
  return { cert: certificate.cert, key: certificate.key, ca };
}

/** The development users are fine on a laptop and a hole anywhere else: say so at every start. */
export function warnOnDevUsers(users: Users, variable: string, log: Logger): void {
  if (users.isDevDefault) {
    log.warn(
      { user: 'hello', variable },
      'using the development user hello/test; set this variable for anything but local development',
    );
  }
}
