// The market-maker gateway: the SBE protocol over uWebSockets.js.
//
// A connection logs on with an Ed25519-signed Logon. Each API key has one outbound stream: its
// execution reports and cancel rejects carry an outbound sequence that continues across
// reconnects, are kept in LMDB, and can be replayed from any sequence (also after a node restart).
// Reports go out only once the batch holding the command is durable, and only to the key that
// entered the order. Public market data needs no logon: a Subscribe gets a snapshot and then the
// instrument's book updates (bookSeq rises by one each) or trades, published on uWS topics.
// Everything a connection is sent in one event-loop turn goes out as one websocket frame holding
// the messages back to back (at most OUT_FRAME_BYTES, unless one message is larger); each topic's
// messages of a turn are likewise one publish. Nothing is allocated per message on this path: a
// key's stream messages are encoded straight into its report blob for the batch (stored, then sent
// whole), others into a scratch buffer and copied into the connection's or topic's frame.
// A frame that does not decode closes its connection with the reason; a decodable message that is
// not allowed gets a SessionReject naming the field. A client that falls behind is disconnected
// (slow consumer); a session silent past its heartbeat timeout is closed; a dead-man's switch
// cancels a session's account orders when not refreshed in time.
import uWS from 'uWebSockets.js';
import { EventKind, type CoreEvent } from '../../core/index.js';
import { BookFeed } from '../../marketdata/book-feed.js';
import type { NodeCommand, OrderCommand, Outcome } from '../../pipeline/commands.js';
import type { NodeRuntime } from '../../pipeline/runtime.js';
import * as sbe from '../../protocol/codec.js';
import { LOGON_REFUSAL_TEXT, LOGON_SKEW_MS, LogonRefusal, NonceWindow, publicKeyFromRaw, verifyLogon } from './auth.js';
import { RATE_LIMITS_DEFAULT, TokenBucket, type RateLimits } from './limits.js';
import { ClOrdIds, NumberQueue, SEQUENCING } from './client-order-ids.js';
import { OUT_FRAME_BYTES, PackedFrame } from './packed-frame.js';
import { ReportJournal, type BatchFrames } from './report-journal.js';

/** A client's frame at most; a larger one closes its connection with 1009 and the reason. */
export const FRAME_BYTES_MAX = 64 * 1024;
/**
 * What uWS itself accepts before dropping a connection without a reason: well past FRAME_BYTES_MAX,
 * so an oversized frame is refused by our check, with the reason, instead.
 */
const UWS_PAYLOAD_MAX = 16 * FRAME_BYTES_MAX;
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
/** How often stored logon nonces older than the freshness window are removed. */
const NONCE_PRUNE_MS = 60_000;
/** uWS's listen option for a port bound without SO_REUSEPORT. */
const LIBUS_LISTEN_EXCLUSIVE_PORT = 1;
/**
 * Connections that subscribe to public market data without logging on, at most: bounded too, so
 * unauthenticated subscribers cannot take the room sessions need (CONNECTIONS_MAX less this and
 * UNATTACHED_MAX is always left for logons)...
 */
export const PUBLIC_MAX = 2_048;
/** ...and per source address. */
export const PUBLIC_PER_ADDRESS_MAX = 64;
/** Messages a connection may send after its Logon while the logon is being made durable. */
const HELD_MESSAGES_MAX = 256;
/** Finished orders per API key whose client order ids are still refused as duplicates. */
export const CLORDIDS_RETAINED = 100_000;
/** Characters a SessionReject's or Logout's text carries (the schema's Text type). */
const TEXT_CHARS_MAX = 64;
/** Messages one ReplayRequest returns at most; ask again from the next sequence for more. */
export const REPLAY_MESSAGES_MAX = 512;
const SCRATCH_BYTES = 1 << 20;

/** SessionReject and Logout reasons are the session range (200-299) of the one registry, sbe.RejectReason. */
const Reason = sbe.RejectReason;
/** A core CancelReason (1-5) on the wire: the cancel range (300-399) of the registry. */
const CANCEL_REASON_BASE = 300;

/** Raises if uWebSockets.js has fallen back to its JavaScript implementation. */
export function assertNativeUws(): void {
  if (!/\[native code\]/.test(Function.prototype.toString.call(uWS.App))) {
    throw new Error('uWebSockets.js is running its JavaScript fallback, not its native binary');
  }
}

export interface GatewayOptions {
  limits?: RateLimits;
  /** Unsent bytes past which a connection is dropped as a slow consumer (default SLOW_CONSUMER_BYTES). */
  slowConsumerBytes?: number;
  /** Finished orders per API key whose client order ids stay refused (default CLORDIDS_RETAINED). */
  clOrdIdsRetained?: number;
  /** Queued commands past which new orders are refused as busy (default INTAKE_QUEUED_MAX). */
  intakeQueuedMax?: number;
  /** Open connections at most, logged on or not (default CONNECTIONS_MAX). */
  connectionsMax?: number;
  /** How long a connection may stay without logging on or subscribing (default ATTACH_MS). */
  attachMs?: number;
  /** Connections not yet logged on or subscribed, at most (default UNATTACHED_MAX). */
  unattachedMax?: number;
  /** The same per source address (default UNATTACHED_PER_ADDRESS_MAX). */
  unattachedPerAddressMax?: number;
  /** Connections subscribed to public data without a logon, at most (default PUBLIC_MAX)... */
  publicMax?: number;
  /** ...and per source address (default PUBLIC_PER_ADDRESS_MAX). */
  publicPerAddressMax?: number;
  /**
   * Serve wss:// with this certificate and private key (PEM files), so API keys' logons and
   * orders never cross a network in clear.
   */
  tls?: { certFile: string; keyFile: string };
  /**
   * Called with each new order's time inside the node, in µs: from its frame's arrival to its
   * report being handed to the socket, durable (benchmarks; costs a clock read per frame).
   */
  onOrderLatency?: (micros: number) => void;
}

