// The market-maker gateway: the SBE protocol over uWebSockets.js. A connection logs on with an
// Ed25519-signed Logon, then enters orders; the node answers with execution reports once the batch
// holding the order is durable. Reports for resting orders that trade later go to every session of
// the order's account. A frame that does not decode closes its connection with the reason; a frame
// that decodes but is not allowed gets a SessionReject naming the field.
import uWS from 'uWebSockets.js';
import { EventKind, type CoreEvent } from '../../core/index.js';
import type { NodeCommand, Outcome } from '../../pipeline/commands.js';
import type { NodeRuntime } from '../../pipeline/runtime.js';
import * as sbe from '../../protocol/codec.js';
import { LOGON_REFUSAL_TEXT, LOGON_SKEW_MS, LogonRefusal, NonceWindow, publicKeyFromRaw, verifyLogon } from './auth.js';

export const FRAME_BYTES_MAX = 64 * 1024;
export const HEARTBEAT_MS_DEFAULT = 5_000;
export const SEND_BUFFER_BYTES = 1 << 16;

/** Stable SessionReject and Logout reasons. */
export const enum SessionReason {
  NotLoggedOn = 1, AlreadyLoggedOn = 2, ReadOnlyKey = 3, DuplicateClOrdId = 4, UnknownClOrdId = 5, Unsupported = 6,
  LogonRefused = 10,
}

/** Raises if uWebSockets.js has fallen back to its JavaScript implementation. */
export function assertNativeUws(): void {
  if (!/\[native code\]/.test(Function.prototype.toString.call(uWS.App))) {
    throw new Error('uWebSockets.js is running its JavaScript fallback, not its native binary');
  }
}

interface Session {
  id: number;
  keyId: number;
  account: number;
  trade: boolean;
  outSeq: number;
  cancelOnDisconnect: boolean;
  ws: uWS.WebSocket<Connection>;
}

interface Connection { session?: Session; open: boolean }

interface OrderRef { account: number; clOrdId: number }

export class GatewayServer {
  private readonly app: uWS.TemplatedApp;
  private listenSocket: uWS.us_listen_socket | undefined;
  private readonly nonces = new NonceWindow();
  private readonly sessionsByAccount = new Map<number, Set<Session>>();
  /** Per account: client order id → node order id (client order ids are idempotency keys). */
  private readonly clOrdIds = new Map<number, Map<number, number>>();
  private readonly orders = new Map<number, OrderRef>();
  private nextSessionId = 1;
  /** Frames received, frames that did not decode (their connection closed), session rejects sent. */
  readonly stats = { frames: 0, unparseable: 0, sessionRejects: 0 };
  private readonly out = new DataView(new ArrayBuffer(SEND_BUFFER_BYTES));

  constructor(private readonly node: NodeRuntime) {
    assertNativeUws();
    this.app = uWS.App().ws<Connection>('/ws', {
      compression: uWS.DISABLED,
      maxPayloadLength: FRAME_BYTES_MAX,
      idleTimeout: 0,
      open: (ws) => {
        ws.getUserData().open = true;
      },
      message: (ws, message, isBinary) => this.onMessage(ws, message, isBinary),
      close: (ws) => this.onClose(ws),
    });
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
    if (this.listenSocket) uWS.us_listen_socket_close(this.listenSocket);
    this.listenSocket = undefined;
    for (const sessions of this.sessionsByAccount.values()) for (const s of sessions) s.ws.end(1001, 'node shutting down');
  }

  private send(ws: uWS.WebSocket<Connection>, length: number): void {
    if (!ws.getUserData().open) return;
    ws.send(new Uint8Array(this.out.buffer, 0, length), true);
  }

  private sendTo(session: Session, encode: (v: DataView) => number): void {
    this.send(session.ws, encode(this.out));
  }

