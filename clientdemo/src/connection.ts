import { CloseCode } from '@pubsub/protocol';
import { readFile } from 'node:fs/promises';
import { WebSocket } from 'ws';
import type { ConnectionSettings } from './options.js';

/** One endpoint to dial: the URL and everything the handshake needs. */
export interface Endpoint {
  readonly url: string;
  /** PEM text of the trusted CA. */
  readonly ca: string;
  /** Named in messages about certificate failures. */
  readonly caFile: string;
  /** `user:password` for Basic Auth; none for a capability URL (a stream's), which is its own credential. */
  readonly auth?: string;
}

/** How a connection ended. `requested` is true when this client asked for the close. */
export interface CloseInfo {
  readonly code: number;
  readonly reason: string;
  readonly error: Error | undefined;
  readonly requested: boolean;
}

/** The connection could not be set up; the message says why in words a user can act on. */
export class ConnectError extends Error {
  override name = 'ConnectError';
  /**
   * False when trying again cannot help until the user changes something: credentials (401),
   * rights (403), the URL (404), the CA. Retrying a 401 would also get the address throttled.
   */
  readonly retryable: boolean;

  constructor(message: string, options: ErrorOptions & { retryable?: boolean } = {}) {
    super(message, options);
    this.retryable = options.retryable ?? false;
  }
}

const FINAL_STATUSES = new Set([400, 401, 403, 404, 410]);

const CERTIFICATE_ERROR = /CERT|^UNABLE_TO_|SELF_SIGNED/;

export async function loadCa(caFile: string): Promise<string> {
  let pem: string;
  try {
    pem = await readFile(caFile, 'utf8');
  } catch (err) {
    throw new ConnectError(`cannot read the CA file ${caFile}: ${(err as Error).message}`, { cause: err });
  }
  // TLS would silently ignore a file without certificates and then fail with a misleading error.
  if (!pem.includes('-----BEGIN CERTIFICATE-----')) {
    throw new ConnectError(`the CA file ${caFile} holds no PEM certificate`);
  }
  return pem;
}

/** The two endpoints with the CA loaded once. */
export async function endpoints(settings: ConnectionSettings): Promise<{ publish: Endpoint; subscribe: Endpoint }> {
  const ca = await loadCa(settings.caFile);
  const common = { ca, caFile: settings.caFile, auth: `${settings.user}:${settings.password}` };
  return { publish: { url: settings.publishUrl, ...common }, subscribe: { url: settings.subscribeUrl, ...common } };
}

/** An HTTP answer instead of the upgrade: its status and, for 429 and 503, when to come back. */
export interface Refusal {
  readonly status: number;
  readonly retryAfter: string | undefined;
}

/** Turns a failed handshake into a sentence a user can act on. */
export function describeConnectFailure(
  failure: { error: Error | undefined; refusal: Refusal | undefined },
  endpoint: Endpoint,
): string {
  const { error, refusal } = failure;
  if (refusal !== undefined) return describeRefusal(refusal);
  if (error === undefined) return 'the connection closed during the handshake';
  const code = (error as NodeJS.ErrnoException).code;
  if (code !== undefined && CERTIFICATE_ERROR.test(code)) {
    return `TLS certificate verification failed: ${error.message} (${code}); check --ca (using ${endpoint.caFile})`;
  }
  if (code === 'ECONNREFUSED') return `${error.message}: is the service running?`;
  return error.message;
}

function describeRefusal({ status, retryAfter }: Refusal): string {
  const retry = retryAfter === undefined ? 'retry later' : `retry in ${retryAfter} s (Retry-After)`;
  if (status === 401) return 'authentication failed (401): check --user/--password';
  if (status === 404) return 'the server has no WebSocket endpoint at this path (404): check the URL';
  if (status === 410) return 'this stream was deleted or expired (410)';
  if (status === 403) return 'this user may not use this endpoint, or this origin may not connect (403)';
  if (status === 429) return `too many failed logins or connections for this user or address (429): ${retry}`;
  if (status === 503) return 'the service is shutting down or has too many connections (503)';
  return `the server refused the WebSocket upgrade (HTTP ${status})`;
}

/** An open WebSocket that remembers how it ended. Every error is caught, so none can crash the process. */
export class Connection {
  readonly url: string;
  readonly closed: Promise<CloseInfo>;
  readonly #ws: WebSocket;
  /** Shared with the close listener, which was attached before this object existed. */
  readonly #state: { requested: boolean };

  private constructor(
    ws: WebSocket,
    parts: { url: string; closed: Promise<CloseInfo>; state: { requested: boolean } },
  ) {
    this.#ws = ws;
    this.url = parts.url;
    this.closed = parts.closed;
    this.#state = parts.state;
  }

  /** Resolves once the handshake succeeded; rejects with a ConnectError saying why it did not. */
  static async open(endpoint: Endpoint): Promise<Connection> {
    let ws: WebSocket;
    try {
      ws = new WebSocket(endpoint.url, {
        ca: endpoint.ca,
        ...(endpoint.auth !== undefined && { auth: endpoint.auth }),
      });
    } catch (err) {
      // ws throws synchronously for a URL it cannot use; the option parser should have caught it first.
      throw new ConnectError(`cannot connect to ${endpoint.url}: ${(err as Error).message}`, { cause: err });
    }
    let error: Error | undefined;
    let refusal: Refusal | undefined;
    ws.on('error', (err) => {
      error ??= err;
    });
    // Listening here is what gives access to the answer's headers; ws then leaves the abort to us.
    ws.once('unexpected-response', (_request, response) => {
      const retryAfter = response.headers['retry-after'];
      refusal = { status: response.statusCode ?? 0, retryAfter };
      response.resume();
      ws.terminate();
    });
    const state = { requested: false };
    const closed = new Promise<CloseInfo>((resolveClosed) => {
      ws.once('close', (code: number, reason: Buffer) => {
        resolveClosed({ code, reason: reason.toString(), error, requested: state.requested });
      });
    });
    const opened = await new Promise<boolean>((resolveOpened) => {
      ws.once('open', () => resolveOpened(true));
      void closed.then(() => resolveOpened(false));
    });
    if (!opened) {
      const reason = describeConnectFailure({ error, refusal }, endpoint);
      const code = (error as NodeJS.ErrnoException | undefined)?.code;
      const final =
        (refusal !== undefined && FINAL_STATUSES.has(refusal.status)) ||
        (code !== undefined && CERTIFICATE_ERROR.test(code));
      throw new ConnectError(`cannot connect to ${endpoint.url}: ${reason}`, { cause: error, retryable: !final });
    }
    return new Connection(ws, { url: endpoint.url, closed, state });
  }

  /** Calls `listener` with every text frame. */
  onText(listener: (text: string) => void): void {
    this.#ws.on('message', (data, isBinary) => {
      // binaryType stays 'nodebuffer', so every message is one Buffer.
      if (!isBinary) listener((data as Buffer).toString());
    });
  }

  send(text: string): void {
    if (this.#ws.readyState === WebSocket.OPEN) this.#ws.send(text);
  }

  /** Closes normally and waits for the server's answer. Safe to call more than once. */
  close(): Promise<CloseInfo> {
    this.#state.requested = true;
    if (this.#ws.readyState === WebSocket.OPEN || this.#ws.readyState === WebSocket.CONNECTING)
      this.#ws.close(CloseCode.NORMAL);
    return this.closed;
  }
}
