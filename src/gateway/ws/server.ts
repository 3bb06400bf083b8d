// The market-maker gateway: the SBE protocol over uWebSockets.js.
//
// A connection logs on with an Ed25519-signed Logon. Each API key has one outbound stream: its
// execution reports and cancel rejects carry an outbound sequence that continues across
// reconnects, are kept in LMDB, and can be replayed from any sequence (also after a node restart).
// Reports go out only once the batch holding the command is durable, and only to the key that
// entered the order. Public market data needs no logon: a Subscribe gets a snapshot and then the
// instrument's book updates (bookSeq rises by one each) or trades.
// A frame that does not decode closes its connection with the reason; a decodable message that is
// not allowed gets a SessionReject naming the field. A client that falls behind is disconnected
// (slow consumer); a session silent past its heartbeat timeout is closed; a dead-man's switch
// cancels a session's account orders when not refreshed in time.
import uWS from 'uWebSockets.js';
import { EventKind, type CoreEvent } from '../../core/index.js';
import { BookFeed } from '../../marketdata/book-feed.js';
import type { NodeCommand, Outcome } from '../../pipeline/commands.js';
import type { NodeRuntime } from '../../pipeline/runtime.js';
import * as sbe from '../../protocol/codec.js';
import { LOGON_REFUSAL_TEXT, LOGON_SKEW_MS, LogonRefusal, NonceWindow, publicKeyFromRaw, verifyLogon } from './auth.js';
import { RATE_LIMITS_DEFAULT, TokenBucket, type RateLimits } from './limits.js';
import { ReportJournal } from './report-journal.js';

export const FRAME_BYTES_MAX = 64 * 1024;
export const HEARTBEAT_MS_DEFAULT = 5_000;
export const HEARTBEAT_MS_MIN = 100;
/** Unsent bytes a connection may hold before it is disconnected as a slow consumer. */
export const SLOW_CONSUMER_BYTES = 4 * 1024 * 1024;
export const TIMER_TICK_MS = 50;
/** Messages one ReplayRequest returns at most; ask again from the next sequence for more. */
export const REPLAY_MESSAGES_MAX = 512;
const SEND_BUFFER_BYTES = 1 << 20;

/** Stable SessionReject and Logout reasons. */
export const enum SessionReason {
  NotLoggedOn = 1, AlreadyLoggedOn = 2, ReadOnlyKey = 3, DuplicateClOrdId = 4, UnknownClOrdId = 5, Unsupported = 6,
  RateLimited = 7, UnknownInstrument = 8, LogonRefused = 10, HeartbeatTimeout = 11,
}

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
}

interface Stream { keyId: number; outSeq: number; session?: Session; bucket: TokenBucket }

interface Session {
  id: number;
  stream: Stream;
  account: number;
  trade: boolean;
  cancelOnDisconnect: boolean;
  heartbeatMs: number;
  lastInMs: number;
  lastOutMs: number;
  deadMansDeadlineMs: number; // 0 when disarmed
  bucket: TokenBucket;
  ws: uWS.WebSocket<Connection>;
}

interface Connection { session?: Session; open: boolean; topics?: Set<string> }

interface OrderRef { keyId: number; clOrdId: number }

export class GatewayServer {
  private readonly app: uWS.TemplatedApp;
  private listenSocket: uWS.us_listen_socket | undefined;
  private readonly nonces = new NonceWindow();
  private readonly streams = new Map<number, Stream>();
  private readonly sessions = new Set<Session>();
  /**
   * Per API key: client order id → node order id, or the promise of it while the order is being
   * sequenced (client order ids are idempotency keys; a cancel may follow its order at once).
   */
  private readonly clOrdIds = new Map<number, Map<number, number | Promise<number>>>();
  private readonly orders = new Map<number, OrderRef>();
  private readonly feed = new BookFeed();
  /** Subscribers per topic ("book.1", "trades.1"): sent one by one so each is checked for backpressure. */
  private readonly topics = new Map<string, Set<uWS.WebSocket<Connection>>>();
  private feedScheduled = false;
  private nextSessionId = 1;
  private readonly out = new DataView(new ArrayBuffer(SEND_BUFFER_BYTES));
  private readonly timer: NodeJS.Timeout;
  private readonly limits: RateLimits;
  private readonly slowConsumerBytes: number;
  private readonly journal: ReportJournal;
  /** Frames received, frames that did not decode (their connection closed), session rejects sent. */
  readonly stats = { frames: 0, unparseable: 0, sessionRejects: 0, slowConsumers: 0 };

