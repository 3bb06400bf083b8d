// Every limit of the websocket gateway, defined once: order-entry rate limits (token buckets per
// API key and per connection, disclosed in the LogonAck), frame and batch sizes, connection bounds,
// timers. A reject names the limit it hit.

export interface RateLimits {
  /** Orders per second an API key may enter across all its connections. */
  perKeyPerSecond: number;
  /** Orders per second one connection may enter. */
  perConnectionPerSecond: number;
  /** Burst: how many orders a bucket holds when full (at least 1). */
  burst: number;
}

export const RATE_LIMITS_DEFAULT: RateLimits = { perKeyPerSecond: 200_000, perConnectionPerSecond: 100_000, burst: 20_000 };

/** A client's frame at most; a larger one closes its connection with 1009 and the reason. */
export const FRAME_BYTES_MAX = 64 * 1024;
/**
 * What uWS itself accepts before dropping a connection without a reason: well past FRAME_BYTES_MAX,
 * so an oversized frame is refused by our check, with the reason, instead.
 */
export const UWS_PAYLOAD_MAX = 16 * FRAME_BYTES_MAX;
/** Orders in one BatchNewOrders at most: what a FRAME_BYTES_MAX frame holds (2,000 × 32 bytes). */
export const BATCH_ORDERS_MAX = 2_000;
export const HEARTBEAT_MS_DEFAULT = 5_000;
export const HEARTBEAT_MS_MIN = 100;
/** Unsent bytes a connection may hold before it is disconnected as a slow consumer. */
export const SLOW_CONSUMER_BYTES = 4 * 1024 * 1024;
export const TIMER_TICK_MS = 50;
/**
 * Commands the node may have queued (not yet in a batch) before new orders are refused as busy:
 * about a second of work at full speed, so a stalled disk cannot make the queue grow without bound.
 * Amends stop here too, cancels and mass cancels at twice it (they take risk off); the node's own
 * bound (QUEUED_MAX) lies above both.
 */
export const INTAKE_QUEUED_MAX = 150_000;
/**
 * A connection must log on or subscribe to public data within this long, or it is closed: idle
 * connections cannot hold the connection limit.
 */
export const ATTACH_MS = 2_000;
/** Open websocket connections at most; one more is closed at once with 1013 and the reason. */
export const CONNECTIONS_MAX = 4_096;
/**
 * Connections not yet logged on or subscribed, at most, bounded apart from sessions so they can
 * never take the room logons need. When full, a new connection displaces the oldest of the
 * address that holds the most (a real client logs on within a round trip; a flood's sockets are
 * the ones left waiting).
 */
export const UNATTACHED_MAX = 256;
/** The same, per source address: past it a new connection from that address is refused. */
export const UNATTACHED_PER_ADDRESS_MAX = 16;
/**
 * Connections that subscribe to public market data without logging on, at most: bounded too, so
 * unauthenticated subscribers cannot take the room sessions need (CONNECTIONS_MAX less this and
 * UNATTACHED_MAX is always left for logons)...
 */
export const PUBLIC_MAX = 2_048;
/** ...and per source address. */
export const PUBLIC_PER_ADDRESS_MAX = 64;
/** How often stored logon nonces older than the freshness window are removed. */
export const NONCE_PRUNE_MS = 60_000;
/** Messages a connection may send after its Logon while the logon is being made durable. */
export const HELD_MESSAGES_MAX = 256;
/** Characters a SessionReject's or Logout's text carries (the schema's Text type). */
export const TEXT_CHARS_MAX = 64;
/** Messages one ReplayRequest returns at most; ask again from the next sequence for more. */
export const REPLAY_MESSAGES_MAX = 512;
/** The scratch buffer messages are encoded into before they are copied into a frame. */
export const SCRATCH_BYTES = 1 << 20;
/**
 * An AdminResponse's body (UTF-8 JSON) at most: a listing past it is refused with its size (ask
 * for less: one venue's). Well inside SCRATCH_BYTES.
 */
export const ADMIN_ANSWER_BYTES_MAX = 512 * 1024;
/** Venue events one listing returns at most: the latest. */
export const VENUE_EVENTS_LISTED_MAX = 1_000;
/** AFMM audit records one listing returns at most, and by default (records carry officers' names and risk texts). */
export const AUDIT_LISTED_MAX = 1_000;
export const AUDIT_LISTED_DEFAULT = 200;
/** Trade records listed at most in one answer (query trades; page with before), and by default. */
export const TRADES_LISTED_MAX = 1_000;
export const TRADES_LISTED_DEFAULT = 100;

export class TokenBucket {
  private tokens: number;
  private at: number;

  constructor(readonly perSecond: number, readonly capacity: number, nowMs: number) {
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

  /** The same bucket at another rate and capacity: what it holds now, at most the new capacity. */
  resized(perSecond: number, capacity: number, nowMs: number): TokenBucket {
    this.refill(nowMs);
    const b = new TokenBucket(perSecond, capacity, nowMs);
    b.tokens = Math.min(capacity, this.tokens);
    return b;
  }

  /** The milliseconds until a token is available (0: one is), taking nothing. */
  wait(nowMs: number): number {
    this.refill(nowMs);
    return this.tokens >= 1 ? 0 : Math.ceil(((1 - this.tokens) * 1000) / this.perSecond);
  }
}
