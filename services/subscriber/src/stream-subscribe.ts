import { CloseCode, encodeError, encodeGap, ProtocolError } from '@pubsub/protocol';
import {
  judgeElsewhere,
  noteRefusal,
  rejectionOf,
  type Account,
  type CapabilityEndpoint,
  type ConnectionContext,
  type Outbox,
  type Rejection,
  type Users,
} from '@pubsub/service';
import type { RawData, WebSocket } from 'ws';
import { Reader } from './reader.js';
import { SubscriptionSession, type SessionDeps } from './session.js';
import { OrdinalFraming, type Checkpoint } from './stream-ordinals.js';
import { StreamSink } from './stream-sink.js';
import { Stream, type StreamRegistry } from './streams.js';

export interface StreamDeps extends SessionDeps {
  outbox: Outbox;
  streams: StreamRegistry;
  /** Whose rights a stream's connections have: its creator's, as they are now. */
  users: Users;
}

const FROM_PATTERN = /^\d{1,15}$/;

/** `?from=<ordinal>`: undefined when absent, null when it is not a whole number. */
function fromOf(url: URL): number | null | undefined {
  const from = url.searchParams.get('from');
  if (from === null) return undefined;
  return FROM_PATTERN.test(from) ? Number(from) : null;
}

/** Why a stream's URL is refused before the upgrade, or the account its connection runs as. */
function authorize(deps: StreamDeps, id: string, url: URL): { account: Account } | { rejection: Rejection } {
  const found = deps.streams.lookup(id);
  if (found === undefined) return { rejection: rejectionOf('STREAM_UNKNOWN') };
  if (!(found instanceof Stream)) {
    const message =
      found.gone === 'expired'
        ? 'this stream expired: nothing was connected to it for too long'
        : 'this stream was deleted';
    return { rejection: rejectionOf('STREAM_GONE', message) };
  }
  const account = deps.users.accounts.get(found.owner);
  if (account === undefined) {
    const message = `the user who created this stream ("${found.owner}") is no longer a user of this service`;
    return { rejection: rejectionOf('FORBIDDEN', message) };
  }
  const forbidden = found.topics.find((topic) => !account.subscribe.covers(topic));
  if (forbidden !== undefined) {
    const message = `user "${found.owner}", who created this stream, may no longer subscribe to ${forbidden}`;
    return { rejection: rejectionOf('TOPIC_FORBIDDEN', message) };
  }
  if (fromOf(url) === null) {
    const message = 'expected ?from=<ordinal>, a whole number: the last ordinal the client has';
    return { rejection: rejectionOf('RESUME_INVALID', message) };
  }
  return { account };
}

/**
 * Where a connection starts counting: after the stream's last ordinal, at its latest checkpoint;
 * further back, at the checkpoint a replay from `from` can count forward from, which depends on
 * what the log still retains (and is asked of it).
 */
async function startOf(stream: Stream, from: number, deps: StreamDeps): Promise<{ start: Checkpoint; lost: boolean }> {
  const { latest } = stream.ordinals;
  if (from >= latest.ordinal) return { start: latest, lost: false };
  const page = await deps.source.page({ after: latest.offset, subjects: [], limit: 1, bytes: 1 });
  // Another history: no checkpoint means anything in it; catch-up tells of the reset.
  if (page.epoch !== latest.epoch) return { start: latest, lost: false };
  return stream.ordinals.replayStart(from, page.first);
}

/**
 * A `/streams/<id>` WebSocket: the stream's messages, each with its ordinal, from `?from=<n>`
 * (the messages after ordinal n) or else after the last ordinal the stream gave, then live.
 * The session is the one every subscriber uses, opened on the stream's topics with its creator's
 * rights, from a position in the log; the framing numbers what routing and catch-up hand it.
 */
export function handleStream(ws: WebSocket, context: ConnectionContext, deps: StreamDeps): void {
  const id = context.url.pathname.slice(context.url.pathname.lastIndexOf('/') + 1);
  // Nothing was awaited since `authorize` found it.
  const stream = deps.streams.lookup(id) as Stream;
  const from = fromOf(context.url) ?? stream.ordinals.latest.ordinal;
  const numbering = {
    get latest() {
      return stream.ordinals.latest;
    },
    counted: (point: Checkpoint) => deps.streams.counted(stream, point),
  };
  const framing = new OrdinalFraming(numbering, from);
  const sink = new StreamSink(ws, deps.outbox, framing);
  const reader = new Reader(sink);
  const session = new SubscriptionSession(reader, context, deps);
  deps.streams.attach(stream, sink);
  judgeElsewhere(ws, () => !reader.live);
  ws.on('message', (_data: RawData, isBinary: boolean) => {
    if (isBinary) {
      noteRefusal(context, 'BINARY_UNSUPPORTED');
      sink.close('BINARY_UNSUPPORTED');
      return;
    }
    noteRefusal(context, 'UNKNOWN_COMMAND');
    sink.reply(
      encodeError(
        new ProtocolError('UNKNOWN_COMMAND', 'a stream takes no commands: its topics were set when it was created'),
        undefined,
      ),
    );
  });
  ws.on('close', () => {
    session.close();
    deps.streams.detach(stream, sink);
  });
  const open = async () => {
    const { start, lost } = await startOf(stream, from, deps);
    if (!sink.open) return;
    framing.begin(start);
    if (lost) for (const topic of stream.topics) sink.reply(encodeGap(topic, start.epoch));
    const refusal = session.open(stream.topics, { epoch: start.epoch, offset: start.offset });
    if (refusal !== undefined) {
      noteRefusal(context, refusal.code);
      sink.reply(encodeError(refusal, undefined));
      ws.close(CloseCode.POLICY_VIOLATION, refusal.code);
      return;
    }
    session.start();
    context.log.debug({ from, start: start.ordinal }, 'stream opened');
  };
  open().catch((err: unknown) => {
    if ((err as Error).name === 'LogSourceClosed') return;
    context.log.error({ err }, 'stream failed');
    sink.close('INTERNAL');
  });
}

/** `/streams/<id>`: the id is the credential, checked before the upgrade. */
export function streamEndpoint(deps: StreamDeps): CapabilityEndpoint {
  return {
    authorize: (id, url) => authorize(deps, id, url),
    handler: (ws, context) => handleStream(ws, context, deps),
  };
}
