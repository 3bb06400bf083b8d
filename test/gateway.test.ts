// The market-maker gateway end to end: a real uWebSockets.js server on loopback, real websocket
// clients, the SBE codec both ways, and the durable node behind it.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import WebSocket from 'ws';
import { GatewayServer } from '../src/gateway/ws/server.js';
import { KeyStore } from '../src/gateway/ws/key-store.js';
import { newApiKeyPair, signLogon } from '../src/gateway/ws/auth.js';
import { NodeRuntime } from '../src/pipeline/runtime.js';
import * as sbe from '../src/protocol/codec.js';
import { BUYER, SELLER, testConfig } from './support/node-config.js';
import { gatewayNode, type GatewayNode } from './support/gateway-node.js';

let node: NodeRuntime;
let url: string;
const keys = new Map<number, { privateKeyPem: string }>();
const BUYER_KEY = 1;
const SELLER_KEY = 2;
const READ_KEY = 3;

let env: GatewayNode;

beforeAll(async () => {
  env = await gatewayNode([[BUYER_KEY, BUYER], [SELLER_KEY, SELLER], [READ_KEY, BUYER, 'read']]);
  ({ node, url } = env);
  for (const [keyId, privateKeyPem] of env.pems) keys.set(keyId, { privateKeyPem });
});

afterAll(() => env.close());

class Client {
  readonly received: sbe.Decoded[] = [];
  closed: { code: number; reason: string } | undefined;
  private waiters: (() => void)[] = [];
  private readonly buffer = new DataView(new ArrayBuffer(4096));
  constructor(readonly ws: WebSocket) {
    ws.on('message', (data: Buffer) => {
      this.received.push(...sbe.decodeMessages(new Uint8Array(data)));
      this.wake();
    });
    ws.on('close', (code, reason) => {
      this.closed = { code, reason: reason.toString() };
      this.wake();
    });
  }
  private wake(): void {
    for (const w of this.waiters.splice(0)) w();
  }
  static async connect(at = url): Promise<Client> {
    const ws = new WebSocket(at);
    await new Promise((resolve, reject) => ws.once('open', resolve).once('error', reject));
    return new Client(ws);
  }
  /** Connects and logs on with `keyId` (plain logon, no cancel-on-disconnect). */
  static async loggedOn(keyId: number, at = url): Promise<Client> {
    const c = await Client.connect(at);
    c.logon(keyId);
    await c.next('LogonAck');
    return c;
  }
  send(encode: (v: DataView) => number): void {
    this.ws.send(new Uint8Array(this.buffer.buffer, 0, encode(this.buffer)));
  }
  raw(bytes: Uint8Array): void {
    this.ws.send(bytes);
  }
  logon(keyId: number, overrides: Partial<sbe.Logon> = {}, cancelOnDisconnect = false): void {
    const timestampNs = overrides.timestampNs ?? BigInt(Date.now()) * 1_000_000n;
    const nonce = overrides.nonce ?? Math.floor(Math.random() * 2 ** 48);
    const signature = overrides.signature ?? signLogon(keys.get(keyId)!.privateKeyPem, keyId, timestampNs, nonce);
    this.send((v) => sbe.encodeLogon(v, 0, {
      keyId, timestampNs, nonce, heartbeatMs: overrides.heartbeatMs ?? 0, cancelOnDisconnect: cancelOnDisconnect ? 1 : 0, signature,
    }));
  }
  /** Waits until a message matching `match` has arrived (or the connection closed). */
  async next<T extends sbe.Decoded['type']>(type: T, match: (m: Extract<sbe.Decoded, { type: T }>['message']) => boolean = () => true): Promise<Extract<sbe.Decoded, { type: T }>['message']> {
    for (;;) {
      const found = this.received.find((d) => d.type === type && match(d.message as never));
      if (found) return found.message as never;
      if (this.closed) throw new Error(`closed (${this.closed.code} ${this.closed.reason}) before a ${type}`);
      await new Promise<void>((r) => this.waiters.push(r));
    }
  }
  async closedWith(): Promise<{ code: number; reason: string }> {
    while (!this.closed) await new Promise<void>((r) => this.waiters.push(r));
    return this.closed;
  }
}

const order = (clOrdId: number, side: number, price: number, qty: number, tif: number = sbe.TimeInForce.GTC): sbe.NewOrder => ({
  clOrdId, instrument: 1, side: side as sbe.Side, ordType: sbe.OrdType.Limit, timeInForce: tif as sbe.TimeInForce, stpMode: sbe.StpMode.None, price, qty,
});

