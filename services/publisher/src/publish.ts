import { encodeAck, encodeDelivery, encodeError, parsePublish, ProtocolError, type Publish } from '@pubsub/protocol';
import { closeWithError, type ConnectionContext, type Outbox, type RateLimitOptions, textOf } from '@pubsub/service';
import { randomUUID } from 'node:crypto';
import type { Counter } from 'prom-client';
import type { RawData, WebSocket } from 'ws';
import type { Forwarder, Outcome } from './forwarder.js';
import { publishGuard } from './publish-guard.js';

/**
 * A `/publish` client: each text frame is validated, wrapped with its id and forwarded. The
 * client gets `ack` once the msgqueue holds the message, or `error` with a code.
 */
export function handlePublish(
  ws: WebSocket,
  context: ConnectionContext,
  deps: {
    forwarder: Forwarder;
    outbox: Outbox;
    onBackpressure: (ws: WebSocket) => void;
    closing: () => boolean;
    acked: Counter;
    /** Publishes per second and connection; undefined for no limit. */
    rateLimit: RateLimitOptions | undefined;
  },
): void {
  const { rejected } = context.metrics;
  // The user's publish rights and this connection's rate limit.
  const guard = publishGuard(context, deps.rateLimit);
  // Replies share the outbox, so acks and errors reach the client in the order they were settled.
  const reply = (target: WebSocket, frame: string) => deps.outbox.send(target, frame);
  ws.on('message', (data: RawData, isBinary: boolean) => {
    if (isBinary) {
      rejected.inc({ code: 'BINARY_UNSUPPORTED' });
      closeWithError(ws, 'BINARY_UNSUPPORTED');
      return;
    }
    let publish: Publish;
    try {
      publish = parsePublish(textOf(data));
    } catch (err) {
      if (!(err instanceof ProtocolError)) throw err;
      rejected.inc({ code: err.code });
      context.log.debug({ code: err.code, id: err.ref }, 'rejected publish');
      reply(ws, encodeError(err, err.ref));
      return;
    }
    const id = publish.id ?? randomUUID();
    if (deps.closing()) {
      rejected.inc({ code: 'SHUTTING_DOWN' });
      reply(ws, encodeError({ code: 'SHUTTING_DOWN' }, id));
      return;
    }
    const refusal = guard(publish.topic);
    if (refusal !== undefined) {
      rejected.inc({ code: refusal.code });
      context.log.debug({ code: refusal.code, topic: publish.topic, id }, 'refused publish');
      reply(ws, encodeError(refusal, id));
      return;
    }
    const frame = encodeDelivery({ topic: publish.topic, id, content: publish.content, time: Date.now() });
    const settle = (outcome: Outcome) => {
      if (outcome.ok) deps.acked.inc();
      else rejected.inc({ code: outcome.code });
      reply(ws, outcome.ok ? encodeAck(id, outcome.seq) : encodeError({ code: outcome.code }, id));
    };
    const result = deps.forwarder.submit(frame, settle);
    if (result === 'unavailable') {
      rejected.inc({ code: 'UNAVAILABLE' });
      reply(ws, encodeError({ code: 'UNAVAILABLE' }, id));
    } else if (result === 'backpressure') deps.onBackpressure(ws);
  });
}
