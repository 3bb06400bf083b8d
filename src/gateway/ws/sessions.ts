// Sessions: Ed25519 logon (its nonce made durable before it completes), one session per API key,
// heartbeats, the dead-man's switch (the key's, firing also when its connection has died),
// cancel-on-disconnect, rate limits, and the session's requests: replay of its report stream,
// open orders, balances. A key's reports reach its session here once their batch is durable; an
// account's perpetual figures follow its sessions (perp-accounts.ts), told of each logon and close.
import * as sbe from '../../protocol/codec.js';
import type { NodeRuntime } from '../../pipeline/runtime.js';
import type { ReportStreams } from '../../reports/report-streams.js';
import { LOGON_REFUSAL_TEXT, LOGON_SKEW_MS, NonceWindow, publicKeyFromRaw, verifyLogon, type LogonRefusal } from './auth.js';
import type { FrameClock, GatewayStats, KeyState, Session, Ws } from './connection.js';
import type { ConnectionBounds } from './connections.js';
import type { ApiKeyRecord, KeyStore } from './key-store.js';
import { HEARTBEAT_MS_DEFAULT, HEARTBEAT_MS_MIN, NONCE_PRUNE_MS, REPLAY_MESSAGES_MAX, TokenBucket, type RateLimits } from './limits.js';
import type { Outbox } from './outbox.js';

const Reason = sbe.RejectReason;

export class Sessions {
  private readonly nonces = new NonceWindow();
  private readonly keys = new Map<number, KeyState>();
  readonly all = new Set<Session>();
  /** Keys whose dead-man's switch is armed, connected or not. */
  private readonly armed = new Set<KeyState>();
  private nextSessionId = 1;
  private noncesPrunedMs = Date.now();

  constructor(
    private readonly node: NodeRuntime,
    private readonly keyStore: KeyStore,
    private readonly streams: ReportStreams,
    private readonly outbox: Outbox,
    private readonly bounds: ConnectionBounds,
    private readonly limits: RateLimits,
    private readonly clock: FrameClock,
    private readonly stats: GatewayStats,
    /** Handles the messages that waited for a logon to complete. */
    private readonly handleHeld: (ws: Ws, messages: readonly sbe.Decoded[]) => void,
    /** The InstrumentList that follows a LogonAck. */
    private readonly encodeInstruments: (v: DataView) => number,
    /** Told of each session that logs on (after its InstrumentList) and of each that ends. */
    private readonly watchers: { joined(session: Session): void; left(session: Session): void },
  ) {
    this.nonces.load(keyStore.logonNoncesSince(Date.now() - 2 * LOGON_SKEW_MS));
  }

  /** This gateway's state of an API key. */
  keyOf(keyId: number): KeyState {
    let key = this.keys.get(keyId);
    if (!key) this.keys.set(keyId, (key = { keyId, bucket: new TokenBucket(this.limits.perKeyPerSecond, this.limits.burst, this.clock.rate?.() ?? Date.now()), deadMansDeadlineMs: 0, account: 0 }));
    return key;
  }

  logon(ws: Ws, m: sbe.Logon): void {
    const conn = ws.getUserData();
    if (conn.session) return this.outbox.reject(ws, sbe.TemplateId.Logon, Reason.AlreadyLoggedOn, 'templateId', 'this connection is logged on');
    const refuse = (why: LogonRefusal) => {
      this.outbox.sendMessage(ws, (v) => sbe.encodeLogout(v, 0, { reason: why, text: LOGON_REFUSAL_TEXT[why] }));
      this.outbox.end(ws, 1008, LOGON_REFUSAL_TEXT[why]);
    };
    const key = this.keyStore.apiKey(m.keyId);
    if (!key) return refuse(Reason.UnknownKey);
    if (!verifyLogon(publicKeyFromRaw(key.publicKey), m.keyId, m.timestampNs, m.nonce, m.signature)) return refuse(Reason.BadSignature);
    const nowMs = Date.now();
    if (Math.abs(Number(m.timestampNs / 1_000_000n) - nowMs) > LOGON_SKEW_MS) return refuse(Reason.StaleLogon);
    if (!this.nonces.admit(m.keyId, m.nonce, nowMs)) return refuse(Reason.NonceReused);
    // The nonce is made durable before the logon completes, so a captured logon cannot be replayed
    // after a restart either; what the client sends meanwhile waits (conn.held). Authenticated, the
    // connection no longer counts as unattached (a flood cannot displace it meanwhile).
    this.bounds.attached(ws);
    conn.held = [];
    this.keyStore.putLogonNonce(m.keyId, m.nonce, nowMs).then(() => {
      const held = conn.held!;
      conn.held = undefined;
      if (!conn.open) return;
      this.clock.nowMs = Date.now();
      try {
        this.complete(ws, m, key, this.clock.nowMs);
      } catch (e) {
        this.stats.internalErrors++;
        console.error('junction gateway: internal error completing a logon:', e);
        return this.outbox.end(ws, 1011, 'internal error');
      }
      this.handleHeld(ws, held);
    }, (e: Error) => {
      conn.held = undefined;
      console.error('junction gateway: a logon nonce could not be stored:', e);
      this.outbox.end(ws, 1011, 'logon could not be recorded; try again');
    });
  }