  constructor(private readonly node: NodeRuntime, options: GatewayOptions = {}) {
    assertNativeUws();
    this.limits = options.limits ?? RATE_LIMITS_DEFAULT;
    this.slowConsumerBytes = options.slowConsumerBytes ?? SLOW_CONSUMER_BYTES;
    this.feed.seed(node.pipeline.orders.values());
    this.journal = new ReportJournal(node.store as never);
    this.journal.loadRefs((keyId, clOrdId, orderId) => {
      this.clOrdIdsOf(keyId).set(clOrdId, orderId);
      this.orders.set(orderId, { keyId, clOrdId });
    });
    this.app = uWS.App().ws<Connection>('/ws', {
      compression: uWS.DISABLED,
      maxPayloadLength: FRAME_BYTES_MAX,
      idleTimeout: 0,
      // Our own check (checkBackpressure) drops a slow consumer with a reason at slowConsumerBytes;
      // uWS's limit, twice that, is only a backstop.
      maxBackpressure: 2 * (options.slowConsumerBytes ?? SLOW_CONSUMER_BYTES),
      closeOnBackpressureLimit: 1,
      open: (ws) => {
        ws.getUserData().open = true;
      },
      message: (ws, message, isBinary) => this.onMessage(ws, message, isBinary),
      drain: (ws) => this.checkBackpressure(ws),
      close: (ws) => this.onClose(ws),
    });
    this.timer = setInterval(() => this.tick(), TIMER_TICK_MS);
    this.timer.unref();
  }

  /** Listens on 127.0.0.1; resolves with the port (pass 0 for any free one). */
  listen(port: number): Promise<number> {
    return new Promise((resolve, reject) => {
      this.app.listen('127.0.0.1', port, (socket) => {
        if (!socket) return reject(new Error(`cannot listen on 127.0.0.1:${port}`));
        this.listenSocket = socket;
        resolve(uWS.us_socket_local_port(socket));
      });
    });
  }

  close(): void {
    clearInterval(this.timer);
    if (this.listenSocket) uWS.us_listen_socket_close(this.listenSocket);
    this.listenSocket = undefined;
    for (const s of [...this.sessions]) this.end(s.ws, 1001, 'node shutting down');
  }

  // ---- sending -------------------------------------------------------------------------------

  /**
   * Frames for each connection, sent together (corked: one write per connection) at the end of the
   * event-loop turn. Most sends happen in promise callbacks, outside uWS's own corking.
   */
  private outbox = new Map<uWS.WebSocket<Connection>, Uint8Array[]>();
  private outboxScheduled = false;

  private send(ws: uWS.WebSocket<Connection>, frame: Uint8Array): void {
    if (!ws.getUserData().open) return;
    let frames = this.outbox.get(ws);
    if (!frames) this.outbox.set(ws, (frames = []));
    frames.push(frame.slice());
    if (!this.outboxScheduled) {
      this.outboxScheduled = true;
      setImmediate(() => this.flushOutbox());
    }
  }

  /** Sends a connection's queued frames now (before it is closed). */
  private flushTo(ws: uWS.WebSocket<Connection>): void {
    const frames = this.outbox.get(ws);
    if (!frames) return;
    this.outbox.delete(ws);
    ws.cork(() => {
      for (const f of frames) ws.send(f, true);
    });
  }

