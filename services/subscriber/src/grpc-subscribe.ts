import { statusError, SUBSCRIBE_METHOD, type ServerWritableStream, type SubscribeRequest } from '@pubsub/grpc';
import { admitCall } from '@pubsub/grpc/server';
import { ProtocolError, validatePattern } from '@pubsub/protocol';
import type { Logger } from '@pubsub/log';
import { noteRefusal, type SecureWsServer } from '@pubsub/service';
import { GrpcSink } from './grpc-sink.js';
import { Reader } from './reader.js';
import { SubscriptionSession, type SessionDeps } from './session.js';

export interface GrpcSubscribeDeps extends SessionDeps {
  /** The HTTPS server, whose gate admits the call. */
  gate: Pick<SecureWsServer, 'admitCall'>;
  /** Open streams, for shutdown to end them. */
  sinks: Set<GrpcSink>;
  logger: Logger;
}

/**
 * The request as the `/subscribe` commands a wss client would send: `sub <topic>` for each topic,
 * `sub <topic> from <seq> <epoch>` for each resume point (a topic named in both is resumed).
 * Throws ProtocolError for an invalid topic before anything is subscribed.
 */
export function commandsOf(request: SubscribeRequest): string[] {
  const resumes = request.from ?? [];
  const resumed = new Set(resumes.map((resume) => resume.topic));
  const topics = (request.topics ?? []).filter((topic) => !resumed.has(topic));
  if (topics.length + resumes.length === 0) throw new ProtocolError('TOPIC_MISSING', 'name one or more topics');
  // Valid topics have no whitespace, so each makes one command word.
  const subs = topics.map((topic) => `sub ${validatePattern(topic)}`);
  for (const { topic, seq = 0, epoch = '' } of resumes) {
    if (!Number.isSafeInteger(seq)) throw new ProtocolError('RESUME_INVALID', 'seq must be below 2^53');
    subs.push(`sub ${validatePattern(topic)} from ${seq}${epoch === '' ? '' : ` ${epoch}`}`);
  }
  return subs;
}

type SubscribeCall = ServerWritableStream<SubscribeRequest, Buffer>;

async function serve(call: SubscribeCall, deps: GrpcSubscribeDeps): Promise<void> {
  const admission = await admitCall(deps.gate, call, SUBSCRIBE_METHOD.path);
  if (!admission.ok) {
    call.emit('error', statusError(admission.rejection.code, admission.rejection.message));
    return;
  }
  const { context, done } = admission;
  let commands: string[];
  try {
    commands = commandsOf(call.request);
  } catch (err) {
    done();
    if (!(err instanceof ProtocolError)) throw err;
    noteRefusal(context, err.code);
    call.emit('error', statusError(err.code, err.message));
    return;
  }
  const sink = new GrpcSink(call);
  const session = new SubscriptionSession(new Reader(sink), context, deps);
  deps.sinks.add(sink);
  let ended = false;
  const end = () => {
    if (ended) return;
    ended = true;
    sink.gone();
    deps.sinks.delete(sink);
    session.close();
    done();
    context.log.debug('grpc stream closed');
  };
  // A client that cancels or goes away; a stream that ends (refused, shut down) closes too.
  call.on('cancelled', end);
  call.on('close', end);
  // It may have gone while the gate was checking.
  if (call.cancelled) end();
  context.log.debug({ commands }, 'grpc stream opened');
  // One after another, as on a socket: a resume's replay follows its `subscribed` unbroken.
  for (const command of commands) {
    if (!sink.open) return;
    await session.handle(command);
  }
}

/** `Subscriber.Subscribe`: one more sink under the same sessions, routing and catch-up as `/subscribe`. */
export function grpcSubscribe(deps: GrpcSubscribeDeps): (call: SubscribeCall) => void {
  return (call) => {
    serve(call, deps).catch((err: unknown) => {
      if ((err as Error).name === 'LogSourceClosed') return;
      deps.logger.error({ err }, 'grpc subscribe failed');
      call.emit('error', statusError('INTERNAL', 'internal server error'));
    });
  };
}
