import type { ErrorCode } from '@pubsub/protocol';
import { createRateLimit, type ConnectionContext, type RateLimitOptions } from '@pubsub/service';

/** Why a valid publish is refused before it is forwarded, or undefined to forward it. */
export type PublishGuard = (topic: string) => { code: ErrorCode; message?: string } | undefined;

/**
 * One connection's checks on a valid publish: the user's publish rights, then the rate limit.
 * A refused message is answered with the code and not forwarded; the connection stays open.
 * Messages refused for their topic take no token.
 */
export function publishGuard(context: ConnectionContext, rate: RateLimitOptions | undefined): PublishGuard {
  const { publish } = context.account;
  const limit = rate === undefined ? undefined : createRateLimit(rate);
  const overRate = `over ${rate?.perSecond} messages/s (burst ${rate?.burst}) on this connection; the message was not taken`;
  return (topic) => {
    if (!publish.allows(topic)) {
      return { code: 'TOPIC_FORBIDDEN', message: `user "${context.user}" may not publish to this topic` };
    }
    if (limit !== undefined && !limit.tryTake()) {
      return { code: 'RATE_LIMITED', message: overRate };
    }
    return undefined;
  };
}
