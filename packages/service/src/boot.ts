import type { Logger } from '@pubsub/log';
import { HOP_ENVELOPE_OVERHEAD_BYTES } from '@pubsub/protocol';
import { loadServerCertificate, readCaFile, readCertificatePair } from '@pubsub/tls';
import type { Users } from './access.js';
import type { CommonConfig } from './common-config.js';

import { Upstream } from './upstream.js';

/** Loads the server certificate, or creates a development one where the config allows it. */
export async function loadServiceTls(
  config: CommonConfig,
  logger: Logger,
): Promise<{ cert: string; key: string; ciphers: string }> {
  const certificate = await loadServerCertificate(config.tls);
  if (certificate.generated) {
    logger.warn({ certFile: certificate.certFile }, 'generated a self-signed development certificate');
  }
  return { cert: certificate.cert, key: certificate.key, ciphers: config.tls.ciphers };
}

/** Where a service finds the msgqueue and how it authenticates there. */
export interface QueueHop {
  /** One msgqueue, or the nodes of a cluster on one store, tried in turn (see Upstream). */
  readonly urls: readonly string[];
  readonly user: string;
  readonly password: string;
}

/** What a service's connections to the msgqueue trust, and the certificate they present, if any. */
export interface HopTls {
  /** PEM bundle the msgqueue's certificate must chain to (`WS_CA_FILE`). */
  readonly ca: string;
  /** Client certificate and key for a msgqueue that requires one (`TLS_CLIENT_CERT_FILE`/`TLS_CLIENT_KEY_FILE`). */
  readonly cert?: string;
  readonly key?: string;
}

/** Reads the CA bundle and, when configured, the client certificate for the msgqueue hops. */
export async function loadHopTls(config: CommonConfig): Promise<HopTls> {
  const ca = await readCaFile(config.caFile);
  if (config.hopClientCert === undefined) return { ca };
  return { ca, ...(await readCertificatePair(config.hopClientCert)) };
}

/** The reconnecting connection from a service to the msgqueue, verifying it against `WS_CA_FILE`. */
export async function createQueueUpstream(
  config: CommonConfig,
  hop: QueueHop,
  options: { name: string; logger: Logger; dialQuery?: () => Readonly<Record<string, string>> },
): Promise<Upstream> {
  return new Upstream({
    ...hop,
    name: options.name,
    ...(options.dialQuery !== undefined && { dialQuery: options.dialQuery }),
    ...(await loadHopTls(config)),
    // The hop carries the client's frame plus the envelope.
    maxPayloadBytes: config.maxPayloadBytes + HOP_ENVELOPE_OVERHEAD_BYTES,
    heartbeatIntervalMs: config.heartbeatIntervalMs,
    initialBackoffMs: config.backoff.initialMs,
    maxBackoffMs: config.backoff.maxMs,
    logger: options.logger,
  });
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
