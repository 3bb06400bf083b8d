// Amends, cancels, mass cancels and fills of the same orders within one batch (issue 8, part 1).
// The pipeline used to take an amend's extra hold when the batch was applied, before the batch was
// matched: a cancel or fill earlier in the same batch then released it twice, or left the order
// holding less than it needed, and the node stopped (or, worse, committed the broken holds).
//
// The property test mixes commands the way real clients do — several on the same few orders within
// one batch, with random batch boundaries — and after every batch checks the ledger's holds against
// a plain model built only from the core's events: each open order's limit and remaining quantity,
// and what that needs held (a sell its quantity; a buy its notional, its tier's largest fee and one
// unit per possible fill). A restart must rebuild the same state.
import { describe, expect, it } from 'vitest';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AccountKind, PLATFORM_CUSTODY } from '../src/ledger/model.js';
import type { NodeCommand, Outcome } from '../src/pipeline/commands.js';
import { NodeRuntime, type NodeConfig } from '../src/pipeline/runtime.js';
import { mulberry32 } from './support/command-stream.js';
import { BUYER, MAKER, SELLER, testConfig } from './support/node-config.js';

const ACCOUNTS = 6;
const BATCHES = 1_200;

function config(): NodeConfig {
  const accounts: NodeConfig['accounts'] = [
    { id: 1, participant: 1, kind: AccountKind.Fees, feeTier: 0, custody: [PLATFORM_CUSTODY], instruments: [], ordersOpenMax: 0, orderNotionalMax: 0 },
  ];
  for (let i = 0; i < ACCOUNTS; i++) {
    accounts.push({
      id: 100 + i, participant: 10 + (i % 3), kind: AccountKind.Client, feeTier: i % 3, custody: [PLATFORM_CUSTODY],
      instruments: [], ordersOpenMax: 40, orderNotionalMax: 0,
    });
  }
  return {
    ordersMax: 4096,
    assets: [
      { code: 'USD', scale: 2, custody: PLATFORM_CUSTODY },
      { code: 'BTC', scale: 4, custody: PLATFORM_CUSTODY },
    ],
    participants: [1, 10, 11, 12].map((id) => ({ id, name: `p${id}`, professionalInvestor: true, affiliatedMarketMaker: false, homeVenue: null })),
    accounts,
    feeTiers: [{ id: 0, makerBps: 7, takerBps: 15 }, { id: 1, makerBps: -3, takerBps: 9 }, { id: 2, makerBps: 0, takerBps: 4 }],
    instruments: [
      // USD cents per whole BTC; quantities in 1e-4 BTC: notional = price × qty / 10^4.
      { symbol: 'BTC-USD', base: 'BTC', quote: 'USD', spec: { id: 1, tickSize: 100, lotSize: 100, minQty: 100, maxQty: 100_000, refPrice: 5_000_000, bandBps: 300 } },
    ],
  };
}
const FEE_BPS_MAX = [15, 9, 4]; // per tier: max(taker, maker, 0)
const USD = 0;
const BTC = 1;

interface ModelOrder { account: number; side: number; limit: number; remaining: number }

/** The open orders as the core's events describe them, and what they must hold. */
class HoldModel {
  readonly open = new Map<number, ModelOrder>();

  /** Follows one command's events; `command` gives the node's limit for an order it accepted. */
  follow(outcome: Outcome, command: NodeCommand): void {
    for (const e of outcome.events) {
      switch (e.kind) {
        case 1: // Accepted: the node holds at the order's own price (a market order's protection price)
          if (command.type === 'order') this.open.set(e.orderId, { account: e.account, side: e.side, limit: command.price, remaining: command.qty });
          break;
        case 3: { // Fill
          this.left(e.orderId, e.remaining);
          this.left(e.makerOrderId, e.makerRemaining);
          break;
        }
        case 4: this.open.delete(e.orderId); break; // Cancelled
        case 6: { // Amended
          const o = this.open.get(e.orderId)!;
          o.limit = e.price;
          o.remaining = e.remaining;
          break;
        }
        case 7: this.left(e.orderId, e.remaining); break; // Reduced
        default: break;
      }
    }
  }

  private left(id: number, remaining: number): void {
    if (remaining === 0) this.open.delete(id);
    else this.open.get(id)!.remaining = remaining;
  }

  /** account → [USD held, BTC held] that the open orders need. */
  holds(): Map<number, [number, number]> {
    const out = new Map<number, [number, number]>();
    for (const o of this.open.values()) {
      const h = out.get(o.account) ?? [0, 0];
      if (o.side === 1) h[BTC] += o.remaining;
      else {
        const notional = (o.limit * o.remaining) / 10_000;
        const tier = (o.account - 100) % 3;
        h[USD] += notional + Math.ceil((notional * FEE_BPS_MAX[tier]) / 10_000) + o.remaining / 100;
      }
      out.set(o.account, h);
    }
    return out;
  }
}

