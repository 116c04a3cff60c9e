export { testCertificate, testPki, type TestCertificate, type TestKeyPair, type TestPki } from './certificate.js';
export {
  check,
  formatReport,
  HistoryError,
  HistoryRecorder,
  type CheckCounts,
  type CheckOptions,
  type CheckReport,
  type DeliverEvent,
  type DuplicateEntry,
  type FailedDeliveryEntry,
  type HistoryEvent,
  type HistoryRecorderOptions,
  type LostEntry,
  type LostWhere,
  type PublishEvent,
  type PublishOutcome,
  type PublishRef,
  type RecoveredEntry,
  type ReorderEntry,
  type SubscribeEvent,
  type UnexpectedEntry,
  type UnsolicitedEntry,
  type UnsubscribeEvent,
} from './checker.js';
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
export { thrown } from './thrown.js';
export { writeUsersFile, type UsersFileEntry } from './users-file.js';
