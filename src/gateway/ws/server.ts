// The market-maker gateway: the SBE protocol over uWebSockets.js. This file is its wiring: the uWS
// app and its handlers, decoding and dispatch, and the gateway's listener of the node's batches.
// The jobs live beside it:
//   connections.ts  connection bounds (total, unattached, public; per source address)
//   sessions.ts     logon, heartbeats, the dead-man's switch, rate limits, replay, open orders, balances
//   order-entry.ts  new orders, cancels, amends, mass cancels: commands enqueued with their origin
//   market-data.ts  public books, trades and perpetuals' reference prices from durable batches
//   perp-accounts.ts each account's own perpetual figures, to its sessions, from durable batches
//   price-sources.ts price-source keys' signed index prices
//   admin.ts        operator keys' requests: venue registry queries and commands
//   outbox.ts       what goes out: one frame per connection per turn, topics, slow consumers
//   policy.ts       the information barrier: who may see each message that goes out
// The report streams (src/reports/) build every key's execution reports from the applied batches
// and are shared by every gateway on the node; this gateway sends a key's reports to its session.
// A frame that does not decode closes its connection with the reason; a decodable message that is
// not allowed gets a SessionReject naming the field; a fault of ours closes that connection, never
// the node.
import uWS from 'uWebSockets.js';
import type { AppliedBatch, NodeRuntime } from '../../pipeline/runtime.js';
import * as sbe from '../../protocol/codec.js';
import { ReportStreams } from '../../reports/report-streams.js';
import type { Connection, FrameClock, GatewayStats, Session, Ws } from './connection.js';
import { AdminRequests } from './admin.js';
import { ConnectionBounds } from './connections.js';
import { KeyStore } from './key-store.js';
import {
  ATTACH_MS, BATCH_ORDERS_MAX, CONNECTIONS_MAX, FRAME_BYTES_MAX, HELD_MESSAGES_MAX, INTAKE_QUEUED_MAX, PUBLIC_MAX,
  PUBLIC_PER_ADDRESS_MAX, RATE_LIMITS_DEFAULT, SLOW_CONSUMER_BYTES, TIMER_TICK_MS, UNATTACHED_MAX, UNATTACHED_PER_ADDRESS_MAX,
  UWS_PAYLOAD_MAX, type RateLimits,
} from './limits.js';
import { serveMetrics } from '../../ops/metrics.js';
import type { Permission } from './key-store.js';
import { MarketData } from './market-data.js';
import { OrderEntry } from './order-entry.js';
import { Outbox } from './outbox.js';
import { Policy } from './policy.js';
import { PerpAccounts } from './perp-accounts.js';
import { PriceSources } from './price-sources.js';
import { Sessions } from './sessions.js';
import { Site, type SiteOptions } from '../../site/site.js';

export * from './limits.js';
export { CLORDIDS_RETAINED } from '../../reports/report-streams.js';

const Reason = sbe.RejectReason;
/** uWS's listen option for a port bound without SO_REUSEPORT. */
const LIBUS_LISTEN_EXCLUSIVE_PORT = 1;

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
  /**
   * Finished orders per API key whose client order ids stay refused (default CLORDIDS_RETAINED);
   * the report streams are the node's, so the first gateway on a node sets it.
   */
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
  /**
   * The clock, in ms, that rate-limit buckets refill by (default: each frame's arrival by
   * Date.now). Tests hold it still, so a refill cannot land between the requests a check expects
   * refused, however slow the host.
   */
  rateClock?: () => number;
  /**
   * Serve the public disclosure site (OPS-3) on this port too: its pages and JSON API over HTTP,
   * its live channel as a websocket at /site (src/site/).
   */
  site?: SiteOptions;
}

/** Gateway ids, carried in the origin of the commands each enters. */
let nextGatewayId = 1;

