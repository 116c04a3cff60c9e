import { judgeElsewhere, noteRefusal, textOf, type ConnectionContext, type Outbox } from '@pubsub/service';
import type { RawData, WebSocket } from 'ws';
import { Reader } from './reader.js';
import { SubscriptionSession, type SessionDeps } from './session.js';
import { WsSink } from './ws-sink.js';

/** A `/subscribe` WebSocket: its text frames are the session's commands, its sink the socket. */
export function handleSubscribe(
  ws: WebSocket,
  context: ConnectionContext,
  deps: SessionDeps & { outbox: Outbox },
): void {
  const sink = new WsSink(ws, deps.outbox);
  const reader = new Reader(sink);
  const session = new SubscriptionSession(reader, context, deps);
  // Behind the live stream its pongs wait behind its backlog: the stall timeout judges it then,
  // by whether it takes any of it.
  judgeElsewhere(ws, () => !reader.live);
  // Commands run one after another, so a resume cannot interleave with later replies.
  let commands = Promise.resolve();
  ws.on('message', (data: RawData, isBinary: boolean) => {
    if (isBinary) {
      noteRefusal(context, 'BINARY_UNSUPPORTED');
      sink.close('BINARY_UNSUPPORTED');
      return;
    }
    const frame = textOf(data);
    commands = commands
      .then(() => session.handle(frame))
      .catch((err: unknown) => {
        if ((err as Error).name === 'LogSourceClosed') return;
        context.log.error({ err }, 'command failed');
        sink.close('INTERNAL');
      });
  });
  ws.on('close', () => session.close());
}
