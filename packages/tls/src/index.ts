export {
  DEFAULT_CERT_DIR,
  loadServerCertificate,
  readCaFile,
  TlsSetupError,
  type ServerCertificate,
  type ServerCertificateOptions,
} from './certificate.js';