describe('market-maker gateway', () => {
  it('[OPS-1] logs on with a signed logon and refuses bad, stale and replayed ones', async () => {
    const good = await Client.connect();
    good.logon(BUYER_KEY, { nonce: 42 });
    expect(await good.next('LogonAck')).toMatchObject({ account: BUYER, nextOutSeq: 1, readOnly: 0 });

    const replayed = await Client.connect();
    replayed.logon(BUYER_KEY, { nonce: 42 });
    expect(await replayed.next('Logout')).toEqual({ reason: sbe.RejectReason.NonceReused, text: 'nonce already used' });
    expect((await replayed.closedWith()).code).toBe(1008);

    const forged = await Client.connect();
    forged.logon(BUYER_KEY, { signature: signLogon(keys.get(SELLER_KEY)!.privateKeyPem, BUYER_KEY, BigInt(Date.now()) * 1_000_000n, 7) });
    expect(await forged.next('Logout')).toEqual({ reason: sbe.RejectReason.BadSignature, text: 'signature does not verify' });

    const stale = await Client.connect();
    stale.logon(BUYER_KEY, { timestampNs: BigInt(Date.now() - 120_000) * 1_000_000n });
    expect(await stale.next('Logout')).toEqual({ reason: sbe.RejectReason.StaleLogon, text: 'timestamp too far from the node clock' });

    const unknown = await Client.connect();
    unknown.logon(BUYER_KEY, {});
    unknown.send((v) => sbe.encodeLogon(v, 0, { keyId: 99, timestampNs: BigInt(Date.now()) * 1_000_000n, nonce: 1, heartbeatMs: 0, cancelOnDisconnect: 0, signature: new Uint8Array(64) }));
    expect(await unknown.next('SessionReject')).toMatchObject({ reason: sbe.RejectReason.AlreadyLoggedOn, field: 'templateId' });
    good.ws.close();
    unknown.ws.close();
  });

  it('[OPS-1] [SL-10] enters orders and reports new, fills to both sides, rejects and cancels once durable', async () => {
    const buyer = await Client.loggedOn(BUYER_KEY);
    const seller = await Client.loggedOn(SELLER_KEY);

    buyer.send((v) => sbe.encodeNewOrder(v, 0, order(1001, 0, 1_000, 10)));
    const ack = await buyer.next('ExecutionReport', (r) => r.clOrdId === 1001);
    expect(ack).toMatchObject({ execType: sbe.ExecType.New, leavesQty: 10, price: 1_000, qty: 10 });

    seller.send((v) => sbe.encodeNewOrder(v, 0, order(2001, 1, 1_000, 4, sbe.TimeInForce.IOC)));
    expect(await seller.next('ExecutionReport', (r) => r.clOrdId === 2001 && r.execType === sbe.ExecType.Fill))
      .toMatchObject({ lastPx: 1_000, lastQty: 4, leavesQty: 0, aggressor: 1, tradeId: 1 });
    expect(await buyer.next('ExecutionReport', (r) => r.clOrdId === 1001 && r.execType === sbe.ExecType.PartialFill))
      .toMatchObject({ lastPx: 1_000, lastQty: 4, leavesQty: 6, aggressor: 0, tradeId: 1, orderId: ack.orderId });

    buyer.send((v) => sbe.encodeNewOrder(v, 0, order(1002, 0, 1_000, 990)));
    expect(await buyer.next('ExecutionReport', (r) => r.clOrdId === 1002))
      .toMatchObject({ execType: sbe.ExecType.Rejected, rejectReason: 105 });

    buyer.send((v) => sbe.encodeNewOrder(v, 0, order(1001, 0, 999, 1)));
    expect(await buyer.next('SessionReject', (r) => r.field === 'clOrdId')).toMatchObject({ reason: sbe.RejectReason.DuplicateClOrdId, text: 'clOrdId 1001 was already used' });

    buyer.send((v) => sbe.encodeCancelOrder(v, 0, { clOrdId: 1003, origClOrdId: 1001, instrument: 1, orderId: 0 }));
    expect(await buyer.next('ExecutionReport', (r) => r.clOrdId === 1001 && r.execType === sbe.ExecType.Cancelled)).toMatchObject({ leavesQty: 0 });
    buyer.send((v) => sbe.encodeCancelOrder(v, 0, { clOrdId: 1004, origClOrdId: 1001, instrument: 1, orderId: 0 }));
    expect(await buyer.next('CancelReject', (r) => r.clOrdId === 1004)).toMatchObject({ reason: sbe.RejectReason.UnknownOrder });
    buyer.send((v) => sbe.encodeCancelOrder(v, 0, { clOrdId: 1005, origClOrdId: 777, instrument: 1, orderId: 0 }));
    expect(await buyer.next('CancelReject', (r) => r.clOrdId === 1005)).toMatchObject({ reason: sbe.RejectReason.UnknownClOrdId });

    // Outbound sequence numbers rise by one per report, per session.
    const seqs = buyer.received.filter((d) => d.type === 'ExecutionReport' || d.type === 'CancelReject').map((d) => (d.message as { outSeq: number }).outSeq);
    expect(seqs).toEqual(seqs.map((_, i) => i + 1));
    expect(node.pipeline.orders.size).toBe(0);
    node.checkInvariants();
    buyer.ws.close();
    seller.ws.close();
  });

  it('[OPS-1] a read-only key cannot trade; an unparseable frame closes only its connection, with the reason', async () => {
    const reader = await Client.connect();
    reader.logon(READ_KEY);
    expect(await reader.next('LogonAck')).toMatchObject({ readOnly: 1 });
    reader.send((v) => sbe.encodeNewOrder(v, 0, order(1, 0, 1_000, 1)));
    expect(await reader.next('SessionReject')).toMatchObject({ reason: sbe.RejectReason.ReadOnlyKey, refTemplateId: 10, text: 'this API key may not trade' });

    const bad = await Client.connect();
    bad.raw(Uint8Array.from([32, 0, 10, 0, 0x59, 0x1b, 1, 0, 1, 2, 3]));
    expect(await bad.closedWith()).toEqual({ code: 1007, reason: 'unparseable frame: qty: frame ends inside the message block' });
    reader.send((v) => sbe.encodeTestRequest(v, 0, { testReqId: 9 }));
    expect(await reader.next('Heartbeat')).toEqual({ testReqId: 9 });
    reader.ws.close();
  });

  it('[OPS-1] cancel-on-disconnect cancels the session\'s resting orders when it drops', async () => {
    const buyer = await Client.connect();
    buyer.logon(BUYER_KEY, {}, true);
    await buyer.next('LogonAck');
    buyer.send((v) => sbe.encodeNewOrder(v, 0, order(3001, 0, 990, 2)));
    await buyer.next('ExecutionReport', (r) => r.clOrdId === 3001);
    expect([...node.pipeline.orders.values()].map((o) => [o.account, o.remaining])).toEqual([[BUYER, 2]]);
    buyer.ws.terminate();
    for (const end = Date.now() + 15_000; node.pipeline.orders.size > 0 && Date.now() < end;) await new Promise((r) => setTimeout(r, 10));
    expect(node.pipeline.orders.size).toBe(0);
    node.checkInvariants();
  });
});