interface Stream {
  keyId: number;
  /** The last outbound sequence given to a message (it may not be durable yet). */
  outSeq: number;
  /** The last one durable and sent (or sendable): what a LogonAck announces and replay serves up to. */
  released: number;
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

interface Session {
  id: number;
  stream: Stream;
  account: number;
  trade: boolean;
  cancelOnDisconnect: boolean;
  heartbeatMs: number;
  lastInMs: number;
  lastOutMs: number;
  bucket: TokenBucket;
  ws: uWS.WebSocket<Connection>;
}

interface Connection {
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
class Topic {
  subscribers = 0;
  readonly out = new PackedFrame();
  constructor(readonly name: string) {}
}

interface OrderRef { keyId: number; clOrdId: number }

const ignore = () => {};

export class GatewayServer {
  private readonly app: uWS.TemplatedApp;
  private listenSocket: uWS.us_listen_socket | undefined;
  private readonly nonces = new NonceWindow();
  private readonly streams = new Map<number, Stream>();
  private readonly sessions = new Set<Session>();
  /** Orders with a free cancel queued (one each). */
  private readonly cancelling = new Set<number>();
  /** Keys whose dead-man's switch is armed, connected or not. */
  private readonly armed = new Set<Stream>();
  /**
   * Per API key: client order id → node order id, SEQUENCING while the order is being sequenced
   * (client order ids are idempotency keys; a cancel may follow its order at once).
   */
  private readonly clOrdIds = new Map<number, ClOrdIds>();
  /** Node order id → the key and client order id it came from, while the order can still report. */
  private readonly orders = new Map<number, OrderRef>();
  private readonly feed = new BookFeed(sbe.GROUP_ENTRIES_MAX);
  private readonly bookTopics = new Map<number, Topic>();
  private readonly tradeTopics = new Map<number, Topic>();
  /** Connections subscribed to any topic: the timer checks their backpressure. */
  private readonly subscribers = new Set<uWS.WebSocket<Connection>>();
  /** Connections that have neither logged on nor subscribed yet, oldest first. */
  private readonly unattached = new Set<uWS.WebSocket<Connection>>();
  /** Of those, how many per source address. */
  private readonly unattachedByAddress = new Map<string, number>();
  /** Connections subscribed to public data without a logon, per source address, and in all. */
  private readonly publicByAddress = new Map<string, number>();
  private publicCount = 0;
  private nextSessionId = 1;
  private readonly scratch = new Uint8Array(SCRATCH_BYTES);
  private readonly scratchView = new DataView(this.scratch.buffer);
  /** Connections and topics with messages queued this turn. */
  private dirty: uWS.WebSocket<Connection>[] = [];
  private dirtyTopics: Topic[] = [];
  private flushScheduled = false;
  private readonly onNodeFailure = (e: Error) => this.fail(e);
  /** The execution report being sent, reused (one message object, not one per report). */
  private readonly executionReport: sbe.ExecutionReport = {
    outSeq: 0, clOrdId: 0, orderId: 0, instrument: 0, execType: sbe.ExecType.New, side: sbe.Side.Buy, aggressor: sbe.BooleanType.False,
    rejectReason: 0, price: 0, qty: 0, lastPx: 0, lastQty: 0, leavesQty: 0, tradeId: 0, transactTimeNs: 0n, requestClOrdId: 0,
    cancelReason: 0,
  };
  /** A mass cancel of a key being applied: answered by a MassCancelReport after its Cancelled reports. */
  private massCancelling: { keyId: number; clOrdId: number; instrument: number; side: sbe.SideFilter } | undefined;
  /**
   * The key and client order id of the cancel, amend or mass cancel being applied (set by its
   * applied callback, which runs just before its events are reported), so its reports name it.
   */
  private readonly request = { keyId: 0, clOrdId: 0 };
  private reportTs = 0;
  /** The new order just applied, until its own events are reported (most finish at once: no map entry). */
  private readonly fresh = { orderId: 0, keyId: 0, clOrdId: 0 };
  /** Key and client order id of each new order enqueued and not yet applied, in order. */
  private readonly placing = new NumberQueue();
  /** performance.now() at arrival of each new order not yet durable (onOrderLatency only). */
  private readonly arrivals = new NumberQueue();
  /** The same for orders durable since the last flush, whose reports this flush sends. */
  private acked: number[] = [];
  private marketTs = 0;
  /** Each applied batch's stream messages, by batch, until the batch is durable. */
  private readonly unreleased = new Map<number, BatchFrames[]>();
  private readonly onOrderLatency: GatewayOptions['onOrderLatency'];
  /** performance.now() when the frame being handled arrived (only with onOrderLatency). */
  private arrivedMs = 0;
  /** Date.now() when the frame being handled arrived (read once per frame). */
  private nowMs = 0;
  private timeNsOf = -1;
  private timeNsValue = 0n;
  private readonly timer: NodeJS.Timeout;
  private readonly limits: RateLimits;
  private readonly slowConsumerBytes: number;
  private readonly clOrdIdsRetained: number;
  private readonly intakeQueuedMax: number;
  private readonly journal: ReportJournal;
  /** Frames received and refused as unparseable, session rejects, slow consumers and refused connections. */
  readonly stats = {
    frames: 0, unparseable: 0, sessionRejects: 0, slowConsumers: 0, internalErrors: 0, connectionsRefused: 0,
    /** Connections closed to make room for a newer one while too many had not logged on. */
    connectionsDisplaced: 0,
  };
  private connections = 0;
  private readonly connectionsMax: number;
  private readonly attachMs: number;
  private readonly unattachedMax: number;
  private noncesPrunedMs = Date.now();
  private readonly unattachedPerAddressMax: number;
  private readonly publicMax: number;
  private readonly publicPerAddressMax: number;
  private readonly scheme: 'ws' | 'wss';

  constructor(private readonly node: NodeRuntime, options: GatewayOptions = {}) {
    assertNativeUws();
    // Reports are derived as batches are applied: a gateway joining mid-batch would miss some.
    if (!node.idle) throw new Error('a gateway must be created while the node is idle (nothing queued or in flight)');
    this.limits = options.limits ?? RATE_LIMITS_DEFAULT;
    this.slowConsumerBytes = options.slowConsumerBytes ?? SLOW_CONSUMER_BYTES;
    this.clOrdIdsRetained = Math.max(1, options.clOrdIdsRetained ?? CLORDIDS_RETAINED);
    this.intakeQueuedMax = options.intakeQueuedMax ?? INTAKE_QUEUED_MAX;
    this.connectionsMax = options.connectionsMax ?? CONNECTIONS_MAX;
    this.attachMs = options.attachMs ?? ATTACH_MS;
    this.unattachedMax = Math.max(1, options.unattachedMax ?? UNATTACHED_MAX);
    this.unattachedPerAddressMax = Math.max(1, options.unattachedPerAddressMax ?? UNATTACHED_PER_ADDRESS_MAX);
    this.publicMax = options.publicMax ?? PUBLIC_MAX;
    this.publicPerAddressMax = options.publicPerAddressMax ?? PUBLIC_PER_ADDRESS_MAX;
    this.nonces.load(node.store.logonNoncesSince(Date.now() - 2 * LOGON_SKEW_MS));
    this.onOrderLatency = options.onOrderLatency;
    this.feed.seed(node.pipeline.orders.values());
    for (const l of node.config.instruments) {
      this.bookTopics.set(l.spec.id, new Topic(`book.${l.spec.id}`));
      this.tradeTopics.set(l.spec.id, new Topic(`trades.${l.spec.id}`));
    }
    this.journal = new ReportJournal(node.store);
    this.journal.loadRefs((keyId, clOrdId, orderId) => {
      const ids = this.clOrdIdsOf(keyId);
      ids.ids.set(clOrdId, orderId);
      if (node.pipeline.orders.has(orderId)) this.orders.set(orderId, { keyId, clOrdId });
      else ids.retire(clOrdId, orderId);
    });
    this.scheme = options.tls ? 'wss' : 'ws';
    const app = options.tls ? uWS.SSLApp({ cert_file_name: options.tls.certFile, key_file_name: options.tls.keyFile }) : uWS.App();
    this.app = app.ws<Connection>('/ws', {
      compression: uWS.DISABLED,
      maxPayloadLength: UWS_PAYLOAD_MAX,
      idleTimeout: 0,
      // Our own check (checkBackpressure, after each flush and on the timer) drops a slow consumer
      // with a reason past slowConsumerBytes; uWS's limit, twice that, is only a backstop.
      maxBackpressure: 2 * this.slowConsumerBytes,
      closeOnBackpressureLimit: 1,
      open: (ws) => this.onOpen(ws),
      message: (ws, message, isBinary) => this.onMessage(ws, message, isBinary),
      drain: (ws) => this.checkBackpressure(ws),
      close: (ws) => this.onClose(ws),
    }).any('/*', (res) => {
      // Anything but the protocol's path: say where it is (a websocket client sees the status).
      res.writeStatus('404 Not Found').end('Junction serves its protocol as a websocket at /ws\n');
    });
    // Reports and market data come from every command, whoever entered it: execution reports are
    // written as each batch is applied, in its transaction, and sent once it is durable; market
    // data is built from durable outcomes only.
    node.listen({
      applied: (outcome) => this.report(outcome),
      ride: (batch) => {
        const { rows, frames } = this.journal.take();
        if (frames.length > 0) this.unreleased.set(batch, frames);
        return rows;
      },
      durable: (outcome) => this.marketData(outcome),
      batchDurable: (batch) => {
        const frames = this.unreleased.get(batch);
        if (!frames) return;
        this.unreleased.delete(batch);
        this.release(frames);
      },
      failed: (error) => this.fail(error),
    });
    this.timer = setInterval(() => this.tick(), TIMER_TICK_MS);
    this.timer.unref();
  }

