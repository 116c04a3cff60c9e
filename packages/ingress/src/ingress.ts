import type { Logger } from '@pubsub/log';
import { encodeDelivery, parsePublish, ProtocolError, type ErrorCode } from '@pubsub/protocol';
import { randomUUID } from 'node:crypto';
import type { Counter } from 'prom-client';
import type { Forwarder, Outcome } from './forwarder.js';
import type { PublishGuard } from './publish-guard.js';

/** How a publish ended: stored with its seq, or refused with a code (and the id, to match it). */
export type IngressOutcome =
  | { readonly ok: true; readonly id: string; readonly seq: number; readonly duplicate: boolean }
  | { readonly ok: false; readonly id: string | undefined; readonly code: ErrorCode; readonly message?: string };

/** Who publishes: their rights and rate limit (one guard per socket, or per HTTP user), and where their log lines go. */
export interface PublishingClient {
  readonly guard: PublishGuard;
  readonly log: Logger;
}

export interface IngressDeps {
  forwarder: Forwarder;
  /** True once the service is stopping: nothing new is taken. */
  closing: () => boolean;
  acked: Counter;
  /** Counts a refusal by its code (the service's `ServiceMetrics.refused`). */
  refused: (code: ErrorCode) => void;
}

/** A message checked and ready to forward. */
export interface Accepted {
  readonly id: string;
  readonly frame: string;
}

/**
 * The one way into the suite, whatever the transport (`/publish`, `POST /api/messages`, a
 * bridge): a message is validated, authorized, rate-limited and given an id here, then forwarded,
 * and its outcome comes once the msgqueue holds it durably (a resend of an id within the
 * msgqueue's dedupe window gets the first copy's seq). Transports only read and answer.
 */
export class Ingress {
  readonly #deps: IngressDeps;

  constructor(deps: IngressDeps) {
    this.#deps = deps;
  }

  /** Checks one publish frame; returns what to forward, or the refusal to answer with. */
  check(text: string, client: PublishingClient): Accepted | IngressOutcome {
    let topic: string;
    let content: string;
    let id: string | undefined;
    try {
      ({ topic, content, id } = parsePublish(text));
    } catch (err) {
      if (!(err instanceof ProtocolError)) throw err;
      return this.#refuse(client, { ok: false, id: err.ref, code: err.code });
    }
    const named = id ?? randomUUID();
    if (this.#deps.closing()) return this.#refuse(client, { ok: false, id: named, code: 'SHUTTING_DOWN' });
    const refusal = client.guard(topic);
    if (refusal !== undefined) return this.#refuse(client, { ok: false, id: named, ...refusal });
    return { id: named, frame: encodeDelivery({ topic, id: named, content, time: Date.now() }) };
  }

  /**
   * Forwards a checked message; `settle` gets its outcome. `backpressure`: taken, but the caller
   * should stop reading until the forwarder drains.
   */
  forward(accepted: Accepted, settle: (outcome: IngressOutcome) => void): 'accepted' | 'backpressure' {
    const { id } = accepted;
    const result = this.#deps.forwarder.submit(accepted.frame, (outcome: Outcome) => {
      if (outcome.ok) this.#deps.acked.inc();
      else this.#deps.refused(outcome.code);
      settle(
        outcome.ok
          ? { ok: true, id, seq: outcome.seq, duplicate: outcome.duplicate }
          : { ok: false, id, code: outcome.code },
      );
    });
    if (result !== 'unavailable') return result;
    this.#deps.refused('UNAVAILABLE');
    settle({ ok: false, id, code: 'UNAVAILABLE' });
    return 'accepted';
  }

  /** `check` then `forward`; a refusal is settled at once. */
  publish(
    text: string,
    client: PublishingClient,
    settle: (outcome: IngressOutcome) => void,
  ): 'accepted' | 'backpressure' {
    const checked = this.check(text, client);
    if ('frame' in checked) return this.forward(checked, settle);
    settle(checked);
    return 'accepted';
  }

  #refuse(client: PublishingClient, outcome: IngressOutcome & { ok: false }): IngressOutcome {
    this.#deps.refused(outcome.code);
    client.log.debug({ code: outcome.code, id: outcome.id }, 'refused publish');
    return outcome;
  }
}
