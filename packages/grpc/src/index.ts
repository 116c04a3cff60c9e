export { basicAuthMetadata, PubsubGrpcClient, type GrpcClientOptions } from './client.js';
export {
  encodeSubscribeEvent,
  PUBLISH_METHOD,
  PUBLISHER_SERVICE,
  SUBSCRIBE_METHOD,
  SUBSCRIBER_SERVICE,
  type GrpcMessage,
  type PublishReply,
  type PublishRequest,
  type Resume,
  type Subscribed,
  type SubscribeEvent,
  type SubscribeRequest,
  type Waiting,
} from './proto.js';
export {
  status as GrpcStatus,
  type ServerUnaryCall,
  type ServerWritableStream,
  type ServiceError,
  type UntypedServiceImplementation,
  type sendUnaryData,
} from '@grpc/grpc-js';
export { statusError } from './status.js';