  /** Closes a connection after whatever is queued for it has been sent. */
  private end(ws: uWS.WebSocket<Connection>, code: number, reason: string): void {
    if (ws.getUserData().open) this.flushTo(ws);
    ws.end(code, reason);
  }

  private flushOutbox(): void {
    this.outboxScheduled = false;
    const outbox = this.outbox;
    this.outbox = new Map();
    for (const [ws, frames] of outbox) {
      if (!ws.getUserData().open) continue;
      ws.cork(() => {
        for (const f of frames) ws.send(f, true);
      });
      this.checkBackpressure(ws);
    }
  }

  private checkBackpressure(ws: uWS.WebSocket<Connection>): void {
    const conn = ws.getUserData();
    if (conn.open && ws.getBufferedAmount() > this.slowConsumerBytes) {
      this.stats.slowConsumers++;
      conn.open = false;
      ws.end(1008, `slow consumer: over ${this.slowConsumerBytes} bytes unsent`);
    }
  }

  private frame(encode: (v: DataView) => number): Uint8Array {
    return new Uint8Array(this.out.buffer, 0, encode(this.out));
  }

  private sendTo(session: Session, encode: (v: DataView) => number): void {
    session.lastOutMs = Date.now();
    this.send(session.ws, this.frame(encode));
  }

  /** A message of a key's stream: numbered, kept for replay, sent if the key is connected. */
  private stream(keyId: number, encode: (v: DataView, outSeq: number) => number): void {
    const stream = this.streams.get(keyId);
    if (!stream) return;
    const outSeq = ++stream.outSeq;
    const frame = this.frame((v) => encode(v, outSeq));
    this.journal.add(keyId, outSeq, frame);
    if (stream.session) {
      stream.session.lastOutMs = Date.now();
      this.send(stream.session.ws, frame);
    }
  }

  private reject(ws: uWS.WebSocket<Connection>, refTemplateId: number, reason: SessionReason, field: string, text: string): void {
    this.stats.sessionRejects++;
    this.send(ws, this.frame((v) => sbe.encodeSessionReject(v, 0, { refTemplateId, reason, field, text })));
  }

  // ---- inbound -------------------------------------------------------------------------------

  private onMessage(ws: uWS.WebSocket<Connection>, message: ArrayBuffer, isBinary: boolean): void {
    this.stats.frames++;
    if (!isBinary) return void ws.end(1003, 'frames must be binary SBE messages');
    let decoded: sbe.Decoded;
    try {
      decoded = sbe.decodeFrame(new Uint8Array(message));
    } catch (e) {
      this.stats.unparseable++;
      const reason = e instanceof sbe.DecodeError ? `unparseable frame: ${e.message}` : 'unparseable frame';
      return void ws.end(1007, reason.slice(0, 120));
    }
    const conn = ws.getUserData();
    if (decoded.type === 'Logon') return this.logon(ws, decoded.message);
    if (decoded.type === 'Subscribe') return this.subscribe(ws, decoded.message);
    const session = conn.session;
    if (!session) return this.reject(ws, decoded.templateId, SessionReason.NotLoggedOn, 'templateId', 'log on first');
    session.lastInMs = Date.now();
    switch (decoded.type) {
      case 'TestRequest':
        return this.sendTo(session, (v) => sbe.encodeHeartbeat(v, 0, { testReqId: decoded.message.testReqId }));
      case 'Heartbeat':
        return;
      case 'Logout':
        return this.end(ws, 1000, 'logout');
      case 'ReplayRequest':
        return this.replay(session, decoded.message.fromOutSeq);
      case 'DeadMansSwitch':
        session.deadMansDeadlineMs = decoded.message.timeoutMs === 0 ? 0 : Date.now() + decoded.message.timeoutMs;
        return;
      case 'NewOrder':
        return this.newOrders(session, [decoded.message], decoded.templateId);
      case 'BatchNewOrders':
        return this.newOrders(session, decoded.message.orders, decoded.templateId);
      case 'CancelOrder':
      case 'AmendOrder':
        return this.cancelOrAmend(session, decoded.message, decoded.templateId);
      case 'MassCancel':
        return this.massCancel(session, decoded.message);
      default:
        return this.reject(ws, decoded.templateId, SessionReason.Unsupported, 'templateId', `${decoded.type} is not accepted from clients`);
    }
  }