describe('market data and session services', () => {
  it('[OPS-1] [OPS-3] public book: snapshot on subscribe, then incrementals with a rising bookSeq; trades with time, price, size, aggressor', async () => {
    const watcher = await Client.connect(); // no logon: market data is public and free
    watcher.send((v) => sbe.encodeSubscribe(v, 0, { instrument: 1, channel: sbe.Channel.Book }));
    watcher.send((v) => sbe.encodeSubscribe(v, 0, { instrument: 1, channel: sbe.Channel.Trades }));
    const snapshot = await watcher.next('BookSnapshot');
    const buyer = await Client.loggedOn(BUYER_KEY);
    buyer.send((v) => sbe.encodeNewOrder(v, 0, order(5001, 0, 950, 7)));
    buyer.send((v) => sbe.encodeNewOrder(v, 0, order(5002, 0, 950, 3)));
    const update = await watcher.next('BookUpdate', (u) => u.levels.some((l) => l.price === 950 && l.qty === 10));
    expect(update.bookSeq).toBeGreaterThan(snapshot.bookSeq);
    expect(update.levels).toContainEqual({ side: 0, price: 950, qty: 10, count: 2 });
    const seller = await Client.loggedOn(SELLER_KEY);
    seller.send((v) => sbe.encodeNewOrder(v, 0, order(6001, 1, 950, 8, sbe.TimeInForce.IOC)));
    const trade = await watcher.next('Trade', (t) => t.price === 950);
    expect(trade).toMatchObject({ instrument: 1, price: 950, qty: 7, aggressor: sbe.Side.Sell });
    expect(trade.execTimeNs).toBeGreaterThan(BigInt(Date.now() - 60_000) * 1_000_000n);
    const after = await watcher.next('BookUpdate', (u) => u.levels.some((l) => l.price === 950 && l.qty === 2));
    expect(after.levels).toContainEqual({ side: 0, price: 950, qty: 2, count: 1 });
    // Each update's bookSeq is one more than the one before.
    const seqs = watcher.received.filter((d) => d.type === 'BookUpdate').map((d) => (d.message as sbe.BookUpdate).bookSeq);
    expect(seqs).toEqual(seqs.map((_, i) => seqs[0] + i));
    // A client that missed an update re-subscribes and gets the book as it stands.
    const late = await Client.connect();
    late.send((v) => sbe.encodeSubscribe(v, 0, { instrument: 1, channel: sbe.Channel.Book }));
    const fresh = await late.next('BookSnapshot');
    expect(fresh.bookSeq).toBe(after.bookSeq);
    expect(fresh.levels).toContainEqual({ side: 0, price: 950, qty: 2, count: 1 });
    buyer.send((v) => sbe.encodeMassCancel(v, 0, { clOrdId: 5003, instrument: 0, side: sbe.SideFilter.Both }));
    await watcher.next('BookUpdate', (u) => u.levels.some((l) => l.price === 950 && l.qty === 0 && l.count === 0));
    late.send((v) => sbe.encodeSubscribe(v, 0, { instrument: 42, channel: sbe.Channel.Book }));
    expect(await late.next('SessionReject')).toMatchObject({ reason: sbe.RejectReason.UnknownInstrument, field: 'instrument', text: 'no instrument 42' });
    for (const c of [watcher, buyer, seller, late]) c.ws.close();
  });

  it('[OPS-1] replays a key\'s execution reports from any sequence after a reconnect', async () => {
    const first = await Client.connect();
    first.logon(BUYER_KEY);
    const ack = await first.next('LogonAck');
    first.send((v) => sbe.encodeNewOrder(v, 0, order(7001, 0, 900, 1)));
    first.send((v) => sbe.encodeCancelOrder(v, 0, { clOrdId: 7002, origClOrdId: 7001, instrument: 1, orderId: 0 }));
    const cancelled = await first.next('ExecutionReport', (r) => r.clOrdId === 7001 && r.execType === sbe.ExecType.Cancelled);
    // The report names the cancel that caused it; the order's own New names none.
    expect(cancelled.requestClOrdId).toBe(7002);
    expect((await first.next('ExecutionReport', (r) => r.clOrdId === 7001 && r.execType === sbe.ExecType.New)).requestClOrdId).toBe(0);
    first.ws.terminate();
    const second = await Client.connect();
    second.logon(BUYER_KEY);
    expect((await second.next('LogonAck')).nextOutSeq).toBe(cancelled.outSeq + 1);
    second.send((v) => sbe.encodeReplayRequest(v, 0, { fromOutSeq: ack.nextOutSeq }));
    const replayed = await second.next('ExecutionReport', (r) => r.outSeq === cancelled.outSeq);
    expect(replayed).toEqual(cancelled);
    const all = second.received.filter((d) => d.type === 'ExecutionReport').map((d) => (d.message as sbe.ExecutionReport).execType);
    expect(all).toEqual([sbe.ExecType.New, sbe.ExecType.Cancelled]);
    // Asking past the end of the stream is refused, naming the field and the last report sent.
    second.send((v) => sbe.encodeReplayRequest(v, 0, { fromOutSeq: cancelled.outSeq + 5 }));
    expect(await second.next('SessionReject', (r) => r.refTemplateId === sbe.TemplateId.ReplayRequest)).toMatchObject({
      reason: sbe.RejectReason.BeyondStream, field: 'fromOutSeq', text: `${cancelled.outSeq + 5} is past the last report sent, ${cancelled.outSeq}`,
    });
    second.ws.close();
  });

  it('[OPS-1] the dead-man\'s switch cancels the account\'s orders when not refreshed', async () => {
    const buyer = await Client.loggedOn(BUYER_KEY);
    buyer.send((v) => sbe.encodeNewOrder(v, 0, order(8001, 0, 901, 1)));
    await buyer.next('ExecutionReport', (r) => r.clOrdId === 8001);
    buyer.send((v) => sbe.encodeDeadMansSwitch(v, 0, { timeoutMs: 150 }));
    const cancelled = await buyer.next('ExecutionReport', (r) => r.clOrdId === 8001 && r.execType === sbe.ExecType.Cancelled);
    expect([cancelled.rejectReason, cancelled.cancelReason]).toEqual([sbe.RejectReason.None, sbe.CancelReason.Mass]);
    buyer.ws.close();
  });

  it('[OPS-1] a read-only key cannot arm the dead-man\'s switch', async () => {
    const reader = await Client.loggedOn(READ_KEY);
    reader.send((v) => sbe.encodeDeadMansSwitch(v, 0, { timeoutMs: 100 }));
    expect(await reader.next('SessionReject')).toMatchObject({ reason: sbe.RejectReason.ReadOnlyKey, refTemplateId: sbe.TemplateId.DeadMansSwitch });
    reader.ws.close();
  });

  it('[OPS-1] the dead-man\'s switch fires when the connection that armed it has died', async () => {
    const buyer = await Client.loggedOn(BUYER_KEY);
    buyer.send((v) => sbe.encodeNewOrder(v, 0, order(8101, 0, 902, 1)));
    const placed = await buyer.next('ExecutionReport', (r) => r.clOrdId === 8101);
    buyer.send((v) => sbe.encodeDeadMansSwitch(v, 0, { timeoutMs: 300 }));
    await new Promise((r) => setTimeout(r, 50));
    buyer.ws.terminate(); // no cancel-on-disconnect: only the switch can take the order off
    for (const end = Date.now() + 15_000; node.pipeline.orders.has(placed.orderId) && Date.now() < end;) await new Promise((r) => setTimeout(r, 20));
    expect(node.pipeline.orders.has(placed.orderId)).toBe(false);
    const back = await Client.loggedOn(BUYER_KEY);
    back.send((v) => sbe.encodeReplayRequest(v, 0, { fromOutSeq: placed.outSeq }));
    expect(await back.next('ExecutionReport', (r) => r.clOrdId === 8101 && r.execType === sbe.ExecType.Cancelled)).toMatchObject({ rejectReason: 0, cancelReason: sbe.CancelReason.Mass });
    back.ws.close();
  });

  it('[OPS-1] heartbeats an idle session and closes one silent for two heartbeat intervals, with a Logout saying why', async () => {
    // 500 ms: a heartbeat is due after one silent interval, the logout after two; the timer ticks
    // every 50 ms, so a stalled host still sends the heartbeat first.
    const quiet = await Client.connect();
    quiet.logon(SELLER_KEY, { heartbeatMs: 500 });
    expect(await quiet.next('LogonAck')).toMatchObject({ heartbeatMs: 500 });
    expect(await quiet.next('Heartbeat')).toEqual({ testReqId: 0 });
    expect(await quiet.next('Logout')).toEqual({ reason: sbe.RejectReason.HeartbeatTimeout, text: 'no message within two heartbeat intervals' });
    expect(await quiet.closedWith()).toEqual({ code: 1000, reason: 'heartbeat timeout' });
  });

  it('[OPS-1] [AFMM-4] rate limits per key are disclosed at logon; a reject names the limit and when it refills', async () => {
    // The buckets' clock stands still, so no refill lands between frames however slow the host.
    const frozenMs = Date.now();
    const limited = new GatewayServer(node, { limits: { perKeyPerSecond: 5, perConnectionPerSecond: 50, burst: 3 }, rateClock: () => frozenMs });
    const at = `ws://127.0.0.1:${await limited.listen(0)}/ws`;
    try {
      const c = await Client.connect(at);
      c.logon(BUYER_KEY);
      expect(await c.next('LogonAck')).toMatchObject({ ordersPerSecond: 5 });
      for (let i = 0; i < 5; i++) c.send((v) => sbe.encodeNewOrder(v, 0, order(9_000 + i, 0, 800, 1)));
      const rejected = await c.next('SessionReject', (r) => r.field === 'rateLimit');
      expect(rejected.reason).toBe(sbe.RejectReason.RateLimited);
      expect(rejected.text).toMatch(/^per-key limit 5 orders\/s; next in \d+ ms$/);
      for (let i = 0; i < 3; i++) await c.next('ExecutionReport', (r) => r.clOrdId === 9_000 + i);
      expect(c.received.filter((d) => d.type === 'SessionReject').length).toBe(2);
      // A cancel of a live order goes through even now; one naming no order counts against the limit.
      c.send((v) => sbe.encodeCancelOrder(v, 0, { clOrdId: 9_200, origClOrdId: 9_000, instrument: 1, orderId: 0 }));
      await c.next('ExecutionReport', (r) => r.clOrdId === 9_000 && r.execType === sbe.ExecType.Cancelled);
      c.send((v) => sbe.encodeCancelOrder(v, 0, { clOrdId: 9_201, origClOrdId: 123_456, instrument: 1, orderId: 0 }));
      expect(await c.next('SessionReject', (r) => r.refClOrdId === 9_201)).toMatchObject({ reason: sbe.RejectReason.RateLimited, field: 'rateLimit' });
      // So does one naming an order that is already done, or an open order on the wrong instrument.
      c.send((v) => sbe.encodeCancelOrder(v, 0, { clOrdId: 9_202, origClOrdId: 9_000, instrument: 1, orderId: 0 }));
      expect(await c.next('SessionReject', (r) => r.refClOrdId === 9_202)).toMatchObject({ reason: sbe.RejectReason.RateLimited, field: 'rateLimit' });
      c.send((v) => sbe.encodeCancelOrder(v, 0, { clOrdId: 9_203, origClOrdId: 9_001, instrument: 2, orderId: 0 }));
      expect(await c.next('SessionReject', (r) => r.refClOrdId === 9_203)).toMatchObject({ reason: sbe.RejectReason.RateLimited, field: 'rateLimit' });
      // Two cancels of one open order at once: the first is free, the second pays.
      c.send((v) => sbe.encodeCancelOrder(v, 0, { clOrdId: 9_204, origClOrdId: 9_001, instrument: 1, orderId: 0 }));
      c.send((v) => sbe.encodeCancelOrder(v, 0, { clOrdId: 9_205, origClOrdId: 9_001, instrument: 1, orderId: 0 }));
      await c.next('ExecutionReport', (r) => r.clOrdId === 9_001 && r.execType === sbe.ExecType.Cancelled);
      expect(await c.next('SessionReject', (r) => r.refClOrdId === 9_205)).toMatchObject({ reason: sbe.RejectReason.RateLimited, field: 'rateLimit' });
      c.send((v) => sbe.encodeReplayRequest(v, 0, { fromOutSeq: 1 }));
      expect(await c.next('SessionReject', (r) => r.refTemplateId === sbe.TemplateId.ReplayRequest)).toMatchObject({ reason: sbe.RejectReason.RateLimited, field: 'rateLimit', refClOrdId: 0 });
      c.send((v) => sbe.encodeMassCancel(v, 0, { clOrdId: 9_100, instrument: 0, side: sbe.SideFilter.Both }));
      await c.next('ExecutionReport', (r) => r.clOrdId === 9_002 && r.execType === sbe.ExecType.Cancelled);
      c.ws.close();
    } finally {
      limited.close();
    }
  });

});

