import express from 'express';
import { rejectionOf, type Rejection } from './reject.js';

/**
 * Reads a request's JSON body as text, without parsing it, so its values can be passed on byte
 * for byte (a number like 12345678901234567890 keeps its digits). Refuses anything but
 * `application/json` (415) and bodies over `limitBytes` (413, before reading them).
 */
export function readJsonText(
  req: express.Request,
  res: express.Response,
  limitBytes: number,
): Promise<{ text: string } | { rejection: Rejection }> {
  if (req.is('application/json') !== 'application/json') {
    return Promise.resolve({ rejection: rejectionOf('UNSUPPORTED_MEDIA_TYPE') });
  }
  const parse = express.text({ type: 'application/json', limit: limitBytes, defaultCharset: 'utf-8' });
  return new Promise((resolveBody) => {
    parse(req, res, (err?: unknown) => {
      if (err === undefined) {
        // Undefined for an empty body, which then fails as JSON like any other.
        resolveBody({ text: typeof req.body === 'string' ? req.body : '' });
        return;
      }
      const status = (err as { status?: number }).status;
      const rejection =
        status === 413
          ? rejectionOf('PAYLOAD_TOO_LARGE', `the request body is larger than ${limitBytes} bytes`)
          : status === 415
            ? rejectionOf('UNSUPPORTED_MEDIA_TYPE')
            : rejectionOf('BAD_REQUEST', 'the request body could not be read');
      resolveBody({ rejection });
    });
  });
}
