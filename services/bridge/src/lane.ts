import type { Forwarder, Ingress, IngressOutcome, PublishingClient } from '@pubsub/ingress';
import type { Logger } from '@pubsub/log';
import { ERRORS, type ErrorCode } from '@pubsub/protocol';

/**
 * What became of one bridged message:
 * - `stored`: the msgqueue holds it durably (`duplicate`: a resend of an id it had already);
 *   the source may now forget it.
 * - `refused`: bad input the ingress will never take (invalid topic or content, no right to the
 *   topic); the source dead-letters it.
 * - `stopped`: not taken because the bridge is stopping; the source keeps it for the next run.
 */
export type LaneResult =
  | { readonly kind: 'stored'; readonly id: string; readonly seq: number; readonly duplicate: boolean }
  | { readonly kind: 'refused'; readonly code: ErrorCode; readonly reason: string }
  | { readonly kind: 'stopped' };

// Refusals that say "not now" rather than "never": the message waits and is tried again.
const RETRY_LATER: ReadonlySet<ErrorCode> = new Set(['UNAVAILABLE', 'RATE_LIMITED']);

interface Waiting {
  readonly text: string;
  readonly settle: (result: LaneResult) => void;
}

export interface LaneOptions {
  ingress: Ingress;
  forwarder: Forwarder;
  client: PublishingClient;
  /** Retry delays after an `UNAVAILABLE`: doubling from `initialMs` up to `maxMs`. */
  backoff: { initialMs: number; maxMs: number };
  logger: Logger;
}

/**
 * One source's messages into the ingress, in the order the source hands them over. A message the
 * ingress cannot take yet (the msgqueue away and the buffer full) holds back every later one until
 * it is taken, so a retry never lets a later message overtake it; a full buffer pauses the lane
 * until the forwarder drains.
 */
export class Lane {
  readonly #options: LaneOptions;
  readonly #waiting: Waiting[] = [];
  #held = false;
  #delayMs: number;
  #retryTimer: NodeJS.Timeout | undefined;
  /** Handed over and not yet settled. */
  #unsettled = 0;

  constructor(options: LaneOptions) {
    this.#options = options;
    this.#delayMs = options.backoff.initialMs;
  }

  /** Messages handed over whose result has not come yet. */
  get unsettled(): number {
    return this.#unsettled;
  }

  /** Publishes one publish frame (`{"topic","id","content"}`); resolves with what became of it. */
  publish(text: string): Promise<LaneResult> {
    this.#unsettled++;
    return new Promise((resolve) => {
      this.#waiting.push({
        text,
        settle: (result) => {
          this.#unsettled--;
          resolve(result);
        },
      });
      if (this.#waiting.length === 1) this.#pump();
    });
  }

  /** Settles everything not yet handed to the forwarder as `stopped`. */
  stop(): void {
    clearTimeout(this.#retryTimer);
    for (const waiting of this.#waiting.splice(0)) waiting.settle({ kind: 'stopped' });
  }

  #pump(): void {
    const { ingress, client, forwarder } = this.#options;
    while (!this.#held && this.#waiting.length > 0) {
      const next = this.#waiting[0] as Waiting;
      const checked = ingress.check(next.text, client);
      if (!('frame' in checked)) {
        // check answers with a refusal or with what to forward.
        const refusal = checked as IngressOutcome & { ok: false };
        if (RETRY_LATER.has(refusal.code)) return this.#retryLater(refusal.code);
        this.#waiting.shift();
        next.settle(
          refusal.code === 'SHUTTING_DOWN'
            ? { kind: 'stopped' }
            : { kind: 'refused', code: refusal.code, reason: refusal.message ?? ERRORS[refusal.code].message },
        );
        continue;
      }
      let refusedNow: ErrorCode | undefined;
      let handing = true;
      const taken = ingress.forward(checked, (outcome) => {
        if (outcome.ok)
          return next.settle({ kind: 'stored', id: outcome.id, seq: outcome.seq, duplicate: outcome.duplicate });
        // Refused while being handed over: it stays first in line and is tried again.
        if (handing && RETRY_LATER.has(outcome.code)) refusedNow = outcome.code;
        // Failed later (the bridge stopped before the msgqueue acknowledged it): the source keeps it.
        else next.settle({ kind: 'stopped' });
      });
      handing = false;
      if (refusedNow !== undefined) return this.#retryLater(refusedNow);
      this.#waiting.shift();
      this.#delayMs = this.#options.backoff.initialMs;
      if (taken === 'backpressure') {
        this.#held = true;
        forwarder.once('drain', () => this.#release());
      }
    }
  }

  #retryLater(code: ErrorCode): void {
    this.#options.logger.warn({ code, retryInMs: this.#delayMs }, 'the ingress cannot take a bridged message yet');
    this.#held = true;
    this.#retryTimer = setTimeout(() => this.#release(), this.#delayMs);
    this.#delayMs = Math.min(this.#options.backoff.maxMs, this.#delayMs * 2);
  }

  #release(): void {
    this.#held = false;
    this.#pump();
  }
}
