import { encodeError, encodeSubscribed, encodeUnsubscribed, parseCommand, ProtocolError } from '@pubsub/protocol';
import { closeWithError, type ConnectionContext, textOf } from '@pubsub/service';
import type { RawData, WebSocket } from 'ws';
import type { TopicRegistry } from './topics.js';

/**
 * A `/subscribe` client: `sub`/`unsub` commands change its subscriptions and are answered in
 * order on the same socket, so once `subscribed` arrives every later message on the topic will.
 */
export function handleSubscribe(ws: WebSocket, context: ConnectionContext, topics: TopicRegistry): void {
  ws.on('message', (data: RawData, isBinary: boolean) => {
    if (isBinary) {
      closeWithError(ws, 'BINARY_UNSUPPORTED');
      return;
    }
    try {
      const command = parseCommand(textOf(data));
      if (command.op === 'sub') {
        topics.subscribe(ws, command.topic);
        ws.send(encodeSubscribed(command.topic, command.ref));
      } else {
        topics.unsubscribe(ws, command.topic);
        ws.send(encodeUnsubscribed(command.topic, command.ref));
      }
      context.log.debug({ op: command.op, topic: command.topic }, 'command');
    } catch (err) {
      if (!(err instanceof ProtocolError)) throw err;
      ws.send(encodeError(err, err.ref));
    }
  });
  ws.on('close', () => topics.removeSocket(ws));
}
