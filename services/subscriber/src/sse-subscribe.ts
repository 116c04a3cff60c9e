import { ProtocolError, validatePattern } from '@pubsub/protocol';
import { refuseRequest, rejectionOf, type ConnectionContext } from '@pubsub/service';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { Reader } from './reader.js';
import { SubscriptionSession, type SessionDeps } from './session.js';
import { parseEventId, SseSink } from './sse-sink.js';

export interface SseDeps extends SessionDeps {
  /** A comment line goes out this often, so idle streams stay open through proxies. */
  heartbeatIntervalMs: number;
  /** How long a browser waits before it reconnects (`retry:`). */
  retryMs: number;
  /** Open streams, for shutdown to end them. */
  streams: Set<SseSink>;
}

/**
 * `GET /events?topic=<t>&topic=<pattern>…`: a Server-Sent Events stream of the deliveries a
 * wss subscriber to those topics would get, each event's `data` the same JSON and its `id` the
 * stream's position in the log. A reconnect with `Last-Event-ID` (or a first request with
 * `from=<id>`) resumes right after it: no gap, no duplicate, across all the stream's topics
 * and across a restart of this service. Rights, limits and catch-up are the wss ones.
 */
export function handleEvents(
  req: IncomingMessage,
  res: ServerResponse,
  { context, deps }: { context: ConnectionContext; deps: SseDeps },
): void {
  const subjects = context.url.searchParams.getAll('topic');
  const resumeFrom = (req.headers['last-event-id'] as string | undefined) ?? context.url.searchParams.get('from');
  let position: { epoch: string; offset: number } | undefined;
  try {
    if (subjects.length === 0) throw new ProtocolError('TOPIC_MISSING', 'name one or more topics: ?topic=<topic>');
    subjects.forEach((subject) => validatePattern(subject));
    if (resumeFrom !== null && resumeFrom !== undefined && resumeFrom !== '') {
      position = parseEventId(resumeFrom);
      if (position === undefined)
        throw new ProtocolError('RESUME_INVALID', 'Last-Event-ID must be an id this stream sent');
    }
  } catch (err) {
    if (!(err instanceof ProtocolError)) throw err;
    refuseRequest(res, context, rejectionOf(err.code, err.message));
    return;
  }
  const sink = new SseSink(res);
  const session = new SubscriptionSession(new Reader(sink), context, deps);
  const refusal = session.open(subjects, position);
  if (refusal !== undefined) {
    refuseRequest(res, context, rejectionOf(refusal.code, refusal.message));
    return;
  }
  res.writeHead(200, {
    'Content-Type': 'text/event-stream; charset=utf-8',
    // Proxies must neither cache nor buffer a stream (nginx reads X-Accel-Buffering).
    'Cache-Control': 'no-cache, no-transform',
    'X-Accel-Buffering': 'no',
    Connection: 'keep-alive',
  });
  res.write(`retry: ${deps.retryMs}\n\n`);
  res.socket?.setNoDelay(true);
  deps.streams.add(sink);
  const heartbeat = setInterval(() => sink.keepAlive(), deps.heartbeatIntervalMs);
  heartbeat.unref();
  res.on('close', () => {
    clearInterval(heartbeat);
    deps.streams.delete(sink);
    session.close();
  });
  session.start();
  context.log.debug({ subjects, from: resumeFrom }, 'event stream opened');
}