  /**
   * Listens on 127.0.0.1, alone: an exclusive port (no SO_REUSEPORT), so a second node on the same
   * port is refused instead of sharing connections with this one. Resolves with the port (pass 0
   * for any free one).
   */
  listen(port: number): Promise<number> {
    return new Promise((resolve, reject) => {
      // The binary takes listen(host, port, options, cb); the bundled typings omit that overload.
      const listen = this.app.listen as unknown as (host: string, port: number, options: number, cb: (socket: uWS.us_listen_socket | false) => void) => void;
      listen.call(this.app, '127.0.0.1', port, LIBUS_LISTEN_EXCLUSIVE_PORT, (socket) => {
        if (!socket) return reject(new Error(`cannot listen on 127.0.0.1:${port}: the port is in use (or not permitted)`));
        this.listenSocket = socket;
        resolve(uWS.us_socket_local_port(socket));
      });
    });
  }

  /** The URL clients connect to on `port`. */
  url(port: number): string {
    return `${this.scheme}://127.0.0.1:${port}/ws`;
  }

  close(): void {
    clearInterval(this.timer);
    if (this.listenSocket) uWS.us_listen_socket_close(this.listenSocket);
    this.listenSocket = undefined;
    for (const s of [...this.sessions]) this.end(s.ws, 1001, 'node shutting down');
  }

  // ---- connections ---------------------------------------------------------------------------

  /**
   * A new connection counts against connectionsMax, and until it logs on or subscribes also
   * against the bounds of unattached connections: per source address (refused past it) and in all
   * (the oldest unattached connection is displaced), so sockets that never log on cannot lock
   * traders out.
   */
  private onOpen(ws: uWS.WebSocket<Connection>): void {
    const address = Buffer.from(ws.getRemoteAddressAsText()).toString();
    const refuse = (reason: string) => {
      this.stats.connectionsRefused++;
      ws.end(1013, reason);
    };
    if (this.connections >= this.connectionsMax) return refuse(`too many connections (${this.connectionsMax}); try again later`);
    if ((this.unattachedByAddress.get(address) ?? 0) >= this.unattachedPerAddressMax) {
      return refuse(`${this.unattachedPerAddressMax} connections from ${address} not logged on yet; log on first`.slice(0, 120));
    }
    if (this.unattached.size >= this.unattachedMax) {
      const victim = this.displaceable();
      this.attached(victim);
      this.stats.connectionsDisplaced++;
      this.end(victim, 1013, 'displaced: too many connections not logged on; log on at once after connecting');
    }
    this.connections++;
    const conn = ws.getUserData();
    conn.open = true;
    conn.counted = true;
    conn.openedMs = Date.now();
    conn.address = address;
    this.unattached.add(ws);
    this.unattachedByAddress.set(address, (this.unattachedByAddress.get(address) ?? 0) + 1);
  }

  /**
   * Which unattached connection gives way to a new one: the oldest of the address holding the most,
   * so a flood displaces itself before a lone client that is about to log on.
   */
  private displaceable(): uWS.WebSocket<Connection> {
    let most = 0;
    for (const n of this.unattachedByAddress.values()) most = Math.max(most, n);
    for (const ws of this.unattached) if (this.unattachedByAddress.get(ws.getUserData().address!) === most) return ws;
    throw new Error('no unattached connection to displace');
  }

  /** The connection logged on, subscribed or closed: it no longer counts as unattached. */
  private attached(ws: uWS.WebSocket<Connection>): void {
    if (!this.unattached.delete(ws)) return;
    const address = ws.getUserData().address!;
    const n = this.unattachedByAddress.get(address)! - 1;
    if (n === 0) this.unattachedByAddress.delete(address);
    else this.unattachedByAddress.set(address, n);
  }

  /** A connection subscribing without a logon: within the public-data bounds, or refused (false). */
  private admitPublic(ws: uWS.WebSocket<Connection>): boolean {
    const conn = ws.getUserData();
    if (conn.session || conn.public) return true;
    const address = conn.address!;
    const fromAddress = this.publicByAddress.get(address) ?? 0;
    if (this.publicCount >= this.publicMax || fromAddress >= this.publicPerAddressMax) {
      this.stats.connectionsRefused++;
      const why = this.publicCount >= this.publicMax ? `${this.publicMax} in all` : `${this.publicPerAddressMax} from ${address}`;
      this.end(ws, 1013, `too many public-data connections without a logon (${why}); log on or try later`.slice(0, 120));
      return false;
    }
    conn.public = true;
    this.publicCount++;
    this.publicByAddress.set(address, fromAddress + 1);
    return true;
  }

  /** The connection logged on or closed: it no longer counts as public-only. */
  private leavePublic(conn: Connection): void {
    if (!conn.public) return;
    conn.public = false;
    this.publicCount--;
    const n = this.publicByAddress.get(conn.address!)! - 1;
    if (n === 0) this.publicByAddress.delete(conn.address!);
    else this.publicByAddress.set(conn.address!, n);
  }

  /** Connections not yet logged on or subscribed (what the flood bounds count). */
  get unattachedCount(): number { return this.unattached.size; }

  // ---- sending -------------------------------------------------------------------------------

  /** Encodes a message into the scratch buffer; returns its length. */
  private encode(encode: (v: DataView) => number): number {
    return encode(this.scratchView);
  }

  /** Queues `length` bytes of `bytes` for a connection; they go out at the end of the turn. */
  private send(ws: uWS.WebSocket<Connection>, bytes: Uint8Array, length: number, from = 0): void {
    const conn = ws.getUserData();
    if (!conn.open) return;
    const out = (conn.out ??= new PackedFrame());
    if (!out.fits(length)) {
      this.sendQueued(ws, conn);
      if (length > OUT_FRAME_BYTES) {
        ws.send(bytes.subarray(from, from + length), true);
        return this.checkBackpressure(ws);
      }
    }
    if (out.length === 0) this.dirty.push(ws);
    out.append(bytes, from, length);
    this.scheduleFlush();
  }

  private sendMessage(ws: uWS.WebSocket<Connection>, encode: (v: DataView) => number): void {
    this.send(ws, this.scratch, this.encode(encode));
  }

  /** Sends what is queued for a connection now, as one frame. */
  private sendQueued(ws: uWS.WebSocket<Connection>, conn: Connection): void {
    if (!conn.out || conn.out.length === 0) return;
    const frame = conn.out.take();
    ws.cork(() => ws.send(frame, true));
  }

  /** Queues a message for a topic's subscribers, if it has any. */
  private publish(topic: Topic, encode: (v: DataView) => number): void {
    if (topic.subscribers === 0) return;
    const length = this.encode(encode);
    if (!topic.out.fits(length)) {
      this.publishQueued(topic);
      if (length > OUT_FRAME_BYTES) return void this.app.publish(topic.name, this.scratch.subarray(0, length), true);
    }
    if (topic.out.length === 0) this.dirtyTopics.push(topic);
    topic.out.append(this.scratch, 0, length);
    this.scheduleFlush();
  }