/** Commands that keep returning to the same few orders, as a market maker's quoting does. */
function generator(seed: number) {
  const random = mulberry32(seed);
  const int = (n: number) => Math.floor(random() * n);
  const hot: { id: number; account: number }[] = [];
  let key = 0;
  const price = () => 5_000_000 + (int(21) - 10) * 1_000;
  const qty = () => 100 * (1 + int(20));
  const next = (): NodeCommand => {
    const x = random();
    if (x < 0.04) return { type: 'deposit', key: `d${seed}-${key++}`, account: 100 + int(ACCOUNTS), asset: int(2) ? 'USD' : 'BTC', amount: 1 + int(30_000_000) };
    const target = hot.length ? hot[int(hot.length)] : undefined;
    if (target && x < 0.2) return { type: 'cancel', account: target.account, instrument: 1, orderId: target.id };
    if (target && x < 0.5) {
      // Up, down, or a new price; a second amend of the same order in the batch is common.
      return { type: 'amend', account: target.account, instrument: 1, orderId: target.id, price: random() < 0.5 ? price() : 5_000_000, qty: qty() * (random() < 0.5 ? 1 : 3) };
    }
    if (target && x < 0.55) return { type: 'massCancel', account: target.account, ...(random() < 0.5 ? { instrument: 1 } : {}), ...(random() < 0.3 ? { side: int(2) } : {}) };
    const market = random() < 0.08;
    return {
      type: 'order', account: 100 + int(ACCOUNTS), instrument: 1, side: int(2), orderType: market ? 1 : 0,
      tif: market ? 1 + int(2) : [0, 0, 0, 1, 2, 3][int(6)], price: price(), qty: qty(), ...(random() < 0.3 ? { stpMode: int(4) } : {}),
    };
  };
  const placed = (id: number, account: number) => {
    hot.push({ id, account });
    if (hot.length > 6) hot.shift();
  };
  return { next, placed, random };
}

describe('commands on the same orders within one batch', () => {
  for (const seed of [21, 22, 23, 24]) {
    it(`[SL-10] [OPS-2] [CORE-4] holds match a plain model after every batch of random same-order flow (seed ${seed})`, async () => {
      const dataDir = mkdtempSync(join(tmpdir(), 'junction-amend-prop-'));
      const node = await NodeRuntime.open({ dataDir, config: config(), snapshotEveryBatches: 40 });
      for (let a = 0; a < ACCOUNTS; a++) {
        await node.submit({ type: 'deposit', key: `u${a}`, account: 100 + a, asset: 'USD', amount: 200_000_000 });
        await node.submit({ type: 'deposit', key: `b${a}`, account: 100 + a, asset: 'BTC', amount: 4_000_000 });
      }
      const g = generator(seed);
      const model = new HoldModel();
      const seen = { amendAfterCloseInBatch: 0, amendAfterFillInBatch: 0, twoAmendsInBatch: 0, amendedUp: 0 };
      for (let b = 0; b < BATCHES; b++) {
        const size = 1 + Math.floor(g.random() * (g.random() < 0.3 ? 40 : 8));
        const commands = Array.from({ length: size }, () => g.next());
        // Submitted in one turn: one batch.
        const outcomes = await Promise.all(commands.map((c) => node.submit(c)));
        const closed = new Set<number>();
        const filled = new Set<number>();
        const amended = new Set<number>();
        outcomes.forEach((o, i) => {
          const c = commands[i];
          model.follow(o, c);
          if (c.type === 'order' && o.orderId) g.placed(o.orderId, c.account);
          if (c.type === 'amend') {
            if (closed.has(c.orderId)) seen.amendAfterCloseInBatch++;
            if (filled.has(c.orderId)) seen.amendAfterFillInBatch++;
            if (amended.has(c.orderId)) seen.twoAmendsInBatch++;
            if (o.ok && c.qty > 0) seen.amendedUp += o.events.some((e) => e.kind === 6 && e.flags === 0) ? 1 : 0;
            amended.add(c.orderId);
          }
          for (const e of o.events) {
            if (e.kind === 4) closed.add(e.orderId);
            if (e.kind === 3) {
              filled.add(e.orderId);
              filled.add(e.makerOrderId);
            }
          }
        });
        const where = `seed ${seed}, batch ${b}`;
        const holds = model.holds();
        for (let a = 0; a < ACCOUNTS; a++) {
          const account = 100 + a;
          const want = holds.get(account) ?? [0, 0];
          expect(node.ledger.balance(account, USD).held, `${where}: account ${account} USD held`).toBe(want[USD]);
          expect(node.ledger.balance(account, BTC).held, `${where}: account ${account} BTC held`).toBe(want[BTC]);
        }
        expect([...node.pipeline.orders.keys()].sort((x, y) => x - y), where).toEqual([...model.open.keys()].sort((x, y) => x - y));
        node.checkInvariants();
      }
      // The flow reached the combinations that used to break the holds.
      for (const [what, n] of Object.entries(seen)) expect(n, what).toBeGreaterThan(10);
      const state = { ledger: node.ledger.state(), orders: node.pipeline.state() };
      await node.stop(); // no closing snapshot: the reopen replays the journal
      const reopened = await NodeRuntime.open({ dataDir });
      expect(reopened.ledger.state()).toEqual(state.ledger);
      expect(reopened.pipeline.state()).toEqual(state.orders);
      await reopened.close();
    }, 120_000);
  }
});

