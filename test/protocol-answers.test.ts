// Every request gets exactly one answer, and every reason is one number of one registry with a
// name and a sentence (issue 9), over a real gateway on loopback.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { CANCEL_REASON_NAMES, REJECT_REASON_NAMES } from '../src/core/index.js';
import { BATCH_ORDERS_MAX, FRAME_BYTES_MAX } from '../src/gateway/ws/server.js';
import { TokenBucket } from '../src/gateway/ws/limits.js';
import * as sbe from '../src/protocol/codec.js';
import { describeReason } from '../src/protocol/reasons.js';
import { NODE_REJECT_NAMES } from '../src/risk/reasons.js';
import { gatewayNode, type GatewayNode } from './support/gateway-node.js';
import { BUYER, SELLER } from './support/node-config.js';
import { logonFrame } from './support/ws-session.js';

let env: GatewayNode;
beforeAll(async () => {
  env = await gatewayNode([[1, BUYER], [2, SELLER]]);
});
afterAll(() => env.close());

class Conn {
  readonly got: sbe.Decoded[] = [];
  closed: [number, string] | undefined;
  private readonly v = new DataView(new ArrayBuffer(1 << 17));
  private constructor(readonly ws: WebSocket) {
    ws.on('message', (data: Buffer) => this.got.push(...sbe.decodeMessages(new Uint8Array(data))));
    ws.on('close', (code, reason) => (this.closed = [code, reason.toString()]));
  }
  static async logon(keyId: number): Promise<Conn> {
    const ws = new WebSocket(env.url);
    await new Promise((r) => ws.once('open', r));
    const c = new Conn(ws);
    ws.send(logonFrame(keyId, env.pems.get(keyId)!));
    await c.next('LogonAck');
    return c;
  }
  send(encode: (v: DataView) => number): void {
    this.ws.send(new Uint8Array(this.v.buffer, 0, encode(this.v)));
  }
  /** Everything received after `from` (a count of messages seen before the request). */
  async next<T extends sbe.Decoded['type']>(type: T, match: (m: Extract<sbe.Decoded, { type: T }>['message']) => boolean = () => true, from = 0): Promise<Extract<sbe.Decoded, { type: T }>['message']> {
    for (let i = 0; i < 500; i++) {
      const found = this.got.slice(from).find((d) => d.type === type && match(d.message as never));
      if (found) return found.message as never;
      if (this.closed) throw new Error(`closed ${this.closed}`);
      await new Promise((r) => setTimeout(r, 10));
    }
    throw new Error(`no ${type}`);
  }
}

const order = (clOrdId: number, side: number, price: number, qty: number): sbe.NewOrder => ({
  clOrdId, instrument: 1, side: side as sbe.Side, ordType: sbe.OrdType.Limit, timeInForce: sbe.TimeInForce.GTC, stpMode: sbe.StpMode.None, price, qty,
});

