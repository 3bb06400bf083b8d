// Ledger and pre-trade risk through the running pipeline: exact holds, fills, fees, releases and
// rejects, each checked to the unit, with the invariants after every scenario.
import { afterEach, describe, expect, it } from 'vitest';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { NodeRuntime } from '../src/pipeline/runtime.js';
import type { NodeCommand, Outcome } from '../src/pipeline/commands.js';
import { BUYER, FEES, MAKER, SELLER, VENUE_CLIENT, testConfig } from './support/node-config.js';

const QUOTE = 0;
const BASE = 1;
const open: NodeRuntime[] = [];

async function node(dataDir = mkdtempSync(join(tmpdir(), 'junction-ledger-'))): Promise<NodeRuntime> {
  const n = await NodeRuntime.open({ dataDir, config: testConfig(), snapshotEveryBatches: 3 });
  open.push(n);
  return n;
}

afterEach(async () => {
  for (const n of open.splice(0)) await n.close().catch(() => {});
});

function bal(n: NodeRuntime, account: number, asset: number): [number, number] {
  const b = n.ledger.balance(account, asset);
  return [b.available, b.held];
}

const buy = (account: number, price: number, qty: number, extra: Partial<NodeCommand> = {}): NodeCommand =>
  ({ type: 'order', account, instrument: 1, side: 0, orderType: 0, tif: 0, price, qty, ...extra }) as NodeCommand;
const sell = (account: number, price: number, qty: number, extra: Partial<NodeCommand> = {}): NodeCommand =>
  ({ type: 'order', account, instrument: 1, side: 1, orderType: 0, tif: 0, price, qty, ...extra }) as NodeCommand;

async function fund(n: NodeRuntime, account: number, asset: string, amount: number): Promise<Outcome> {
  return n.submit({ type: 'deposit', key: `fund-${account}-${asset}-${amount}`, account, asset, amount });
}

