import { fileURLToPath } from 'node:url';

/** The gRPC services' definition (`pubsub.v1`: Subscriber, Publisher), for a loader to read. */
export const PUBSUB_PROTO_FILE = fileURLToPath(new URL('../proto/pubsub.proto', import.meta.url));

/** The gRPC methods' paths (`/<package>.<service>/<method>` of pubsub.proto), the keys of their rights. */
export const GRPC_METHODS = {
  subscribe: '/pubsub.v1.Subscriber/Subscribe',
  publish: '/pubsub.v1.Publisher/Publish',
} as const;
