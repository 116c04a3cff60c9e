import { z } from '@pubsub/config';
import { ProtocolError, validatePattern } from '@pubsub/protocol';
import {
  readJsonText,
  refuseRequest,
  rejectionOf,
  sendRejection,
  type HttpHandler,
  type Rejection,
} from '@pubsub/service';
import type { Request } from 'express';
import type { LogSource } from './log-source.js';
import { Stream, type StreamRegistry } from './streams.js';

export interface StreamApiDeps {
  streams: StreamRegistry;
  source: LogSource;
  /** Whether the msgqueue hop is up: a stream's creation point is asked of it. */
  queueConnected: () => boolean;
  /** Topics and patterns one stream may have (SUBSCRIBER_MAX_SUBSCRIPTIONS, as one socket). */
  maxTopics: number;
  /** Streams one user may have at once. */
  maxUserStreams: number;
  idleTimeoutMs: number;
}

const MAX_BODY_BYTES = 64 * 1024;
/**
 * `GET /position` answers for one topic, but its `through` and `epoch` (the log's head) are the
 * same whichever topic is named: this one is only a valid name.
 */
const HEAD_PROBE_TOPIC = 'streams.head';

const CreateBody = z.object({ topics: z.array(z.string()).min(1) });

/** A stream as the API shows it to its creator. */
function describe(stream: Stream, req: Request, idleTimeoutMs: number) {
  return {
    id: stream.id,
    url: `wss://${req.headers.host ?? 'localhost'}/streams/${stream.id}`,
    topics: stream.topics,
    ordinal: stream.ordinals.latest.ordinal,
    createdAt: new Date(stream.createdAt).toISOString(),
    lastActiveAt: new Date(stream.lastActiveAt).toISOString(),
    connections: stream.connections.size,
    ...(stream.connections.size === 0 && {
      expiresAt: new Date(stream.lastActiveAt + idleTimeoutMs).toISOString(),
    }),
  };
}

/** The body's topics, checked as a `sub` of each would be, or why not. */
function topicsOf(text: string, deps: StreamApiDeps, may: (topic: string) => boolean): string[] | Rejection {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    return rejectionOf('BAD_JSON', 'the body is not valid JSON');
  }
  const body = CreateBody.safeParse(json);
  if (!body.success) return rejectionOf('BAD_MESSAGE', 'expected {"topics":["<topic or pattern>",…]}');
  const topics = [...new Set(body.data.topics)];
  if (topics.length > deps.maxTopics) {
    const message = `at most ${deps.maxTopics} topics per stream (SUBSCRIBER_MAX_SUBSCRIPTIONS)`;
    return rejectionOf('TOO_MANY_SUBSCRIPTIONS', message);
  }
  try {
    topics.forEach((topic) => validatePattern(topic));
  } catch (err) {
    if (err instanceof ProtocolError) return rejectionOf(err.code, err.message);
    throw err;
  }
  const forbidden = topics.find((topic) => !may(topic));
  if (forbidden !== undefined) return rejectionOf('TOPIC_FORBIDDEN', `this user may not subscribe to ${forbidden}`);
  return topics;
}

/** `POST /api/streams`, `GET /api/streams`, `DELETE /api/streams/<id>`: see docs/protocol.md. */
export function streamsApi(deps: StreamApiDeps): Record<string, HttpHandler> {
  const { streams } = deps;
  const create: HttpHandler = (req, res, context) => {
    const run = async () => {
      const body = await readJsonText(req, res, MAX_BODY_BYTES);
      if ('rejection' in body) return refuseRequest(res, context, body.rejection);
      const topics = topicsOf(body.text, deps, (topic) => context.account.subscribe.covers(topic));
      if (!Array.isArray(topics)) return refuseRequest(res, context, topics);
      if (!deps.queueConnected()) {
        const message = 'the msgqueue is unreachable, and a stream starts where its log is now; retry later';
        return refuseRequest(res, context, rejectionOf('UNAVAILABLE', message, { headers: { 'Retry-After': '1' } }));
      }
      // Ordinal 0 is the log's head now: the stream numbers what comes after it.
      const head = await deps.source.position(HEAD_PROBE_TOPIC, 0);
      // Counted after the await, and nothing is awaited from here to the stream's registration.
      if (streams.ownedBy(context.user).length >= deps.maxUserStreams) {
        const message = `this user has ${deps.maxUserStreams} streams, as many as it may (SUBSCRIBER_MAX_USER_STREAMS); delete one first`;
        return refuseRequest(res, context, rejectionOf('TOO_MANY_STREAMS', message));
      }
      const stream = await streams.create(context.user, topics, {
        ordinal: 0,
        offset: head.through,
        epoch: head.epoch,
      });
      res.status(201).json(describe(stream, req, deps.idleTimeoutMs));
    };
    run().catch((err: unknown) => {
      context.log.error({ err }, 'stream creation failed');
      if (!res.headersSent) sendRejection(res, rejectionOf('INTERNAL'));
    });
  };
  const list: HttpHandler = (req, res, context) => {
    res.json({ streams: streams.ownedBy(context.user).map((stream) => describe(stream, req, deps.idleTimeoutMs)) });
  };
  const remove: HttpHandler = (req, res, context) => {
    const found = streams.lookup(String(req.params.id));
    if (found === undefined) return refuseRequest(res, context, rejectionOf('STREAM_UNKNOWN'));
    if (!(found instanceof Stream)) {
      return refuseRequest(res, context, rejectionOf('STREAM_GONE', `this stream was ${found.gone} already`));
    }
    if (found.owner !== context.user && !context.account.rights.has('admin'))
      return refuseRequest(res, context, rejectionOf('STREAM_FORBIDDEN'));
    streams.delete(found).then(
      () => res.status(204).end(),
      (err: unknown) => {
        context.log.error({ err }, 'stream deletion could not be saved');
        sendRejection(res, rejectionOf('INTERNAL'));
      },
    );
  };
  return { 'POST /api/streams': create, 'GET /api/streams': list, 'DELETE /api/streams/:id': remove };
}
