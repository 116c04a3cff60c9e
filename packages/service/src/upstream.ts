import type { Logger } from '@pubsub/log';
import { EventEmitter } from 'node:events';
import { WebSocket } from 'ws';
import { closeAs } from './close.js';
import { heartbeat, trackPongs } from './heartbeat.js';

export interface DialOptions {
  url: string;
  user: string;
  password: string;
  /** PEM bundle the server's certificate must chain to; verification is always on. */
  ca: string;
  /** Client certificate and key, for a server that requires one (mutual TLS). */
  cert?: string;
  key?: string;
  maxPayloadBytes: number;
  handshakeTimeoutMs?: number;
}

/**
 * The mask key of every frame this side sends. RFC 6455 masks client frames so that a browser's
 * script cannot steer what a caching proxy on the path reads; a hop is our own service talking to
 * our own msgqueue inside TLS, with no script and no proxy able to read it, so an all-zero key
 * makes `ws` skip the copy-and-XOR of every frame here and the unmasking on the msgqueue's side
 * (both test for a zero key).
 */
function zeroMask(mask: Buffer): void {
  mask.fill(0);
}

/** Opens one authenticated wss connection; rejects with the reason when it cannot. */
export function dial(options: DialOptions): Promise<WebSocket> {
  return new Promise((resolveOpen, reject) => {
    let ws: WebSocket;
    try {
      ws = new WebSocket(options.url, {
        ca: options.ca,
        ...(options.cert !== undefined && options.key !== undefined && { cert: options.cert, key: options.key }),
        auth: `${options.user}:${options.password}`,
        maxPayload: options.maxPayloadBytes,
        perMessageDeflate: false,
        generateMask: zeroMask,
        handshakeTimeout: options.handshakeTimeoutMs ?? 10_000,
      });
    } catch (err) {
      reject(err instanceof Error ? err : new Error(String(err)));
      return;
    }
    const onError = (err: Error) => {
      ws.off('open', onOpen);
      reject(err instanceof Error ? err : new Error(String(err)));
    };
    const onOpen = () => {
      ws.off('error', onError);
      resolveOpen(ws);
    };
    ws.once('error', onError);
    ws.once('open', onOpen);
  });
}

export interface UpstreamOptions extends Omit<DialOptions, 'url'> {
  /**
   * The hop's nodes: the first is dialed first, and every failure (a dial that fails, a
   * connection that drops) moves on to the next, round the list.
   */
  urls: readonly string[];
  /** Query parameters added to the URL at each dial, for what the hop should know as of now. */
  dialQuery?: () => Readonly<Record<string, string>>;
  /** Names the hop in logs, e.g. "msgqueue /pushmsg". */
  name: string;
  heartbeatIntervalMs: number;
  /** First retry delay; doubles per failure up to `maxBackoffMs`, each delay drawn at random below it. */
  initialBackoffMs: number;
  maxBackoffMs: number;
  logger: Logger;
}

export interface UpstreamEvents {
  open: [ws: WebSocket];
  close: [];
}

/**
 * A connection to the next hop that keeps itself up: it redials with exponential backoff and
 * full jitter whenever the hop drops, each time to the next of its URLs (so a dead node is
 * left for a live one), and terminates a hop that stops answering pings. Listeners attach
 * their message handlers to the socket given on 'open'.
 */
export class Upstream extends EventEmitter<UpstreamEvents> {
  #socket: WebSocket | undefined;
  #stopped = false;
  #failures = 0;
  /** Which of the URLs is dialed next, or is connected now. */
  #index = 0;
  #retryTimer: NodeJS.Timeout | undefined;
  #heartbeatTimer: NodeJS.Timeout | undefined;
  readonly #options: UpstreamOptions;
  readonly #log: Logger;

  constructor(options: UpstreamOptions) {
    super();
    if (options.urls.length === 0) throw new TypeError('Upstream needs at least one URL');
    this.#options = options;
    this.#log = options.logger.child({ upstream: options.name });
  }

  /** The open socket, if the hop is connected now. */
  get socket(): WebSocket | undefined {
    return this.#socket;
  }

  /** The URL connected now, or dialed next while not connected. */
  get url(): string {
    return this.#options.urls[this.#index] as string;
  }

  get connected(): boolean {
    return this.#socket !== undefined;
  }

  start(): void {
    this.#connect();
  }

  #connect(): void {
    if (this.#stopped) return;
    const url = this.url;
    dial({ ...this.#options, url: this.#withQuery(url) }).then(
      (ws) => this.#onOpen(ws),
      (err: Error) => {
        this.#log.warn({ err, url }, 'cannot reach upstream');
        this.#scheduleRetry();
      },
    );
  }

  #withQuery(url: string): string {
    const query = this.#options.dialQuery?.();
    if (query === undefined) return url;
    const withQuery = new URL(url);
    for (const [name, value] of Object.entries(query)) withQuery.searchParams.set(name, value);
    return withQuery.toString();
  }

  #onOpen(ws: WebSocket): void {
    if (this.#stopped) {
      ws.terminate();
      return;
    }
    this.#failures = 0;
    this.#socket = ws;
    trackPongs(ws);
    ws.on('error', (err) => this.#log.warn({ err }, 'upstream socket error'));
    ws.once('close', (code, reason) => {
      clearInterval(this.#heartbeatTimer);
      this.#socket = undefined;
      this.#log.warn({ code, reason: reason.toString(), url: this.url }, 'upstream closed');
      this.emit('close');
      this.#scheduleRetry();
    });
    this.#heartbeatTimer = setInterval(() => heartbeat(ws), this.#options.heartbeatIntervalMs);
    this.#heartbeatTimer.unref();
    this.#log.info({ url: this.url }, 'upstream connected');
    this.emit('open', ws);
  }

  #scheduleRetry(): void {
    if (this.#stopped) return;
    this.#index = (this.#index + 1) % this.#options.urls.length;
    const ceiling = Math.min(
      this.#options.maxBackoffMs,
      this.#options.initialBackoffMs * 2 ** Math.min(this.#failures, 30),
    );
    this.#failures++;
    this.#retryTimer = setTimeout(() => this.#connect(), Math.random() * ceiling);
  }

  /**
   * Stops redialing and closes the connection; resolves once it is closed, terminating it when
   * the peer has not answered the close within `terminateAfterMs`.
   */
  async stop(terminateAfterMs = 2_000): Promise<void> {
    this.#stopped = true;
    clearTimeout(this.#retryTimer);
    clearInterval(this.#heartbeatTimer);
    const ws = this.#socket;
    if (ws === undefined) return;
    const closed = new Promise<void>((resolveClose) => ws.once('close', () => resolveClose()));
    closeAs(ws, 'SHUTTING_DOWN');
    const timer = setTimeout(() => ws.terminate(), terminateAfterMs);
    await closed;
    clearTimeout(timer);
  }
}