  private logon(ws: uWS.WebSocket<Connection>, m: sbe.Logon): void {
    const conn = ws.getUserData();
    if (conn.session) return this.reject(ws, sbe.TemplateId.Logon, SessionReason.AlreadyLoggedOn, 'templateId', 'this connection is logged on');
    const refuse = (why: LogonRefusal) => {
      this.send(ws, this.frame((v) => sbe.encodeLogout(v, 0, { reason: SessionReason.LogonRefused, text: LOGON_REFUSAL_TEXT[why] })));
      this.end(ws, 1008, LOGON_REFUSAL_TEXT[why]);
    };
    const key = this.node.store.apiKey(m.keyId);
    if (!key) return refuse(LogonRefusal.UnknownKey);
    if (!verifyLogon(publicKeyFromRaw(key.publicKey), m.keyId, m.timestampNs, m.nonce, m.signature)) return refuse(LogonRefusal.BadSignature);
    const nowMs = Date.now();
    if (Math.abs(Number(m.timestampNs / 1_000_000n) - nowMs) > LOGON_SKEW_MS) return refuse(LogonRefusal.Stale);
    if (!this.nonces.admit(m.keyId, m.nonce, nowMs)) return refuse(LogonRefusal.Replayed);
    let stream = this.streams.get(m.keyId);
    if (!stream) {
      stream = { keyId: m.keyId, outSeq: this.journal.lastOutSeq(m.keyId), bucket: new TokenBucket(this.limits.perKeyPerSecond, this.limits.burst, nowMs) };
      this.streams.set(m.keyId, stream);
    }
    // One connection per key: a newer logon takes the stream over.
    if (stream.session) this.end(stream.session.ws, 1000, 'replaced by a newer logon of this key');
    const heartbeatMs = Math.max(HEARTBEAT_MS_MIN, m.heartbeatMs || HEARTBEAT_MS_DEFAULT);
    const session: Session = {
      id: this.nextSessionId++, stream, account: key.account, trade: key.permission === 'trade',
      cancelOnDisconnect: m.cancelOnDisconnect === sbe.BooleanType.True, heartbeatMs, lastInMs: nowMs, lastOutMs: nowMs,
      deadMansDeadlineMs: 0, bucket: new TokenBucket(this.limits.perConnectionPerSecond, this.limits.burst, nowMs), ws,
    };
    stream.session = session;
    conn.session = session;
    this.sessions.add(session);
    this.sendTo(session, (v) => sbe.encodeLogonAck(v, 0, {
      sessionId: session.id, account: key.account, nextOutSeq: stream.outSeq + 1, heartbeatMs,
      ordersPerSecond: Math.min(this.limits.perKeyPerSecond, this.limits.perConnectionPerSecond),
      readOnly: session.trade ? sbe.BooleanType.False : sbe.BooleanType.True,
    }));
    this.sendTo(session, (v) => this.encodeInstruments(v));
  }

  private encodeInstruments(v: DataView): number {
    return sbe.encodeInstrumentList(v, 0, {
      instruments: this.node.config.instruments.map((l) => ({
        instrument: l.spec.id, symbol: l.symbol, tickSize: l.spec.tickSize, lotSize: l.spec.lotSize, minQty: l.spec.minQty, maxQty: l.spec.maxQty,
      })),
    });
  }

  private join(ws: uWS.WebSocket<Connection>, topic: string): void {
    let set = this.topics.get(topic);
    if (!set) this.topics.set(topic, (set = new Set()));
    set.add(ws);
    const conn = ws.getUserData();
    (conn.topics ??= new Set()).add(topic);
  }