export class GatewayServer {
  readonly id = nextGatewayId++;
  private readonly app: uWS.TemplatedApp;
  private listenSocket: uWS.us_listen_socket | undefined;
  /** Frames received and refused as unparseable, session rejects, slow consumers and refused connections. */
  readonly stats: GatewayStats = {
    frames: 0, unparseable: 0, sessionRejects: 0, slowConsumers: 0, internalErrors: 0, connectionsRefused: 0, connectionsDisplaced: 0, policyDrops: 0,
  };
  /** The AFMM changes this gateway's sessions' limits follow (Afmm.changes). */
  private afmmChanges: number;
  private readonly clock: FrameClock;
  /** The order being entered on the fast path, reused (order-entry reads it and keeps nothing of it). */
  private readonly order: sbe.NewOrder = { clOrdId: 0, instrument: 0, side: 0, ordType: 0, timeInForce: 0, stpMode: 0, price: 0, qty: 0, reduceOnly: 0 };
  private readonly streams: ReportStreams;
  private readonly outbox: Outbox;
  private readonly bounds: ConnectionBounds;
  private readonly sessions: Sessions;
  private readonly orderEntry: OrderEntry;
  private readonly marketData: MarketData;
  private readonly admin: AdminRequests;
  private readonly perpAccounts: PerpAccounts;
  private readonly priceSources: PriceSources;
  /** The public site, when this gateway serves it (options.site). */
  readonly site: Site | undefined;
  private readonly scheme: 'ws' | 'wss';
  private readonly timer: NodeJS.Timeout;
  private readonly onOrderLatency: GatewayOptions['onOrderLatency'];
  /** performance.now() at arrival of each order whose report this turn's flush sends (onOrderLatency only). */
  private readonly acked: number[] = [];
  /** What this gateway attached to the node and the report streams; close() undoes each. */
  private readonly detach: (() => void)[] = [];