  private complete(ws: Ws, m: sbe.Logon, record: ApiKeyRecord, nowMs: number): void {
    const { account, permission } = record;
    const conn = ws.getUserData();
    const key = this.keyOf(m.keyId);
    // One connection per key: a newer logon takes the key over.
    if (key.session) this.outbox.end(key.session.ws, 1000, 'replaced by a newer logon of this key');
    const heartbeatMs = Math.max(HEARTBEAT_MS_MIN, m.heartbeatMs || HEARTBEAT_MS_DEFAULT);
    const limits = this.limitsOf(account);
    const rateMs = this.clock.rate?.() ?? nowMs;
    // The key's bucket follows its account's limits as they stand at this logon (an AFMM's rate is
    // an approved, disclosed entry, which may have changed since the key's last logon).
    if (key.bucket.perSecond !== limits.perKeyPerSecond || key.bucket.capacity !== limits.burst) key.bucket = new TokenBucket(limits.perKeyPerSecond, limits.burst, rateMs);
    const session: Session = {
      id: this.nextSessionId++, key, account, permission, trade: permission === 'trade', schemaVersion: Math.max(1, m.schemaVersion ?? 0),
      cancelOnDisconnect: m.cancelOnDisconnect === sbe.BooleanType.True, heartbeatMs, lastInMs: nowMs, lastOutMs: nowMs, limits,
      bucket: new TokenBucket(limits.perConnectionPerSecond, limits.burst, rateMs), ws,
      ...(permission === 'price-source' ? { publicKey: publicKeyFromRaw(record.publicKey) } : {}),
      ...(permission === 'operator' && record.person ? { person: record.person } : {}),
    };
    key.session = session;
    conn.session = session;
    this.bounds.leavePublic(conn);
    this.bounds.attached(ws);
    this.all.add(session);
    this.outbox.sendTo(session, (v) => sbe.encodeLogonAck(v, 0, {
      sessionId: session.id, account, nextOutSeq: this.streams.released(m.keyId) + 1, heartbeatMs,
      ordersPerSecond: Math.min(limits.perKeyPerSecond, limits.perConnectionPerSecond),
      readOnly: session.trade ? sbe.BooleanType.False : sbe.BooleanType.True,
    }));
    this.outbox.sendTo(session, this.encodeInstruments);
    this.watchers.joined(session);
  }

  /**
   * The rate limits of a session acting for `account`: the gateway's, or, for an affiliated market
   * maker with a rate-limit entry (AFMM-4: approved by two operators, disclosed with its risk), that
   * rate for its key and each connection, the burst the same share of a second as everyone's.
   * Taken at logon, and again whenever an AFMM change takes effect (refreshLimits).
   */
  private limitsOf(account: number): RateLimits {
    const rate = account === 0 ? undefined : this.node.pipeline.afmm.ordersPerSecond(account);
    if (rate === undefined) return this.limits;
    return { perKeyPerSecond: rate, perConnectionPerSecond: rate, burst: Math.max(1, Math.round((this.limits.burst * rate) / this.limits.perKeyPerSecond)) };
  }

  /**
   * AFMM changes took effect (AFMM-4): each live session follows its account's limits as they
   * stand now — a revoked or removed rate stops at once, not at the next logon — keeping the
   * tokens it has, up to the new burst.
   */
  refreshLimits(nowMs: number): void {
    for (const session of this.all) {
      if (session.account === 0) continue;
      const limits = this.limitsOf(session.account);
      const was = session.limits;
      if (limits.perKeyPerSecond === was.perKeyPerSecond && limits.perConnectionPerSecond === was.perConnectionPerSecond && limits.burst === was.burst) continue;
      session.limits = limits;
      session.bucket = session.bucket.resized(limits.perConnectionPerSecond, limits.burst, nowMs);
      if (session.key.bucket.perSecond !== limits.perKeyPerSecond || session.key.bucket.capacity !== limits.burst) {
        session.key.bucket = session.key.bucket.resized(limits.perKeyPerSecond, limits.burst, nowMs);
      }
    }
  }

