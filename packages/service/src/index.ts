export { serviceHandle, type ServiceHandle } from './handle.js';
export { heartbeat, judgeElsewhere, trackPongs } from './heartbeat.js';
export { errorBody, rejectionOf, rejectUpgrade, sendRejection, type Rejection } from './reject.js';
export { noteRefusal, refuseRequest, refuseSocket, type RefusalContext } from './refuse.js';
export { dial, Upstream, type DialOptions, type UpstreamOptions } from './upstream.js';
export {
  startSecureWsServer,
  type CapabilityEndpoint,
  type ConnectionHandler,
  type SecureWsServer,
  type SecureWsServerOptions,
} from './ws-server.js';
export type { CallAdmission, CallRequest } from './admission.js';
export type { Readiness } from './http-app.js';
export {
  commonConfig,
  commonEnv,
  DEV_USER,
  DEV_USERS,
  isProduction,
  usersList,
  type CommonConfig,
} from './common-config.js';
export { runService, type RunServiceOptions } from './run-service.js';
export { createQueueUpstream, loadHopTls, loadServiceTls, warnOnDevUsers, type HopTls, type QueueHop } from './boot.js';
export { closeAs, closeSlowClient, closeWithError, type ClosingCode } from './close.js';
export { drainDeadline, eventWithin, settledWithin } from './wait.js';
export { bufferOf, textOf } from './raw-data.js';
export { Outbox, serverTextFrame, type OutboxOptions } from './outbox.js';
export { ServiceMetrics } from './metrics.js';
export {
  endpointRefusal,
  resolveUsers,
  SERVICE_RIGHTS,
  type Account,
  type Right,
  type Users,
  type UsersList,
  type UsersSources,
} from './access.js';
export { accessEnv, type AccessLimits, type AuthThrottleLimits } from './access-config.js';
export { createRateLimit, type RateLimit, type RateLimitOptions } from './rate-limit.js';
export { parseUsersFile, readUsersFile, ROLES, UsersFileError, type FileUser, type Role } from './users-file.js';
export type { ConnectionContext, HttpHandler } from './context.js';
export { readJsonText } from './json-body.js';
export { signToken, TOKEN_COOKIE, TOKEN_PARAMETER, verifyToken, type TokenClaims } from './token.js';
export { tokenConfig, tokenEnv, tokenKeys, type TokenConfig, type TokenKeys } from './token-config.js';
export { syncDirectory, writeFileDurably } from './durable-file.js';
export { queueHop, queueHopEnv, serviceConfig, serviceEnv } from './service-env.js';
export {
  startEdgeService,
  type Deadline,
  type EdgeConfig,
  type EdgeGrpc,
  type EdgeParts,
  type EdgeService,
  type EdgeWiring,
} from './edge-service.js';