describe('pre-trade risk and the ledger', () => {
  it('[SL-10] rejects an order that is not fully pre-funded, and holds nothing', async () => {
    const n = await node();
    await fund(n, BUYER, 'QUOTE', 100_000);
    // 100 × 1000 = 100_000 notional + 200 max fee (20 bps) + 100 fill units: 100_300 needed.
    const o = await n.submit(buy(BUYER, 1_000, 100));
    expect(o).toMatchObject({ ok: false, reason: 105, reasonName: 'InsufficientFunds', events: [] });
    expect(bal(n, BUYER, QUOTE)).toEqual([100_000, 0]);
    expect(n.pipeline.orders.size).toBe(0);
    n.checkInvariants();
  });

  it('[SL-10] holds notional + maximum fee exactly; a fill consumes its share; a cancel releases the rest once', async () => {
    const n = await node();
    await fund(n, BUYER, 'QUOTE', 1_000_000);
    await fund(n, SELLER, 'BASE', 1_000);
    const placed = await n.submit(buy(BUYER, 1_000, 100));
    expect(placed.ok).toBe(true);
    expect(bal(n, BUYER, QUOTE)).toEqual([1_000_000 - 100_300, 100_300]);
    // The seller takes 40 at 1000: notional 40_000; taker (seller) fee 80; maker (buyer) fee 40.
    const taken = await n.submit(sell(SELLER, 1_000, 40, { tif: 1 }));
    expect(taken.ok).toBe(true);
    expect(bal(n, SELLER, QUOTE)).toEqual([40_000 - 80, 0]);
    expect(bal(n, SELLER, BASE)).toEqual([960, 0]);
    // The buyer's hold is trimmed to exactly what its 60 left need: 60_000 + 120 + 60.
    expect(bal(n, BUYER, QUOTE)).toEqual([1_000_000 - 40_000 - 40 - 60_180, 60_180]);
    expect(bal(n, BUYER, BASE)).toEqual([40, 0]);
    expect(bal(n, FEES, QUOTE)).toEqual([120, 0]);
    const cancelled = await n.submit({ type: 'cancel', account: BUYER, instrument: 1, orderId: placed.orderId! });
    expect(cancelled.ok).toBe(true);
    expect(bal(n, BUYER, QUOTE)).toEqual([1_000_000 - 40_040, 0]);
    const again = await n.submit({ type: 'cancel', account: BUYER, instrument: 1, orderId: placed.orderId! });
    expect(again).toMatchObject({ ok: false, reasonName: 'UnknownOrder' });
    expect(bal(n, BUYER, QUOTE)).toEqual([1_000_000 - 40_040, 0]);
    n.checkInvariants();
  });

  it('[SL-10] a maker rebate is paid from the fee account out of the same fill\'s taker fee', async () => {
    const n = await node();
    await fund(n, MAKER, 'BASE', 10);
    await fund(n, BUYER, 'QUOTE', 100_000);
    expect((await n.submit(sell(MAKER, 1_400, 10))).ok).toBe(true);
    expect((await n.submit(buy(BUYER, 1_400, 10, { tif: 1 }))).ok).toBe(true);
    // notional 14_000: taker fee 28 (20 bps), maker rebate 7 (-5 bps, rounded down).
    expect(bal(n, MAKER, QUOTE)).toEqual([14_007, 0]);
    expect(bal(n, FEES, QUOTE)).toEqual([21, 0]);
    expect(bal(n, BUYER, QUOTE)).toEqual([100_000 - 14_028, 0]);
    n.checkInvariants();
  });

  it('[SL-10] checks custody, instrument permission, open-order and notional limits before the book', async () => {
    const n = await node();
    await fund(n, VENUE_CLIENT, 'QUOTE', 1_000_000);
    await fund(n, SELLER, 'QUOTE', 1_000_000);
    await fund(n, BUYER, 'QUOTE', 10_000_000);
    // QUOTE sits with the platform's custodian, which does not count for the venue's client.
    expect(await n.submit(buy(VENUE_CLIENT, 1_000, 1))).toMatchObject({ ok: false, reasonName: 'CustodyNotEligible' });
    expect(await n.submit({ ...buy(SELLER, 1_000, 1), instrument: 2 } as NodeCommand)).toMatchObject({ ok: false, reasonName: 'InstrumentNotEnabled' });
    expect(await n.submit(buy(BUYER, 1_000, 1_001))).toMatchObject({ ok: false, reasonName: 'NotionalLimit' });
    expect(await n.submit({ ...buy(BUYER, 1_000, 1), instrument: 9 } as NodeCommand)).toMatchObject({ ok: false, reasonName: 'UnknownInstrument' });
    expect(await n.submit({ ...buy(BUYER, 0, 1), orderType: 1, tif: 1 } as NodeCommand)).toMatchObject({ ok: false, reasonName: 'ProtectionPriceRequired' });
    for (let i = 0; i < 3; i++) expect((await n.submit(buy(BUYER, 900 + i, 1))).ok).toBe(true);
    expect(await n.submit(buy(BUYER, 950, 1))).toMatchObject({ ok: false, reasonName: 'OpenOrdersLimit' });
    expect(await n.submit({ type: 'order', account: FEES, instrument: 1, side: 0, orderType: 0, tif: 0, price: 1, qty: 1 })).toMatchObject({ ok: false, reasonName: 'AccountCannotTrade' });
    n.checkInvariants();
  });

  it('[SL-10] an order the core rejects (off the band) leaves no hold behind', async () => {
    const n = await node();
    await fund(n, BUYER, 'QUOTE', 10_000_000);
    const o = await n.submit(buy(BUYER, 1_600, 10)); // band is 500..1500
    expect(o).toMatchObject({ ok: false, reason: 15, reasonName: 'PriceOutOfBand' });
    expect(bal(n, BUYER, QUOTE)).toEqual([10_000_000, 0]);
    n.checkInvariants();
  });

  it('[SL-10] a market order holds at its protection price and releases what it did not use', async () => {
    const n = await node();
    await fund(n, SELLER, 'BASE', 5);
    await fund(n, BUYER, 'QUOTE', 100_000);
    await n.submit(sell(SELLER, 1_000, 5));
    const o = await n.submit({ ...buy(BUYER, 1_200, 10), orderType: 1, tif: 1 } as NodeCommand);
    expect(o.ok).toBe(true);
    // Filled 5 at 1000 (5_000 + 10 taker fee); the rest of the 12_000 + 24 + 10 hold is released.
    expect(bal(n, BUYER, QUOTE)).toEqual([100_000 - 5_010, 0]);
    expect(bal(n, BUYER, BASE)).toEqual([5, 0]);
    n.checkInvariants();
  });

  it('[SL-10] amend re-holds for the new price and quantity, and refuses an unfunded increase', async () => {
    const n = await node();
    await fund(n, BUYER, 'QUOTE', 200_000);
    const o = await n.submit(buy(BUYER, 1_000, 100)); // holds 100_300
    const up = await n.submit({ type: 'amend', account: BUYER, instrument: 1, orderId: o.orderId!, price: 1_000, qty: 150 });
    expect(up.ok).toBe(true);
    expect(bal(n, BUYER, QUOTE)).toEqual([200_000 - 150_450, 150_450]);
    const tooMuch = await n.submit({ type: 'amend', account: BUYER, instrument: 1, orderId: o.orderId!, price: 1_400, qty: 150 });
    expect(tooMuch).toMatchObject({ ok: false, reasonName: 'InsufficientFunds' });
    const down = await n.submit({ type: 'amend', account: BUYER, instrument: 1, orderId: o.orderId!, price: 900, qty: 10 });
    expect(down.ok).toBe(true);
    expect(bal(n, BUYER, QUOTE)).toEqual([200_000 - 9_028, 9_028]);
    const offBand = await n.submit({ type: 'amend', account: BUYER, instrument: 1, orderId: o.orderId!, price: 1_501, qty: 10 });
    expect(offBand).toMatchObject({ ok: false, reasonName: 'PriceOutOfBand' });
    expect(bal(n, BUYER, QUOTE)).toEqual([200_000 - 9_028, 9_028]);
    n.checkInvariants();
  });

  it('[SL-10] a withdrawal never takes held funds; deposits and withdrawals are idempotent by key', async () => {
    const n = await node();
    const first = await n.submit({ type: 'deposit', key: 'dep-1', account: BUYER, asset: 'QUOTE', amount: 10_000 });
    const repeat = await n.submit({ type: 'deposit', key: 'dep-1', account: BUYER, asset: 'QUOTE', amount: 10_000 });
    expect(repeat).toMatchObject({ ok: true, duplicateOf: first.seq });
    expect(bal(n, BUYER, QUOTE)).toEqual([10_000, 0]);
    await n.submit(buy(BUYER, 1_000, 5)); // holds 5_015
    expect(await n.submit({ type: 'withdraw', key: 'w-1', account: BUYER, asset: 'QUOTE', amount: 5_000 })).toMatchObject({ ok: false, reasonName: 'InsufficientFunds' });
    expect((await n.submit({ type: 'withdraw', key: 'w-2', account: BUYER, asset: 'QUOTE', amount: 4_985 })).ok).toBe(true);
    expect(bal(n, BUYER, QUOTE)).toEqual([0, 5_015]);
    expect(await n.submit({ type: 'deposit', key: 'x', account: BUYER, asset: 'NOPE', amount: 1 })).toMatchObject({ ok: false, reasonName: 'UnknownAsset' });
    expect(await n.submit({ type: 'deposit', key: 'y', account: BUYER, asset: 'QUOTE', amount: 1.5 })).toMatchObject({ ok: false, reasonName: 'InvalidAmount' });
    expect(await n.submit({ type: 'deposit', key: 'z', account: 999, asset: 'QUOTE', amount: 1 })).toMatchObject({ ok: false, reasonName: 'UnknownAccount' });
    n.checkInvariants();
  });

  it('[SL-10] an account cannot cancel or amend another account\'s order', async () => {
    const n = await node();
    await fund(n, BUYER, 'QUOTE', 100_000);
    const o = await n.submit(buy(BUYER, 1_000, 5));
    expect(await n.submit({ type: 'cancel', account: SELLER, instrument: 1, orderId: o.orderId! })).toMatchObject({ ok: false, reasonName: 'UnknownOrder' });
    expect(await n.submit({ type: 'amend', account: SELLER, instrument: 1, orderId: o.orderId!, price: 900, qty: 1 })).toMatchObject({ ok: false, reasonName: 'UnknownOrder' });
    const mass = await n.submit({ type: 'massCancel', account: SELLER });
    expect(mass).toMatchObject({ ok: true, events: [] });
    expect(n.pipeline.orders.size).toBe(1);
  });

  it('[OPS-2] the store refuses a batch whose predecessor is not in the journal, so a failed commit leaves no gap', async () => {
    const n = await node();
    await fund(n, BUYER, 'QUOTE', 100);
    let last = 0;
    for (const { batch } of n.store.journalAfter(0)) last = batch;
    expect(last).toBeGreaterThan(0);
    const record = { journal: Buffer.alloc(8), postings: Buffer.alloc(0), balances: [] };
    await expect(n.store.commit({ batch: last + 2, ...record })).rejects.toThrow(`batch ${last + 1} is not in the journal; batch ${last + 2} is refused`);
    expect([...n.store.journalAfter(last)]).toEqual([]);
  });

  it('[OPS-2] [CORE-4] a restart rebuilds the same balances, holds and books from LMDB', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'junction-ledger-'));
    const n = await node(dir);
    await fund(n, BUYER, 'QUOTE', 1_000_000);
    await fund(n, SELLER, 'BASE', 1_000);
    for (let i = 0; i < 10; i++) {
      await n.submit(buy(BUYER, 990 + i, 3));
      await n.submit(sell(SELLER, 995 + i, 2));
    }
    const before = { ledger: n.ledger.state(), orders: n.pipeline.state(), core: n.pipeline.core.snapshot(), seq: n.lastSequence };
    // Reopen without a clean close: recovery replays the journal after the last snapshot.
    await n.stop();
    const again = await NodeRuntime.open({ dataDir: dir, snapshotEveryBatches: 3 });
    open.push(again);
    expect(again.ledger.state()).toEqual(before.ledger);
    expect(again.pipeline.state()).toEqual(before.orders);
    expect(Buffer.from(again.pipeline.core.snapshot()).equals(Buffer.from(before.core))).toBe(true);
    expect(again.lastSequence).toBe(before.seq);
  });
});
