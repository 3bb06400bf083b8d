// What the gateway keeps per connection, per session and per API key.
import type { KeyObject } from 'node:crypto';
import type uWS from 'uWebSockets.js';
import type * as sbe from '../../protocol/codec.js';
import type { Permission } from './key-store.js';
import type { RateLimits, TokenBucket } from './limits.js';
import type { PackedFrame } from './packed-frame.js';

export type Ws = uWS.WebSocket<Connection>;

/** An API key as this gateway sees it: its session here, its rate limit, its dead-man's switch. */
export interface KeyState {
  keyId: number;
  session?: Session;
  bucket: TokenBucket;
  /**
   * The dead-man's switch of the key: when to cancel its account's orders unless refreshed (0 when
   * disarmed). It belongs to the key, not the connection, so it fires most of all when the
   * connection has died.
   */
  deadMansDeadlineMs: number;
  /** The account the key trades for (the switch cancels its orders). */
  account: number;
}

export interface Session {
  id: number;
  key: KeyState;
  account: number;
  permission: Permission;
  /** The person an operator key belongs to, if its record names one (carried in its admin commands). */
  person?: string;
  /** permission is 'trade' (what the order path checks). */
  trade: boolean;
  /** The newest schema version the client decodes (its Logon says; 1 if it does not): nothing later is sent it unasked. */
  schemaVersion: number;
  /** A price source's public key, which every PriceUpdate's signature must verify with. */
  publicKey?: KeyObject;
  cancelOnDisconnect: boolean;
  heartbeatMs: number;
  lastInMs: number;
  lastOutMs: number;
  /** Its rate limits (the gateway's, or an AFMM's disclosed rate; see Sessions.limitsOf). */
  limits: RateLimits;
  bucket: TokenBucket;
  ws: Ws;
}

export interface Connection {
  session?: Session;
  /** Open for sending (false once closed, or while being closed as a slow consumer). */
  open: boolean;
  /** Counted against connectionsMax (until its close). */
  counted?: boolean;
  /** When it opened: it must log on or subscribe within attachMs. */
  openedMs?: number;
  /** The peer's address, as text. */
  address?: string;
  /**
   * Set while its Logon's nonce is being made durable: messages that follow it wait here and are
   * handled, in order, once the logon completes.
   */
  held?: sbe.Decoded[];
  /** Counted as a public-data connection without a logon (PUBLIC_MAX). */
  public?: boolean;
  /** Public topics joined. */
  topics?: Topic[];
  /** Messages queued for the end of this turn (made on first use). */
  out?: PackedFrame;
}

/** A public topic ("book.1", "trades.1") and the messages queued for it this turn. */
export interface Topic {
  readonly name: string;
  subscribers: number;
  readonly out: PackedFrame;
}

/** What the gateway counts: frames, refusals, slow consumers, its own faults. */
export interface GatewayStats {
  frames: number;
  unparseable: number;
  sessionRejects: number;
  slowConsumers: number;
  internalErrors: number;
  connectionsRefused: number;
  /** Connections closed to make room for a newer one while too many had not logged on. */
  connectionsDisplaced: number;
  /** Messages the data-access policy (policy.ts) kept from a connection that may not see them: each a defect of ours. */
  policyDrops: number;
  /** SessionRejects by reason code (made at the first; /metrics reads it). */
  sessionRejectsByReason?: Float64Array;
}

/** The time of the frame being handled, read once per frame. */
export interface FrameClock {
  /** Date.now() when it arrived. */
  nowMs: number;
  /** performance.now() when it arrived (only with onOrderLatency). */
  arrivedMs: number;
  /** The clock rate-limit buckets refill by instead of nowMs, when set (GatewayOptions.rateClock). */
  readonly rate?: () => number;
}