describe('the outside tester\'s reproductions, each in one batch', () => {
  async function node(): Promise<NodeRuntime> {
    const n = await NodeRuntime.open({ dataDir: mkdtempSync(join(tmpdir(), 'junction-amend-')), config: testConfig() });
    for (const [account, asset] of [[BUYER, 'QUOTE'], [SELLER, 'BASE'], [MAKER, 'BASE'], [MAKER, 'QUOTE']] as const) {
      await n.submit({ type: 'deposit', key: `${account}${asset}`, account, asset, amount: 1_000_000 });
    }
    return n;
  }
  const sell = (account: number, price: number, qty: number): NodeCommand => ({ type: 'order', account, instrument: 1, side: 1, orderType: 0, tif: 0, price, qty });
  const buy = (account: number, price: number, qty: number, tif = 0): NodeCommand => ({ type: 'order', account, instrument: 1, side: 0, orderType: 0, tif, price, qty });

  it('[SL-10] [OPS-2] a cancel then an amend up of the same resting sell in one batch: the amend is refused and nothing is released twice', async () => {
    const n = await node();
    const { orderId } = await n.submit(sell(SELLER, 1_000, 10_000));
    // Other funds held by the same account, as in the report (the double release went unnoticed).
    await n.submit(sell(SELLER, 1_100, 5_000));
    const [cancel, amend] = await Promise.all([
      n.submit({ type: 'cancel', account: SELLER, instrument: 1, orderId: orderId! }),
      n.submit({ type: 'amend', account: SELLER, instrument: 1, orderId: orderId!, price: 1_000, qty: 50_000 }),
    ]);
    expect(cancel.seq + 1).toBe(amend.seq); // one batch
    expect(cancel.ok).toBe(true);
    expect([amend.ok, amend.reasonName]).toEqual([false, 'UnknownOrder']);
    expect(n.ledger.balance(SELLER, 1)).toEqual({ available: 995_000, held: 5_000 });
    n.checkInvariants();
    await n.close();
  });

  it('[SL-10] [OPS-2] two amends of one order in one batch, the second up: the order holds what its last amend needs', async () => {
    const n = await node();
    const { orderId } = await n.submit(buy(BUYER, 900, 100));
    const [a1, a2] = await Promise.all([
      n.submit({ type: 'amend', account: BUYER, instrument: 1, orderId: orderId!, price: 900, qty: 50 }),
      n.submit({ type: 'amend', account: BUYER, instrument: 1, orderId: orderId!, price: 950, qty: 200 }),
    ]);
    expect([a1.ok, a2.ok]).toEqual([true, true]);
    // 950 × 200 = 190,000 notional, + 20 bps max fee 380, + 200 lots.
    expect(n.ledger.balance(BUYER, 0)).toEqual({ available: 1_000_000 - 190_580, held: 190_580 });
    n.checkInvariants();
    await n.close();
  });

  it('[SL-10] [OPS-2] a fill earlier in the batch turns an amend down into an increase: the increase is checked and held', async () => {
    const n = await node();
    const { orderId } = await n.submit(buy(BUYER, 900, 100)); // holds 90,000 + 180 + 100
    const [fill, amend] = await Promise.all([
      n.submit(sell(SELLER, 900, 60)), // fills 60 of it: 40 left, holding 36,000 + 72 + 40
      n.submit({ type: 'amend', account: BUYER, instrument: 1, orderId: orderId!, price: 1_000, qty: 80 }), // "down" from 100, but up from 40
    ]);
    expect(fill.events.filter((e) => e.kind === 3).map((e) => e.qty)).toEqual([60]);
    expect(amend.ok).toBe(true);
    // Now 1,000 × 80 = 80,000 + 160 + 80 held; the buyer paid 54,000 and a 54 maker fee.
    expect(n.ledger.balance(BUYER, 0)).toEqual({ available: 1_000_000 - 54_000 - 54 - 80_240, held: 80_240 });
    n.checkInvariants();
    await n.close();
  });

  it('[SL-10] [OPS-2] a partial fill then an amend up of the maker in one batch, then a cancel: everything is released', async () => {
    const n = await node();
    const { orderId } = await n.submit(sell(MAKER, 1_000, 100));
    const [take, amend, cancel] = await Promise.all([
      n.submit(buy(BUYER, 1_000, 30, 1)),
      n.submit({ type: 'amend', account: MAKER, instrument: 1, orderId: orderId!, price: 1_000, qty: 500 }),
      n.submit({ type: 'cancel', account: MAKER, instrument: 1, orderId: orderId! }),
    ]);
    expect(take.events.filter((e) => e.kind === 3).map((e) => e.qty)).toEqual([30]);
    expect([amend.ok, cancel.ok]).toEqual([true, true]);
    expect(n.ledger.balance(MAKER, 1)).toEqual({ available: 1_000_000 - 30, held: 0 });
    n.checkInvariants();
    await n.close();
  });
});

