export {
  checkCertificatePair,
  DEFAULT_CERT_DIR,
  generateCertificate,
  loadServerCertificate,
  readCaFile,
  readCertificatePair,
  TlsSetupError,
  type CertificateFiles,
  type GenerateCertificateOptions,
  type ServerCertificate,
  type ServerCertificateOptions,
} from './certificate.js';