  private publishQueued(topic: Topic): void {
    if (topic.out.length > 0) this.app.publish(topic.name, topic.out.take(), true);
  }

  private scheduleFlush(): void {
    if (this.flushScheduled) return;
    this.flushScheduled = true;
    setImmediate(() => this.flush());
  }

  /** The end of a turn: the book updates, then every topic's and connection's queued messages. */
  private flush(): void {
    this.flushScheduled = false;
    this.publishBook();
    const topics = this.dirtyTopics;
    this.dirtyTopics = [];
    for (const t of topics) this.publishQueued(t);
    if (topics.length > 0) for (const ws of this.subscribers) this.checkBackpressure(ws);
    const dirty = this.dirty;
    this.dirty = [];
    for (const ws of dirty) {
      const conn = ws.getUserData();
      if (!conn.open) continue;
      this.sendQueued(ws, conn);
      this.checkBackpressure(ws);
    }
    if (this.onOrderLatency) this.timeAcked();
  }

  /** Each order whose report this flush sends: its time in the node, frame in to report out. */
  private timeAcked(): void {
    if (this.acked.length === 0) return;
    const now = performance.now();
    for (const arrived of this.acked) this.onOrderLatency!(Math.round(1000 * (now - arrived)));
    this.acked = [];
  }

  /** Closes a connection after whatever is queued for it has been sent. */
  private end(ws: uWS.WebSocket<Connection>, code: number, reason: string): void {
    const conn = ws.getUserData();
    if (!conn.open) return; // closed, or being closed (a slow consumer)
    this.sendQueued(ws, conn);
    ws.end(code, reason);
  }

  private checkBackpressure(ws: uWS.WebSocket<Connection>): void {
    const conn = ws.getUserData();
    if (conn.open && ws.getBufferedAmount() > this.slowConsumerBytes) {
      this.stats.slowConsumers++;
      conn.open = false;
      ws.end(1008, `slow consumer: over ${this.slowConsumerBytes} bytes unsent`);
    }
  }

  private sendTo(session: Session, encode: (v: DataView) => number): void {
    session.lastOutMs = Date.now();
    this.sendMessage(session.ws, encode);
  }

  /**
   * A message of a key's stream, while a batch is applied: numbered, and written with the batch.
   * It is sent (release) once the batch is durable.
   */
  private stream(keyId: number, encode: (v: DataView, at: number, outSeq: number) => number): void {
    this.journal.encode(keyId, ++this.streamOf(keyId).outSeq, encode);
  }

  /** A key's stream (its outbound sequence continues from what is stored). */
  private streamOf(keyId: number): Stream {
    let stream = this.streams.get(keyId);
    if (!stream) {
      const last = this.journal.lastOutSeq(keyId);
      stream = { keyId, outSeq: last, released: last, bucket: new TokenBucket(this.limits.perKeyPerSecond, this.limits.burst, Date.now()), deadMansDeadlineMs: 0, account: 0 };
      this.streams.set(keyId, stream);
    }
    return stream;
  }

  /** A durable batch's stream messages go to the keys' sessions, if connected. */
  private release(frames: BatchFrames[]): void {
    const now = Date.now();
    for (const { keyId, blob, lastSeq } of frames) {
      const stream = this.streamOf(keyId);
      stream.released = lastSeq;
      const session = stream.session;
      if (!session) continue;
      session.lastOutMs = now;
      // The blob is the key's messages back to back: one frame as it is.
      this.send(session.ws, blob, blob.byteLength);
    }
  }

  /** The node stopped (a failed commit): nothing more can be acknowledged, so every session ends. */
  private fail(error: Error): void {
    for (const s of [...this.sessions]) this.end(s.ws, 1011, error.message.slice(0, 120));
  }

  /** A SessionReject naming the field at fault and, for an order, cancel or amend, its client order id. */
  private reject(ws: uWS.WebSocket<Connection>, refTemplateId: number, reason: sbe.RejectReason, field: string, text: string, refClOrdId = 0): void {
    this.stats.sessionRejects++;
    // The text is for people and may be cut to what the wire carries; the reason code is the contract.
    const clipped = text.length > TEXT_CHARS_MAX ? `${text.slice(0, TEXT_CHARS_MAX - 1)}~` : text;
    this.sendMessage(ws, (v) => sbe.encodeSessionReject(v, 0, { refTemplateId, reason, field, text: clipped, refClOrdId }));
  }

  // ---- inbound -------------------------------------------------------------------------------

  private onMessage(ws: uWS.WebSocket<Connection>, message: ArrayBuffer, isBinary: boolean): void {
    this.stats.frames++;
    if (!isBinary) return void ws.end(1003, 'frames must be binary SBE messages');
    if (message.byteLength > FRAME_BYTES_MAX) {
      return void ws.end(1009, `frame of ${message.byteLength} bytes: at most ${FRAME_BYTES_MAX}`);
    }
    let messages: sbe.Decoded[];
    const conn = ws.getUserData();
    try {
      // Before the logon is complete, messages may have to wait for it (held): decode a copy, as
      // uWS reuses the frame's memory once this callback returns.
      messages = sbe.decodeMessages(conn.session ? new Uint8Array(message) : new Uint8Array(message.slice(0)));
    } catch (e) {
      this.stats.unparseable++;
      const reason = e instanceof sbe.DecodeError ? `unparseable frame: ${e.message}` : 'unparseable frame';
      return void ws.end(1007, reason.slice(0, 120));
    }
    this.nowMs = Date.now();
    if (this.onOrderLatency) this.arrivedMs = performance.now();
    this.handle(ws, messages);
  }

  /** Handles decoded messages in order; those after a Logon whose nonce is being made durable wait for it. */
  private handle(ws: uWS.WebSocket<Connection>, messages: readonly sbe.Decoded[]): void {
    const conn = ws.getUserData();
    try {
      for (let i = 0; i < messages.length; i++) {
        if (!conn.open) return;
        if (conn.held) {
          if (conn.held.length + messages.length - i > HELD_MESSAGES_MAX) {
            return this.end(ws, 1008, `more than ${HELD_MESSAGES_MAX} messages before the logon completed`);
          }
          for (; i < messages.length; i++) conn.held.push(messages[i]);
          return;
        }
        this.onDecoded(ws, messages[i]);
      }
    } catch (e) {
      // A fault of ours must not take the node down: that connection is closed, and it is said.
      this.stats.internalErrors++;
      console.error('junction gateway: internal error handling a message:', e);
      this.end(ws, 1011, 'internal error');
    }
  }

