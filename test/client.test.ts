// The TypeScript client SDK against a real node and gateway on loopback.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { JunctionClient, SessionRejectError, type LocalBook } from '../src/client/client.js';
import * as sbe from '../src/protocol/codec.js';
import { BUYER, SELLER } from './support/node-config.js';
import { gatewayNode, type GatewayNode } from './support/gateway-node.js';

let url: string;
let pems: Map<number, string>;

let env: GatewayNode;

beforeAll(async () => {
  env = await gatewayNode([[1, BUYER], [2, SELLER]]);
  ({ url, pems } = env);
});

afterAll(() => env.close());

const connect = (keyId: number) => JunctionClient.connect({ url, keyId, privateKeyPem: pems.get(keyId)! });
const until = async (check: () => boolean) => {
  for (const end = Date.now() + 15_000; !check() && Date.now() < end;) await new Promise((r) => setTimeout(r, 10));
  expect(check()).toBe(true);
};

describe('client SDK', () => {
  it('[OPS-1] places, amends and cancels, resolving each with its report', async () => {
    const c = await connect(1);
    expect(c.logonAck).toMatchObject({ account: BUYER });
    expect(c.instruments.map((i) => i.symbol)).toEqual(['BASE-QUOTE', 'VBASE-QUOTE']);
    const placed = await c.place({ instrument: 1, side: sbe.Side.Buy, price: 990, qty: 5, clOrdId: 11 });
    expect(placed).toMatchObject({ execType: sbe.ExecType.New, clOrdId: 11, leavesQty: 5 });
    expect(await c.amend(1, 11, 990, 3)).toMatchObject({ execType: sbe.ExecType.Amended, leavesQty: 3 });
    expect(await c.cancel(1, 11)).toMatchObject({ execType: sbe.ExecType.Cancelled, clOrdId: 11 });
    expect(await c.cancel(1, 11)).toMatchObject({ reason: sbe.RejectReason.UnknownOrder });
    expect(await c.place({ instrument: 1, side: sbe.Side.Buy, price: 990, qty: 5_000_000 })).toMatchObject({ execType: sbe.ExecType.Rejected });
    c.close();
  });

  it('[OPS-1] a place the gateway refuses fails with the SessionReject naming its client order id; a cancel waits for its own answer', async () => {
    const c = await connect(1);
    const first = await c.place({ instrument: 1, side: sbe.Side.Buy, price: 900, qty: 1, clOrdId: 77 });
    expect(first.execType).toBe(sbe.ExecType.New);
    const again = c.place({ instrument: 1, side: sbe.Side.Buy, price: 901, qty: 1, clOrdId: 77 });
    await expect(again).rejects.toThrow('refused: DuplicateClOrdId (204): this client order id is in use or was used recently [clOrdId: clOrdId 77 was already used]');
    await expect(again).rejects.toMatchObject({ reject: { refClOrdId: 77, refTemplateId: sbe.TemplateId.NewOrder } });
    // Placed and cancelled at once: the place resolves with New, the cancel with Cancelled.
    const [placed, cancelled] = await Promise.all([
      c.place({ instrument: 1, side: sbe.Side.Buy, price: 902, qty: 1, clOrdId: 78 }), c.cancel(1, 78),
    ]);
    expect([placed.execType, (cancelled as sbe.ExecutionReport).execType]).toEqual([sbe.ExecType.New, sbe.ExecType.Cancelled]);
    await c.cancel(1, 77);
    c.close();
  });

  it('[OPS-1] two amends of one order sent together resolve with their own reports; a request while disconnected fails at once', async () => {
    const c = await connect(1);
    const placed = await c.place({ instrument: 1, side: sbe.Side.Buy, price: 903, qty: 5 });
    const [first, second] = await Promise.all([c.amend(1, placed.clOrdId, 903, 3), c.amend(1, placed.clOrdId, 903, 2)]);
    expect([(first as sbe.ExecutionReport).leavesQty, (second as sbe.ExecutionReport).leavesQty]).toEqual([3, 2]);
    expect((await c.cancel(1, placed.clOrdId)) as sbe.ExecutionReport).toMatchObject({ execType: sbe.ExecType.Cancelled });
    c.close();
    await new Promise((r) => setTimeout(r, 50));
    await expect(c.place({ instrument: 1, side: sbe.Side.Buy, price: 903, qty: 1 })).rejects.toThrow('not connected: the request was not sent');
  });

  it('[OPS-1] a request in flight when the connection drops fails with "outcome unknown"; its report still arrives after the catch-up', async () => {
    const c = await connect(1);
    const reports: sbe.ExecutionReport[] = [];
    c.on('report', (r: sbe.ExecutionReport) => reports.push(r));
    const inFlight = c.place({ instrument: 1, side: sbe.Side.Buy, price: 904, qty: 1, clOrdId: 904 });
    const caughtUp = new Promise((r) => c.once('replayComplete', r));
    c.dropConnection();
    await expect(inFlight).rejects.toThrow('connection lost (1006) before an answer: the request may or may not have been taken');
    // If the node took it, the report comes once the client has logged on again and caught up.
    await caughtUp;
    expect(c.connected).toBe(true);
    expect(reports.filter((r) => r.clOrdId === 904).map((r) => r.execType)).toEqual(
      env.node.pipeline.orders.size > 0 && [...env.node.pipeline.orders.values()].some((o) => o.limit === 904) ? [sbe.ExecType.New] : [],
    );
    await c.massCancel();
    c.close();
  });

  it('[OPS-1] open orders and balances asked past the rate limit fail with the refusal, not hang', async () => {
    // A burst of two, and a clock that stands still: the third request is refused, whatever the host.
    const frozenMs = Date.now();
    const limited = await gatewayNode([[5, SELLER]], 1, { limits: { perKeyPerSecond: 2, perConnectionPerSecond: 100, burst: 2 }, rateClock: () => frozenMs });
    try {
      const c = await JunctionClient.connect({ url: limited.url, keyId: 5, privateKeyPem: limited.pems.get(5)!, reconnect: false });
      expect(await c.openOrders()).toEqual([]);
      expect((await c.balances()).length).toBeGreaterThan(0);
      for (const ask of [() => c.openOrders(), () => c.balances()]) {
        const refused = await ask().then(() => undefined, (e: unknown) => e);
        expect(refused).toBeInstanceOf(SessionRejectError);
        expect((refused as SessionRejectError).reject).toMatchObject({ reason: sbe.RejectReason.RateLimited, field: 'rateLimit' });
      }
      c.close();
    } finally {
      await limited.close();
    }
  });

  it('[OPS-1] a replay refused by the rate limit is asked again until the history is delivered', async () => {
    // Two orders a second, a burst of two: a refused request waits about half a second for a token.
    const limited = await gatewayNode([[5, SELLER]], 1, { limits: { perKeyPerSecond: 2, perConnectionPerSecond: 100, burst: 2 } });
    try {
      const c = await JunctionClient.connect({ url: limited.url, keyId: 5, privateKeyPem: limited.pems.get(5)! });
      const first = await c.place({ instrument: 1, side: sbe.Side.Sell, price: 1_400, qty: 1 });
      await c.place({ instrument: 1, side: sbe.Side.Sell, price: 1_401, qty: 1 });
      await new Promise((r) => setTimeout(r, 1_100)); // the bucket is full again
      const refused: sbe.SessionReject[] = [];
      c.on('sessionReject', (r: sbe.SessionReject) => refused.push(r));
      const delivered: number[] = [];
      c.on('report', (r: sbe.ExecutionReport) => delivered.push(r.outSeq));
      // Two orders take both tokens; the replay of the first two reports, sent with them, is refused
      // and asked again until a token is back.
      const more = [1_402, 1_403].map((price) => c.place({ instrument: 1, side: sbe.Side.Sell, price, qty: 1 }));
      c.replay(first.outSeq);
      await Promise.all(more);
      await until(() => delivered.length === 4);
      expect(refused[0]).toMatchObject({ reason: sbe.RejectReason.RateLimited, refTemplateId: sbe.TemplateId.ReplayRequest });
      expect(delivered).toEqual([first.outSeq, first.outSeq + 1, first.outSeq + 2, first.outSeq + 3]);
      c.close();
    } finally {
      await limited.close();
    }
  });

  it('[OPS-1] keeps a local book, and re-snapshots when it sees a gap in bookSeq', async () => {
    const watcher = await connect(2);
    const books: LocalBook[] = [];
    watcher.on('book', (b: LocalBook) => books.push(b));
    watcher.subscribeBook(1);
    const trader = await connect(1);
    await trader.place({ instrument: 1, side: sbe.Side.Buy, price: 980, qty: 2 });
    await until(() => watcher.book(1)!.bids.some((l) => l.price === 980 && l.qty === 2));
    // A lost update: the client sees bookSeq jump, asks again, and ends with the true book.
    const gaps: number[][] = [];
    watcher.on('gap', (...args: number[]) => gaps.push(args));
    const at = watcher.book(1)!.bookSeq;
    (watcher as unknown as { onMessage(d: sbe.Decoded): void }).onMessage({
      type: 'BookUpdate', templateId: 32, message: { instrument: 1, bookSeq: at + 2, levels: [{ side: 0, price: 1, qty: 999, count: 1 }] },
    });
    expect(gaps).toEqual([[1, at, at + 2]]);
    await trader.place({ instrument: 1, side: sbe.Side.Buy, price: 981, qty: 1 });
    await until(() => watcher.book(1)!.bids.some((l) => l.price === 981));
    expect(watcher.book(1)!.bids.filter((l) => l.price === 980 || l.price === 981 || l.price === 1)).toEqual([
      { price: 981, qty: 1, count: 1 }, { price: 980, qty: 2, count: 1 },
    ]);
    trader.massCancel();
    await until(() => watcher.book(1)!.bids.length === 0);
    watcher.close();
    trader.close();
  });

  it('[OPS-1] reconnects after a drop and replays the reports it missed', async () => {
    const maker = await connect(1);
    const placed = await maker.place({ instrument: 1, side: sbe.Side.Buy, price: 1_000, qty: 4 });
    const reports: sbe.ExecutionReport[] = [];
    maker.on('report', (r: sbe.ExecutionReport) => reports.push(r));
    maker.dropConnection();
    // While it is away its order trades.
    const taker = await connect(2);
    await taker.place({ instrument: 1, side: sbe.Side.Sell, price: 1_000, qty: 4, timeInForce: sbe.TimeInForce.IOC });
    await until(() => reports.some((r) => r.clOrdId === placed.clOrdId && r.execType === sbe.ExecType.Fill));
    expect(reports.find((r) => r.execType === sbe.ExecType.Fill)).toMatchObject({ lastQty: 4, leavesQty: 0, outSeq: placed.outSeq + 1 });
    maker.close();
    taker.close();
  });

  it('[OPS-1] after a drop, delivers every missed report in order, over several replay pages, while new ones keep coming', async () => {
    const seller = await connect(2);
    const ORDERS = 702;
    const placed = await Promise.all(Array.from({ length: ORDERS }, () => seller.place({ instrument: 1, side: sbe.Side.Sell, price: 1_001, qty: 1 })));
    const from = placed[placed.length - 1].outSeq + 1;
    const delivered: number[] = [];
    seller.on('report', (r: sbe.ExecutionReport) => delivered.push(r.outSeq));
    seller.dropConnection();
    // While it is away, 600 of its 702 orders fill (600 reports, more than one replay page) ...
    // (The buyer may have 3 orders in flight: its IOC orders go three at a time.)
    const take = async (n: number) => {
      for (let done = 0; done < n; done += 3) {
        const taken = await Promise.all([0, 1, 2].map(() => env.node.submit({ type: 'order', account: BUYER, instrument: 1, side: 0, orderType: 0, tif: 1, price: 1_001, qty: 1 })));
        expect(taken.every((o) => o.ok)).toBe(true);
      }
    };
    await take(600);
    // ... and 102 more fill while it is logging on again and catching up.
    await until(() => delivered.length > 0);
    await take(102);
    await until(() => delivered.length === ORDERS);
    expect(delivered).toEqual(Array.from({ length: ORDERS }, (_, i) => from + i));
    seller.close();
  });
});