describe('gateway across a node restart', () => {
  it('[OPS-1] [OPS-2] replays a key\'s reports and keeps its client order ids after the node restarts', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'junction-gw-restart-'));
    let n = await NodeRuntime.open({ dataDir, config: testConfig() });
    const pair = newApiKeyPair();
    await new KeyStore(n.store).putApiKey({ keyId: 9, account: BUYER, publicKey: pair.publicKey, permission: 'trade' });
    keys.set(9, pair);
    await n.submit({ type: 'deposit', key: 'r', account: BUYER, asset: 'QUOTE', amount: 100_000 });
    let gw = new GatewayServer(n);
    let at = `ws://127.0.0.1:${await gw.listen(0)}/ws`;
    const before = await Client.loggedOn(9, at);
    before.send((v) => sbe.encodeNewOrder(v, 0, order(1, 0, 900, 2)));
    const placed = await before.next('ExecutionReport', (r) => r.clOrdId === 1);
    before.ws.close();
    gw.close();
    await n.close();

    n = await NodeRuntime.open({ dataDir });
    gw = new GatewayServer(n);
    at = `ws://127.0.0.1:${await gw.listen(0)}/ws`;
    try {
      const after = await Client.connect(at);
      after.logon(9);
      expect((await after.next('LogonAck')).nextOutSeq).toBe(placed.outSeq + 1);
      after.send((v) => sbe.encodeReplayRequest(v, 0, { fromOutSeq: 1 }));
      expect(await after.next('ExecutionReport', (r) => r.outSeq === placed.outSeq)).toEqual(placed);
      after.send((v) => sbe.encodeNewOrder(v, 0, order(1, 0, 901, 1)));
      expect(await after.next('SessionReject')).toMatchObject({ field: 'clOrdId', reason: sbe.RejectReason.DuplicateClOrdId });
      after.send((v) => sbe.encodeCancelOrder(v, 0, { clOrdId: 2, origClOrdId: 1, instrument: 1, orderId: 0 }));
      expect(await after.next('ExecutionReport', (r) => r.clOrdId === 1 && r.execType === sbe.ExecType.Cancelled))
        .toMatchObject({ orderId: placed.orderId, outSeq: placed.outSeq + 1 });
      after.ws.close();
    } finally {
      gw.close();
      await n.close();
    }
  });
});

