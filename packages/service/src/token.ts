import { createHmac, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage } from 'node:http';

/** The cookie `POST /api/token` sets, read back by every endpoint. */
export const TOKEN_COOKIE = 'pubsub_token';

/** The query parameter a browser puts the token in: `new WebSocket()`/`new EventSource()` cannot send headers. */
export const TOKEN_PARAMETER = 'access_token';

/** What a token says: who, and until when (epoch milliseconds). */
export interface TokenClaims {
  readonly user: string;
  readonly expiresAt: number;
}

export type TokenCheck = { ok: true; claims: TokenClaims } | { ok: false; reason: 'expired' | 'invalid' };

function mac(secret: string | Buffer, payload: string): Buffer {
  return createHmac('sha256', secret).update(payload).digest();
}

/**
 * `<base64url(JSON claims)>.<base64url(HMAC-SHA256 of the first part)>`: stateless, so any
 * service holding the same secret accepts it, and nothing is stored per sign-in.
 */
export function signToken(secret: string | Buffer, claims: TokenClaims): string {
  const payload = Buffer.from(JSON.stringify({ u: claims.user, exp: claims.expiresAt })).toString('base64url');
  return `${payload}.${mac(secret, payload).toString('base64url')}`;
}

/** Checks the signature first (in constant time), then the expiry against `now`. */
export function verifyToken(secret: string | Buffer, token: string, now: number): TokenCheck {
  const dot = token.indexOf('.');
  if (dot < 0) return { ok: false, reason: 'invalid' };
  const payload = token.slice(0, dot);
  const given = Buffer.from(token.slice(dot + 1), 'base64url');
  const expected = mac(secret, payload);
  if (given.length !== expected.length || !timingSafeEqual(given, expected)) return { ok: false, reason: 'invalid' };
  let claims: unknown;
  try {
    claims = JSON.parse(Buffer.from(payload, 'base64url').toString());
  } catch {
    return { ok: false, reason: 'invalid' };
  }
  const { u, exp } = (claims ?? {}) as { u?: unknown; exp?: unknown };
  if (typeof u !== 'string' || typeof exp !== 'number') return { ok: false, reason: 'invalid' };
  if (exp <= now) return { ok: false, reason: 'expired' };
  return { ok: true, claims: { user: u, expiresAt: exp } };
}

function cookieValue(header: string | undefined, name: string): string | undefined {
  for (const part of (header ?? '').split(';')) {
    const eq = part.indexOf('=');
    if (eq >= 0 && part.slice(0, eq).trim() === name) return part.slice(eq + 1).trim();
  }
  return undefined;
}

/** The token a request carries, in `?access_token=` or the `pubsub_token` cookie, if any. */
export function presentedToken(req: Pick<IncomingMessage, 'url' | 'headers'>): string | undefined {
  const query = (req.url ?? '').indexOf('?');
  const fromQuery = query < 0 ? null : new URLSearchParams((req.url ?? '').slice(query + 1)).get(TOKEN_PARAMETER);
  const token = fromQuery ?? cookieValue(req.headers.cookie, TOKEN_COOKIE);
  return token === '' ? undefined : token;
}