  private reject(ws: uWS.WebSocket<Connection>, refTemplateId: number, reason: SessionReason, field: string, text: string): void {
    this.stats.sessionRejects++;
    this.send(ws, sbe.encodeSessionReject(this.out, 0, { refTemplateId, reason, field, text }));
  }

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
    const session = conn.session;
    if (!session) return this.reject(ws, decoded.templateId, SessionReason.NotLoggedOn, 'templateId', 'log on first');
    switch (decoded.type) {
      case 'TestRequest':
        return this.sendTo(session, (v) => sbe.encodeHeartbeat(v, 0, { testReqId: decoded.message.testReqId }));
      case 'Heartbeat':
        return;
      case 'Logout':
        return void ws.end(1000, 'logout');
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
      this.send(ws, sbe.encodeLogout(this.out, 0, { reason: SessionReason.LogonRefused, text: LOGON_REFUSAL_TEXT[why] }));
      ws.end(1008, LOGON_REFUSAL_TEXT[why]);
    };
    const key = this.node.store.apiKey(m.keyId);
    if (!key) return refuse(LogonRefusal.UnknownKey);
    if (!verifyLogon(publicKeyFromRaw(key.publicKey), m.keyId, m.timestampNs, m.nonce, m.signature)) return refuse(LogonRefusal.BadSignature);
    const nowMs = Date.now();
    if (Math.abs(Number(m.timestampNs / 1_000_000n) - nowMs) > LOGON_SKEW_MS) return refuse(LogonRefusal.Stale);
    if (!this.nonces.admit(m.keyId, m.nonce, nowMs)) return refuse(LogonRefusal.Replayed);
    const session: Session = {
      id: this.nextSessionId++, keyId: m.keyId, account: key.account, trade: key.permission === 'trade', outSeq: 0,
      cancelOnDisconnect: m.cancelOnDisconnect === sbe.BooleanType.True, ws,
    };
    conn.session = session;
    let sessions = this.sessionsByAccount.get(key.account);
    if (!sessions) this.sessionsByAccount.set(key.account, (sessions = new Set()));
    sessions.add(session);
    this.sendTo(session, (v) => sbe.encodeLogonAck(v, 0, {
      sessionId: session.id, account: key.account, nextOutSeq: 1, heartbeatMs: m.heartbeatMs || HEARTBEAT_MS_DEFAULT,
      ordersPerSecond: 0, readOnly: session.trade ? sbe.BooleanType.False : sbe.BooleanType.True,
    }));
  }

  private onClose(ws: uWS.WebSocket<Connection>): void {
    const conn = ws.getUserData();
    conn.open = false;
    const session = conn.session;
    if (!session) return;
    this.sessionsByAccount.get(session.account)?.delete(session);
    if (session.cancelOnDisconnect) void this.node.submit({ type: 'massCancel', account: session.account }).then((o) => this.report(o));
  }

  private clOrdIdsOf(account: number): Map<number, number> {
    let m = this.clOrdIds.get(account);
    if (!m) this.clOrdIds.set(account, (m = new Map()));
    return m;
  }

  private newOrders(session: Session, orders: readonly sbe.NewOrder[], templateId: number): void {
    if (!session.trade) return this.reject(session.ws, templateId, SessionReason.ReadOnlyKey, 'templateId', 'this API key may not trade');
    const ids = this.clOrdIdsOf(session.account);
    for (const o of orders) {
      if (ids.has(o.clOrdId)) {
        this.reject(session.ws, templateId, SessionReason.DuplicateClOrdId, 'clOrdId', `clOrdId ${o.clOrdId} was already used`);
        continue;
      }
      ids.set(o.clOrdId, 0);
      const command: NodeCommand = {
        type: 'order', account: session.account, instrument: o.instrument, side: o.side, orderType: o.ordType, tif: o.timeInForce,
        price: o.price, qty: o.qty, ...(o.stpMode === sbe.StpMode.None ? {} : { stpMode: o.stpMode }),
      };
      void this.node.submit(command).then((outcome) => {
        if (outcome.orderId) {
          ids.set(o.clOrdId, outcome.orderId);
          this.orders.set(outcome.orderId, { account: session.account, clOrdId: o.clOrdId });
        }
        if (!outcome.ok) {
          this.execution(session.account, {
            clOrdId: o.clOrdId, orderId: outcome.orderId ?? 0, instrument: o.instrument, execType: sbe.ExecType.Rejected, side: o.side,
            rejectReason: outcome.reason ?? 0, price: o.price, qty: o.qty, leavesQty: 0, ts: outcome.ts,
          });
          return;
        }
        this.report(outcome);
      });
    }
  }

  private cancelOrAmend(session: Session, m: sbe.CancelOrder | sbe.AmendOrder, templateId: number): void {
    if (!session.trade) return this.reject(session.ws, templateId, SessionReason.ReadOnlyKey, 'templateId', 'this API key may not trade');
    const orderId = this.clOrdIdsOf(session.account).get(m.origClOrdId);
    const cancelReject = (reason: number) => this.sendTo(session, (v) => sbe.encodeCancelReject(v, 0, {
      outSeq: ++session.outSeq, clOrdId: m.clOrdId, origClOrdId: m.origClOrdId, reason,
    }));
    if (!orderId) return cancelReject(SessionReason.UnknownClOrdId);
    const command: NodeCommand = 'price' in m
      ? { type: 'amend', account: session.account, instrument: m.instrument, orderId, price: m.price, qty: m.qty }
      : { type: 'cancel', account: session.account, instrument: m.instrument, orderId };
    void this.node.submit(command).then((outcome) => {
      if (!outcome.ok) return cancelReject(outcome.reason ?? 0);
      this.report(outcome);
    });
  }

  private massCancel(session: Session, m: sbe.MassCancel): void {
    if (!session.trade) return this.reject(session.ws, sbe.TemplateId.MassCancel, SessionReason.ReadOnlyKey, 'templateId', 'this API key may not trade');
    const command: NodeCommand = {
      type: 'massCancel', account: session.account, ...(m.instrument ? { instrument: m.instrument } : {}),
      ...(m.side === sbe.SideFilter.Both ? {} : { side: m.side }),
    };
    void this.node.submit(command).then((o) => this.report(o));
  }

  /** Execution reports for what a durable command did, to every session of each order's account. */
  private report(outcome: Outcome): void {
    for (const e of outcome.events) this.reportEvent(e, outcome.ts);
  }

  private reportEvent(e: CoreEvent, ts: number): void {
    const base = { instrument: e.instrument, price: e.price, ts };
    switch (e.kind) {
      case EventKind.Accepted:
        return this.executionFor(e.orderId, { ...base, execType: sbe.ExecType.New, side: e.side, qty: e.qty, leavesQty: e.qty });
      case EventKind.Fill: {
        const fill = { ...base, lastPx: e.price, lastQty: e.qty, tradeId: e.tradeId, qty: e.qty };
        this.executionFor(e.orderId, {
          ...fill, side: e.side, aggressor: true, leavesQty: e.remaining,
          execType: e.remaining === 0 ? sbe.ExecType.Fill : sbe.ExecType.PartialFill,
        });
        return this.executionFor(e.makerOrderId, {
          ...fill, side: 1 - e.side, aggressor: false, leavesQty: e.makerRemaining,
          execType: e.makerRemaining === 0 ? sbe.ExecType.Fill : sbe.ExecType.PartialFill,
        });
      }
      case EventKind.Cancelled:
        return this.executionFor(e.orderId, { ...base, execType: sbe.ExecType.Cancelled, side: e.side, qty: e.qty, leavesQty: 0, rejectReason: e.reason });
      case EventKind.Reduced:
        return this.executionFor(e.orderId, { ...base, execType: sbe.ExecType.Reduced, side: e.side, qty: e.qty, leavesQty: e.remaining });
      case EventKind.Amended:
        return this.executionFor(e.orderId, { ...base, execType: sbe.ExecType.Amended, side: e.side, qty: e.qty, leavesQty: e.remaining });
      default:
        return; // Rested follows New; Rejected is answered from the outcome.
    }
  }

  private executionFor(orderId: number, r: Omit<Execution, 'clOrdId' | 'orderId'>): void {
    const ref = this.orders.get(orderId);
    if (!ref) return;
    this.execution(ref.account, { ...r, clOrdId: ref.clOrdId, orderId });
  }

  private execution(account: number, r: Execution): void {
    for (const session of this.sessionsByAccount.get(account) ?? []) {
      this.sendTo(session, (v) => sbe.encodeExecutionReport(v, 0, {
        outSeq: ++session.outSeq, clOrdId: r.clOrdId, orderId: r.orderId, instrument: r.instrument, execType: r.execType,
        side: r.side as sbe.Side, aggressor: r.aggressor ? sbe.BooleanType.True : sbe.BooleanType.False, rejectReason: r.rejectReason ?? 0,
        price: r.price, qty: r.qty, lastPx: r.lastPx ?? 0, lastQty: r.lastQty ?? 0, leavesQty: r.leavesQty, tradeId: r.tradeId ?? 0,
        transactTimeNs: BigInt(r.ts) * 1000n,
      }));
    }
  }
}

interface Execution {
  clOrdId: number; orderId: number; instrument: number; execType: sbe.ExecType; side: number; price: number; qty: number;
  leavesQty: number; ts: number; rejectReason?: number; lastPx?: number; lastQty?: number; tradeId?: number; aggressor?: boolean;
}
