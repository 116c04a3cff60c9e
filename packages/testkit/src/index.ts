export { testCertificate, testPki, type TestCertificate, type TestKeyPair, type TestPki } from './certificate.js';
export {
  check,
  type CheckCounts,
  type CheckOptions,
  type CheckReport,
  type DuplicateEntry,
  type FailedDeliveryEntry,
  type LostEntry,
  type LostWhere,
  type RecoveredEntry,
  type ReorderEntry,
  type UnexpectedEntry,
  type UnsolicitedEntry,
} from './check.js';
export { formatReport } from './format-report.js';
export {
  HistoryError,
  HistoryRecorder,
  type DeliverEvent,
  type HistoryEvent,
  type HistoryRecorderOptions,
  type PublishEvent,
  type PublishOutcome,
  type PublishRef,
  type SubscribeEvent,
  type UnsubscribeEvent,
} from './history.js';
export {
  connect,
  DEV_AUTH,
  handshakeRejection,
  TestClient,
  type ConnectOptions,
  type HandshakeRejection,
} from './client.js';
export { latch } from './latch.js';
export { captureLogs, type CapturedLogs } from './logs.js';
export { tempDir } from './temp-dir.js';
export { thrown } from './thrown.js';
export { writeUsersFile, type UsersFileEntry } from './users-file.js';
export { serverAvailable, serverUrl, type ExternalServer } from './external-server.js';
export { bareWssServer, type BareWssServer } from './wss-server.js';
export { get, post, ready, type GetOptions, type HttpAnswer, type PostOptions } from './https.js';
export { EventStream, openEvents, type SseEvent } from './sse.js';
export { parseLogLine, REPO_ROOT, TsProcess, type TsProcessOptions } from './ts-process.js';
export { settlesWithin, within } from './within.js';
