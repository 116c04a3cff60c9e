import type express from 'express';
import { once } from 'node:events';
import type { IncomingMessage } from 'node:http';
import { createServer, type Server } from 'node:https';
import type { AddressInfo, Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import { WebSocketServer, type WebSocket } from 'ws';
import type { Account } from './access.js';
import { AdmissionPipeline, type AdmissionOptions, type CallAdmission, type CallRequest } from './admission.js';
import { AddressLimit } from './address-limit.js';
import { closeAs, type ClosingCode } from './close.js';
import type { ConnectionContext } from './context.js';
import { heartbeat, trackPongs } from './heartbeat.js';
import { createHttpApp, type HttpRoutes } from './http-app.js';
import { rejectionOf, rejectUpgrade, type Rejection } from './reject.js';

export type ConnectionHandler = (ws: WebSocket, context: ConnectionContext) => void;

/**
 * A WebSocket endpoint whose URL is its own credential (a capability URL, `/streams/<id>`): the
 * request needs no Basic Auth or token. `authorize` decides from the last path segment (and the
 * query) before the upgrade, and names the account the connection runs as: its topic rights and
 * its share of the connection limits.
 */
export interface CapabilityEndpoint {
  authorize(capability: string, url: URL): { account: Account } | { rejection: Rejection };
  handler: ConnectionHandler;
}

export interface SecureWsServerOptions extends AdmissionOptions, HttpRoutes {
  host: string;
  port: number;
  /**
   * With `clientCa`, clients must present a certificate chaining to it or the TLS handshake fails;
   * `ciphers` are the TLS 1.2 suites offered (TLS 1.3 keeps OpenSSL's, all AEAD).
   */
  tls: { cert: string; key: string; clientCa?: string; ciphers?: string };
  /** WebSocket endpoints by exact path, e.g. `{ '/publish': onPublish }`. */
  endpoints: Record<string, ConnectionHandler>;
  /**
   * WebSocket endpoints at `<prefix>/<capability>`, by prefix (`{ '/streams': … }`). Log lines
   * and metrics name the prefix only: the capability is a credential.
   */
  capabilityEndpoints?: Readonly<Record<string, CapabilityEndpoint>>;
  /**
   * Refusals an endpoint decides from the request's URL before the upgrade (an unknown group), so
   * the client gets an HTTP status and JSON instead of an opened and closed socket.
   */
  upgradeChecks?: Readonly<Record<string, (url: URL) => Rejection | undefined>>;
  maxPayloadBytes: number;
  heartbeatIntervalMs: number;
}

/** An HTTPS server that authenticates before upgrading, with a tracked set of WebSocket clients. */
export interface SecureWsServer {
  readonly port: number;
  /**
   * Admits a call of another transport as an HTTP request is admitted: limits, Basic Auth with
   * the same throttling, the right `access` gives its key. Refusals are logged and counted here.
   */
  admitCall(request: CallRequest): Promise<CallAdmission>;
  readonly clients: ReadonlySet<WebSocket>;
  /** Turns away new connections (503) from now on. */
  stopAccepting(): void;
  /** Closes every client as the error table says for `code`, terminating those that have not closed by the deadline. */
  closeClients(code: ClosingCode, deadlineMs: number): Promise<void>;
  /** Stops the heartbeat and the listener; resolves once every socket is gone. */
  close(): Promise<void>;
}

/** An upgrade request as the server's `upgrade` event hands it over. */
interface UpgradeRequest {
  req: IncomingMessage;
  socket: Duplex;
  head: Buffer;
}

// Slowloris guards: a client must send its headers and finish TLS within these.
const HEADERS_TIMEOUT_MS = 10_000;
const TLS_HANDSHAKE_TIMEOUT_MS = 10_000;

function urlOf(req: IncomingMessage): URL | undefined {
  try {
    return new URL(req.url ?? '/', 'https://localhost');
  } catch {
    return undefined;
  }
}

/** The HTTPS server, before it listens: TLS 1.2 or later, mutual TLS with `clientCa`, the slowloris guards. */
function createTlsServer(options: SecureWsServerOptions, app: express.Express): Server {
  const { tls } = options;
  const server = createServer(
    {
      cert: tls.cert,
      key: tls.key,
      ...(tls.clientCa !== undefined && { ca: tls.clientCa, requestCert: true, rejectUnauthorized: true }),
      minVersion: 'TLSv1.2',
      ...(tls.ciphers !== undefined && { ciphers: tls.ciphers, honorCipherOrder: true }),
      handshakeTimeout: TLS_HANDSHAKE_TIMEOUT_MS,
    },
    app,
  );
  server.headersTimeout = HEADERS_TIMEOUT_MS;
  server.requestTimeout = HEADERS_TIMEOUT_MS * 3;
  return server;
}

export async function startSecureWsServer(options: SecureWsServerOptions): Promise<SecureWsServer> {
  const { logger: log, name } = options;
  const admission = new AdmissionPipeline(options);
  const { limits } = admission;
  // Every WebSocket endpoint must say which right it needs: checked now, not at the first client.
  for (const path of Object.keys(options.endpoints)) admission.rightOf(path);
  const upgradePaths = [
    ...Object.keys(options.endpoints),
    ...Object.keys(options.capabilityEndpoints ?? {}).map((prefix) => `${prefix}/:capability`),
  ];
  const server = createTlsServer(options, createHttpApp({ ...options, upgradePaths }, admission));
  // Before TLS and authentication, so one host cannot hold every socket (and TLS handshake) we have.
  const perAddress = new AddressLimit(options.limits.maxConnectionsPerAddress);
  server.on('connection', (socket: Socket) => {
    if (perAddress.admit(socket)) return;
    options.metrics.refused('TOO_MANY_ADDRESS_CONNECTIONS');
    log.debug({ remoteAddress: socket.remoteAddress }, 'connection refused: too many from this address');
    socket.destroy();
  });
  const wss = new WebSocketServer({
    noServer: true,
    clientTracking: false,
    maxPayload: options.maxPayloadBytes,
    perMessageDeflate: false,
  });
  const clients = new Set<WebSocket>();

  /** Opens the WebSocket of an admitted request and hands it to its endpoint; `path` names it in logs and metrics. */
  const accept = (
    { req, socket, head }: UpgradeRequest,
    admitted: { url: URL; account: Account; path: string; handler: ConnectionHandler },
  ): void => {
    const { url, account, path, handler } = admitted;
    if (socket.destroyed) return;
    // Read here, not in the callback: a closure naming `req` would keep the request, its headers
    // and `head` alive for as long as the connection lasts (every listener below shares its scope).
    const { remoteAddress } = req.socket;
    wss.handleUpgrade(req, socket, head, (ws) => {
      const release = admission.hold(account.name);
      const context = admission.context(account, { path, url, remoteAddress });
      clients.add(ws);
      options.metrics.connections.inc({ path });
      trackPongs(ws);
      // Without an 'error' listener one invalid frame would crash the process.
      ws.on('error', (err) => context.log.info({ err }, 'client socket error'));
      ws.on('close', (code, reason) => {
        clients.delete(ws);
        release();
        options.metrics.connections.dec({ path });
        context.log.debug({ code, reason: reason.toString() }, 'connection closed');
      });
      // Debug, as is the close: at info every client run would add lines to the operator's terminal.
      context.log.debug({ remoteAddress: context.remoteAddress }, 'connection opened');
      handler(ws, context);
    });
  };

  /** The capability endpoint a path is under, with the capability (its last segment). */
  const capabilityTarget = (path: string) => {
    const cut = path.lastIndexOf('/');
    const prefix = path.slice(0, cut);
    const endpoints = options.capabilityEndpoints ?? {};
    const endpoint = cut > 0 && Object.hasOwn(endpoints, prefix) ? endpoints[prefix] : undefined;
    const capability = path.slice(cut + 1);
    return endpoint === undefined || capability === '' ? undefined : { prefix, capability, endpoint };
  };

  /** A capability URL: the endpoint's own check stands in for Basic Auth and the right. */
  const upgradeCapability = (
    upgrading: UpgradeRequest,
    { url, target }: { url: URL; target: { prefix: string; capability: string; endpoint: CapabilityEndpoint } },
  ): void => {
    const { req, socket } = upgrading;
    const where = { path: `${target.prefix}/…`, remoteAddress: req.socket.remoteAddress };
    const refuse = (rejection: Rejection, user?: string) => {
      admission.logRefusal(rejection, { ...where, user });
      rejectUpgrade(socket, rejection);
    };
    const early = admission.originCheck(req, ['subscribe']) ?? limits.refusal();
    if (early !== undefined) return refuse(early);
    const decision = target.endpoint.authorize(target.capability, url);
    if ('rejection' in decision) return refuse(decision.rejection);
    const { account } = decision;
    const late = limits.refusal(account.name);
    if (late !== undefined) return refuse(late, account.name);
    accept(upgrading, { url, account, path: where.path, handler: target.endpoint.handler });
  };

  const upgrade = async (req: IncomingMessage, socket: Duplex, head: Buffer): Promise<void> => {
    const url = urlOf(req);
    const path = url?.pathname ?? '';
    const handler = Object.hasOwn(options.endpoints, path) ? options.endpoints[path] : undefined;
    const stopping = admission.shuttingDown();
    if (stopping !== undefined) {
      rejectUpgrade(socket, stopping);
      return;
    }
    const target = handler === undefined ? capabilityTarget(path) : undefined;
    if (url !== undefined && target !== undefined) return upgradeCapability({ req, socket, head }, { url, target });
    if (handler === undefined || url === undefined) {
      rejectUpgrade(socket, rejectionOf('NOT_FOUND', `no such endpoint on ${name}: ${path}`));
      return;
    }
    const check = options.upgradeChecks?.[path];
    const passage = { rights: admission.rightOf(path), path, limited: true, whileAccepting: true, tokens: true };
    const passed = await admission.pass(req, { ...passage, ...(check && { check: () => check(url) }) }, (account) =>
      accept({ req, socket, head }, { url, account, path, handler }),
    );
    if (!passed.ok) rejectUpgrade(socket, passed.rejection);
  };

  // Without this a refused client certificate (mutual TLS) or a scanner leaves no trace here.
  server.on('tlsClientError', (err, tlsSocket) => {
    options.metrics.refused('TLS_HANDSHAKE_FAILED');
    log.info({ err, remoteAddress: tlsSocket.remoteAddress }, 'TLS handshake failed');
  });

  server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => {
    socket.on('error', () => socket.destroy());
    upgrade(req, socket, head).catch((err: unknown) => {
      log.error({ err }, 'upgrade failed');
      rejectUpgrade(socket, rejectionOf('INTERNAL'));
    });
  });

  const heartbeatTimer = setInterval(() => {
    for (const ws of clients) heartbeat(ws);
  }, options.heartbeatIntervalMs);
  heartbeatTimer.unref();

  server.listen(options.port, options.host);
  try {
    await once(server, 'listening');
  } catch (err) {
    clearInterval(heartbeatTimer);
    throw err;
  }
  const serverClosed = new Promise<void>((resolveClosed) => server.once('close', () => resolveClosed()));

  return {
    port: (server.address() as AddressInfo).port,
    admitCall: (request) => admission.admitCall(request),
    clients,
    stopAccepting() {
      admission.stopAccepting();
    },
    async closeClients(code, deadlineMs) {
      const closed = [...clients].map(
        (ws) =>
          new Promise<void>((resolveClose) => {
            ws.once('close', () => resolveClose());
            closeAs(ws, code);
          }),
      );
      let timer: NodeJS.Timeout | undefined;
      const deadline = new Promise<void>((resolveDeadline) => {
        timer = setTimeout(resolveDeadline, deadlineMs);
      });
      await Promise.race([Promise.all(closed), deadline]);
      clearTimeout(timer);
      for (const ws of clients) ws.terminate();
    },
    async close() {
      admission.stopAccepting();
      clearInterval(heartbeatTimer);
      server.close();
      for (const ws of clients) ws.terminate();
      server.closeAllConnections();
      await serverClosed;
    },
  };
}
