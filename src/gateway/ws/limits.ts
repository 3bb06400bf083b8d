// Token buckets for order-entry rate limits, per API key and per connection. The limits are
// configuration, disclosed to each session in its LogonAck; a reject names the limit and when a
// token is next available.
export interface RateLimits {
  /** Orders per second an API key may enter across all its connections. */
  perKeyPerSecond: number;
  /** Orders per second one connection may enter. */
  perConnectionPerSecond: number;
  /** Burst: how many orders a bucket holds when full (at least 1). */
  burst: number;
}

export const RATE_LIMITS_DEFAULT: RateLimits = { perKeyPerSecond: 200_000, perConnectionPerSecond: 100_000, burst: 20_000 };

export class TokenBucket {
  private tokens: number;
  private at: number;

  constructor(private readonly perSecond: number, private readonly capacity: number, nowMs: number) {
    this.tokens = capacity;
    this.at = nowMs;
  }

  private refill(nowMs: number): void {
    this.tokens = Math.min(this.capacity, this.tokens + ((nowMs - this.at) * this.perSecond) / 1000);
    this.at = nowMs;
  }

  /** Takes one token, or returns the milliseconds until one is available. */
  take(nowMs: number): number {
    const wait = this.wait(nowMs);
    if (wait === 0) this.tokens -= 1;
    return wait;
  }

  /** The milliseconds until a token is available (0: one is), taking nothing. */
  wait(nowMs: number): number {
    this.refill(nowMs);
    return this.tokens >= 1 ? 0 : Math.ceil(((1 - this.tokens) * 1000) / this.perSecond);
  }
}
