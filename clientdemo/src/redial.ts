import { Connection, ConnectError, type Endpoint } from './connection.js';
import { formatClose, type Printer } from './format.js';

const RECONNECT_INITIAL_MS = 100;
const RECONNECT_MAX_MS = 5_000;

/** The pause before the next reconnect attempt: exponential, with full jitter. */
function backoffMs(attempt: number): number {
  return Math.random() * Math.min(RECONNECT_MAX_MS, RECONNECT_INITIAL_MS * 2 ** attempt);
}

export function backoff(attempt: number): Promise<void> {
  return new Promise((resolveWait) => setTimeout(resolveWait, backoffMs(attempt)));
}

export interface RedialHandlers {
  readonly printer: Printer;
  /** Every new connection, the first one included. */
  onOpen(connection: Connection): void;
}

/**
 * Keeps one endpoint connected for an interactive session: dials, and whenever the connection is
 * lost, dials again with backoff until `close()`. It says once that it is down and once that it is
 * back, not once per attempt; a refusal that retrying cannot fix (credentials, certificate) ends it.
 */
export class Redialer {
  readonly endpoint: Endpoint;
  readonly #handlers: RedialHandlers;
  #connection: Connection | undefined;
  #closed = false;
  #firstAttempt: Promise<void>;
  #settleFirst!: () => void;
  /** The pause between attempts, cut short by close() so nothing holds the process after it. */
  #pause: { timer: NodeJS.Timeout; resolve: () => void } | undefined;

  constructor(endpoint: Endpoint, handlers: RedialHandlers) {
    this.endpoint = endpoint;
    this.#handlers = handlers;
    this.#firstAttempt = new Promise((resolveFirst) => (this.#settleFirst = resolveFirst));
    void this.#run();
  }

  /** The open connection, or undefined while it is down. */
  get connection(): Connection | undefined {
    return this.#connection;
  }

  /** Resolves once the first dial has connected or failed. */
  firstAttempt(): Promise<void> {
    return this.#firstAttempt;
  }

  async close(): Promise<void> {
    this.#closed = true;
    if (this.#pause !== undefined) {
      clearTimeout(this.#pause.timer);
      this.#pause.resolve();
    }
    await this.#connection?.close();
  }

  #wait(attempt: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.#pause = undefined;
        resolve();
      }, backoffMs(attempt));
      this.#pause = { timer, resolve };
    });
  }

  async #run(): Promise<void> {
    const { printer } = this.#handlers;
    let down = false;
    for (let attempt = 0; !this.#closed; attempt++) {
      if (attempt > 0) await this.#wait(attempt);
      if (this.#closed) return;
      let connection: Connection;
      try {
        connection = await Connection.open(this.endpoint);
      } catch (err) {
        if (!(err instanceof ConnectError)) throw err;
        this.#settleFirst();
        if (!err.retryable) {
          printer.err(`${err.message}; not retrying`);
          return;
        }
        // Down is said once: on the first failure, or by the close that ended the connection.
        if (!down) printer.err(`${err.message}; retrying in the background`);
        down = true;
        continue;
      }
      if (this.#closed) {
        await connection.close();
        return;
      }
      if (down) printer.err(`connected to ${this.endpoint.url}`);
      this.#connection = connection;
      this.#settleFirst();
      this.#handlers.onOpen(connection);
      const info = await connection.closed;
      this.#connection = undefined;
      if (info.requested || this.#closed) return;
      printer.err(`${formatClose(connection.url, info)}; reconnecting`);
      down = true;
      attempt = 0;
    }
  }
}