describe('gateway protection', () => {
  it('[OPS-1] refuses to start on the JavaScript fallback of uWebSockets.js', async () => {
    const { spawnSync } = await import('node:child_process');
    const out = spawnSync(process.execPath, ['-e', `
      import('${join(__dirname, '../dist/src/gateway/ws/server.js')}').then((m) => { m.assertNativeUws(); console.log('native'); })
        .catch((e) => { console.log(e.message); });
    `], { encoding: 'utf8', env: { ...process.env, UWS_USE_FALLBACK: '1' } });
    expect(out.stdout.trim().split('\n').pop()).toBe('uWebSockets.js is running its JavaScript fallback, not its native binary');
  });

  it('[OPS-1] connections are limited: one past the limit is closed with 1013 and the reason, and its slot frees on close', async () => {
    const small = await gatewayNode([], 1, { connectionsMax: 2 });
    try {
      const [a, b] = await Promise.all([Client.connect(small.url), Client.connect(small.url)]);
      const third = await Client.connect(small.url);
      expect(await third.closedWith()).toEqual({ code: 1013, reason: 'too many connections (2); try again later' });
      // The refused one did not free a slot.
      const fourth = await Client.connect(small.url);
      expect((await fourth.closedWith()).code).toBe(1013);
      a.ws.close();
      await a.closedWith();
      const next = await Client.connect(small.url);
      next.send((v) => sbe.encodeSubscribe(v, 0, { instrument: 0, channel: sbe.Channel.Book }));
      expect(await next.next('InstrumentList')).toMatchObject({ instruments: [{ symbol: 'BASE-QUOTE' }, { symbol: 'VBASE-QUOTE' }] });
      expect(small.server.stats.connectionsRefused).toBe(2);
      next.ws.close();
      b.ws.close();
    } finally {
      await small.close();
    }
  });

  it('[OPS-1] a connection that neither logs on nor subscribes in time is closed, so idle ones cannot hold the limit', async () => {
    // 1 s: long enough that a stalled host still sees the reader's subscription in time.
    const strict = await gatewayNode([], 1, { attachMs: 1_000 });
    try {
      const idle = await Client.connect(strict.url);
      const reader = await Client.connect(strict.url);
      reader.send((v) => sbe.encodeSubscribe(v, 0, { instrument: 1, channel: sbe.Channel.Trades }));
      expect(await idle.closedWith()).toEqual({ code: 1008, reason: 'no logon or subscription within 1000 ms' });
      await new Promise((r) => setTimeout(r, 100));
      expect(reader.closed).toBeUndefined();
      reader.ws.close();
    } finally {
      await strict.close();
    }
  });

  it('[OPS-1] a gateway cannot join a node with commands in flight (it would miss their reports)', async () => {
    const pending = node.submit({ type: 'deposit', key: 'join-check', account: BUYER, asset: 'QUOTE', amount: 1 });
    expect(() => new GatewayServer(node)).toThrow('a gateway must be created while the node is idle (nothing queued or in flight)');
    expect((await pending).ok).toBe(true);
  });

  it('[OPS-1] [CORE-2] market (with protection), FOK and post-only orders over the protocol', async () => {
    const buyer = await Client.loggedOn(BUYER_KEY);
    const seller = await Client.loggedOn(SELLER_KEY);
    seller.send((v) => sbe.encodeNewOrder(v, 0, order(40_001, 1, 1_010, 3)));
    await seller.next('ExecutionReport', (r) => r.clOrdId === 40_001);
    buyer.send((v) => sbe.encodeNewOrder(v, 0, { ...order(40_002, 0, 1_009, 1), timeInForce: sbe.TimeInForce.PostOnly }));
    expect(await buyer.next('ExecutionReport', (r) => r.clOrdId === 40_002)).toMatchObject({ execType: sbe.ExecType.New });
    buyer.send((v) => sbe.encodeNewOrder(v, 0, { ...order(40_003, 0, 1_010, 1), timeInForce: sbe.TimeInForce.PostOnly }));
    expect(await buyer.next('ExecutionReport', (r) => r.clOrdId === 40_003)).toMatchObject({ execType: sbe.ExecType.Rejected, rejectReason: 16 });
    buyer.send((v) => sbe.encodeNewOrder(v, 0, { ...order(40_004, 0, 1_010, 5), timeInForce: sbe.TimeInForce.FOK }));
    expect(await buyer.next('ExecutionReport', (r) => r.clOrdId === 40_004 && r.execType === sbe.ExecType.Cancelled)).toMatchObject({ rejectReason: 0, cancelReason: sbe.CancelReason.FokUnfillable });
    buyer.send((v) => sbe.encodeNewOrder(v, 0, { ...order(40_005, 0, 1_020, 5), ordType: sbe.OrdType.Market, timeInForce: sbe.TimeInForce.IOC }));
    expect(await buyer.next('ExecutionReport', (r) => r.clOrdId === 40_005 && r.execType === sbe.ExecType.PartialFill)).toMatchObject({ lastPx: 1_010, lastQty: 3 });
    expect(await buyer.next('ExecutionReport', (r) => r.clOrdId === 40_005 && r.execType === sbe.ExecType.Cancelled)).toMatchObject({ qty: 2, rejectReason: 0, cancelReason: sbe.CancelReason.Unfilled });
    buyer.send((v) => sbe.encodeMassCancel(v, 0, { clOrdId: 40_006, instrument: 0, side: sbe.SideFilter.Both }));
    await buyer.next('ExecutionReport', (r) => r.clOrdId === 40_002 && r.execType === sbe.ExecType.Cancelled);
    buyer.ws.close();
    seller.ws.close();
  });
});

