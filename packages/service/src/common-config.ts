import { parseUserEntries } from '@pubsub/auth';
import { booleanFlag, flag, LOG_LEVEL, positiveInt, z } from '@pubsub/config';
import type { LogLevel } from '@pubsub/log';
import { DEFAULT_MAX_PAYLOAD_BYTES } from '@pubsub/protocol';
import { DEFAULT_CERT_DIR, type CertificateFiles } from '@pubsub/tls';
import { join } from 'node:path';
import { tlsFiles, tlsFilesEnv } from './tls-config.js';
import { accessEnv, accessLimits, type AccessLimits } from './access-config.js';

// Enough to amortise a frame's write over many messages, small enough to keep frames well
// under the hops' max payload for small messages (the packer also splits by bytes).
const DEFAULT_HOP_BATCH_MESSAGES = 256;

export { DEV_USER, DEV_USERS } from './dev-user.js';

/**
 * A users list (`name:password` or `name:scrypt:…`, comma-separated), checked at load time;
 * undefined when unset (resolveUsers then combines it with USERS_FILE).
 */
export const usersList = () =>
  z
    .string()
    .optional()
    .transform((spec, ctx) => {
      if (spec === undefined) return undefined;
      try {
        return parseUserEntries(spec);
      } catch (err) {
        ctx.addIssue({ code: 'custom', message: (err as Error).message });
        return z.NEVER;
      }
    });

/** Variables every service reads, unprefixed (docs/configuration.md). */
export const commonEnv = {
  NODE_ENV: z.string().optional(),
  LOG_LEVEL,
  WS_CERT_DIR: z.string().optional(),
  TLS_GENERATE_DEV_CERT: booleanFlag().optional(),
  TLS_DEV_CERT_HOSTS: z.string().default(''),
  WS_CA_FILE: z.string().optional(),
  ...tlsFilesEnv,
  MAX_PAYLOAD_BYTES: positiveInt(DEFAULT_MAX_PAYLOAD_BYTES),
  HEARTBEAT_INTERVAL_MS: positiveInt(30_000),
  SHUTDOWN_TIMEOUT_MS: positiveInt(10_000),
  UPSTREAM_BACKOFF_INITIAL_MS: positiveInt(100),
  UPSTREAM_BACKOFF_MAX_MS: positiveInt(5_000),
  ...accessEnv,
  HOP_BATCH_MESSAGES: positiveInt(DEFAULT_HOP_BATCH_MESSAGES),
  COALESCE_WRITES: flag(true),
};

export interface CommonConfig {
  /** `NODE_ENV=production`: no development user, users must be configured. */
  readonly production: boolean;
  readonly logLevel: LogLevel;
  readonly tls: {
    certDir: string;
    generate: boolean;
    extraHosts: string[];
    files?: CertificateFiles;
    /** TLS 1.2 suites offered (`TLS_CIPHERS`). */
    ciphers: string;
  };
  /** The client certificate presented on the msgqueue hops (mutual TLS), when configured. */
  readonly hopClientCert?: CertificateFiles;
  /** CA bundle that upstream connections verify the next hop against. */
  readonly caFile: string;
  readonly maxPayloadBytes: number;
  readonly heartbeatIntervalMs: number;
  readonly shutdownTimeoutMs: number;
  readonly backoff: { initialMs: number; maxMs: number };
  /** Connection limits, allowed origins and auth-failure throttling, checked at the handshake. */
  readonly limits: AccessLimits;
  /** Most messages per frame on the internal hops; 1 sends one text frame per message. */
  readonly hopBatchMessages: number;
  /** Whether frames for one client socket within one event-loop turn go out in one write. */
  readonly coalesceWrites: boolean;
}

type CommonEnv = z.infer<z.ZodObject<typeof commonEnv>>;

export function commonConfig(env: CommonEnv): CommonConfig {
  const certDir = env.WS_CERT_DIR ?? DEFAULT_CERT_DIR;
  // An explicit directory must already hold a certificate unless generation is asked for, so a
  // typo in WS_CERT_DIR fails loudly instead of minting a new, untrusted certificate.
  const generate = env.TLS_GENERATE_DEV_CERT ?? env.WS_CERT_DIR === undefined;
  // Explicit files take precedence over WS_CERT_DIR; a half-configured pair is a ConfigError.
  const files = tlsFiles(env);
  return {
    production: isProduction(env),
    logLevel: env.LOG_LEVEL,
    tls: {
      ciphers: env.TLS_CIPHERS,
      certDir,
      generate,
      extraHosts: env.TLS_DEV_CERT_HOSTS.split(',')
        .map((host) => host.trim())
        .filter(Boolean),
      ...(files.server && { files: files.server }),
    },
    ...(files.client && { hopClientCert: files.client }),
    caFile: env.WS_CA_FILE ?? env.TLS_CERT_FILE ?? join(certDir, 'server.crt'),
    maxPayloadBytes: env.MAX_PAYLOAD_BYTES,
    heartbeatIntervalMs: env.HEARTBEAT_INTERVAL_MS,
    shutdownTimeoutMs: env.SHUTDOWN_TIMEOUT_MS,
    backoff: { initialMs: env.UPSTREAM_BACKOFF_INITIAL_MS, maxMs: env.UPSTREAM_BACKOFF_MAX_MS },
    limits: accessLimits(env),
    hopBatchMessages: env.HOP_BATCH_MESSAGES,
    coalesceWrites: env.COALESCE_WRITES,
  };
}

/** Whether `NODE_ENV` asks for production behaviour, for the services' `resolveUsers`. */
export function isProduction(env: { readonly NODE_ENV?: string | undefined }): boolean {
  return env.NODE_ENV === 'production';
}