  private onDecoded(ws: uWS.WebSocket<Connection>, decoded: sbe.Decoded): void {
    const conn = ws.getUserData();
    if (decoded.type === 'Logon') return this.logon(ws, decoded.message);
    if (decoded.type === 'Subscribe') return this.subscribe(ws, decoded.message);
    const session = conn.session;
    if (!session) return this.reject(ws, decoded.templateId, Reason.NotLoggedOn, 'templateId', 'log on first');
    session.lastInMs = this.nowMs;
    switch (decoded.type) {
      case 'TestRequest':
        return this.sendTo(session, (v) => sbe.encodeHeartbeat(v, 0, { testReqId: decoded.message.testReqId }));
      case 'Heartbeat':
        return;
      case 'Logout':
        return this.end(ws, 1000, 'logout');
      case 'ReplayRequest':
        // Each reads LMDB and sends up to REPLAY_MESSAGES_MAX messages: it costs a token.
        if (this.rateLimited(session, decoded.templateId, 0)) return;
        return this.replay(session, decoded.message.fromOutSeq);
      case 'DeadMansSwitch':
        if (!session.trade) return this.reject(ws, decoded.templateId, Reason.ReadOnlyKey, 'templateId', 'this API key may not trade');
        session.stream.deadMansDeadlineMs = decoded.message.timeoutMs === 0 ? 0 : Date.now() + decoded.message.timeoutMs;
        session.stream.account = session.account;
        if (session.stream.deadMansDeadlineMs === 0) this.armed.delete(session.stream);
        else this.armed.add(session.stream);
        return this.sendTo(session, (v) => sbe.encodeDeadMansSwitchAck(v, 0, {
          timeoutMs: decoded.message.timeoutMs, deadlineNs: BigInt(session.stream.deadMansDeadlineMs) * 1_000_000n,
        }));
      case 'OpenOrdersRequest':
        if (this.rateLimited(session, decoded.templateId, 0)) return;
        return this.openOrders(session, decoded.message.reqId);
      case 'BalancesRequest':
        if (this.rateLimited(session, decoded.templateId, 0)) return;
        return this.balances(session, decoded.message.reqId);
      case 'NewOrder':
        return this.newOrders(session, [decoded.message], decoded.templateId);
      case 'BatchNewOrders': {
        const n = decoded.message.orders.length;
        if (n === 0) return this.reject(ws, decoded.templateId, Reason.EmptyBatch, 'orders', 'a batch must hold at least one order');
        if (n > BATCH_ORDERS_MAX) return this.reject(ws, decoded.templateId, Reason.BatchTooLarge, 'orders', `${n} orders: a batch holds at most ${BATCH_ORDERS_MAX}`);
        return this.newOrders(session, decoded.message.orders, decoded.templateId);
      }
      case 'CancelOrder':
      case 'AmendOrder':
        return this.cancelOrAmend(session, decoded.message, decoded.templateId);
      case 'MassCancel':
        return this.massCancel(session, decoded.message);
      default:
        return this.reject(ws, decoded.templateId, Reason.Unsupported, 'templateId', `${decoded.type} is not accepted from clients`);
    }
  }

  private logon(ws: uWS.WebSocket<Connection>, m: sbe.Logon): void {
    const conn = ws.getUserData();
    if (conn.session) return this.reject(ws, sbe.TemplateId.Logon, Reason.AlreadyLoggedOn, 'templateId', 'this connection is logged on');
    const refuse = (why: LogonRefusal) => {
      this.sendMessage(ws, (v) => sbe.encodeLogout(v, 0, { reason: why, text: LOGON_REFUSAL_TEXT[why] }));
      this.end(ws, 1008, LOGON_REFUSAL_TEXT[why]);
    };
    const key = this.node.store.apiKey(m.keyId);
    if (!key) return refuse(Reason.UnknownKey);
    if (!verifyLogon(publicKeyFromRaw(key.publicKey), m.keyId, m.timestampNs, m.nonce, m.signature)) return refuse(Reason.BadSignature);
    const nowMs = Date.now();
    if (Math.abs(Number(m.timestampNs / 1_000_000n) - nowMs) > LOGON_SKEW_MS) return refuse(Reason.StaleLogon);
    if (!this.nonces.admit(m.keyId, m.nonce, nowMs)) return refuse(Reason.NonceReused);
    // The nonce is made durable before the logon completes, so a captured logon cannot be replayed
    // after a restart either; what the client sends meanwhile waits (conn.held). Authenticated, the
    // connection no longer counts as unattached (a flood cannot displace it meanwhile).
    this.attached(ws);
    conn.held = [];
    this.node.store.putLogonNonce(m.keyId, m.nonce, nowMs).then(() => {
      const held = conn.held!;
      conn.held = undefined;
      if (!conn.open) return;
      this.nowMs = Date.now();
      try {
        this.completeLogon(ws, m, key.account, key.permission === 'trade', this.nowMs);
      } catch (e) {
        this.stats.internalErrors++;
        console.error('junction gateway: internal error completing a logon:', e);
        return this.end(ws, 1011, 'internal error');
      }
      this.handle(ws, held);
    }, (e: Error) => {
      conn.held = undefined;
      console.error('junction gateway: a logon nonce could not be stored:', e);
      this.end(ws, 1011, 'logon could not be recorded; try again');
    });
  }

  private completeLogon(ws: uWS.WebSocket<Connection>, m: sbe.Logon, account: number, trade: boolean, nowMs: number): void {
    const conn = ws.getUserData();
    const stream = this.streamOf(m.keyId);
    // One connection per key: a newer logon takes the stream over.
    if (stream.session) this.end(stream.session.ws, 1000, 'replaced by a newer logon of this key');
    const heartbeatMs = Math.max(HEARTBEAT_MS_MIN, m.heartbeatMs || HEARTBEAT_MS_DEFAULT);
    const session: Session = {
      id: this.nextSessionId++, stream, account, trade,
      cancelOnDisconnect: m.cancelOnDisconnect === sbe.BooleanType.True, heartbeatMs, lastInMs: nowMs, lastOutMs: nowMs,
      bucket: new TokenBucket(this.limits.perConnectionPerSecond, this.limits.burst, nowMs), ws,
    };
    stream.session = session;
    conn.session = session;
    this.leavePublic(conn);
    this.attached(ws);
    this.sessions.add(session);
    this.sendTo(session, (v) => sbe.encodeLogonAck(v, 0, {
      sessionId: session.id, account, nextOutSeq: stream.released + 1, heartbeatMs,
      ordersPerSecond: Math.min(this.limits.perKeyPerSecond, this.limits.perConnectionPerSecond),
      readOnly: session.trade ? sbe.BooleanType.False : sbe.BooleanType.True,
    }));
    this.sendTo(session, (v) => this.encodeInstruments(v));
  }

  private encodeInstruments(v: DataView): number {
    return sbe.encodeInstrumentList(v, 0, {
      instruments: this.node.config.instruments.map((l) => {
        const assets = this.node.ledger.assets;
        const [base, quote] = [assets[this.node.ledger.assetIndex.get(l.base)!], assets[this.node.ledger.assetIndex.get(l.quote)!]];
        return {
          instrument: l.spec.id, symbol: l.symbol, tickSize: l.spec.tickSize, lotSize: l.spec.lotSize, minQty: l.spec.minQty, maxQty: l.spec.maxQty,
          base: base.code, quote: quote.code, baseScale: base.scale, quoteScale: quote.scale,
        };
      }),
    });
  }

  private join(ws: uWS.WebSocket<Connection>, topic: Topic): void {
    if (ws.isSubscribed(topic.name)) return;
    ws.subscribe(topic.name);
    this.attached(ws);
    topic.subscribers++;
    (ws.getUserData().topics ??= []).push(topic);
    this.subscribers.add(ws);
  }

  private onClose(ws: uWS.WebSocket<Connection>): void {
    const conn = ws.getUserData();
    if (!conn.counted) return; // refused at open
    conn.counted = false;
    this.connections--;
    this.attached(ws);
    this.leavePublic(conn);
    conn.open = false;
    for (const topic of conn.topics ?? []) topic.subscribers--;
    this.subscribers.delete(ws);
    const session = conn.session;
    if (!session) return;
    this.sessions.delete(session);
    if (session.stream.session === session) session.stream.session = undefined;
    if (session.cancelOnDisconnect) this.cancelAccountOrders(session.account);
  }

  /** Cancel-on-disconnect and the dead-man's switch: every order of the account. */
  private cancelAccountOrders(account: number): void {
    this.node.enqueue({ type: 'massCancel', account }, ignore, this.onNodeFailure);
  }