describe('gateway sessions, second node', () => {
  const KEEPER = 11;
  const OTHER = 12;
  let second: GatewayNode;
  beforeAll(async () => {
    second = await gatewayNode([[KEEPER, SELLER], [OTHER, BUYER]], 1, { clOrdIdsRetained: 2 });
    for (const [keyId, privateKeyPem] of second.pems) keys.set(keyId, { privateKeyPem });
  });
  afterAll(() => second.close());

  it('[OPS-1] a client order id is refused while its order is open and for the last N finished ones, then free again', async () => {
    const c = await Client.loggedOn(KEEPER, second.url);
    const duplicate = (clOrdId: number) => c.next('SessionReject', (r) => r.text === `clOrdId ${clOrdId} was already used`);
    c.send((v) => sbe.encodeNewOrder(v, 0, order(10, 1, 1_400, 1)));
    expect(await c.next('ExecutionReport', (r) => r.clOrdId === 10)).toMatchObject({ execType: sbe.ExecType.New });
    for (const id of [1, 2, 3]) {
      c.send((v) => sbe.encodeNewOrder(v, 0, order(id, 1, 1_400, 1, sbe.TimeInForce.IOC)));
      await c.next('ExecutionReport', (r) => r.clOrdId === id && r.execType === sbe.ExecType.Cancelled);
    }
    // Retention 2: ids 2 and 3 are still refused, id 1 is free again, and the open order's id 10 stays refused.
    c.send((v) => sbe.encodeNewOrder(v, 0, order(3, 1, 1_400, 1, sbe.TimeInForce.IOC)));
    expect(await duplicate(3)).toMatchObject({ reason: sbe.RejectReason.DuplicateClOrdId, field: 'clOrdId' });
    c.send((v) => sbe.encodeNewOrder(v, 0, order(10, 1, 1_400, 1, sbe.TimeInForce.IOC)));
    expect(await duplicate(10)).toMatchObject({ reason: sbe.RejectReason.DuplicateClOrdId, field: 'clOrdId' });
    c.send((v) => sbe.encodeNewOrder(v, 0, order(1, 1, 1_400, 1, sbe.TimeInForce.IOC)));
    expect(await c.next('ExecutionReport', (r) => r.clOrdId === 1 && r.outSeq > 7)).toMatchObject({ execType: sbe.ExecType.New });
    c.ws.close();
  });

  it('[OPS-1] a maker hears of fills by orders entered elsewhere (not through this gateway)', async () => {
    const maker = await Client.loggedOn(KEEPER, second.url);
    maker.send((v) => sbe.encodeNewOrder(v, 0, order(50, 1, 1_300, 3)));
    const rested = await maker.next('ExecutionReport', (r) => r.clOrdId === 50);
    const taken = await second.node.submit({ type: 'order', account: BUYER, instrument: 1, side: 0, orderType: 0, tif: 1, price: 1_300, qty: 2 });
    expect(taken.ok).toBe(true);
    expect(await maker.next('ExecutionReport', (r) => r.clOrdId === 50 && r.execType === sbe.ExecType.PartialFill)).toMatchObject({
      orderId: rested.orderId, lastPx: 1_300, lastQty: 2, leavesQty: 1, aggressor: sbe.BooleanType.False,
    });
    maker.ws.close();
  });

  it('[OPS-1] past the intake limit new orders are refused as busy, naming the order, and nothing is queued for them', async () => {
    const busy = await gatewayNode([[21, BUYER]], 1, { intakeQueuedMax: 2 });
    for (const [keyId, privateKeyPem] of busy.pems) keys.set(keyId, { privateKeyPem });
    try {
      const c = await Client.loggedOn(21, busy.url);
      const before = busy.node.lastSequence;
      c.send((v) => sbe.encodeBatchNewOrders(v, 0, { orders: [1, 2, 3, 4].map((id) => order(id, 0, 990, 1, sbe.TimeInForce.IOC)) }));
      await c.next('ExecutionReport', (r) => r.clOrdId === 2 && r.execType === sbe.ExecType.Cancelled);
      const rejects = c.received.filter((d) => d.type === 'SessionReject').map((d) => d.message as sbe.SessionReject);
      expect(rejects.map((r) => [r.reason, r.field, r.text, r.refClOrdId])).toEqual([
        [sbe.RejectReason.Busy, 'clOrdId', 'node busy: 2 commands queued; retry', 3],
        [sbe.RejectReason.Busy, 'clOrdId', 'node busy: 2 commands queued; retry', 4],
      ]);
      expect(busy.node.lastSequence).toBe(before + 2);
      // Refused, not used: the ids are free for the retry.
      c.send((v) => sbe.encodeNewOrder(v, 0, order(3, 0, 990, 1, sbe.TimeInForce.IOC)));
      expect(await c.next('ExecutionReport', (r) => r.clOrdId === 3)).toMatchObject({ execType: sbe.ExecType.New });
      c.ws.close();
    } finally {
      await busy.close();
    }
  });

  it('[OPS-1] a frame may carry several messages back to back; one that does not decode drops the whole frame', async () => {
    const c = await Client.loggedOn(OTHER, second.url);
    const frame = new Uint8Array(2 * (8 + sbe.NEWORDER_BLOCK_LENGTH));
    const v = new DataView(frame.buffer);
    const first = sbe.encodeNewOrder(v, 0, order(60, 0, 1_200, 1));
    sbe.encodeNewOrder(v, first, order(61, 0, 1_201, 1));
    c.raw(frame);
    expect(await c.next('ExecutionReport', (r) => r.clOrdId === 61)).toMatchObject({ execType: sbe.ExecType.New, price: 1_201 });
    expect(c.received.filter((d) => d.type === 'ExecutionReport').map((d) => (d.message as sbe.ExecutionReport).clOrdId)).toEqual([60, 61]);
    // The second message is cut short: nothing of the frame is acted on.
    sbe.encodeNewOrder(v, 0, order(62, 0, 1_202, 1));
    c.raw(frame.subarray(0, frame.byteLength - 3));
    expect(await c.closedWith()).toEqual({ code: 1007, reason: 'unparseable frame: qty: frame ends inside the message block (message 2 of the frame)' });
    expect(c.received.some((d) => d.type === 'ExecutionReport' && d.message.clOrdId === 62)).toBe(false);
  });
});
