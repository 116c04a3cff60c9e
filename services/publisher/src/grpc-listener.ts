import { PUBLISHER_SERVICE } from '@pubsub/grpc';
import { startGrpcServer, type GrpcServer } from '@pubsub/grpc/server';
import type { PublisherConfig } from './config.js';
import { grpcPublish, type GrpcPublishDeps } from './grpc-publish.js';

/** The gRPC `Publisher` service on `PUBLISHER_GRPC_PORT` (loaded only when it is set: grpc-js costs start-up time). */
export function startPublisherGrpc(
  config: PublisherConfig & { grpcPort: number },
  { tls, deps }: { tls: { cert: string; key: string }; deps: GrpcPublishDeps },
): Promise<GrpcServer> {
  const options = {
    host: config.host,
    port: config.grpcPort,
    tls,
    // The request carries the frame's topic, content and id, and a few bytes of protobuf.
    maxReceiveBytes: config.maxPayloadBytes + 1024,
    keepaliveMs: config.heartbeatIntervalMs,
  };
  return startGrpcServer(options, [{ definition: PUBLISHER_SERVICE, implementation: { Publish: grpcPublish(deps) } }]);
}
