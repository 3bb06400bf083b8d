// Randomized ledger property test: many accounts, random deposits, withdrawals, orders of every
// kind, amends, cancels and mass cancels, some arriving together in one batch. After every step the
// invariants must hold: no negative balance, every asset's balances add up to deposits minus
// withdrawals, every account's held amount equals what its open orders still need, and the
// core's books equal the orders the node tracks. Finally a restart must rebuild the same state.
import { describe, expect, it } from 'vitest';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AccountKind, PLATFORM_CUSTODY } from '../src/ledger/model.js';
import type { NodeCommand } from '../src/pipeline/commands.js';
import { NodeRuntime, type NodeConfig } from '../src/pipeline/runtime.js';
import { mulberry32 } from './support/command-stream.js';

const ACCOUNTS = 12;
const STEPS = 5_000;
const SEEDS = [11, 12, 13];

function config(): NodeConfig {
  const accounts: NodeConfig['accounts'] = [
    { id: 1, participant: 1, kind: AccountKind.Fees, feeTier: 0, custody: [PLATFORM_CUSTODY], instruments: [], ordersOpenMax: 0, orderNotionalMax: 0 },
  ];
  for (let i = 0; i < ACCOUNTS; i++) {
    accounts.push({
      id: 100 + i, participant: 10 + (i % 4), kind: AccountKind.Client, feeTier: i % 3, custody: [PLATFORM_CUSTODY],
      instruments: [], ordersOpenMax: 5 + i, orderNotionalMax: i % 2 === 0 ? 0 : 5_000_000,
    });
  }
  return {
    ordersMax: 2048,
    assets: [
      { code: 'USD', scale: 2, custody: PLATFORM_CUSTODY },
      { code: 'BTC', scale: 4, custody: PLATFORM_CUSTODY },
      { code: 'ETH', scale: 3, custody: PLATFORM_CUSTODY },
    ],
    participants: [1, 10, 11, 12, 13].map((id) => ({ id, name: `p${id}`, professionalInvestor: true, affiliatedMarketMaker: false, homeVenue: null })),
    accounts,
    feeTiers: [{ id: 0, makerBps: 7, takerBps: 15 }, { id: 1, makerBps: -3, takerBps: 9 }, { id: 2, makerBps: 0, takerBps: 4 }],
    instruments: [
      // Prices in USD cents per whole coin; notional = price × qty / 10^scale(base).
      { symbol: 'BTC-USD', base: 'BTC', quote: 'USD', spec: { id: 1, tickSize: 100, lotSize: 100, minQty: 100, maxQty: 100_000, refPrice: 5_000_000, bandBps: 300 } },
      { symbol: 'ETH-USD', base: 'ETH', quote: 'USD', spec: { id: 2, tickSize: 10, lotSize: 100, minQty: 100, maxQty: 1_000_000, refPrice: 300_000, bandBps: 500 } },
    ],
  };
}

function generator(seed: number) {
  const random = mulberry32(seed);
  const int = (n: number) => Math.floor(random() * n);
  const orderIds: number[] = [];
  let key = 0;
  const next = (): NodeCommand => {
    const account = 100 + int(ACCOUNTS);
    const x = random();
    if (x < 0.1) return { type: 'deposit', key: `k${seed}-${key++}`, account, asset: ['USD', 'BTC', 'ETH'][int(3)], amount: 1 + int(20_000_000) };
    if (x < 0.15) return { type: 'withdraw', key: `k${seed}-${key++}`, account, asset: ['USD', 'BTC', 'ETH'][int(3)], amount: 1 + int(2_000_000) };
    const instrument = 1 + int(2);
    const [mid, tick, lot] = instrument === 1 ? [5_000_000, 100, 100] : [300_000, 10, 100];
    const price = mid + (int(41) - 20) * tick * (instrument === 1 ? 10 : 20);
    const qty = lot * (1 + int(30));
    if (x < 0.3 && orderIds.length) return { type: 'cancel', account, instrument, orderId: orderIds[int(orderIds.length)] };
    if (x < 0.4 && orderIds.length) return { type: 'amend', account, instrument, orderId: orderIds[int(orderIds.length)], price, qty };
    if (x < 0.42) return { type: 'massCancel', account, ...(random() < 0.5 ? { instrument } : {}), ...(random() < 0.3 ? { side: int(2) } : {}) };
    const market = random() < 0.1;
    return {
      type: 'order', account, instrument, side: int(2), orderType: market ? 1 : 0,
      tif: market ? 1 + int(2) : [0, 0, 1, 2, 3][int(5)], price, qty, ...(random() < 0.3 ? { stpMode: int(4) } : {}),
    };
  };
  return { next, orderIds, random };
}

describe('ledger properties', () => {
  for (const seed of SEEDS) {
    it(`[SL-10] [OPS-2] [CORE-4] invariants hold after every one of ${STEPS} random steps (seed ${seed})`, async () => {
      const dataDir = mkdtempSync(join(tmpdir(), 'junction-prop-'));
      const node = await NodeRuntime.open({ dataDir, config: config(), snapshotEveryBatches: 25 });
      const g = generator(seed);
      const reasons = new Map<string, number>();
      let fills = 0;
      for (let step = 0; step < STEPS; step++) {
        // Usually one command, sometimes several that land in one batch.
        const together = g.random() < 0.2 ? 2 + Math.floor(g.random() * 6) : 1;
        const outcomes = await Promise.all(Array.from({ length: together }, () => node.submit(g.next())));
        for (const o of outcomes) {
          if (o.orderId) g.orderIds.push(o.orderId);
          if (!o.ok) reasons.set(o.reasonName!, (reasons.get(o.reasonName!) ?? 0) + 1);
          fills += o.events.filter((e) => e.kind === 3).length;
        }
        try {
          node.checkInvariants();
        } catch (e) {
          throw new Error(`seed ${seed}, step ${step}: ${(e as Error).message}`);
        }
      }
      expect(fills).toBeGreaterThan(100);
      for (const r of ['InsufficientFunds', 'UnknownOrder', 'OpenOrdersLimit', 'PostOnlyWouldTake']) expect(reasons.get(r), r).toBeGreaterThan(0);
      const state = { ledger: node.ledger.state(), orders: node.pipeline.state() };
      await node.stop(); // no closing snapshot: the reopen replays the journal
      const reopened = await NodeRuntime.open({ dataDir });
      expect(reopened.ledger.state()).toEqual(state.ledger);
      expect(reopened.pipeline.state()).toEqual(state.orders);
      await reopened.close();
    }, 120_000);
  }
});
