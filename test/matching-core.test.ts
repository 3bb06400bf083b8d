// The TypeScript wrapper over the native core: batching, in-place event reading, depth, snapshots,
// and the guarantees at the N-API boundary (clear errors, a panic never crosses into Node).
import { describe, expect, it } from 'vitest';
import {
  CancelReason, CommandKind, EventKind, MatchingCore, OrderType, RejectReason, Scope, Side, StpMode, TimeInForce,
  type InstrumentSpec, type NewOrderCommand,
} from '../src/core/index.js';

const BTC: InstrumentSpec = { id: 1, tickSize: 10, lotSize: 100, minQty: 100, maxQty: 1_000_000, refPrice: 50_000_000, bandBps: 500 };
const ETH: InstrumentSpec = { id: 2, tickSize: 1, lotSize: 1, minQty: 1, maxQty: 10_000, refPrice: 3_000, bandBps: 1_000 };

function core(): MatchingCore {
  const c = new MatchingCore({ ordersMax: 1024, instrumentsMax: 8 });
  c.addInstrument(BTC);
  c.addInstrument(ETH);
  return c;
}

function order(fields: Partial<NewOrderCommand> & Pick<NewOrderCommand, 'orderId' | 'side' | 'price' | 'qty'>): NewOrderCommand {
  return {
    kind: CommandKind.NewOrder, instrument: BTC.id, account: 1, type: OrderType.Limit, tif: TimeInForce.GTC,
    stpGroup: 0, stpMode: StpMode.CancelNewest, ...fields,
  };
}

