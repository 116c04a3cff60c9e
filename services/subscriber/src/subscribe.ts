import {
  encodeError,
  encodeSubscribed,
  encodeUnsubscribed,
  parseCommand,
  ProtocolError,
  type Command,
} from '@pubsub/protocol';
import { closeWithError, textOf, type ConnectionContext, type Outbox } from '@pubsub/service';
import { WebSocket, type RawData } from 'ws';
import type { Delivery } from './deliver.js';
import { fetchHistory, type HistorySource } from './history.js';
import { subscribeGuard } from './subscribe-guard.js';
import type { TopicRegistry } from './topics.js';

export interface SubscribeDeps {
  topics: TopicRegistry;
  delivery: Delivery;
  /** Replies go out through the deliveries' outbox, so they keep their place among deliveries. */
  outbox: Outbox;
  history: HistorySource;
  /** Topics and patterns one socket may be subscribed to at once. */
  maxSubscriptions: number;
}

/**
 * A `/subscribe` client: `sub`/`unsub` commands change its subscriptions and are answered in
 * order on the same socket, so once `subscribed` arrives every later message on the topic will.
 */
export function handleSubscribe(ws: WebSocket, context: ConnectionContext, deps: SubscribeDeps): void {
  // The user's subscribe rights and the socket's subscription limit; throws the error reply.
  const check = subscribeGuard(ws, context, deps);
  /**
   * `sub <topic> from <seq>`: subscribes at once, holding live messages back, replays the
   * retained history after `seq`, then releases what was held minus what the replay covered.
   * The reply says whether everything after `seq` could be replayed (`recovered`).
   */
  const resume = async (command: Command): Promise<void> => {
    const { topic, ref } = command;
    const from = command.resume?.seq ?? 0;
    deps.topics.subscribe(ws, topic);
    deps.delivery.hold(ws, topic);
    try {
      const history = await fetchHistory(deps.history, topic, from);
      // Another history (the msgqueue's data was reset): the client's seq means nothing in it,
      // so it gets everything retained and is told it may have missed messages.
      const sameEpoch = command.resume?.epoch === undefined || command.resume.epoch === history.epoch;
      const frames = sameEpoch ? history.messages : (await fetchHistory(deps.history, topic, 0)).messages;
      const recovered = sameEpoch && history.first <= from + 1;
      if (ws.readyState !== WebSocket.OPEN) return;
      deps.outbox.send(
        ws,
        encodeSubscribed(topic, ref, { from, recovered, epoch: history.epoch, replayed: frames.length }),
      );
      if (sameEpoch) deps.delivery.startAt(ws, topic, { epoch: history.epoch, seq: from });
      deps.delivery.replay(ws, frames);
    } catch (err) {
      context.log.warn({ err: (err as Error).message, topic }, 'cannot read history; subscribed live only');
      if (ws.readyState === WebSocket.OPEN) {
        const epoch = deps.delivery.epoch ?? '';
        deps.outbox.send(ws, encodeSubscribed(topic, ref, { from, recovered: false, epoch, replayed: 0 }));
      }
    } finally {
      deps.delivery.release(ws, topic);
    }
  };

  const handle = async (frame: string): Promise<void> => {
    try {
      const command = parseCommand(frame);
      check(command);
      if (command.op === 'sub' && command.resume !== undefined) {
        await resume(command);
      } else if (command.op === 'sub') {
        deps.topics.subscribe(ws, command.topic);
        deps.outbox.send(ws, encodeSubscribed(command.topic, command.ref));
      } else {
        deps.topics.unsubscribe(ws, command.topic);
        deps.outbox.send(ws, encodeUnsubscribed(command.topic, command.ref));
      }
      context.log.debug({ op: command.op, topic: command.topic }, 'command');
    } catch (err) {
      if (!(err instanceof ProtocolError)) throw err;
      context.metrics.rejected.inc({ code: err.code });
      deps.outbox.send(ws, encodeError(err, err.ref));
    }
  };

  // Commands run one after another, so a resume's replay cannot interleave with later replies.
  let commands = Promise.resolve();
  ws.on('message', (data: RawData, isBinary: boolean) => {
    if (isBinary) {
      context.metrics.rejected.inc({ code: 'BINARY_UNSUPPORTED' });
      closeWithError(ws, 'BINARY_UNSUPPORTED');
      return;
    }
    const frame = textOf(data);
    commands = commands
      .then(() => handle(frame))
      .catch((err: unknown) => {
        context.log.error({ err }, 'command failed');
        closeWithError(ws, 'INTERNAL');
      });
  });
  ws.on('close', () => {
    deps.topics.removeSocket(ws);
    deps.delivery.forget(ws);
  });
}
