import { loadSync } from '@grpc/proto-loader';
import type { MethodDefinition, ServiceDefinition } from '@grpc/grpc-js';
import { PUBSUB_PROTO_FILE } from '@pubsub/protocol';

/** `pubsub.v1.SubscribeRequest`. */
export interface SubscribeRequest {
  topics?: string[];
  from?: Resume[];
}

export interface Resume {
  topic: string;
  seq?: number;
  epoch?: string;
}

export interface GrpcMessage {
  topic: string;
  id: string;
  seq: number;
  epoch: string;
  /** The publisher's content as JSON text. */
  content: string;
  time: number;
}

export interface Subscribed {
  topic: string;
  resumed?: boolean;
  from?: number;
  recovered?: boolean;
  epoch?: string;
  replayed?: number;
  gap?: boolean;
}

export interface Waiting {
  topic: string;
  reason: string;
}

/** One item of a Subscribe stream; `event` names the member that is set. */
export type SubscribeEvent =
  | { event: 'message'; message: GrpcMessage }
  | { event: 'subscribed'; subscribed: Subscribed }
  | { event: 'waiting'; waiting: Waiting };

export interface PublishRequest {
  topic: string;
  /** JSON text. */
  content: string;
  id?: string;
}

export interface PublishReply {
  id: string;
  seq: number;
  duplicate: boolean;
}

// Field names as in the .proto, 64-bit numbers as JS numbers (seqs and times stay far below 2^53),
// and the name of the set member of a oneof in `event`.
const definition = loadSync(PUBSUB_PROTO_FILE, { keepCase: true, longs: Number, defaults: true, oneofs: true });

/** The services as grpc-js takes them (`server.addService`, `makeClientConstructor`). */
export const SUBSCRIBER_SERVICE = definition['pubsub.v1.Subscriber'] as ServiceDefinition;
export const PUBLISHER_SERVICE = definition['pubsub.v1.Publisher'] as ServiceDefinition;

export const SUBSCRIBE_METHOD = SUBSCRIBER_SERVICE.Subscribe as MethodDefinition<SubscribeRequest, SubscribeEvent>;
export const PUBLISH_METHOD = PUBLISHER_SERVICE.Publish as MethodDefinition<PublishRequest, PublishReply>;

/** Encodes one Subscribe stream item, once for every stream that gets it. */
export const encodeSubscribeEvent = (event: SubscribeEvent): Buffer => SUBSCRIBE_METHOD.responseSerialize(event);