describe('MatchingCore', () => {
  it('[CORE-1] keeps separate price-time books per instrument with incremental L2 totals', () => {
    const c = core();
    c.execute([
      order({ orderId: 1, side: Side.Buy, price: 49_999_000, qty: 300 }),
      order({ orderId: 2, side: Side.Buy, price: 49_999_000, qty: 200 }),
      order({ orderId: 3, side: Side.Buy, price: 49_998_000, qty: 100 }),
      order({ orderId: 4, side: Side.Sell, price: 50_001_000, qty: 500 }),
      order({ orderId: 5, instrument: ETH.id, side: Side.Sell, price: 3_001, qty: 7 }),
    ]);
    expect(c.depth(BTC.id, Side.Buy, 10)).toEqual([
      { price: 49_999_000, qty: 500, count: 2 },
      { price: 49_998_000, qty: 100, count: 1 },
    ]);
    expect(c.top(BTC.id)).toEqual({ bid: { price: 49_999_000, qty: 500, count: 2 }, ask: { price: 50_001_000, qty: 500, count: 1 } });
    expect(c.top(ETH.id)).toEqual({ bid: undefined, ask: { price: 3_001, qty: 7, count: 1 } });
    const events = c.execute([order({ orderId: 6, side: Side.Sell, price: 49_999_000, qty: 400, account: 2 })]);
    expect(events.filter((e) => e.kind === EventKind.Fill).map((e) => [e.makerOrderId, e.qty, e.makerRemaining, e.tradeId]))
      .toEqual([[1, 300, 0, 1], [2, 100, 100, 2]]);
    expect(c.depth(BTC.id, Side.Buy, 1)).toEqual([{ price: 49_999_000, qty: 100, count: 1 }]);
    expect(c.stats().resting).toBe(4);
  });

  it('[CORE-2] reports every field of a fill and tags events with their command index', () => {
    const c = core();
    c.submit(order({ orderId: 10, side: Side.Sell, price: 50_000_000, qty: 200, account: 7 }));
    c.submit(order({ orderId: 11, side: Side.Buy, price: 50_000_000, qty: 300, account: 8, tif: TimeInForce.IOC }));
    const batch = c.flush();
    expect(batch.length).toBe(5); // Accepted, Rested, Accepted, Fill, Cancelled (IOC remainder)
    expect(batch.get(3)).toEqual({
      kind: EventKind.Fill, reason: 0, side: Side.Buy, flags: 0, instrument: 1, commandIndex: 1, account: 8,
      orderId: 11, makerOrderId: 10, price: 50_000_000, qty: 200, remaining: 100, makerRemaining: 0, tradeId: 1, makerAccount: 7,
    });
    expect([batch.kind(4), batch.reason(4), batch.qty(4)]).toEqual([EventKind.Cancelled, CancelReason.Unfilled, 100]);
    expect(batch.commandIndex(0)).toBe(0);
  });

  it('[CORE-2] rejects bad commands with stable codes and holds nothing', () => {
    const c = core();
    const events = c.execute([
      order({ orderId: 1, side: Side.Buy, price: 50_000_005, qty: 100 }),
      order({ orderId: 2, side: Side.Buy, price: 60_000_000, qty: 100 }),
      order({ orderId: 3, side: Side.Buy, price: 50_000_000, qty: 150 }),
      order({ orderId: 4, side: Side.Buy, price: 50_000_000, qty: 0 }),
      order({ orderId: 5, instrument: 99, side: Side.Buy, price: 50_000_000, qty: 100 }),
      { kind: CommandKind.Cancel, instrument: BTC.id, orderId: 12345, account: 1 },
      { kind: CommandKind.MassCancel, scope: 16, account: 0, instrument: 0, side: 0 },
    ]);
    expect(events.map((e) => [e.kind, e.reason, e.commandIndex])).toEqual([
      [EventKind.Rejected, RejectReason.PriceOffTick, 0],
      [EventKind.Rejected, RejectReason.PriceOutOfBand, 1],
      [EventKind.Rejected, RejectReason.QuantityOffLot, 2],
      [EventKind.Rejected, RejectReason.InvalidQuantity, 3],
      [EventKind.Rejected, RejectReason.UnknownInstrument, 4],
      [EventKind.Rejected, RejectReason.UnknownOrder, 5],
      [EventKind.Rejected, RejectReason.InvalidScope, 6],
    ]);
    expect(c.stats().resting).toBe(0);
  });

  it('[CORE-2] mass cancel by account across instruments', () => {
    const c = core();
    c.execute([
      order({ orderId: 1, side: Side.Buy, price: 49_990_000, qty: 100, account: 3 }),
      order({ orderId: 2, instrument: ETH.id, side: Side.Sell, price: 3_100, qty: 1, account: 3 }),
      order({ orderId: 3, side: Side.Buy, price: 49_990_000, qty: 100, account: 4 }),
    ]);
    const events = c.execute([{ kind: CommandKind.MassCancel, scope: Scope.Account, account: 3, instrument: 0, side: 0 }]);
    expect(events.map((e) => [e.kind, e.reason, e.orderId, e.instrument])).toEqual([
      [EventKind.Cancelled, CancelReason.Mass, 1, 1],
      [EventKind.Cancelled, CancelReason.Mass, 2, 2],
    ]);
    expect(c.stats().resting).toBe(1);
  });

  it('[CORE-4] a batch bigger than the event buffer grows it and loses nothing', () => {
    const c = new MatchingCore({ ordersMax: 4096, instrumentsMax: 2, eventsInitial: 2, batchCommandsMax: 4096 });
    c.addInstrument(ETH);
    for (let i = 1; i <= 2000; i++) c.submit(order({ instrument: ETH.id, orderId: i, side: Side.Sell, price: 3_000 + (i % 50), qty: 1 }));
    c.submit(order({ instrument: ETH.id, orderId: 5000, side: Side.Buy, price: 3_100, qty: 3000, tif: TimeInForce.IOC }));
    const batch = c.flush();
    // 2000 x (Accepted, Rested), then Accepted, 2000 fills and the unfilled remainder.
    expect(batch.length).toBe(4000 + 1 + 2000 + 1);
    expect(batch.kind(batch.length - 1)).toBe(EventKind.Cancelled);
    expect(batch.qty(batch.length - 1)).toBe(1000);
    expect(c.stats().resting).toBe(0);
  });

  it('[CORE-4] snapshot and restore rebuild identical books', () => {
    const c = core();
    c.execute([
      order({ orderId: 1, side: Side.Buy, price: 49_999_000, qty: 300, stpGroup: 4 }),
      order({ orderId: 2, side: Side.Sell, price: 50_002_000, qty: 200 }),
      order({ orderId: 3, instrument: ETH.id, side: Side.Buy, price: 2_999, qty: 9, tif: TimeInForce.PostOnly }),
    ]);
    const bytes = c.snapshot();
    const copy = MatchingCore.restore(bytes);
    expect(copy.snapshot().equals(bytes)).toBe(true);
    const sweep = [order({ orderId: 9, side: Side.Sell, price: 49_990_000, qty: 1_000, tif: TimeInForce.IOC })];
    expect(copy.execute(sweep)).toEqual(c.execute(sweep));
    expect(() => MatchingCore.restore(bytes.subarray(0, bytes.length - 3))).toThrow(/checksum|truncated/);
  });

  it('[CORE-5] a panic inside the native core surfaces as a JavaScript error, never a crash', () => {
    const c = core();
    c.execute([
      order({ orderId: 1, side: Side.Buy, price: 49_999_000, qty: 100 }),
      order({ orderId: 2, side: Side.Sell, price: 50_001_000, qty: 100 }),
    ]);
    // Rewrite the resting bid above the ask and fix the checksum: restoring it trips the
    // crossed-book assertion, a Rust panic, which must come back as a thrown Error.
    const bytes = Buffer.from(c.snapshot());
    const bidAt = bytes.indexOf(Buffer.from(new BigInt64Array([49_999_000n]).buffer));
    bytes.writeBigInt64LE(50_002_000n, bidAt);
    bytes.writeBigUInt64LE(fnv1a(bytes.subarray(0, bytes.length - 8)), bytes.length - 8);
    expect(() => MatchingCore.restore(bytes)).toThrow(/internal error in the matching core: crossed book/);
    // The process and the original core carry on.
    expect(c.stats().resting).toBe(2);
  });

  it('[CORE-1] an instrument with no band (bandBps 0) takes any positive price, before and after trades', () => {
    const c = core();
    c.addInstrument({ id: 3, tickSize: 1, lotSize: 1, minQty: 1, maxQty: 2 ** 31 - 1, refPrice: 100, bandBps: 0 });
    c.newOrder(3, 1, 7, Side.Sell, OrderType.Limit, TimeInForce.GTC, 5, 2, 0, StpMode.CancelNewest);
    c.newOrder(3, 2, 8, Side.Buy, OrderType.Limit, TimeInForce.IOC, 5, 1, 0, StpMode.CancelNewest);
    c.newOrder(3, 3, 7, Side.Sell, OrderType.Limit, TimeInForce.GTC, 2 ** 40, 1, 0, StpMode.CancelNewest);
    c.newOrder(3, 4, 8, Side.Buy, OrderType.Limit, TimeInForce.GTC, 1, 2 ** 31 - 1, 0, StpMode.CancelNewest);
    const kinds = c.flush().toArray().map((e) => e.kind);
    expect(kinds.filter((k) => k === EventKind.Rejected)).toEqual([]);
    expect(kinds.filter((k) => k === EventKind.Fill).length).toBe(1);
    expect(c.depth(3, Side.Sell, 10).map((l) => l.price)).toEqual([5, 2 ** 40]);
  });

  it('[CORE-5] refuses bad arguments at the boundary with a clear error', () => {
    const c = core();
    expect(() => c.addInstrument({ ...ETH, id: 3, tickSize: 0 })).toThrow('tickSize must be an integer in 1..=9007199254740991, got 0');
    expect(() => c.addInstrument({ ...ETH })).toThrow('instrument 2 already exists');
    expect(() => c.addInstrument({ ...ETH, id: 3, refPrice: 3_000, bandBps: 20_000 })).toThrow('bandBps must be in 0..=10000 (0: no band)');
    expect(() => new MatchingCore({ ordersMax: 0, instrumentsMax: 1 })).toThrow(/ordersMax/);
    const small = new MatchingCore({ ordersMax: 8, instrumentsMax: 1, batchCommandsMax: 1 });
    small.cancel(1, 1, 1);
    expect(() => small.cancel(1, 2, 1)).toThrow('batch is full (batchCommandsMax 1): flush first');
  });
});

function fnv1a(bytes: Uint8Array): bigint {
  let h = 0xcbf29ce484222325n;
  for (const b of bytes) h = ((h ^ BigInt(b)) * 0x100000001b3n) & 0xffffffffffffffffn;
  return h;
}
