export { testCertificate, type TestCertificate } from './certificate.js';
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