describe('one registry of reasons', () => {
  it('[OPS-1] the schema names every core, node and cancel reason as the code does, in ranges that do not overlap', () => {
    for (const [code, name] of Object.entries(REJECT_REASON_NAMES)) {
      expect(Number(code)).toBeLessThan(100);
      // The schema says "CoreUnknownInstrument" where the node's own check has the plain name.
      expect(sbe.RejectReasonNames[Number(code)].replace(/^Core/, '')).toBe(name);
    }
    for (const [code, name] of Object.entries(NODE_REJECT_NAMES)) {
      expect(Number(code)).toBeGreaterThanOrEqual(100);
      expect(Number(code)).toBeLessThan(200);
      expect(sbe.RejectReasonNames[Number(code)].replace(/^(Node|Retired)/, '')).toBe(name);
    }
    for (const [code, name] of Object.entries(CANCEL_REASON_NAMES)) expect(sbe.CancelReasonNames[300 + Number(code)]).toBe(name);
    for (const code of Object.keys(sbe.RejectReasonNames).map(Number)) {
      expect(sbe.CancelReasonNames[code] === undefined || code === 0).toBe(true);
      expect(sbe.RejectReasonText[code].length).toBeGreaterThan(5);
    }
    expect(describeReason(105)).toBe('InsufficientFunds (105): the available balance does not cover what the order must hold');
    expect(describeReason(302)).toBe("Mass (302): cancelled by a mass cancel, cancel-on-disconnect or the dead-man's switch");
  });

  it('[OPS-1] [SL-10] each layer refuses by its own name: the core, the node (grid before funds), the session', async () => {
    const c = await Conn.logon(1);
    c.send((v) => sbe.encodeNewOrder(v, 0, order(11, 0, 2_000, 1))); // far outside the band: the core
    c.send((v) => sbe.encodeNewOrder(v, 0, order(12, 0, 1_000, 5_000))); // over the buyer's notional limit: the node
    c.send((v) => sbe.encodeNewOrder(v, 0, order(12, 0, 1_000, 1))); // the same client order id: the session
    expect(await c.next('ExecutionReport', (r) => r.clOrdId === 11)).toMatchObject({ execType: sbe.ExecType.Rejected, rejectReason: sbe.RejectReason.PriceOutOfBand, cancelReason: 0 });
    expect(await c.next('ExecutionReport', (r) => r.clOrdId === 12)).toMatchObject({ execType: sbe.ExecType.Rejected, rejectReason: sbe.RejectReason.NotionalLimit });
    c.send((v) => sbe.encodeNewOrder(v, 0, order(13, 0, 1_000, 10_000_000))); // off the size limit, before funds: the grid
    expect(await c.next('ExecutionReport', (r) => r.clOrdId === 13)).toMatchObject({ execType: sbe.ExecType.Rejected, rejectReason: sbe.RejectReason.QuantityAboveMax });
    expect(await c.next('SessionReject')).toMatchObject({ reason: sbe.RejectReason.DuplicateClOrdId, refClOrdId: 12 });
    c.ws.close();
  });
});

