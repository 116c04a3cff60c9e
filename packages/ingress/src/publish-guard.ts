import type { ErrorCode } from '@pubsub/protocol';
import { createRateLimit, type ConnectionContext, type RateLimitOptions } from '@pubsub/service';

/** Whose rights a guard checks: a connection's user, or the identity a bridge publishes as. */
export type Publisher = Pick<ConnectionContext, 'user' | 'account'>;

/** Why a valid publish is refused before it is forwarded, or undefined to forward it. */
export type PublishGuard = (topic: string) => { code: ErrorCode; message?: string } | undefined;

/**
 * One connection's checks on a valid publish: the user's publish rights, then the rate limit.
 * A refused message is answered with the code and not forwarded; the connection stays open.
 * Messages refused for their topic take no token.
 */
export function publishGuard(
  context: Publisher,
  rate: RateLimitOptions | undefined,
  scope: 'connection' | 'user' = 'connection',
): PublishGuard {
  const { publish } = context.account;
  const limit = rate === undefined ? undefined : createRateLimit(rate);
  const overRate = `over ${rate?.perSecond} messages/s (burst ${rate?.burst}) ${scope === 'user' ? 'for this user' : 'on this connection'}; the message was not taken`;
  // A publisher mostly sends runs of one topic: the rights (fixed for the guard's life) are
  // matched again only when the topic changes.
  let allowed: string | undefined;
  return (topic) => {
    if (topic !== allowed) {
      if (!publish.allows(topic)) {
        return { code: 'TOPIC_FORBIDDEN', message: `user "${context.user}" may not publish to this topic` };
      }
      allowed = topic;
    }
    if (limit !== undefined && !limit.tryTake()) {
      return { code: 'RATE_LIMITED', message: overRate };
    }
    return undefined;
  };
}

/**
 * Guards by user name, for HTTP publishing: requests come and go, so the rate limit holds over
 * all of one user's requests instead. At most one per configured user, so the map stays small.
 */
export function userGuards(rate: RateLimitOptions | undefined): (context: ConnectionContext) => PublishGuard {
  const guards = new Map<string, PublishGuard>();
  return (context) => {
    let guard = guards.get(context.user);
    if (guard === undefined) {
      guard = publishGuard(context, rate, 'user');
      guards.set(context.user, guard);
    }
    return guard;
  };
}
