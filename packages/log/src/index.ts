import { pino, type DestinationStream, type Logger, type LevelWithSilent } from 'pino';
import { stdoutDestination } from './stdout.js';

export { flushStdout, stdoutDestination, StdoutDestination } from './stdout.js';

export type { Logger } from 'pino';

export type LogLevel = LevelWithSilent;

/** Paths pino replaces with "[redacted]": credentials (passwords, sign-in tokens) must never reach a log line. */
export const REDACT_PATHS = [
  'authorization',
  'password',
  'token',
  'access_token',
  'cookie',
  'headers.authorization',
  'headers.cookie',
  'req.headers.authorization',
  'req.headers.cookie',
  '*.password',
  '*.authorization',
  '*.token',
  '*.access_token',
  '*.cookie',
];

export interface LoggerOptions {
  service: string;
  level?: LogLevel;
  /** Where JSON lines go; stdout (never blocking: see stdout.ts) by default. Tests pass a stream to read them. */
  destination?: DestinationStream;
}

/** The one logger of a process: JSON lines with `service` on each, credentials redacted. */
export function createLogger(options: LoggerOptions): Logger {
  return pino(
    {
      level: options.level ?? 'info',
      base: { service: options.service },
      formatters: { level: (label) => ({ level: label }) },
      redact: { paths: REDACT_PATHS, censor: '[redacted]' },
    },
    options.destination ?? stdoutDestination(),
  );
}

/** A logger that writes nothing, for tests and embedding. */
export function silentLogger(): Logger {
  return pino({ level: 'silent' });
}
