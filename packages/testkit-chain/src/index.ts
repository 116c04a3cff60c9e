export { allAcknowledged, baseEnv, startChain, subscribe, type Chain, type ChainOptions, type Env } from './chain.js';
export {
  PublishingClient,
  SubscribingClient,
  type PublishingClientOptions,
  type SubscribingClientOptions,
} from './cluster-clients.js';
export {
  childEnv,
  childServices,
  deliveredAll,
  expectNoAnomalies,
  listening,
  queueUrlEnv,
  recordedSubscribers,
  startFaultChain,
  startNode,
  type ChildService,
  type FaultChain,
  type RunService,
  type ServiceName,
  type ServiceNode,
} from './fault.js';
export { recordDelivery, resumeCommand, type Frame } from './frames.js';
export { grpcClient, GrpcSubscription } from './grpc.js';
export { ownRedisPossible, startTestRedis, type TestRedis } from './redis-server.js';
export {
  startReceiver,
  subscriptionsApi,
  verifySignature,
  type Answer,
  type ApiJson,
  type Received,
  type Receiver,
  type SubscriptionJson,
} from './webhook-receiver.js';