describe('every request is answered', () => {
  it('[OPS-1] a mass cancel: a MassCancelReport after its Cancelled reports, with the count; one the node refuses says why', async () => {
    const c = await Conn.logon(2);
    c.send((v) => sbe.encodeNewOrder(v, 0, order(21, 1, 1_100, 1)));
    c.send((v) => sbe.encodeNewOrder(v, 0, order(22, 1, 1_101, 1)));
    await c.next('ExecutionReport', (r) => r.clOrdId === 22);
    c.send((v) => sbe.encodeMassCancel(v, 0, { clOrdId: 23, instrument: 0, side: sbe.SideFilter.Both }));
    const report = await c.next('MassCancelReport', (r) => r.clOrdId === 23);
    expect(report).toMatchObject({ instrument: 0, side: sbe.SideFilter.Both, cancelled: 2, rejectReason: 0 });
    const cancels = c.got.filter((d) => d.type === 'ExecutionReport' && d.message.requestClOrdId === 23).map((d) => (d.message as sbe.ExecutionReport).outSeq);
    expect(cancels.length).toBe(2);
    expect(Math.max(...cancels)).toBeLessThan(report.outSeq);
    c.send((v) => sbe.encodeMassCancel(v, 0, { clOrdId: 24, instrument: 99, side: sbe.SideFilter.Both }));
    expect(await c.next('MassCancelReport', (r) => r.clOrdId === 24)).toMatchObject({ instrument: 99, cancelled: 0, rejectReason: sbe.RejectReason.UnknownInstrument });
    c.ws.close();
  });

  it('[OPS-1] a replay ends with ReplayComplete; the dead-man\'s switch is acknowledged; a trades subscription is acknowledged', async () => {
    const c = await Conn.logon(2);
    c.send((v) => sbe.encodeNewOrder(v, 0, order(31, 1, 1_200, 1)));
    const placed = await c.next('ExecutionReport', (r) => r.clOrdId === 31);
    let seen = c.got.length;
    c.send((v) => sbe.encodeReplayRequest(v, 0, { fromOutSeq: placed.outSeq }));
    expect(await c.next('ReplayComplete', () => true, seen)).toEqual({ fromOutSeq: placed.outSeq, lastSentOutSeq: placed.outSeq, lastOutSeq: placed.outSeq });
    seen = c.got.length;
    c.send((v) => sbe.encodeReplayRequest(v, 0, { fromOutSeq: placed.outSeq + 1 }));
    expect(await c.next('ReplayComplete', () => true, seen)).toEqual({ fromOutSeq: placed.outSeq + 1, lastSentOutSeq: placed.outSeq, lastOutSeq: placed.outSeq });
    const before = BigInt(Date.now()) * 1_000_000n;
    c.send((v) => sbe.encodeDeadMansSwitch(v, 0, { timeoutMs: 60_000 }));
    const armed = await c.next('DeadMansSwitchAck');
    expect(armed.timeoutMs).toBe(60_000);
    expect(armed.deadlineNs).toBeGreaterThanOrEqual(before + 60_000_000_000n);
    seen = c.got.length;
    c.send((v) => sbe.encodeDeadMansSwitch(v, 0, { timeoutMs: 0 }));
    expect(await c.next('DeadMansSwitchAck', () => true, seen)).toEqual({ timeoutMs: 0, deadlineNs: 0n });
    c.send((v) => sbe.encodeSubscribe(v, 0, { instrument: 1, channel: sbe.Channel.Trades }));
    expect(await c.next('SubscribeAck')).toEqual({ instrument: 1, channel: sbe.Channel.Trades });
    c.ws.close();
  });

  it('[OPS-1] open orders and balances are answered; an empty or oversized batch and a client order id of 0 are refused by name', async () => {
    const c = await Conn.logon(2);
    c.send((v) => sbe.encodeNewOrder(v, 0, order(41, 1, 1_300, 2)));
    await c.next('ExecutionReport', (r) => r.clOrdId === 41);
    c.send((v) => sbe.encodeOpenOrdersRequest(v, 0, { reqId: 5 }));
    const open = await c.next('OpenOrders', (m) => m.reqId === 5);
    expect(open.orders.find((o) => o.clOrdId === 41)).toMatchObject({ instrument: 1, side: sbe.Side.Sell, price: 1_300, leavesQty: 2 });
    c.send((v) => sbe.encodeBalancesRequest(v, 0, { reqId: 6 }));
    const balances = await c.next('Balances', (m) => m.reqId === 6);
    const base = balances.balances.find((b) => b.asset === 'BASE')!;
    expect(base.available + base.held).toBe(1_000);
    expect(base.held).toBe(open.orders.reduce((sum, o) => sum + o.leavesQty, 0));
    c.send((v) => sbe.encodeBatchNewOrders(v, 0, { orders: [] }));
    expect(await c.next('SessionReject', (r) => r.reason === sbe.RejectReason.EmptyBatch)).toMatchObject({ field: 'orders', text: 'a batch must hold at least one order' });
    c.send((v) => sbe.encodeBatchNewOrders(v, 0, { orders: Array.from({ length: BATCH_ORDERS_MAX + 1 }, (_, i) => order(10_000 + i, 1, 1_500, 1)) }));
    expect(await c.next('SessionReject', (r) => r.reason === sbe.RejectReason.BatchTooLarge)).toMatchObject({ text: `2001 orders: a batch holds at most ${BATCH_ORDERS_MAX}` });
    c.send((v) => sbe.encodeCancelOrder(v, 0, { clOrdId: 0, origClOrdId: 41, instrument: 1, orderId: 0 }));
    expect(await c.next('SessionReject', (r) => r.reason === sbe.RejectReason.InvalidClOrdId)).toMatchObject({ field: 'clOrdId', text: 'clOrdId must not be 0' });
    c.ws.close();
  });

  it('[OPS-1] a frame over 64 KiB closes the connection with 1009 and its size, not silently', async () => {
    const c = await Conn.logon(2);
    c.ws.send(new Uint8Array(FRAME_BYTES_MAX + 100));
    for (const end = Date.now() + 15_000; !c.closed && Date.now() < end;) await new Promise((r) => setTimeout(r, 10));
    expect(c.closed).toEqual([1009, `frame of ${FRAME_BYTES_MAX + 100} bytes: at most ${FRAME_BYTES_MAX}`]);
  });
});

describe('rate limits', () => {
  it('[OPS-1] a token bucket can be asked without spending (the gateway takes from both buckets only when both have one)', () => {
    const perKey = new TokenBucket(10, 2, 0);
    const perConnection = new TokenBucket(10, 1, 0);
    const take = () => {
      if (perKey.wait(0) !== 0 || perConnection.wait(0) !== 0) return false;
      perKey.take(0);
      perConnection.take(0);
      return true;
    };
    expect([take(), take(), take()]).toEqual([true, false, false]);
    // The per-key bucket still holds the token the per-connection refusal did not spend.
    expect(perKey.wait(0)).toBe(0);
  });
});