  private publish(topic: string, frame: Uint8Array): void {
    for (const ws of this.topics.get(topic) ?? []) this.send(ws, frame);
  }

  private onClose(ws: uWS.WebSocket<Connection>): void {
    const conn = ws.getUserData();
    conn.open = false;
    for (const topic of conn.topics ?? []) this.topics.get(topic)?.delete(ws);
    const session = conn.session;
    if (!session) return;
    this.sessions.delete(session);
    if (session.stream.session === session) session.stream.session = undefined;
    if (session.cancelOnDisconnect) this.cancelAll(session);
  }

  private cancelAll(session: Session): void {
    void this.node.submit({ type: 'massCancel', account: session.account }).then((o) => this.report(o));
  }

  /** Heartbeats out, heartbeat timeouts and dead-man's switches. */
  private tick(): void {
    const now = Date.now();
    for (const s of this.sessions) {
      if (now - s.lastInMs > 2 * s.heartbeatMs) {
        this.sendTo(s, (v) => sbe.encodeLogout(v, 0, { reason: SessionReason.HeartbeatTimeout, text: 'no message within two heartbeat intervals' }));
        this.end(s.ws, 1000, 'heartbeat timeout');
        continue;
      }
      if (now - s.lastOutMs >= s.heartbeatMs) this.sendTo(s, (v) => sbe.encodeHeartbeat(v, 0, { testReqId: 0 }));
      if (s.deadMansDeadlineMs !== 0 && now >= s.deadMansDeadlineMs) {
        s.deadMansDeadlineMs = 0;
        this.cancelAll(s);
      }
    }
  }

  private replay(session: Session, fromOutSeq: number): void {
    let sent = 0;
    for (const frame of this.journal.framesFrom(session.stream.keyId, Math.max(1, fromOutSeq))) {
      if (sent === REPLAY_MESSAGES_MAX) break;
      this.send(session.ws, frame);
      sent++;
    }
  }

  private rateLimited(session: Session, templateId: number): boolean {
    const now = Date.now();
    const perKey = session.stream.bucket.take(now);
    const perConnection = perKey === 0 ? session.bucket.take(now) : 0;
    if (perKey === 0 && perConnection === 0) return false;
    const [name, limit, wait] = perKey > 0
      ? ['per-key', this.limits.perKeyPerSecond, perKey]
      : ['per-connection', this.limits.perConnectionPerSecond, perConnection];
    this.reject(session.ws, templateId, SessionReason.RateLimited, 'rateLimit', `${name} limit ${limit} orders/s; next in ${wait} ms`);
    return true;
  }

  private clOrdIdsOf(keyId: number): Map<number, number | Promise<number>> {
    let m = this.clOrdIds.get(keyId);
    if (!m) this.clOrdIds.set(keyId, (m = new Map()));
    return m;
  }

  private newOrders(session: Session, orders: readonly sbe.NewOrder[], templateId: number): void {
    if (!session.trade) return this.reject(session.ws, templateId, SessionReason.ReadOnlyKey, 'templateId', 'this API key may not trade');
    const keyId = session.stream.keyId;
    const ids = this.clOrdIdsOf(keyId);
    for (const o of orders) {
      if (this.rateLimited(session, templateId)) continue;
      if (ids.has(o.clOrdId)) {
        this.reject(session.ws, templateId, SessionReason.DuplicateClOrdId, 'clOrdId', `clOrdId ${o.clOrdId} was already used`);
        continue;
      }
      const command: NodeCommand = {
        type: 'order', account: session.account, instrument: o.instrument, side: o.side, orderType: o.ordType, tif: o.timeInForce,
        price: o.price, qty: o.qty, ...(o.stpMode === sbe.StpMode.None ? {} : { stpMode: o.stpMode }),
      };
      const placed = this.node.submit(command).then((outcome) => {
        const orderId = outcome.orderId ?? 0;
        ids.set(o.clOrdId, orderId);
        if (orderId) {
          this.orders.set(orderId, { keyId, clOrdId: o.clOrdId });
          this.journal.addRef(keyId, o.clOrdId, orderId);
        }
        if (!outcome.ok) {
          this.execution(keyId, {
            clOrdId: o.clOrdId, orderId, instrument: o.instrument, execType: sbe.ExecType.Rejected, side: o.side,
            rejectReason: outcome.reason ?? 0, price: o.price, qty: o.qty, leavesQty: 0, ts: outcome.ts,
          });
        } else {
          this.report(outcome);
        }
        return orderId;
      });
      ids.set(o.clOrdId, placed);
    }
  }