  /** Heartbeats out, heartbeat timeouts and dead-man's switches; once a minute, stale logon nonces go. */
  private tick(): void {
    const now = Date.now();
    if (now - this.noncesPrunedMs > NONCE_PRUNE_MS) {
      this.noncesPrunedMs = now;
      this.node.store.pruneLogonNonces(now - 2 * LOGON_SKEW_MS);
    }
    for (const ws of this.unattached) {
      if (now - ws.getUserData().openedMs! < this.attachMs) continue;
      this.attached(ws);
      this.end(ws, 1008, `no logon or subscription within ${this.attachMs} ms`);
    }
    for (const ws of this.subscribers) this.checkBackpressure(ws);
    for (const s of this.sessions) {
      if (now - s.lastInMs > 2 * s.heartbeatMs) {
        this.sendTo(s, (v) => sbe.encodeLogout(v, 0, { reason: Reason.HeartbeatTimeout, text: 'no message within two heartbeat intervals' }));
        this.end(s.ws, 1000, 'heartbeat timeout');
        continue;
      }
      if (now - s.lastOutMs >= s.heartbeatMs) this.sendTo(s, (v) => sbe.encodeHeartbeat(v, 0, { testReqId: 0 }));
    }
    for (const stream of this.armed) {
      if (now < stream.deadMansDeadlineMs) continue;
      stream.deadMansDeadlineMs = 0;
      this.armed.delete(stream);
      this.cancelAccountOrders(stream.account);
    }
  }

  private replay(session: Session, fromOutSeq: number): void {
    const released = session.stream.released;
    if (fromOutSeq > released + 1) {
      return this.reject(session.ws, sbe.TemplateId.ReplayRequest, Reason.BeyondStream, 'fromOutSeq',
        `${fromOutSeq} is past the last report sent, ${released}`);
    }
    let sent = 0;
    const from = Math.max(1, fromOutSeq);
    for (const frame of this.journal.framesFrom(session.stream.keyId, from, released)) {
      if (sent === REPLAY_MESSAGES_MAX) break;
      this.send(session.ws, frame, frame.byteLength);
      sent++;
    }
    this.sendTo(session, (v) => sbe.encodeReplayComplete(v, 0, { fromOutSeq: from, lastSentOutSeq: from + sent - 1, lastOutSeq: released }));
  }

  /** The account's open orders, oldest first, in parts when more than a group holds. */
  private openOrders(session: Session, reqId: number): void {
    const orders: sbe.OpenOrdersOrdersEntry[] = [];
    for (const o of this.node.pipeline.orders.values()) {
      if (o.account !== session.account) continue;
      const ref = this.refOf(o.id);
      orders.push({
        clOrdId: ref && ref.keyId === session.stream.keyId ? ref.clOrdId : 0, orderId: o.id, instrument: o.instrument,
        side: o.side as sbe.Side, price: o.limit, leavesQty: o.remaining,
      });
    }
    orders.sort((a, b) => a.orderId - b.orderId);
    const parts = Math.max(1, Math.ceil(orders.length / sbe.GROUP_ENTRIES_MAX));
    for (let part = 0; part < parts; part++) {
      const slice = orders.slice(part * sbe.GROUP_ENTRIES_MAX, (part + 1) * sbe.GROUP_ENTRIES_MAX);
      this.sendTo(session, (v) => sbe.encodeOpenOrders(v, 0, { reqId, part, parts, orders: slice }));
    }
  }

  /** Every asset the account holds something of. */
  private balances(session: Session, reqId: number): void {
    const ledger = this.node.ledger;
    const balances: sbe.BalancesBalancesEntry[] = [];
    ledger.assets.forEach((asset, i) => {
      const b = ledger.balance(session.account, i);
      if (b.available !== 0 || b.held !== 0) balances.push({ asset: asset.code, scale: asset.scale, available: b.available, held: b.held });
    });
    this.sendTo(session, (v) => sbe.encodeBalances(v, 0, { reqId, balances }));
  }

  /**
   * A cancel is free (no rate-limit token) only if it will take an order off: the order is open,
   * the key's account's, on the instrument named, and no free cancel of it is queued already.
   */
  private freeCancel(session: Session, m: sbe.CancelOrder, orderId: number): boolean {
    const open = this.node.pipeline.orders.get(orderId);
    return open !== undefined && open.account === session.account && open.instrument === m.instrument && !this.cancelling.has(orderId);
  }

  /**
   * Whether the node has `queuedMax` commands queued; then the request is refused as busy. New
   * orders and amends stop at the intake limit, cancels at twice it (they take risk off).
   */
  private busy(session: Session, templateId: number, clOrdId: number, queuedMax: number): boolean {
    if (this.node.queued < queuedMax) return false;
    this.reject(session.ws, templateId, Reason.Busy, 'clOrdId', `node busy: ${this.node.queued} commands queued; retry`, clOrdId);
    return true;
  }

  private rateLimited(session: Session, templateId: number, clOrdId: number): boolean {
    const now = this.nowMs;
    // Both buckets must have a token before either is taken: a refusal costs nothing.
    const perKey = session.stream.bucket.wait(now);
    const perConnection = perKey === 0 ? session.bucket.wait(now) : 0;
    if (perKey === 0 && perConnection === 0) {
      session.stream.bucket.take(now);
      session.bucket.take(now);
      return false;
    }
    const [name, limit, wait] = perKey > 0
      ? ['per-key', this.limits.perKeyPerSecond, perKey]
      : ['per-connection', this.limits.perConnectionPerSecond, perConnection];
    this.reject(session.ws, templateId, Reason.RateLimited, 'rateLimit', `${name} limit ${limit} orders/s; next in ${wait} ms`, clOrdId);
    return true;
  }

  private clOrdIdsOf(keyId: number): ClOrdIds {
    let m = this.clOrdIds.get(keyId);
    if (!m) this.clOrdIds.set(keyId, (m = new ClOrdIds(this.clOrdIdsRetained)));
    return m;
  }

  private retire(keyId: number, clOrdId: number, orderId: number): void {
    this.clOrdIdsOf(keyId).retire(clOrdId, orderId);
  }

  private newOrders(session: Session, orders: readonly sbe.NewOrder[], templateId: number): void {
    if (!session.trade) {
      for (const o of orders) this.reject(session.ws, templateId, Reason.ReadOnlyKey, 'templateId', 'this API key may not trade', o.clOrdId);
      return;
    }
    const keyId = session.stream.keyId;
    const ids = this.clOrdIdsOf(keyId).ids;
    for (const o of orders) {
      if (o.clOrdId === 0) {
        this.reject(session.ws, templateId, Reason.InvalidClOrdId, 'clOrdId', 'clOrdId must not be 0');
        continue;
      }
      if (this.busy(session, templateId, o.clOrdId, this.intakeQueuedMax)) continue;
      if (this.rateLimited(session, templateId, o.clOrdId)) continue;
      if (ids.has(o.clOrdId)) {
        this.reject(session.ws, templateId, Reason.DuplicateClOrdId, 'clOrdId', `clOrdId ${o.clOrdId} was already used`, o.clOrdId);
        continue;
      }
      const command: NodeCommand = {
        type: 'order', account: session.account, instrument: o.instrument, side: o.side, orderType: o.ordType, tif: o.timeInForce,
        price: o.price, qty: o.qty,
      };
      if (o.stpMode !== sbe.StpMode.None) command.stpMode = o.stpMode;
      ids.set(o.clOrdId, SEQUENCING);
      // The node applies and resolves its queue in order, so FIFOs say whose each outcome is:
      // no closure per order.
      this.placing.push(keyId);
      this.placing.push(o.clOrdId);
      if (this.onOrderLatency) this.arrivals.push(this.arrivedMs);
      this.node.enqueue(command, this.onOrderLatency ? this.orderDurable : ignore, this.onNodeFailure, this.placedNext);
    }
  }

