import { SUBSCRIBER_SERVICE } from '@pubsub/grpc';
import { preEncoded, startGrpcServer, type GrpcServer } from '@pubsub/grpc/server';
import type { SubscriberConfig } from './config.js';
import { grpcSubscribe, type GrpcSubscribeDeps } from './grpc-subscribe.js';

/** The gRPC `Subscriber` service on `SUBSCRIBER_GRPC_PORT` (loaded only when it is set: grpc-js costs start-up time). */
export function startSubscriberGrpc(
  config: SubscriberConfig & { grpcPort: number },
  { tls, deps }: { tls: { cert: string; key: string }; deps: GrpcSubscribeDeps },
): Promise<GrpcServer> {
  const options = {
    host: config.host,
    port: config.grpcPort,
    tls,
    maxReceiveBytes: config.maxPayloadBytes,
    keepaliveMs: config.heartbeatIntervalMs,
  };
  return startGrpcServer(options, [
    { definition: preEncoded(SUBSCRIBER_SERVICE), implementation: { Subscribe: grpcSubscribe(deps) } },
  ]);
}
