import type express from 'express';
import { normalizeOrigin } from './access-config.js';

/**
 * CORS for the `/api/*` endpoints: a page on an allowed origin (its own, or one in
 * `ALLOWED_ORIGINS`) may call them with credentials. Other origins get no CORS headers, so the
 * browser hides the answer; the endpoints themselves refuse them with 403 anyway.
 */
export function apiCors(allowedOrigins: readonly string[]): express.RequestHandler {
  return (req, res, next) => {
    const origin = req.headers.origin;
    const own = req.headers.host === undefined ? undefined : normalizeOrigin(`https://${req.headers.host}`);
    const allowed =
      origin !== undefined && (normalizeOrigin(origin) === own || allowedOrigins.includes(normalizeOrigin(origin)));
    res.vary('Origin');
    if (allowed) {
      res.set({ 'Access-Control-Allow-Origin': origin, 'Access-Control-Allow-Credentials': 'true' });
    }
    if (req.method !== 'OPTIONS') return next();
    if (allowed) {
      res.set({
        'Access-Control-Allow-Methods': 'POST',
        'Access-Control-Allow-Headers': 'Authorization, Content-Type',
        'Access-Control-Max-Age': '600',
      });
    }
    res.status(allowed ? 204 : 403).end();
  };
}
