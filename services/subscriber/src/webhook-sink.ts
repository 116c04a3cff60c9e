import type { Logger } from '@pubsub/log';
import { readQueued, readRouting } from '@pubsub/protocol';
import Denque from 'denque';
import { createHmac } from 'node:crypto';
import type { Framing, LogMessage, Sink, SinkCloseCode } from './sink.js';
import type { PostResult, WebhookRequest } from './webhook-post.js';

/** A position in the msgqueue's log: the offset delivered up to, in a history (epoch). */
export interface LogPosition {
  readonly epoch: string;
  readonly offset: number;
}

/**
 * A delivery as the webhook sink queues it: `<offset> <epoch>\n` and the wss frame. The sink needs
 * the position of each message it settles; framed once per message for every webhook.
 */
export const webhookFraming: Framing = {
  frame: (message: LogMessage) =>
    Buffer.concat([Buffer.from(`${message.offset} ${message.epoch ?? ''}\n`), message.frame]),
};

/** One message taken off the queue, with what its request and its dead letter say of it. */
export interface WebhookMessage {
  readonly offset: number;
  readonly epoch: string | undefined;
  readonly topic: string;
  readonly id: string | undefined;
  readonly seq: number | undefined;
  /** The request body: the JSON a wss subscriber gets. */
  readonly body: Buffer;
}

function unframe(framed: Buffer): WebhookMessage {
  const end = framed.indexOf(10);
  const [offset = '0', epoch = ''] = framed.subarray(0, end).toString().split(' ');
  const body = framed.subarray(end + 1);
  const text = body.toString();
  const queued = readQueued(text);
  return {
    offset: Number(offset),
    epoch: queued?.epoch ?? (epoch === '' ? undefined : epoch),
    topic: queued?.topic ?? '',
    id: readRouting(text)?.id,
    seq: queued?.seq,
    body,
  };
}

/** `sha256=<hex>`: HMAC-SHA256 of the exact body bytes with the subscription's secret. */
export function signature(secret: string, body: Buffer): string {
  return `sha256=${createHmac('sha256', secret).update(body).digest('hex')}`;
}

export interface RetryPolicy {
  /** Requests per message, the first included, before it goes to the dead letter. */
  readonly attempts: number;
  readonly baseMs: number;
  readonly maxMs: number;
}

/** Full jitter: anywhere from 0 to base·2^(attempt-1), capped; `Retry-After` wins, capped the same. */
export function retryDelay(
  policy: RetryPolicy,
  attempt: number,
  { retryAfterMs, random }: { retryAfterMs: number | undefined; random: number },
): number {
  if (retryAfterMs !== undefined) return Math.min(retryAfterMs, policy.maxMs);
  return Math.floor(random * Math.min(policy.maxMs, policy.baseMs * 2 ** (attempt - 1)));
}

export type Settled = 'delivered' | 'dead-lettered' | 'dropped';

export interface WebhookSinkDeps {
  readonly id: string;
  readonly url: URL;
  readonly secret: string;
  readonly retry: RetryPolicy;
  /** Topics starting with this are dead letters: one that fails again is dropped, not dead-lettered again. */
  readonly deadLetterPrefix: string;
  post(request: WebhookRequest): Promise<PostResult>;
  /** Stores the message in the dead-letter topic; rejects when it could not (it is tried again). */
  deadLetter(
    message: WebhookMessage,
    failure: { reason: string; status: number | undefined; attempts: number },
  ): Promise<void>;
  /** A message is done with; the position has moved past it. */
  onSettled(outcome: Settled, position: LogPosition | undefined): void;
  /** A request failed (it is retried or dead-lettered). */
  onFailure(): void;
  /** Closed from below (catch-up failed), not by `stop`. */
  onClosed(code: SinkCloseCode): void;
  readonly logger: Logger;
  readonly random?: () => number;
}

export interface WebhookError {
  readonly at: number;
  readonly reason: string;
  readonly status: number | undefined;
}

/**
 * A webhook subscription as a sink: deliveries queue here and are POSTed one at a time, in
 * order, each retried with backoff until a 2xx or until its attempts are spent (then it goes to
 * the dead-letter topic and the next one follows). What it holds counts as unsent bytes, so a
 * slow or dead receiver falls behind the live stream and is filled from the log like any slow
 * reader, never holding up the others.
 */
export class WebhookSink implements Sink {
  readonly framing = webhookFraming;
  /** Every request ends within its timeout and a failing message ends in the dead letter: it never stalls. */
  readonly stalls = false;
  readonly #deps: WebhookSinkDeps;
  readonly #queue = new Denque<Buffer>();
  readonly #abort = new AbortController();
  readonly #drainWaiters: (() => void)[] = [];
  #bytes = 0;
  #open = true;
  #running = false;
  /** Where delivery stands: everything up to here is settled. */
  position: LogPosition | undefined;
  lastError: WebhookError | undefined;
  /** When the next request of a retry goes out; undefined while none waits. */
  nextAttemptAt: number | undefined;
  /** The request number of the message in flight (1 for its first). */
  attempt = 0;

  constructor(deps: WebhookSinkDeps, position: LogPosition | undefined) {
    this.#deps = deps;
    this.position = position;
  }

  get open(): boolean {
    return this.#open;
  }

  get bufferedBytes(): number {
    return this.#bytes;
  }

