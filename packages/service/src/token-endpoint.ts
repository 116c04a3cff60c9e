import type { HttpHandler } from './context.js';
import type { TokenKeys } from './token-config.js';
import { signToken, TOKEN_COOKIE } from './token.js';

/**
 * `POST /api/token` (Basic Auth only): a token for the user, in the body for `?access_token=`
 * and in an HttpOnly cookie that the browser sends with every later request to this host.
 */
export function tokenEndpoint(keys: TokenKeys): HttpHandler {
  return (_req, res, context) => {
    const expiresAt = keys.now() + keys.ttlMs;
    const token = signToken(keys.secret, { user: context.user, expiresAt });
    res
      .set('Cache-Control', 'no-store')
      .cookie(TOKEN_COOKIE, token, { httpOnly: true, secure: true, sameSite: 'strict', path: '/', maxAge: keys.ttlMs })
      .json({ token, expiresAt: new Date(expiresAt).toISOString() });
    // The token itself never reaches a log line.
    context.log.info({ expiresAt }, 'token issued');
  };
}
