// A small node with one perpetual for the perps tests: whole-unit prices and quantities (QUOTE and
// BASE have scale 0), so notional = price × qty and every figure in an assertion is plain.
import { AccountKind, PLATFORM_CUSTODY } from '../../src/ledger/model.js';
import { NodeRuntime, type NodeConfig } from '../../src/pipeline/runtime.js';
import type { NodeCommand, Outcome } from '../../src/pipeline/commands.js';
import type { Pipeline } from '../../src/pipeline/pipeline.js';
import type { PerpProduct, PerpsConfig } from '../../src/perps/config.js';

export const SPOT = 1;
export const PERP = 5;
export const FEES = 1;
export const INSURANCE = 3;
export const CLEARING = 4;
/** Professional investors (participants 2, 5, 6); BOB is not one. */
export const ALICE = 20;
export const BOB = 21;
export const CAROL = 22;
export const DAVE = 24;
export const SOURCES = [301, 302, 303];
export const MINUTE = 60_000_000;
export const HOUR = 60 * MINUTE;
/** 2026-11-29T00:00:00Z in µs: tests start here. */
export const T0 = Date.parse('2026-11-29T00:00:00Z') * 1000;

export const PRODUCT: PerpProduct = {
  instrument: PERP, symbol: 'BASE-PERP', underlying: 'BASE',
  tiers: [
    { notionalMax: 1_000_000, imBps: 1_000, mmBps: 500, maxLeverage: 10 },
    { notionalMax: 5_000_000, imBps: 2_000, mmBps: 1_000, maxLeverage: 5 },
  ],
  fundingIntervalMin: 60, fundingCapE8: 100_000, interestE8: 1_000, premiumClampE8: 50_000, impactNotional: 50_000,
  sources: SOURCES.map((keyId, i) => ({ id: `src-${i + 1}`, keyId })), bookInstrument: SPOT,
  staleMs: 10_000, outlierBps: 500, minSources: 3, basisMinutes: 30, markBandBps: 2_000, markWindowMs: 60_000,
};

export const PERPS: PerpsConfig = {
  products: [PRODUCT],
  collateral: [
    { asset: 'QUOTE', kind: 'fiat', haircutBps: 0, status: 'active' },
    { asset: 'STABLE', kind: 'stablecoin', haircutBps: 200, status: 'active' },
  ],
  settlementAsset: 'QUOTE', clearingAccount: CLEARING, residualAccount: INSURANCE,
};

export function perpConfig(overrides: Partial<NodeConfig> = {}): NodeConfig {
  const account = (id: number, participant: number, kind: AccountKind, feeTier = 0) => ({
    id, participant, kind, feeTier, custody: [PLATFORM_CUSTODY], instruments: [], ordersOpenMax: 100, orderNotionalMax: 0,
  });
  return {
    ordersMax: 4096,
    assets: [
      { code: 'QUOTE', scale: 0, custody: PLATFORM_CUSTODY },
      { code: 'BASE', scale: 0, custody: PLATFORM_CUSTODY },
      { code: 'STABLE', scale: 0, custody: PLATFORM_CUSTODY },
      { code: 'JUNK', scale: 0, custody: PLATFORM_CUSTODY },
    ],
    participants: [
      { id: 1, name: 'platform', professionalInvestor: true, affiliatedMarketMaker: false, homeVenue: null },
      { id: 2, name: 'alice', professionalInvestor: true, affiliatedMarketMaker: false, homeVenue: null },
      { id: 3, name: 'bob', professionalInvestor: false, affiliatedMarketMaker: false, homeVenue: null },
      { id: 5, name: 'carol', professionalInvestor: true, affiliatedMarketMaker: false, homeVenue: null },
      { id: 6, name: 'dave', professionalInvestor: true, affiliatedMarketMaker: false, homeVenue: null },
    ],
    accounts: [
      account(FEES, 1, AccountKind.Fees), account(2, 1, AccountKind.House), account(INSURANCE, 1, AccountKind.Insurance),
      account(CLEARING, 1, AccountKind.Clearing),
      account(ALICE, 2, AccountKind.Client), account(BOB, 3, AccountKind.Client), account(CAROL, 5, AccountKind.Client), account(DAVE, 6, AccountKind.Client, 1),
    ],
    feeTiers: [{ id: 0, makerBps: 0, takerBps: 0 }, { id: 1, makerBps: 0, takerBps: 5 }],
    instruments: [
      { symbol: 'BASE-QUOTE', base: 'BASE', quote: 'QUOTE', spec: { id: SPOT, tickSize: 1, lotSize: 1, minQty: 1, maxQty: 1_000_000, refPrice: 10_000, bandBps: 5_000 } },
      { symbol: 'BASE-PERP', base: 'BASE', quote: 'QUOTE', spec: { id: PERP, tickSize: 1, lotSize: 1, minQty: 1, maxQty: 1_000_000, refPrice: 10_000, bandBps: 5_000 } },
    ],
    perps: PERPS,
    ...overrides,
  };
}