  /** The next new order is durable: its report goes out with this turn's flush (onOrderLatency only). */
  private readonly orderDurable = (): void => {
    this.acked.push(this.arrivals.shift());
  };

  /**
   * The next new order's outcome, just applied: its client order id now names it (and the
   * reference is written with the batch); a reject is reported here, events by report().
   */
  private readonly placedNext = (outcome: Outcome, command: NodeCommand): void => {
    const keyId = this.placing.shift();
    const clOrdId = this.placing.shift();
    const orderId = outcome.orderId ?? 0;
    const ids = this.clOrdIdsOf(keyId);
    ids.ids.set(clOrdId, orderId);
    if (orderId) {
      if (outcome.ok) {
        // Held aside while its own events are reported; kept only if it is still open after.
        this.fresh.orderId = orderId;
        this.fresh.keyId = keyId;
        this.fresh.clOrdId = clOrdId;
      }
      this.journal.addRef(keyId, clOrdId, orderId);
    }
    if (!outcome.ok) {
      const o = command as OrderCommand;
      const r = this.executionReport;
      r.clOrdId = clOrdId; r.orderId = orderId; r.instrument = o.instrument; r.execType = sbe.ExecType.Rejected; r.side = o.side as sbe.Side;
      r.aggressor = sbe.BooleanType.False; r.rejectReason = (outcome.reason ?? 0) as sbe.RejectReason; r.price = o.price; r.qty = o.qty;
      r.cancelReason = sbe.CancelReason.None;
      r.lastPx = 0; r.lastQty = 0; r.leavesQty = 0; r.tradeId = 0; r.transactTimeNs = this.timeNs(outcome.ts); r.requestClOrdId = 0;
      this.streamExecution(keyId);
      this.retire(keyId, clOrdId, orderId);
    }
    const waiting = ids.followers.get(clOrdId);
    if (waiting) {
      ids.followers.delete(clOrdId);
      for (const follow of waiting) follow(orderId);
    }
  };

  private cancelOrAmend(session: Session, m: sbe.CancelOrder | sbe.AmendOrder, templateId: number): void {
    if (!session.trade) return this.reject(session.ws, templateId, Reason.ReadOnlyKey, 'templateId', 'this API key may not trade', m.clOrdId);
    // Its reports carry the request's client order id (requestClOrdId): 0 would not tell them apart.
    if (m.clOrdId === 0) return this.reject(session.ws, templateId, Reason.InvalidClOrdId, 'clOrdId', 'clOrdId must not be 0');
    const amend = 'price' in m;
    if (!('price' in m) && m.origClOrdId === 0 && m.orderId !== 0) {
      // By order id: one of this key's own orders (its reports go to this key), named as by its client order id.
      const ref = this.refOf(m.orderId);
      const mine = ref !== undefined && ref.keyId === session.stream.keyId;
      if (mine) m = { ...m, origClOrdId: ref.clOrdId };
      else {
        if (this.rateLimited(session, templateId, m.clOrdId)) return;
        const keyId = session.stream.keyId;
        return this.stream(keyId, (v, at, outSeq) => sbe.encodeCancelReject(v, at, { outSeq, clOrdId: m.clOrdId, origClOrdId: 0, reason: Reason.UnknownOrder }));
      }
    }
    if (this.busy(session, templateId, m.clOrdId, amend ? this.intakeQueuedMax : 2 * this.intakeQueuedMax)) return;
    const keyId = session.stream.keyId;
    const ids = this.clOrdIdsOf(keyId);
    const known = ids.ids.get(m.origClOrdId);
    // Amends cost a rate-limit token. Cancels take risk off and are free when they name an open
    // order (or are the first to follow one being sequenced); any other still costs a journal
    // record, so it costs a token.
    const free = !('price' in m) && (known === SEQUENCING ? !ids.followers.has(m.origClOrdId) : known !== undefined && this.freeCancel(session, m, known));
    if (!free && this.rateLimited(session, templateId, m.clOrdId)) return;
    if (free && known !== SEQUENCING) this.cancelling.add(known!);
    const cancelReject = (reason: sbe.RejectReason) => this.stream(keyId, (v, at, outSeq) => sbe.encodeCancelReject(v, at, {
      outSeq, clOrdId: m.clOrdId, origClOrdId: m.origClOrdId, reason,
    }));
    // Sequenced even for an unknown client order id (order id 0, which the node refuses), so the
    // attempt is journalled and its reject numbered and written like every stream message.
    const apply = (orderId: number) => {
      const command: NodeCommand = 'price' in m
        ? { type: 'amend', account: session.account, instrument: m.instrument, orderId, price: m.price, qty: m.qty }
        : { type: 'cancel', account: session.account, instrument: m.instrument, orderId };
      this.node.enqueue(command, ignore, this.onNodeFailure, (outcome) => {
        if (!amend) this.cancelling.delete(orderId);
        if (!outcome.ok) return cancelReject(orderId === 0 ? Reason.UnknownClOrdId : (outcome.reason ?? 0) as sbe.RejectReason);
        this.request.keyId = keyId;
        this.request.clOrdId = m.clOrdId;
      });
    };
    if (known === undefined) return apply(0);
    if (known !== SEQUENCING) return apply(known);
    // An order still being sequenced: the cancel or amend follows it.
    const waiting = ids.followers.get(m.origClOrdId);
    if (waiting) waiting.push(apply);
    else ids.followers.set(m.origClOrdId, [apply]);
  }

  private massCancel(session: Session, m: sbe.MassCancel): void {
    if (!session.trade) return this.reject(session.ws, sbe.TemplateId.MassCancel, Reason.ReadOnlyKey, 'templateId', 'this API key may not trade', m.clOrdId);
    if (m.clOrdId === 0) return this.reject(session.ws, sbe.TemplateId.MassCancel, Reason.InvalidClOrdId, 'clOrdId', 'clOrdId must not be 0');
    if (this.busy(session, sbe.TemplateId.MassCancel, m.clOrdId, 2 * this.intakeQueuedMax)) return;
    const command: NodeCommand = { type: 'massCancel', account: session.account };
    if (m.instrument) command.instrument = m.instrument;
    if (m.side !== sbe.SideFilter.Both) command.side = m.side;
    const keyId = session.stream.keyId;
    this.node.enqueue(command, ignore, this.onNodeFailure, () => {
      this.request.keyId = keyId;
      this.request.clOrdId = m.clOrdId;
      this.massCancelling = { keyId, clOrdId: m.clOrdId, instrument: m.instrument, side: m.side };
    });
  }

  // ---- market data ---------------------------------------------------------------------------