  /** Messages queued here, the one in flight included. */
  get queued(): number {
    return this.#queue.length;
  }

  write(framed: Buffer): void {
    if (!this.#open) return;
    this.#queue.push(framed);
    this.#bytes += framed.length;
    if (!this.#running) {
      this.#running = true;
      void this.#run();
    }
  }

  /** The only replies a webhook gets are catch-up notices: messages it was owed left the log. */
  reply(text: string): void {
    if (!text.includes('"gap":true')) return;
    const reason =
      'messages this subscription was owed are no longer in the msgqueue log (retention or a history reset)';
    this.lastError = { at: Date.now(), reason, status: undefined };
    this.#deps.logger.warn({ subscription: this.#deps.id }, reason);
  }

  onDrain(callback: () => void): void {
    if (!this.#open || this.#bytes === 0) callback();
    else this.#drainWaiters.push(callback);
  }

  close(code: SinkCloseCode): void {
    if (!this.#open) return;
    this.stop();
    this.#deps.onClosed(code);
  }

  /** Ends delivery (deleted, shutting down): the request in flight is abandoned, its message stays unsettled. */
  stop(): void {
    this.#open = false;
    this.#abort.abort();
    this.#wakeDrain();
  }

  async #run(): Promise<void> {
    try {
      while (this.#open) {
        const framed = this.#queue.peekFront();
        if (framed === undefined) return;
        const message = unframe(framed);
        const outcome = await this.#deliver(message);
        if (outcome === undefined) return;
        this.#queue.shift();
        this.#bytes -= framed.length;
        this.attempt = 0;
        if (message.epoch !== undefined) this.position = { epoch: message.epoch, offset: message.offset };
        this.#deps.onSettled(outcome, this.position);
        this.#wakeDrain();
      }
    } finally {
      this.#running = false;
    }
  }

  /** Undefined when the sink stopped first. */
  async #deliver(message: WebhookMessage): Promise<Settled | undefined> {
    const { retry } = this.#deps;
    let failure: { reason: string; status: number | undefined } = { reason: '', status: undefined };
    for (let attempt = 1; attempt <= retry.attempts; attempt++) {
      this.attempt = attempt;
      const result = await this.#deps.post({
        target: this.#deps.url,
        body: message.body,
        headers: this.#headers(message, attempt),
        signal: this.#abort.signal,
      });
      if (!this.#open) return undefined;
      if (result.ok) {
        this.lastError = undefined;
        return 'delivered';
      }
      this.#deps.onFailure();
      failure = { reason: result.reason, status: result.status };
      this.lastError = { at: Date.now(), ...failure };
      if (attempt === retry.attempts) break;
      const random = (this.#deps.random ?? Math.random)();
      if (!(await this.#wait(retryDelay(retry, attempt, { retryAfterMs: result.retryAfterMs, random }))))
        return undefined;
    }
    if (message.topic.startsWith(this.#deps.deadLetterPrefix)) {
      this.#deps.logger.warn(
        { subscription: this.#deps.id, topic: message.topic, reason: failure.reason },
        'dropping a dead letter its webhook could not take either',
      );
      return 'dropped';
    }
    for (let tries = 1; ; tries++) {
      try {
        await this.#deps.deadLetter(message, { ...failure, attempts: retry.attempts });
        return 'dead-lettered';
      } catch (err) {
        const reason = `the dead letter could not be stored yet (${(err as Error).message}); after: ${failure.reason}`;
        this.lastError = { at: Date.now(), reason, status: failure.status };
        if (
          !(await this.#wait(
            retryDelay(retry, tries, { retryAfterMs: undefined, random: (this.#deps.random ?? Math.random)() }),
          ))
        )
          return undefined;
      }
    }
  }

  #headers(message: WebhookMessage, attempt: number): Record<string, string> {
    const headers: Record<string, string> = {
      'Content-Type': 'application/json; charset=utf-8',
      'User-Agent': 'pubsub-subscriber-webhook',
      'X-Pubsub-Subscription': this.#deps.id,
      'X-Pubsub-Topic': encodeURIComponent(message.topic),
      'X-Pubsub-Attempt': String(attempt),
      'X-Pubsub-Signature': signature(this.#deps.secret, message.body),
    };
    if (message.id !== undefined) headers['X-Pubsub-Id'] = encodeURIComponent(message.id);
    if (message.seq !== undefined) headers['X-Pubsub-Seq'] = String(message.seq);
    if (message.epoch !== undefined) headers['X-Pubsub-Epoch'] = message.epoch;
    return headers;
  }

  /** Resolves true after `ms`, false at once if the sink stops meanwhile. */
  #wait(ms: number): Promise<boolean> {
    if (!this.#open) return Promise.resolve(false);
    this.nextAttemptAt = Date.now() + ms;
    return new Promise((resolveWait) => {
      const done = (waited: boolean) => {
        clearTimeout(timer);
        this.#abort.signal.removeEventListener('abort', stopped);
        this.nextAttemptAt = undefined;
        resolveWait(waited);
      };
      const stopped = () => done(false);
      const timer = setTimeout(() => done(true), ms);
      this.#abort.signal.addEventListener('abort', stopped);
    });
  }

  #wakeDrain(): void {
    this.#drainWaiters.splice(0).forEach((wake) => wake());
  }
}
