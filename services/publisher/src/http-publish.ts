import { splitArray, type ErrorCode } from '@pubsub/protocol';
import {
  readJsonText,
  refuseRequest,
  rejectionOf,
  sendRejection,
  type HttpHandler,
  type ConnectionContext,
  type Rejection,
} from '@pubsub/service';
import type { Accepted, Ingress, IngressOutcome, PublishGuard, PublishingClient } from '@pubsub/ingress';

export interface HttpPublishDeps {
  ingress: Ingress;
  /** The guard of the request's user, shared by all its requests. */
  guardOf: (context: ConnectionContext) => PublishGuard;
  maxPayloadBytes: number;
  /** Most messages in one array body. */
  maxBatch: number;
  /** Largest array body, in bytes (a single message may be up to `maxPayloadBytes`). */
  maxBodyBytes: number;
  /** `Retry-After` seconds for the refusals a client should retry later. */
  retryAfter: Partial<Record<ErrorCode, number>>;
}

type Refusal = IngressOutcome & { ok: false };

function refusalOf(outcome: Refusal, index: number | undefined, deps: HttpPublishDeps): Rejection {
  const seconds = deps.retryAfter[outcome.code];
  return rejectionOf(outcome.code, outcome.message, {
    ...(seconds !== undefined && { headers: { 'Retry-After': String(seconds) } }),
    where: { index, id: outcome.id },
  });
}

/** Why the body's messages are refused for their number or size, before any is looked at. */
function sizeRefusal(texts: readonly string[], batch: boolean, deps: HttpPublishDeps): Rejection | undefined {
  if (batch && texts.length === 0) return rejectionOf('BAD_MESSAGE', 'the batch is empty');
  if (texts.length > deps.maxBatch) {
    return rejectionOf(
      'PAYLOAD_TOO_LARGE',
      `a batch of ${texts.length} messages; at most ${deps.maxBatch} (PUBLISHER_HTTP_MAX_BATCH)`,
    );
  }
  const index = texts.findIndex((text) => Buffer.byteLength(text) > deps.maxPayloadBytes);
  if (index < 0) return undefined;
  return rejectionOf(
    'PAYLOAD_TOO_LARGE',
    `a message is larger than ${deps.maxPayloadBytes} bytes (MAX_PAYLOAD_BYTES)`,
    batch ? { where: { index } } : undefined,
  );
}

/** Checks every message first, so a batch with one bad message is refused whole and nothing is forwarded. */
function checkAll(
  texts: readonly string[],
  client: PublishingClient,
  ingress: Ingress,
): { accepted: Accepted[] } | { refusal: Refusal; index: number } {
  const accepted: Accepted[] = [];
  for (const [index, text] of texts.entries()) {
    const checked = ingress.check(text, client);
    // check answers with a refusal or with what to forward.
    if (!('frame' in checked)) return { refusal: checked as Refusal, index };
    accepted.push(checked);
  }
  return { accepted };
}

/**
 * Forwards checked messages. Resolves with their outcomes, in order, once all are stored, or
 * with the first refusal as soon as there is one (the others may still be stored later).
 */
function forwardAll(
  accepted: readonly Accepted[],
  ingress: Ingress,
): Promise<{ stored: IngressOutcome[] } | { refusal: Refusal; index: number }> {
  return new Promise((resolveAll) => {
    const outcomes: IngressOutcome[] = [];
    let left = accepted.length;
    accepted.forEach((message, index) => {
      // A full buffer ('backpressure') needs no pause here: a request holds its messages until
      // they are settled, so each connection has at most one batch in the buffer.
      ingress.forward(message, (outcome) => {
        if (!outcome.ok) resolveAll({ refusal: outcome, index });
        outcomes[index] = outcome;
        if (--left === 0) resolveAll({ stored: outcomes });
      });
    });
  });
}

/**
 * `POST /api/messages`: one publish object, or an array of them, through the same ingress as
 * `/publish`. Answers once the msgqueue holds every message: `{"id","seq"}` or an array of
 * them in order; otherwise the first problem, with its `index` in a batch.
 */
export function httpPublish(deps: HttpPublishDeps): HttpHandler {
  const bodyLimit = Math.max(deps.maxBodyBytes, deps.maxPayloadBytes);
  const publish = async (...[req, res, context]: Parameters<HttpHandler>) => {
    const body = await readJsonText(req, res, bodyLimit);
    // Refusals of the body itself are recorded here; the ingress records its own.
    if ('rejection' in body) return refuseRequest(res, context, body.rejection);
    const elements = splitArray(body.text);
    const batch = elements !== undefined;
    const texts = elements ?? [body.text];
    const tooBig = sizeRefusal(texts, batch, deps);
    if (tooBig !== undefined) return refuseRequest(res, context, tooBig);
    const checked = checkAll(texts, { guard: deps.guardOf(context), log: context.log }, deps.ingress);
    if ('refusal' in checked) {
      return sendRejection(res, refusalOf(checked.refusal, batch ? checked.index : undefined, deps));
    }
    const forwarded = await forwardAll(checked.accepted, deps.ingress);
    if ('refusal' in forwarded) {
      // Other messages of the batch may be stored: resending it with the same ids is safe (dedupe).
      return sendRejection(res, refusalOf(forwarded.refusal, batch ? forwarded.index : undefined, deps));
    }
    const replies = forwarded.stored.map((outcome) =>
      outcome.ok ? { id: outcome.id, seq: outcome.seq, ...(outcome.duplicate && { duplicate: true }) } : undefined,
    );
    res.json(batch ? replies : replies[0]);
  };
  return (req, res, context) => {
    publish(req, res, context).catch((err: unknown) => {
      context.log.error({ err }, 'HTTP publish failed');
      if (!res.headersSent) sendRejection(res, rejectionOf('INTERNAL'));
    });
  };
}