  constructor(private readonly node: NodeRuntime, options: GatewayOptions = {}) {
    assertNativeUws();
    // Reports are derived as batches are applied: a gateway joining mid-batch would miss some.
    if (!node.idle) throw new Error('a gateway must be created while the node is idle (nothing queued or in flight)');
    const limits = options.limits ?? RATE_LIMITS_DEFAULT;
    const slowConsumerBytes = options.slowConsumerBytes ?? SLOW_CONSUMER_BYTES;
    this.onOrderLatency = options.onOrderLatency;
    this.clock = { nowMs: 0, arrivedMs: 0, ...(options.rateClock ? { rate: options.rateClock } : {}) };
    this.afmmChanges = node.pipeline.afmm.changes;
    this.scheme = options.tls ? 'wss' : 'ws';
    // Everything sent passes the data-access policy (AFMM-2), which knows who is an AFMM now.
    this.outbox = new Outbox(() => this.app, slowConsumerBytes, this.stats, new Policy((account) => node.pipeline.afmm.isAfmm(account), this.stats));
    this.bounds = new ConnectionBounds({
      connectionsMax: options.connectionsMax ?? CONNECTIONS_MAX,
      attachMs: options.attachMs ?? ATTACH_MS,
      unattachedMax: Math.max(1, options.unattachedMax ?? UNATTACHED_MAX),
      unattachedPerAddressMax: Math.max(1, options.unattachedPerAddressMax ?? UNATTACHED_PER_ADDRESS_MAX),
      publicMax: options.publicMax ?? PUBLIC_MAX,
      publicPerAddressMax: options.publicPerAddressMax ?? PUBLIC_PER_ADDRESS_MAX,
    }, this.outbox, this.stats);
    this.marketData = new MarketData(node, this.outbox, this.bounds);
    this.perpAccounts = new PerpAccounts(node, this.outbox);
    this.streams = ReportStreams.acquire(node, options.clOrdIdsRetained);
    this.detach.push(() => this.streams.release());
    try {
      this.sessions = new Sessions(node, new KeyStore(node.store), this.streams, this.outbox, this.bounds, limits, this.clock, this.stats,
        (ws, held) => this.handle(ws, held), (v) => this.marketData.encodeInstruments(v), this.perpAccounts);
      this.orderEntry = new OrderEntry(this.id, node, this.streams, this.sessions, this.outbox, this.clock,
        options.intakeQueuedMax ?? INTAKE_QUEUED_MAX, this.onOrderLatency !== undefined);
      this.admin = new AdminRequests(node, this.sessions, this.outbox);
      this.priceSources = new PriceSources(node, this.sessions, this.outbox);
      this.outbox.beforeFlush = () => this.marketData.publishBook();
      if (this.onOrderLatency) this.outbox.afterFlush = () => this.timeAcked();
      const app = options.tls ? uWS.SSLApp({ cert_file_name: options.tls.certFile, key_file_name: options.tls.keyFile }) : uWS.App();
      // The public site (OPS-3): its routes go on the app before the catch-all 404 below.
      if (options.site) {
        const site = (this.site = new Site(node, options.site));
        this.detach.push(() => site.close());
        site.mount(app);
      }
      this.app = app.ws<Connection>('/ws', {
        compression: uWS.DISABLED,
        maxPayloadLength: UWS_PAYLOAD_MAX,
        idleTimeout: 0,
        // Our own check (checkBackpressure, after each flush and on the timer) drops a slow consumer
        // with a reason past slowConsumerBytes; uWS's limit, twice that, is only a backstop.
        maxBackpressure: 2 * slowConsumerBytes,
        closeOnBackpressureLimit: 1,
        open: (ws) => this.bounds.open(ws),
        message: (ws, message, isBinary) => this.onMessage(ws, message, isBinary),
        drain: (ws) => this.outbox.checkBackpressure(ws),
        close: (ws) => this.onClose(ws),
      }).get('/metrics', (res, req) => serveMetrics(res, req, node)).any('/*', (res) => {
        // Anything but the protocol's path: say where it is (a websocket client sees the status).
        res.writeStatus('404 Not Found').end(options.site
          ? 'no such page: the public site starts at / (its pages are listed there, its data under /api/v1/); the protocol is a websocket at /ws\n'
          : 'Junction serves its protocol as a websocket at /ws\n');
      });
      // A key's reports go out to its session here once their batch is durable; market data is
      // built from durable batches only.
      this.detach.push(this.streams.onRelease(this.sessions.release));
      this.detach.push(node.attach({
        applied: (b) => this.applied(b),
        durable: (b) => this.durable(b),
        failed: (error) => this.sessions.fail(error),
      }));
    } catch (e) {
      // Nothing stays attached to the node for a gateway that failed to start.
      for (const undo of this.detach.splice(0)) undo();
      throw e;
    }
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

  /** Connections not yet logged on or subscribed (what the flood bounds count). */
  get unattachedCount(): number { return this.bounds.unattachedCount; }

  /** Sessions logged on, by their key's permission (what /metrics reports). */
  sessionCounts(): Record<Permission, number> {
    const counts: Record<Permission, number> = { trade: 0, read: 0, operator: 0, 'price-source': 0 };
    for (const s of this.sessions.all) counts[s.permission]++;
    return counts;
  }

  /** Stops listening, ends the sessions, and detaches everything this gateway attached to the node. */
  close(): void {
    clearInterval(this.timer);
    if (this.listenSocket) uWS.us_listen_socket_close(this.listenSocket);
    this.listenSocket = undefined;
    this.sessions.close();
    for (const undo of this.detach.splice(0)) undo();
  }

  private applied(b: AppliedBatch): void {
    this.orderEntry.applied(b);
    // What the perps changed, taken now and sent once durable. A fault of ours there must not
    // stop the node (a throw here would fail the batch): it is said, and those updates are lost.
    try {
      this.marketData.applied(b);
      this.perpAccounts.applied(b);
    } catch (e) {
      this.stats.internalErrors++;
      console.error('junction gateway: internal error deriving perpetuals\' updates:', e);
    }
  }

  private durable(b: AppliedBatch): void {
    this.marketData.durable(b);
    this.perpAccounts.durable(b);
    // An AFMM change in force: its sessions' rates follow it now (AFMM-4).
    const afmmChanges = this.node.pipeline.afmm.changes;
    if (afmmChanges !== this.afmmChanges) {
      this.afmmChanges = afmmChanges;
      this.sessions.refreshLimits(this.clock.rate?.() ?? Date.now());
    }
    if (!this.onOrderLatency) return;
    for (const { command } of b.commands) {
      if (command.type === 'order' && command.origin?.gateway === this.id) this.acked.push(command.origin.arrivedMs!);
    }
  }

  /** Each order whose report this flush sends: its time in the node, frame in to report out. */
  private timeAcked(): void {
    if (this.acked.length === 0) return;
    const now = performance.now();
    for (const arrived of this.acked) this.onOrderLatency!(Math.round(1000 * (now - arrived)));
    this.acked.length = 0;
  }

  private tick(): void {
    const now = Date.now();
    this.bounds.tick(now);
    for (const ws of this.outbox.subscribers) this.outbox.checkBackpressure(ws);
    this.sessions.tick(now);
  }

  private onClose(ws: Ws): void {
    if (!this.bounds.close(ws)) return; // refused at open
    this.marketData.left(ws);
    const session = ws.getUserData().session;
    if (session) this.sessions.closed(session);
  }

  // ---- inbound -------------------------------------------------------------------------------

  private onMessage(ws: Ws, message: ArrayBuffer, isBinary: boolean): void {
    this.stats.frames++;
    if (!isBinary) return void ws.end(1003, 'frames must be binary SBE messages');
    if (message.byteLength > FRAME_BYTES_MAX) {
      return void ws.end(1009, `frame of ${message.byteLength} bytes: at most ${FRAME_BYTES_MAX}`);
    }
    const conn = ws.getUserData();
    // The order path: a logged-on session's frame of orders is read in place, into one reused object.
    if (conn.session && !conn.held && this.ordersInPlace(ws, conn.session, message)) return;
    let messages: sbe.Decoded[];
    try {
      // Before the logon is complete, messages may have to wait for it (held): decode a copy, as
      // uWS reuses the frame's memory once this callback returns.
      messages = sbe.decodeMessages(conn.session ? new Uint8Array(message) : new Uint8Array(message.slice(0)));
    } catch (e) {
      this.stats.unparseable++;
      const reason = e instanceof sbe.DecodeError ? `unparseable frame: ${e.message}` : 'unparseable frame';
      return void ws.end(1007, reason.slice(0, 120));
    }
    this.clock.nowMs = Date.now();
    if (this.onOrderLatency) this.clock.arrivedMs = performance.now();
    this.handle(ws, messages);
  }

  /**
   * A frame holding only NewOrder and BatchNewOrders messages, handled without decoding them into
   * objects: checked whole first (as decodeMessages checks it), then each order read into one
   * reused object and entered. False (nothing done) for any other frame, which the general path
   * decodes, and refuses with the reason if it must.
   */
  private ordersInPlace(ws: Ws, session: Session, message: ArrayBuffer): boolean {
    const end = message.byteLength;
    if (end < 8) return false; // not even a header: the general path refuses it with the reason
    const v = new DataView(message);
    const order = this.order;
    try {
      for (let at = 0; at < end;) {
        const next = sbe.messageEnd(v, at, end);
        const templateId = v.getUint16(at + 2, true);
        const blockLength = v.getUint16(at, true);
        if (templateId === sbe.TemplateId.NewOrder) sbe.readNewOrder(v, at + 8, blockLength, next, order);
        else if (templateId === sbe.TemplateId.BatchNewOrders) {
          const [first, entryLength, count] = sbe.batchNewOrdersOrders(v, at + 8, blockLength, next);
          for (let i = 0; i < count; i++) sbe.readBatchNewOrdersOrdersEntry(v, first + i * entryLength, order);
        } else return false;
        at = next;
      }
    } catch {
      return false;
    }
    this.clock.nowMs = Date.now();
    if (this.onOrderLatency) this.clock.arrivedMs = performance.now();
    session.lastInMs = this.clock.nowMs;
    const conn = ws.getUserData();
    try {
      for (let at = 0; at < end && conn.open;) {
        const next = sbe.messageEnd(v, at, end);
        const templateId = v.getUint16(at + 2, true);
        const blockLength = v.getUint16(at, true);
        if (templateId === sbe.TemplateId.NewOrder) {
          this.orderEntry.newOrder(session, sbe.readNewOrder(v, at + 8, blockLength, next, order), templateId);
        } else {
          const [first, entryLength, count] = sbe.batchNewOrdersOrders(v, at + 8, blockLength, next);
          if (this.batchFits(ws, templateId, count)) for (let i = 0; i < count; i++) this.orderEntry.newOrder(session, sbe.readBatchNewOrdersOrdersEntry(v, first + i * entryLength, order), templateId);
        }
        at = next;
      }
    } catch (e) {
      this.stats.internalErrors++;
      console.error('junction gateway: internal error handling a message:', e);
      this.outbox.end(ws, 1011, 'internal error');
    }
    return true;
  }

  /** A BatchNewOrders holds 1 to BATCH_ORDERS_MAX orders; otherwise it is refused whole, by name. */
  private batchFits(ws: Ws, templateId: number, count: number): boolean {
    if (count === 0) this.outbox.reject(ws, templateId, Reason.EmptyBatch, 'orders', 'a batch must hold at least one order');
    else if (count > BATCH_ORDERS_MAX) this.outbox.reject(ws, templateId, Reason.BatchTooLarge, 'orders', `${count} orders: a batch holds at most ${BATCH_ORDERS_MAX}`);
    else return true;
    return false;
  }

  /** Handles decoded messages in order; those after a Logon whose nonce is being made durable wait for it. */
  private handle(ws: Ws, messages: readonly sbe.Decoded[]): void {
    const conn = ws.getUserData();
    try {
      for (let i = 0; i < messages.length; i++) {
        if (!conn.open) return;
        if (conn.held) {
          if (conn.held.length + messages.length - i > HELD_MESSAGES_MAX) {
            return this.outbox.end(ws, 1008, `more than ${HELD_MESSAGES_MAX} messages before the logon completed`);
          }
          for (; i < messages.length; i++) conn.held.push(messages[i]);
          return;
        }
        this.dispatch(ws, messages[i]);
      }
    } catch (e) {
      // A fault of ours must not take the node down: that connection is closed, and it is said.
      this.stats.internalErrors++;
      console.error('junction gateway: internal error handling a message:', e);
      this.outbox.end(ws, 1011, 'internal error');
    }
  }

  private dispatch(ws: Ws, decoded: sbe.Decoded): void {
    if (decoded.type === 'Logon') return this.sessions.logon(ws, decoded.message);
    if (decoded.type === 'Subscribe') return this.marketData.subscribe(ws, decoded.message);
    const session = ws.getUserData().session;
    if (!session) return this.outbox.reject(ws, decoded.templateId, Reason.NotLoggedOn, 'templateId', 'log on first');
    session.lastInMs = this.clock.nowMs;
    switch (decoded.type) {
      case 'TestRequest':
        return this.outbox.sendTo(session, (v) => sbe.encodeHeartbeat(v, 0, { testReqId: decoded.message.testReqId }));
      case 'Heartbeat':
        return;
      case 'Logout':
        return this.outbox.end(ws, 1000, 'logout');
      case 'ReplayRequest':
        // Each reads LMDB and sends up to REPLAY_MESSAGES_MAX messages: it costs a token.
        if (this.sessions.rateLimited(session, decoded.templateId, 0)) return;
        return this.sessions.replay(session, decoded.message.fromOutSeq);
      case 'DeadMansSwitch':
        return this.sessions.deadMansSwitch(session, decoded.message);
      // A refusal names the request's reqId (as refClOrdId), so the asker knows which it was.
      case 'OpenOrdersRequest':
        if (this.sessions.rateLimited(session, decoded.templateId, decoded.message.reqId)) return;
        return this.sessions.openOrders(session, decoded.message.reqId);
      case 'BalancesRequest':
        if (this.sessions.rateLimited(session, decoded.templateId, decoded.message.reqId)) return;
        return this.sessions.balances(session, decoded.message.reqId);
      case 'NewOrder':
        return this.orderEntry.newOrders(session, [decoded.message], decoded.templateId);
      case 'BatchNewOrders': {
        if (!this.batchFits(ws, decoded.templateId, decoded.message.orders.length)) return;
        return this.orderEntry.newOrders(session, decoded.message.orders, decoded.templateId);
      }
      case 'CancelOrder':
      case 'AmendOrder':
        return this.orderEntry.cancelOrAmend(session, decoded.message, decoded.templateId);
      case 'MassCancel':
        return this.orderEntry.massCancel(session, decoded.message);
      case 'AdminRequest':
        return this.admin.request(session, decoded.message);
      case 'PriceUpdate':
        return this.priceSources.update(session, decoded.message);
      default:
        return this.outbox.reject(ws, decoded.templateId, Reason.Unsupported, 'templateId', `${decoded.type} is not accepted from clients`);
    }
  }
}