describe('an amend obeys what a new order obeys', () => {
  it('[SL-10] an amend off the lot is refused as QuantityOffLot (it used to stop the node), one past the notional limit as NotionalLimit', async () => {
    const config = testConfig();
    config.instruments[0].spec = { ...config.instruments[0].spec, lotSize: 10, minQty: 10 };
    const n = await NodeRuntime.open({ dataDir: mkdtempSync(join(tmpdir(), 'junction-amend-limits-')), config });
    await n.submit({ type: 'deposit', key: 'q', account: BUYER, asset: 'QUOTE', amount: 5_000_000 });
    const placed = await n.submit({ type: 'order', account: BUYER, instrument: 1, side: 0, orderType: 0, tif: 0, price: 900, qty: 10 });
    const offLot = await n.submit({ type: 'amend', account: BUYER, instrument: 1, orderId: placed.orderId!, price: 900, qty: 15 });
    expect([offLot.ok, offLot.reasonName]).toEqual([false, 'QuantityOffLot']);
    // BUYER may not enter an order of over 1,000,000 notional; neither may an amend make one.
    const big = await n.submit({ type: 'amend', account: BUYER, instrument: 1, orderId: placed.orderId!, price: 1_000, qty: 1_010 });
    expect([big.ok, big.reasonName]).toEqual([false, 'NotionalLimit']);
    const fine = await n.submit({ type: 'amend', account: BUYER, instrument: 1, orderId: placed.orderId!, price: 1_000, qty: 1_000 });
    expect(fine.ok).toBe(true);
    expect(n.ledger.balance(BUYER, 0).held).toBe(1_000_000 + 2_000 + 100);
    n.checkInvariants();
    await n.close();
  });
});

describe('the journal', () => {
  it('[OPS-2] [CORE-4] never holds a command\'s origin, and keeps gateway commands in 64-byte records', async () => {
    const { encodeJournal, decodeJournal } = await import('../src/pipeline/journal.js');
    const origin = { gateway: 1, keyId: 7, clOrdId: 42, origClOrdId: 41 };
    const commands: NodeCommand[] = [
      { type: 'order', account: 20, instrument: 1, side: 0, orderType: 0, tif: 0, price: 900, qty: 3, origin },
      { type: 'cancel', account: 20, instrument: 1, orderId: 5, origin },
      { type: 'deposit', key: 'd', account: 20, asset: 'QUOTE', amount: 1 },
    ];
    const bytes = encodeJournal(commands.map((command, i) => ({ seq: i + 1, ts: 1, command })));
    // Two records and one JSON extra (the deposit): nothing of the origin.
    expect(bytes.toString('latin1')).not.toContain('keyId');
    const decoded = decodeJournal(bytes).map((s) => s.command);
    expect(decoded).toEqual(commands.map((c) => { const { origin: _, ...rest } = c as NodeCommand & { origin?: unknown }; return rest; }));
  });
});

describe('orders the core would read differently', () => {
  it('[CORE-2] [SL-10] an order type or time in force out of range is refused by name (the core would read it masked and rest it)', async () => {
    const n = await NodeRuntime.open({ dataDir: mkdtempSync(join(tmpdir(), 'junction-tif-')), config: testConfig() });
    await n.submit({ type: 'deposit', key: 'q', account: BUYER, asset: 'QUOTE', amount: 1_000_000 });
    const tif = await n.submit({ type: 'order', account: BUYER, instrument: 1, side: 0, orderType: 0, tif: 256, price: 900, qty: 1 });
    const type = await n.submit({ type: 'order', account: BUYER, instrument: 1, side: 0, orderType: 256, tif: 0, price: 900, qty: 1 });
    expect([tif.ok, tif.reasonName, type.ok, type.reasonName]).toEqual([false, 'InvalidTimeInForce', false, 'InvalidOrderType']);
    expect(n.ledger.balance(BUYER, 0)).toEqual({ available: 1_000_000, held: 0 });
    n.checkInvariants();
    await n.close();
  });
});
