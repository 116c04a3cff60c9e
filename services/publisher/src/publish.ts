import { encodeAck, encodeDelivery, encodeError, parsePublish, ProtocolError, type Publish } from '@pubsub/protocol';
import { closeWithError, type ConnectionContext, textOf } from '@pubsub/service';
import { randomUUID } from 'node:crypto';
import { WebSocket, type RawData } from 'ws';
import type { Forwarder, Outcome } from './forwarder.js';

function reply(ws: WebSocket, frame: string): void {
  if (ws.readyState === WebSocket.OPEN) ws.send(frame);
}

/**
 * A `/publish` client: each text frame is validated, wrapped with its id and forwarded. The
 * client gets `ack` once the msgqueue holds the message, or `error` with a code.
 */
export function handlePublish(
  ws: WebSocket,
  context: ConnectionContext,
  deps: { forwarder: Forwarder; onBackpressure: (ws: WebSocket) => void; closing: () => boolean },
): void {
  ws.on('message', (data: RawData, isBinary: boolean) => {
    if (isBinary) {
      closeWithError(ws, 'BINARY_UNSUPPORTED');
      return;
    }
    let publish: Publish;
    try {
      publish = parsePublish(textOf(data));
    } catch (err) {
      if (!(err instanceof ProtocolError)) throw err;
      context.log.debug({ code: err.code }, 'rejected publish');
      reply(ws, encodeError(err, err.ref));
      return;
    }
    const id = publish.id ?? randomUUID();
    if (deps.closing()) {
      reply(ws, encodeError({ code: 'SHUTTING_DOWN' }, id));
      return;
    }
    const frame = encodeDelivery({ topic: publish.topic, id, content: publish.content });
    const settle = (outcome: Outcome) =>
      reply(ws, outcome.ok ? encodeAck(id, outcome.seq) : encodeError({ code: outcome.code }, id));
    const result = deps.forwarder.submit(frame, settle);
    if (result === 'unavailable') reply(ws, encodeError({ code: 'UNAVAILABLE' }, id));
    else if (result === 'backpressure') deps.onBackpressure(ws);
  });
}