  private subscribe(ws: uWS.WebSocket<Connection>, m: sbe.Subscribe): void {
    if (m.instrument === 0) return this.sendMessage(ws, (v) => this.encodeInstruments(v));
    const book = this.bookTopics.get(m.instrument);
    if (!book) return this.reject(ws, sbe.TemplateId.Subscribe, Reason.UnknownInstrument, 'instrument', `no instrument ${m.instrument}`);
    if (!this.admitPublic(ws)) return;
    if (m.channel === sbe.Channel.Trades) {
      this.join(ws, this.tradeTopics.get(m.instrument)!);
      return this.sendMessage(ws, (v) => sbe.encodeSubscribeAck(v, 0, { instrument: m.instrument, channel: m.channel }));
    }
    // The snapshot goes out now, ahead of any update published at the end of this turn. It may
    // already hold changes that update (bookSeq + 1) carries: updates give levels' totals, so
    // applying one again changes nothing.
    this.join(ws, book);
    const snap = this.feed.snapshot(m.instrument);
    const parts = Math.max(1, Math.ceil(snap.levels.length / sbe.GROUP_ENTRIES_MAX));
    for (let part = 0; part < parts; part++) {
      const levels = snap.levels.slice(part * sbe.GROUP_ENTRIES_MAX, (part + 1) * sbe.GROUP_ENTRIES_MAX) as sbe.BookSnapshotLevelsEntry[];
      this.sendMessage(ws, (v) => sbe.encodeBookSnapshot(v, 0, { instrument: m.instrument, bookSeq: snap.bookSeq, part, parts, levels }));
    }
    this.sendQueued(ws, ws.getUserData());
  }

  private publishBook(): void {
    for (const u of this.feed.flush()) {
      this.publish(this.bookTopics.get(u.instrument)!, (v) => sbe.encodeBookUpdate(v, 0, {
        instrument: u.instrument, bookSeq: u.bookSeq, levels: u.levels as sbe.BookUpdateLevelsEntry[],
      }));
    }
  }

  // ---- reports -------------------------------------------------------------------------------

  /** Execution reports and market data for what a durable command did. */
  /** The execution reports of a command just applied (sent once its batch is durable). */
  private report(outcome: Outcome): void {
    this.reportTs = outcome.ts;
    outcome.forEachEvent(this.reportEvent);
    this.request.clOrdId = 0;
    const mass = this.massCancelling;
    if (mass) {
      this.massCancelling = undefined;
      let cancelled = 0;
      outcome.forEachEvent((e) => { if (e.kind === EventKind.Cancelled) cancelled++; });
      const rejectReason = (outcome.ok ? 0 : outcome.reason ?? 0) as sbe.RejectReason;
      this.stream(mass.keyId, (v, at, outSeq) => sbe.encodeMassCancelReport(v, at, {
        outSeq, clOrdId: mass.clOrdId, instrument: mass.instrument, side: mass.side, cancelled, rejectReason,
      }));
    }
    // A new order of this gateway that is still open after its own events keeps reporting.
    const fresh = this.fresh;
    if (fresh.orderId !== 0) {
      this.orders.set(fresh.orderId, { keyId: fresh.keyId, clOrdId: fresh.clOrdId });
      fresh.orderId = 0;
    }
  }

  /** The market data of a durable command: the book feed and public trades. */
  private marketData(outcome: Outcome): void {
    this.marketTs = outcome.ts;
    outcome.forEachEvent(this.marketEvent);
  }

  private readonly marketEvent = (e: CoreEvent): void => {
    if (this.feed.apply(e)) this.scheduleFlush();
    if (e.kind !== EventKind.Fill) return;
    const trades = this.tradeTopics.get(e.instrument);
    if (trades && trades.subscribers > 0) {
      this.publish(trades, (v) => sbe.encodeTrade(v, 0, {
        instrument: e.instrument, tradeId: e.tradeId, execTimeNs: this.timeNs(this.marketTs), price: e.price, qty: e.qty, aggressor: e.side as sbe.Side,
      }));
    }
  };

  /** One core event, just applied: the owners' execution reports. */
  private readonly reportEvent = (e: CoreEvent): void => {
    switch (e.kind) {
      case EventKind.Accepted:
        return this.executionFor(e.orderId, sbe.ExecType.New, e, e.side, e.qty, e.qty, 0, 0, 0, false);
      case EventKind.Fill: {
        this.executionFor(e.orderId, e.remaining === 0 ? sbe.ExecType.Fill : sbe.ExecType.PartialFill, e, e.side, e.qty, e.remaining, 0, e.price, e.qty, true);
        this.executionFor(e.makerOrderId, e.makerRemaining === 0 ? sbe.ExecType.Fill : sbe.ExecType.PartialFill, e, 1 - e.side,
          e.qty, e.makerRemaining, 0, e.price, e.qty, false);
        // A done order reports no more.
        if (e.remaining === 0) this.done(e.orderId);
        if (e.makerRemaining === 0) this.done(e.makerOrderId);
        return;
      }
      case EventKind.Cancelled:
        this.executionFor(e.orderId, sbe.ExecType.Cancelled, e, e.side, e.qty, 0, 0, 0, 0, false, CANCEL_REASON_BASE + e.reason);
        return this.done(e.orderId);
      case EventKind.Reduced:
        return this.executionFor(e.orderId, sbe.ExecType.Reduced, e, e.side, e.qty, e.remaining, 0, 0, 0, false);
      case EventKind.Amended:
        return this.executionFor(e.orderId, sbe.ExecType.Amended, e, e.side, e.qty, e.remaining, 0, 0, 0, false);
      default:
        return; // Rested follows New; Rejected is answered from the outcome.
    }
  };

  /** The transaction time in ns of a sequencer timestamp in µs (the BigInt is made once per batch). */
  private timeNs(ts: number): bigint {
    if (ts !== this.timeNsOf) {
      this.timeNsOf = ts;
      this.timeNsValue = BigInt(ts) * 1000n;
    }
    return this.timeNsValue;
  }

  /** Which key and client order id an order came from, if it still reports. */
  private refOf(orderId: number): OrderRef | undefined {
    return orderId === this.fresh.orderId ? this.fresh : this.orders.get(orderId);
  }

  private executionFor(orderId: number, execType: sbe.ExecType, e: CoreEvent, side: number, qty: number, leavesQty: number,
    rejectReason: number, lastPx: number, lastQty: number, aggressor: boolean, cancelReason = 0): void {
    const ref = this.refOf(orderId);
    if (!ref) return;
    const r = this.executionReport;
    r.clOrdId = ref.clOrdId; r.orderId = orderId; r.instrument = e.instrument; r.execType = execType; r.side = side as sbe.Side;
    r.aggressor = aggressor ? sbe.BooleanType.True : sbe.BooleanType.False; r.rejectReason = rejectReason as sbe.RejectReason; r.price = e.price; r.qty = qty;
    r.cancelReason = cancelReason as sbe.CancelReason;
    r.lastPx = lastPx; r.lastQty = lastQty; r.leavesQty = leavesQty;
    r.tradeId = execType === sbe.ExecType.Fill || execType === sbe.ExecType.PartialFill ? e.tradeId : 0;
    r.requestClOrdId = this.request.clOrdId !== 0 && this.request.keyId === ref.keyId ? this.request.clOrdId : 0;
    r.transactTimeNs = this.timeNs(this.reportTs);
    this.streamExecution(ref.keyId);
  }

  /** Sends this.executionReport on a key's stream. */
  private streamExecution(keyId: number): void {
    this.stream(keyId, this.encodeExecution);
  }

  private readonly encodeExecution = (v: DataView, at: number, outSeq: number): number => {
    this.executionReport.outSeq = outSeq;
    return sbe.encodeExecutionReport(v, at, this.executionReport);
  };

  /** An order that will report no more: its client order id is kept only for the retention window. */
  private done(orderId: number): void {
    if (orderId === this.fresh.orderId) {
      this.fresh.orderId = 0;
      return this.retire(this.fresh.keyId, this.fresh.clOrdId, orderId);
    }
    const ref = this.orders.get(orderId);
    if (!ref) return;
    this.orders.delete(orderId);
    this.retire(ref.keyId, ref.clOrdId, orderId);
  }
}
