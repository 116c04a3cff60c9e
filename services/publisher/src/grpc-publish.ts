import {
  PUBLISH_METHOD,
  statusError,
  type PublishReply,
  type PublishRequest,
  type sendUnaryData,
  type ServerUnaryCall,
} from '@pubsub/grpc';
import { admitCall } from '@pubsub/grpc/server';
import type { Ingress, PublishGuard } from '@pubsub/ingress';
import type { Logger } from '@pubsub/log';
import { ERRORS, type ErrorCode } from '@pubsub/protocol';
import { noteRefusal, type ConnectionContext, type SecureWsServer } from '@pubsub/service';

export interface GrpcPublishDeps {
  ingress: Ingress;
  /** The guard of the call's user, shared with its HTTP requests. */
  guardOf: (context: ConnectionContext) => PublishGuard;
  /** The HTTPS server, whose gate admits the call. */
  gate: Pick<SecureWsServer, 'admitCall'>;
  maxPayloadBytes: number;
  logger: Logger;
}

const str = JSON.stringify;

/**
 * The request as the publish frame a wss client would send, or why it cannot be one. The content
 * must be one JSON value: checked here, so that it cannot carry members of its own into the frame.
 */
function frameOf(
  { topic, content, id }: PublishRequest,
  maxBytes: number,
): { text: string } | { code: ErrorCode; message: string } {
  if (content === '')
    return { code: 'CONTENT_MISSING', message: 'content is empty: send JSON text, e.g. "\\"hello\\""' };
  try {
    JSON.parse(content);
  } catch {
    return { code: 'BAD_JSON', message: 'content must be JSON text: a string in quotes, a number, an object …' };
  }
  const text = `{"topic":${str(topic)},"content":${content}${id === undefined || id === '' ? '' : `,"id":${str(id)}`}}`;
  if (Buffer.byteLength(text) <= maxBytes) return { text };
  return { code: 'PAYLOAD_TOO_LARGE', message: `the message is larger than ${maxBytes} bytes (MAX_PAYLOAD_BYTES)` };
}

type PublishCall = ServerUnaryCall<PublishRequest, PublishReply>;

async function serve(call: PublishCall, reply: sendUnaryData<PublishReply>, deps: GrpcPublishDeps): Promise<void> {
  const admission = await admitCall(deps.gate, call, PUBLISH_METHOD.path);
  if (!admission.ok) return reply(statusError(admission.rejection.code, admission.rejection.message));
  const { context, done } = admission;
  const frame = frameOf(call.request, deps.maxPayloadBytes);
  if ('code' in frame) {
    done();
    noteRefusal(context, frame.code);
    return reply(statusError(frame.code, frame.message));
  }
  // One message per call, held until it is settled: a full forward buffer needs no pause here.
  deps.ingress.publish(frame.text, { guard: deps.guardOf(context), log: context.log }, (outcome) => {
    done();
    if (outcome.ok) reply(null, { id: outcome.id, seq: outcome.seq, duplicate: outcome.duplicate });
    else reply(statusError(outcome.code, outcome.message ?? ERRORS[outcome.code].message));
  });
}

/** `Publisher.Publish`: one message through the ingress, answered once the msgqueue holds it. */
export function grpcPublish(deps: GrpcPublishDeps): (call: PublishCall, reply: sendUnaryData<PublishReply>) => void {
  return (call, reply) => {
    serve(call, reply, deps).catch((err: unknown) => {
      deps.logger.error({ err }, 'grpc publish failed');
      reply(statusError('INTERNAL', ERRORS.INTERNAL.message));
    });
  };
}
