export { serviceHandle, type ServiceHandle } from './handle.js';
export { heartbeat, trackPongs } from './heartbeat.js';
export { errorBody, rejectUpgrade, type Rejection } from './reject.js';
export { dial, Upstream, type DialOptions, type UpstreamOptions } from './upstream.js';
export {
  startSecureWsServer,
  type ConnectionContext,
  type ConnectionHandler,
  type HttpHandler,
  type Readiness,
  type SecureWsServer,
  type SecureWsServerOptions,
} from './ws-server.js';
export {
  commonConfig,
  commonEnv,
  DEV_USER,
  DEV_USERS,
  usersList,
  type CommonConfig,
  type Users,
} from './common-config.js';
export { runService, type RunServiceOptions } from './run-service.js';
export { createQueueUpstream, loadServiceTls, warnOnDevUsers, type QueueHop } from './boot.js';
export { closeWithError } from './close.js';
export { eventWithin } from './wait.js';
export { bufferOf, textOf } from './raw-data.js';
export { Outbox, serverTextFrame } from './outbox.js';
export { ServiceMetrics } from './metrics.js';