/** Assessments that let participants 2, 5 and 6 trade perps until the end of 2027. */
/** A harness where all four traders may trade perps, the three sources at 10,000 (`h` to start from another). */
export function trading(config = perpConfig(), h = new PerpHarness(config)): PerpHarness {
  h.run(assessments([2, 3, 5, 6]));
  h.prices([10_000, 10_000, 10_000]);
  return h;
}

export function assessments(participants = [2, 5, 6]): NodeCommand[] {
  return participants.map((participant) => ({
    type: 'admin', operator: 900,
    body: { action: 'investor.assess', participant, professional: true, assessor: 'compliance desk', assessedOn: '2026-11-01', expires: '2027-12-31', result: 'pass' },
  }));
}

/**
 * The pipeline driven directly, batch by batch, at the sequencer times a test chooses (what the
 * runtime does, without the disk): every batch's outcomes, and the journal to replay.
 */
export class PerpHarness {
  readonly pipeline: Pipeline;
  seq = 0;
  ts = T0;
  readonly journal: { seq: number; ts: number; command: NodeCommand }[][] = [];

  constructor(readonly config: NodeConfig = perpConfig()) {
    this.pipeline = NodeRuntime.build(config).pipeline;
  }

  get perps() { return this.pipeline.perps; }

  /** Applies one batch at `ts` (default: the harness's time). */
  run(commands: NodeCommand[], ts = this.ts): Outcome[] {
    this.ts = Math.max(this.ts, ts);
    const batch = commands.map((command) => ({ seq: ++this.seq, ts: this.ts, command }));
    this.journal.push(batch.map((b) => ({ ...b, command: structuredClone(withoutOrigin(b.command)) })));
    const outcomes = this.pipeline.apply(batch);
    this.pipeline.ledger.takePending();
    return outcomes;
  }

  /** One command, which must be accepted. */
  ok(command: NodeCommand, ts?: number): Outcome {
    const [o] = this.run([command], ts);
    if (!o.ok) throw new Error(`${command.type} refused: ${o.reasonName}: ${o.text ?? ''}`);
    return o;
  }

  deposit(account: number, amount: number, asset = 'QUOTE'): void {
    this.ok({ type: 'deposit', key: `d-${account}-${asset}-${this.seq}`, account, asset, amount });
  }

  /** Each source pushes a price (at the harness's time). */
  prices(prices: number[], ts = this.ts): Outcome[] {
    return this.run(prices.map((price, i) => ({ type: 'price', source: SOURCES[i], underlying: 'BASE', price, sourceTs: ts })), ts);
  }

  order(account: number, side: number, price: number, qty: number, extra: Partial<{ tif: number; orderType: number; reduceOnly: boolean; instrument: number }> = {}): Outcome {
    const [o] = this.run([{ type: 'order', account, instrument: extra.instrument ?? PERP, side, orderType: extra.orderType ?? 0, tif: extra.tif ?? 0, price, qty, ...(extra.reduceOnly !== undefined ? { reduceOnly: extra.reduceOnly } : {}) }]);
    return o;
  }

  balance(account: number, asset = 'QUOTE'): number {
    const l = this.pipeline.ledger;
    return l.balance(account, l.assetIndex.get(asset)!).available;
  }

  /** Replays the journal into a new pipeline; returns it. */
  replay(): Pipeline {
    const p = NodeRuntime.build(this.config).pipeline;
    for (const batch of this.journal) {
      p.apply(batch.map((b) => ({ ...b, command: structuredClone(b.command) })));
      p.ledger.takePending();
    }
    return p;
  }
}

function withoutOrigin(c: NodeCommand): NodeCommand {
  const { origin: _, ...rest } = c as NodeCommand & { origin?: unknown };
  return rest as NodeCommand;
}
