import { TokenBucket } from 'limiter';

/** A steady rate with a burst allowance: `burst` at once, then `perSecond` on average. */
export interface RateLimitOptions {
  readonly perSecond: number;
  readonly burst: number;
}

/** One connection's allowance; `tryTake` is synchronous, cheap enough for every message. */
export interface RateLimit {
  /** Takes one token; false when there is none left (the caller refuses the message). */
  tryTake(): boolean;
}

/**
 * A token bucket (`limiter`) that starts full, so a new connection may send its burst at once
 * (limiter's buckets start empty).
 */
export function createRateLimit(options: RateLimitOptions): RateLimit {
  const bucket = new TokenBucket({
    bucketSize: options.burst,
    tokensPerInterval: options.perSecond,
    interval: 'second',
  });
  bucket.content = options.burst;
  return { tryTake: () => bucket.tryRemoveTokens(1) };
}
