import { Client, credentials, Metadata, type ClientReadableStream, type ServiceError } from '@grpc/grpc-js';
import {
  PUBLISH_METHOD,
  SUBSCRIBE_METHOD,
  type PublishReply,
  type PublishRequest,
  type SubscribeEvent,
  type SubscribeRequest,
} from './proto.js';

export interface GrpcClientOptions {
  /** PEM the service's certificate must chain to. */
  readonly ca: string;
  /** Sent as `authorization: Basic …` on every call. */
  readonly auth?: { readonly user: string; readonly password: string };
}

/** The `authorization` metadata of HTTP Basic Auth, as every call of the suite's services needs it. */
export function basicAuthMetadata(user: string, password: string): Metadata {
  const metadata = new Metadata();
  metadata.set('authorization', `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`);
  return metadata;
}

/** A client of the suite's gRPC services over TLS (one HTTP/2 connection to `target`, `host:port`). */
export class PubsubGrpcClient {
  readonly #client: Client;
  readonly #metadata: () => Metadata;

  constructor(target: string, options: GrpcClientOptions) {
    this.#client = new Client(target, credentials.createSsl(Buffer.from(options.ca)));
    const { auth } = options;
    this.#metadata = () => (auth === undefined ? new Metadata() : basicAuthMetadata(auth.user, auth.password));
  }

  /** `Subscriber.Subscribe`: the stream's 'data' events are SubscribeEvents; it ends with a status. */
  subscribe(request: SubscribeRequest): ClientReadableStream<SubscribeEvent> {
    const { path, requestSerialize, responseDeserialize } = SUBSCRIBE_METHOD;
    return this.#client.makeServerStreamRequest(path, requestSerialize, responseDeserialize, request, this.#metadata());
  }

  /** `Publisher.Publish`: resolves once the msgqueue holds the message; rejects with the ServiceError otherwise. */
  publish(request: PublishRequest): Promise<PublishReply> {
    const { path, requestSerialize, responseDeserialize } = PUBLISH_METHOD;
    return new Promise((resolveReply, reject) => {
      this.#client.makeUnaryRequest(
        path,
        requestSerialize,
        responseDeserialize,
        request,
        this.#metadata(),
        (err: ServiceError | null, reply?: PublishReply) => {
          if (err !== null || reply === undefined) reject(err ?? new Error('Publish answered nothing'));
          else resolveReply(reply);
        },
      );
    });
  }

  close(): void {
    this.#client.close();
  }
}