  /** A session's connection closed: cancel-on-disconnect, if chosen. */
  closed(session: Session): void {
    this.all.delete(session);
    this.watchers.left(session);
    if (session.key.session === session) session.key.session = undefined;
    if (session.cancelOnDisconnect) this.cancelAccountOrders(session.account);
  }

  /** A key's messages of a durable batch: to its session here, if connected, as one frame. */
  readonly release = (keyId: number, blob: Buffer): void => {
    const session = this.keys.get(keyId)?.session;
    if (!session) return;
    this.outbox.sendEncodedTo(session, blob, blob.byteLength, { audience: 'key', keyId });
  };

  /** Cancel-on-disconnect and the dead-man's switch: every order of the account. */
  private cancelAccountOrders(account: number): void {
    this.node.enqueue({ type: 'massCancel', account }, undefined, undefined, true);
  }

  /** Refuses a trading request from a key that may not trade, naming why (a read-only, operator or price-source key). */
  refuseTrading(session: Session, templateId: number, clOrdId = 0): void {
    if (session.permission === 'operator') {
      return this.outbox.reject(session.ws, templateId, Reason.OperatorKey, 'templateId', 'an operator API key may not trade', clOrdId);
    }
    if (session.permission === 'price-source') {
      return this.outbox.reject(session.ws, templateId, Reason.PriceSourceKey, 'templateId', 'a price-source API key may not trade', clOrdId);
    }
    this.outbox.reject(session.ws, templateId, Reason.ReadOnlyKey, 'templateId', 'this API key may not trade', clOrdId);
  }

  deadMansSwitch(session: Session, m: sbe.DeadMansSwitch): void {
    if (!session.trade) return this.refuseTrading(session, sbe.TemplateId.DeadMansSwitch);
    const key = session.key;
    key.deadMansDeadlineMs = m.timeoutMs === 0 ? 0 : Date.now() + m.timeoutMs;
    key.account = session.account;
    if (key.deadMansDeadlineMs === 0) this.armed.delete(key);
    else this.armed.add(key);
    this.outbox.sendTo(session, (v) => sbe.encodeDeadMansSwitchAck(v, 0, { timeoutMs: m.timeoutMs, deadlineNs: BigInt(key.deadMansDeadlineMs) * 1_000_000n }));
  }

  /** Heartbeats out, heartbeat timeouts and dead-man's switches; once a minute, stale logon nonces go. */
  tick(now: number): void {
    if (now - this.noncesPrunedMs > NONCE_PRUNE_MS) {
      this.noncesPrunedMs = now;
      this.keyStore.pruneLogonNonces(now - 2 * LOGON_SKEW_MS);
    }
    for (const s of this.all) {
      if (now - s.lastInMs > 2 * s.heartbeatMs) {
        this.outbox.sendTo(s, (v) => sbe.encodeLogout(v, 0, { reason: Reason.HeartbeatTimeout, text: 'no message within two heartbeat intervals' }));
        this.outbox.end(s.ws, 1000, 'heartbeat timeout');
        continue;
      }
      if (now - s.lastOutMs >= s.heartbeatMs) this.outbox.sendTo(s, (v) => sbe.encodeHeartbeat(v, 0, { testReqId: 0 }));
    }
    for (const key of this.armed) {
      if (now < key.deadMansDeadlineMs) continue;
      key.deadMansDeadlineMs = 0;
      this.armed.delete(key);
      this.cancelAccountOrders(key.account);
    }
  }

  /** Whether a request is over the rate limit (then refused naming the limit). A refusal costs no token. */
  rateLimited(session: Session, templateId: number, clOrdId: number): boolean {
    const now = this.clock.rate?.() ?? this.clock.nowMs;
    // Both buckets must have a token before either is taken: a refusal costs nothing.
    const perKey = session.key.bucket.wait(now);
    const perConnection = perKey === 0 ? session.bucket.wait(now) : 0;
    if (perKey === 0 && perConnection === 0) {
      session.key.bucket.take(now);
      session.bucket.take(now);
      return false;
    }
    const [name, limit, wait] = perKey > 0
      ? ['per-key', session.limits.perKeyPerSecond, perKey]
      : ['per-connection', session.limits.perConnectionPerSecond, perConnection];
    this.outbox.reject(session.ws, templateId, Reason.RateLimited, 'rateLimit', `${name} limit ${limit} orders/s; next in ${wait} ms`, clOrdId);
    return true;
  }

