import { encodeAck, encodeError } from '@pubsub/protocol';
import { refuseSocket, type ConnectionContext, type Outbox, type RateLimitOptions, textOf } from '@pubsub/service';
import type { RawData, WebSocket } from 'ws';
import { publishGuard, type Ingress, type IngressOutcome } from '@pubsub/ingress';

/**
 * A `/publish` client: each text frame goes through the ingress. The client gets `ack` once the
 * msgqueue holds the message, or `error` with a code.
 */
export function handlePublish(
  ws: WebSocket,
  context: ConnectionContext,
  deps: {
    ingress: Ingress;
    outbox: Outbox;
    onBackpressure: (ws: WebSocket) => void;
    /** Publishes per second and connection; undefined for no limit. */
    rateLimit: RateLimitOptions | undefined;
  },
): void {
  // The user's publish rights and this connection's rate limit.
  const client = { guard: publishGuard(context, deps.rateLimit), log: context.log };
  // Replies share the outbox, so acks and errors reach the client in the order they were settled.
  const settle = (outcome: IngressOutcome) =>
    deps.outbox.send(
      ws,
      outcome.ok ? encodeAck(outcome.id, outcome.seq, outcome.duplicate) : encodeError(outcome, outcome.id),
    );
  ws.on('message', (data: RawData, isBinary: boolean) => {
    if (isBinary) {
      refuseSocket(ws, context, 'BINARY_UNSUPPORTED');
      return;
    }
    if (deps.ingress.publish(textOf(data), client, settle) === 'backpressure') deps.onBackpressure(ws);
  });
}
