import { once } from 'node:events';
import type { IncomingMessage } from 'node:http';
import { WebSocket, type ClientOptions } from 'ws';

export const DEV_AUTH = 'hello:test';

export interface ConnectOptions {
  ca: string;
  /** `user:password`; the development user by default; null sends no credentials. */
  auth?: string | null;
  headers?: Record<string, string>;
  maxPayload?: number;
  /** false to leave pings unanswered, as a dead peer would. */
  autoPong?: boolean;
  /** The source address, e.g. `127.0.0.2` to look like another host (any 127.x works on Linux). */
  localAddress?: string;
}

function clientOptions(options: ConnectOptions): ClientOptions {
  const auth = options.auth === undefined ? DEV_AUTH : options.auth;
  return {
    ca: options.ca,
    ...(auth === null ? {} : { auth }),
    ...(options.headers ? { headers: options.headers } : {}),
    ...(options.maxPayload ? { maxPayload: options.maxPayload } : {}),
    ...(options.autoPong === undefined ? {} : { autoPong: options.autoPong }),
    ...(options.localAddress === undefined ? {} : { localAddress: options.localAddress }),
  };
}

/**
 * A client socket that records every frame from the moment it is created, so a test can await
 * frames one by one without missing any that arrive in between.
 */
export class TestClient {
  readonly ws: WebSocket;
  readonly #frames: string[] = [];
  readonly #waiters: ((frame: string) => void)[] = [];

  constructor(url: string, options: ConnectOptions) {
    this.ws = new WebSocket(url, clientOptions(options));
    this.ws.on('message', (data) => {
      // binaryType stays 'nodebuffer', so every message is one Buffer.
      const frame = (data as Buffer).toString();
      const waiter = this.#waiters.shift();
      if (waiter) waiter(frame);
      else this.#frames.push(frame);
    });
  }

  async open(): Promise<this> {
    await once(this.ws, 'open');
    return this;
  }

  /** The next frame, parsed as JSON. */
  async next<T = Record<string, unknown>>(): Promise<T> {
    return JSON.parse(await this.nextText()) as T;
  }

  nextText(): Promise<string> {
    const frame = this.#frames.shift();
    if (frame !== undefined) return Promise.resolve(frame);
    if (this.ws.readyState === WebSocket.CLOSED) return Promise.reject(new Error('socket closed; no frame left'));
    return new Promise((resolveFrame, reject) => {
      const onClose = (code: number) => reject(new Error(`socket closed (${code}) while waiting for a frame`));
      this.ws.once('close', onClose);
      this.#waiters.push((text) => {
        this.ws.off('close', onClose);
        resolveFrame(text);
      });
    });
  }

  /** Frames the peer sent before its pong are read before it: a sync point proving nothing else was sent. */
  async roundTrip(): Promise<void> {
    const pong = once(this.ws, 'pong');
    this.ws.ping();
    await pong;
  }

  /** Frames received and not yet taken. */
  get buffered(): readonly string[] {
    return this.#frames;
  }

  send(frame: string | Record<string, unknown>): void {
    this.ws.send(typeof frame === 'string' ? frame : JSON.stringify(frame));
  }

  /** Resolves with the close code and reason when the socket closes. */
  async closed(): Promise<{ code: number; reason: string }> {
    if (this.ws.readyState === WebSocket.CLOSED) throw new Error('already closed');
    const [code, reason] = (await once(this.ws, 'close')) as [number, Buffer];
    return { code, reason: reason.toString() };
  }

  async close(): Promise<void> {
    if (this.ws.readyState === WebSocket.CLOSED) return;
    const done = once(this.ws, 'close');
    this.ws.close();
    await done;
  }
}

/** Opens a client and waits for the handshake. */
export function connect(url: string, options: ConnectOptions): Promise<TestClient> {
  return new TestClient(url, options).open();
}

export interface HandshakeRejection {
  status: number;
  headers: IncomingMessage['headers'];
  body: string;
}

/** Attempts an upgrade that the server must refuse, and returns its HTTP response. */
export async function handshakeRejection(url: string, options: ConnectOptions): Promise<HandshakeRejection> {
  const ws = new WebSocket(url, clientOptions(options));
  const [, res] = (await once(ws, 'unexpected-response')) as [unknown, IncomingMessage];
  let body = '';
  res.setEncoding('utf8');
  for await (const chunk of res) body += chunk as string;
  // Destroying the request, not the socket: terminate() here would emit an uncaught error.
  (ws as unknown as { _req?: { destroy(): void } })._req?.destroy();
  return { status: res.statusCode ?? 0, headers: res.headers, body };
}