  /** The key's stream from `fromOutSeq`, at most REPLAY_MESSAGES_MAX messages, then a ReplayComplete. */
  replay(session: Session, fromOutSeq: number): void {
    const keyId = session.key.keyId;
    const released = this.streams.released(keyId);
    if (fromOutSeq > released + 1) {
      return this.outbox.reject(session.ws, sbe.TemplateId.ReplayRequest, Reason.BeyondStream, 'fromOutSeq',
        `${fromOutSeq} is past the last report sent, ${released}`);
    }
    let sent = 0;
    const from = Math.max(1, fromOutSeq);
    for (const frame of this.streams.framesFrom(keyId, from, released)) {
      if (sent === REPLAY_MESSAGES_MAX) break;
      this.outbox.sendEncodedTo(session, frame, frame.byteLength, { audience: 'key', keyId });
      sent++;
    }
    this.outbox.sendTo(session, (v) => sbe.encodeReplayComplete(v, 0, { fromOutSeq: from, lastSentOutSeq: from + sent - 1, lastOutSeq: released }));
  }

  /** The account's open orders, oldest first, in parts when more than a group holds. */
  /**
   * An operator or price-source key is never sent an account's data (policy.ts): asking for open
   * orders or balances is refused naming why, not left unanswered. True when refused.
   */
  private noAccount(session: Session, templateId: number, reqId: number): boolean {
    if (session.permission === 'operator') {
      this.outbox.reject(session.ws, templateId, Reason.OperatorKey, 'templateId', 'an operator key gets no account\'s orders or balances', reqId);
      return true;
    }
    if (session.permission === 'price-source') {
      this.outbox.reject(session.ws, templateId, Reason.PriceSourceKey, 'templateId', 'a price-source key gets no account\'s orders or balances', reqId);
      return true;
    }
    return false;
  }

  openOrders(session: Session, reqId: number): void {
    if (this.noAccount(session, sbe.TemplateId.OpenOrdersRequest, reqId)) return;
    const orders: sbe.OpenOrdersOrdersEntry[] = [];
    for (const o of this.node.pipeline.orders.values()) {
      if (o.account !== session.account) continue;
      const ref = this.streams.refOf(o.id);
      orders.push({
        clOrdId: ref && ref.keyId === session.key.keyId ? ref.clOrdId : 0, orderId: o.id, instrument: o.instrument,
        side: o.side as sbe.Side, price: o.limit, leavesQty: o.remaining,
      });
    }
    orders.sort((a, b) => a.orderId - b.orderId);
    const parts = Math.max(1, Math.ceil(orders.length / sbe.GROUP_ENTRIES_MAX));
    for (let part = 0; part < parts; part++) {
      const slice = orders.slice(part * sbe.GROUP_ENTRIES_MAX, (part + 1) * sbe.GROUP_ENTRIES_MAX);
      this.outbox.sendTo(session, (v) => sbe.encodeOpenOrders(v, 0, { reqId, part, parts, orders: slice }), { audience: 'account', account: session.account });
    }
  }

  /** Every asset the account holds something of. */
  balances(session: Session, reqId: number): void {
    if (this.noAccount(session, sbe.TemplateId.BalancesRequest, reqId)) return;
    const ledger = this.node.ledger;
    const balances: sbe.BalancesBalancesEntry[] = [];
    ledger.assets.forEach((asset, i) => {
      const b = ledger.balance(session.account, i);
      if (b.available !== 0 || b.held !== 0) balances.push({ asset: asset.code, scale: asset.scale, available: b.available, held: b.held });
    });
    this.outbox.sendTo(session, (v) => sbe.encodeBalances(v, 0, { reqId, balances }), { audience: 'account', account: session.account });
  }

  /** The node stopped: nothing more can be acknowledged, so every session ends. */
  fail(error: Error): void {
    for (const s of [...this.all]) this.outbox.end(s.ws, 1011, error.message.slice(0, 120));
  }

  close(): void {
    for (const s of [...this.all]) this.outbox.end(s.ws, 1001, 'node shutting down');
  }
}