  private cancelOrAmend(session: Session, m: sbe.CancelOrder | sbe.AmendOrder, templateId: number): void {
    if (!session.trade) return this.reject(session.ws, templateId, SessionReason.ReadOnlyKey, 'templateId', 'this API key may not trade');
    if ('price' in m && this.rateLimited(session, templateId)) return;
    const keyId = session.stream.keyId;
    const known = this.clOrdIdsOf(keyId).get(m.origClOrdId);
    const cancelReject = (reason: number) => this.stream(keyId, (v, outSeq) => sbe.encodeCancelReject(v, 0, {
      outSeq, clOrdId: m.clOrdId, origClOrdId: m.origClOrdId, reason,
    }));
    const apply = (orderId: number) => {
      if (!orderId) return cancelReject(SessionReason.UnknownClOrdId);
      const command: NodeCommand = 'price' in m
        ? { type: 'amend', account: session.account, instrument: m.instrument, orderId, price: m.price, qty: m.qty }
        : { type: 'cancel', account: session.account, instrument: m.instrument, orderId };
      void this.node.submit(command).then((outcome) => {
        if (!outcome.ok) return cancelReject(outcome.reason ?? 0);
        this.report(outcome);
      });
    };
    if (known === undefined) return apply(0);
    // An order still being sequenced: the cancel or amend follows it.
    if (typeof known === 'number') return apply(known);
    void known.then(apply);
  }

  private massCancel(session: Session, m: sbe.MassCancel): void {
    if (!session.trade) return this.reject(session.ws, sbe.TemplateId.MassCancel, SessionReason.ReadOnlyKey, 'templateId', 'this API key may not trade');
    const command: NodeCommand = {
      type: 'massCancel', account: session.account, ...(m.instrument ? { instrument: m.instrument } : {}),
      ...(m.side === sbe.SideFilter.Both ? {} : { side: m.side }),
    };
    void this.node.submit(command).then((o) => this.report(o));
  }

  // ---- market data ---------------------------------------------------------------------------

  private subscribe(ws: uWS.WebSocket<Connection>, m: sbe.Subscribe): void {
    if (m.instrument === 0) return this.send(ws, this.frame((v) => this.encodeInstruments(v)));
    if (!this.node.config.instruments.some((l) => l.spec.id === m.instrument)) {
      return this.reject(ws, sbe.TemplateId.Subscribe, SessionReason.UnknownInstrument, 'instrument', `no instrument ${m.instrument}`);
    }
    if (m.channel === sbe.Channel.Trades) return this.join(ws, `trades.${m.instrument}`);
    this.join(ws, `book.${m.instrument}`);
    const snap = this.feed.snapshot(m.instrument);
    this.send(ws, this.frame((v) => sbe.encodeBookSnapshot(v, 0, {
      instrument: m.instrument, bookSeq: snap.bookSeq, levels: snap.levels.map((l) => ({ ...l, side: l.side as sbe.Side })),
    })));
  }

  private publishBook(): void {
    this.feedScheduled = false;
    for (const u of this.feed.flush()) {
      this.publish(`book.${u.instrument}`, this.frame((v) => sbe.encodeBookUpdate(v, 0, {
        instrument: u.instrument, bookSeq: u.bookSeq, levels: u.levels.map((l) => ({ ...l, side: l.side as sbe.Side })),
      })));
    }
  }

  // ---- reports -------------------------------------------------------------------------------

  /** Execution reports and market data for what a durable command did. */
  private report(outcome: Outcome): void {
    for (const e of outcome.events) {
      this.feed.apply(e);
      this.reportEvent(e, outcome.ts);
    }
    if (!this.feedScheduled) {
      this.feedScheduled = true;
      setImmediate(() => this.publishBook());
    }
  }

  private reportEvent(e: CoreEvent, ts: number): void {
    switch (e.kind) {
      case EventKind.Accepted:
        return this.executionFor(e.orderId, sbe.ExecType.New, e, e.side, e.qty, e.qty, 0, 0, 0, false, ts);
      case EventKind.Fill: {
        this.publish(`trades.${e.instrument}`, this.frame((v) => sbe.encodeTrade(v, 0, {
          instrument: e.instrument, tradeId: e.tradeId, execTimeNs: BigInt(ts) * 1000n, price: e.price, qty: e.qty, aggressor: e.side as sbe.Side,
        })));
        this.executionFor(e.orderId, e.remaining === 0 ? sbe.ExecType.Fill : sbe.ExecType.PartialFill, e, e.side, e.qty, e.remaining, 0, e.price, e.qty, true, ts);
        return this.executionFor(e.makerOrderId, e.makerRemaining === 0 ? sbe.ExecType.Fill : sbe.ExecType.PartialFill, e, 1 - e.side,
          e.qty, e.makerRemaining, 0, e.price, e.qty, false, ts);
      }
      case EventKind.Cancelled:
        return this.executionFor(e.orderId, sbe.ExecType.Cancelled, e, e.side, e.qty, 0, e.reason, 0, 0, false, ts);
      case EventKind.Reduced:
        return this.executionFor(e.orderId, sbe.ExecType.Reduced, e, e.side, e.qty, e.remaining, 0, 0, 0, false, ts);
      case EventKind.Amended:
        return this.executionFor(e.orderId, sbe.ExecType.Amended, e, e.side, e.qty, e.remaining, 0, 0, 0, false, ts);
      default:
        return; // Rested follows New; Rejected is answered from the outcome.
    }
  }

  private executionFor(orderId: number, execType: sbe.ExecType, e: CoreEvent, side: number, qty: number, leavesQty: number,
    rejectReason: number, lastPx: number, lastQty: number, aggressor: boolean, ts: number): void {
    const ref = this.orders.get(orderId);
    if (!ref) return;
    this.execution(ref.keyId, {
      clOrdId: ref.clOrdId, orderId, instrument: e.instrument, execType, side, price: e.price, qty, leavesQty, ts,
      rejectReason, lastPx, lastQty, tradeId: execType === sbe.ExecType.Fill || execType === sbe.ExecType.PartialFill ? e.tradeId : 0, aggressor,
    });
  }

  private execution(keyId: number, r: Execution): void {
    this.stream(keyId, (v, outSeq) => sbe.encodeExecutionReport(v, 0, {
      outSeq, clOrdId: r.clOrdId, orderId: r.orderId, instrument: r.instrument, execType: r.execType,
      side: r.side as sbe.Side, aggressor: r.aggressor ? sbe.BooleanType.True : sbe.BooleanType.False, rejectReason: r.rejectReason ?? 0,
      price: r.price, qty: r.qty, lastPx: r.lastPx ?? 0, lastQty: r.lastQty ?? 0, leavesQty: r.leavesQty, tradeId: r.tradeId ?? 0,
      transactTimeNs: BigInt(r.ts) * 1000n,
    }));
  }
}

interface Execution {
  clOrdId: number; orderId: number; instrument: number; execType: sbe.ExecType; side: number; price: number; qty: number;
  leavesQty: number; ts: number; rejectReason?: number; lastPx?: number; lastQty?: number; tradeId?: number; aggressor?: boolean;
}
