// Shared by bench:margin and bench:liquidation: a node's pipeline (in memory) with one BTC
// perpetual priced by three sources, and N accounts holding positions in long/short pairs at
// 95,000 (0.001 to 0.01 BTC each, collateral for 2x to 40x), opened through the pipeline itself.
import { AccountKind, PLATFORM_CUSTODY } from '../src/ledger/model.js';
import type { NodeCommand } from '../src/pipeline/commands.js';
import { NodeRuntime, type NodeConfig } from '../src/pipeline/runtime.js';
import { STRESS_PRODUCT } from '../src/perps/stress.js';
import type { PerpProduct } from '../src/perps/config.js';

export const USD = 1_000_000;
export const PERP = 2;
/** The first position account; accounts below it are free for the benchmark's own (a backstop provider). */
export const FIRST = 100;

export interface PerpsBench {
  pipeline: ReturnType<typeof NodeRuntime.build>['pipeline'];
  /** Applies one batch at the bench's sequencer time; every command must be accepted. */
  apply(commands: NodeCommand[]): void;
  /** The three sources' updates at `price` (quote units), at the bench's time. */
  prices(price: number): NodeCommand[];
  /** Moves the bench's sequencer time on (µs). */
  advance(us: number): void;
  /** A seeded uniform [0, 1). */
  rnd(): number;
  positions: number;
}

export function perpsBench(n: number, options: { product?: Partial<PerpProduct>; extraAccounts?: number[]; seed?: number; setup?: (b: PerpsBench) => NodeCommand[] } = {}): PerpsBench {
  const account = (id: number, participant: number, kind: AccountKind) => ({ id, participant, kind, feeTier: 0, custody: [PLATFORM_CUSTODY], instruments: [], ordersOpenMax: 10, orderNotionalMax: 0 });
  const config: NodeConfig = {
    ordersMax: 1 << 18,
    assets: [{ code: 'USD', scale: 6, custody: PLATFORM_CUSTODY }, { code: 'BTC', scale: 8, custody: PLATFORM_CUSTODY }],
    participants: [{ id: 1, name: 'platform', professionalInvestor: true, affiliatedMarketMaker: false, homeVenue: null }, { id: 2, name: 'traders', professionalInvestor: true, affiliatedMarketMaker: false, homeVenue: null }],
    accounts: [account(1, 1, AccountKind.Fees), account(3, 1, AccountKind.Insurance), account(4, 1, AccountKind.Clearing),
      ...(options.extraAccounts ?? []).map((id) => account(id, 2, AccountKind.Client)),
      ...Array.from({ length: n }, (_, i) => account(FIRST + i, 2, AccountKind.Client))],
    feeTiers: [{ id: 0, makerBps: 0, takerBps: 0 }],
    instruments: [
      { symbol: 'BTC-USD', base: 'BTC', quote: 'USD', spec: { id: 1, tickSize: 10_000, lotSize: 10_000, minQty: 10_000, maxQty: 1e12, refPrice: 95_000 * USD, bandBps: 5_000 } },
      { symbol: 'BTC-PERP', base: 'BTC', quote: 'USD', spec: { id: PERP, tickSize: 10_000, lotSize: 10_000, minQty: 10_000, maxQty: 1e12, refPrice: 95_000 * USD, bandBps: 5_000 } },
    ],
    perps: { products: [{ ...STRESS_PRODUCT, ...options.product }], collateral: [{ asset: 'USD', kind: 'fiat', haircutBps: 0, status: 'active' }], settlementAsset: 'USD', clearingAccount: 4, residualAccount: 3 },
  };
  const { ledger, pipeline } = NodeRuntime.build(config);
  let seq = 0;
  let ts = Date.parse('2027-03-01T00:00:00Z') * 1000;
  let rng = options.seed ?? 42;
  const b: PerpsBench = {
    pipeline,
    apply(commands) {
      const outcomes = pipeline.apply(commands.map((command) => ({ seq: ++seq, ts, command })));
      ledger.takePending();
      for (const o of outcomes) if (!o.ok) throw new Error(`refused: ${o.reasonName} ${o.text ?? ''}`);
    },
    prices: (price) => [1, 2, 3].map((source) => ({ type: 'price', source, underlying: 'BTC', price, sourceTs: ts })),
    advance(us) { ts += us; },
    rnd() {
      rng = (rng + 0x6d2b79f5) | 0;
      let t = Math.imul(rng ^ (rng >>> 15), 1 | rng);
      t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
      return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
    },
    positions: 0,
  };
  b.apply([
    { type: 'admin', operator: 0, body: { action: 'investor.assess', participant: 2, professional: true, assessor: 'bench', assessedOn: '2027-01-01', expires: '2027-12-31', result: 'pass' } },
    ...(options.setup?.(b) ?? []),
    ...b.prices(95_000 * USD),
  ]);
  const started = performance.now();
  for (let from = 0; from < n; from += 2048) {
    const commands: NodeCommand[] = [];
    for (let i = from; i < Math.min(n, from + 2048); i += 2) {
      const qty = (1 + Math.floor(b.rnd() * 10)) * 100_000;
      const notional = (95_000 * USD * qty) / 1e8;
      for (const k of [0, 1]) commands.push({ type: 'deposit', key: `c${i + k}`, account: FIRST + i + k, asset: 'USD', amount: Math.ceil(notional / (2 + b.rnd() * 38)) });
      commands.push({ type: 'order', account: FIRST + i, instrument: PERP, side: 0, orderType: 0, tif: 0, price: 95_000 * USD, qty });
      commands.push({ type: 'order', account: FIRST + i + 1, instrument: PERP, side: 1, orderType: 0, tif: 1, price: 95_000 * USD, qty });
    }
    b.apply(commands);
  }
  b.advance(1_000_000);
  b.apply(b.prices(95_000 * USD)); // the first re-margin after set-up checks every account
  b.positions = [...pipeline.perps.accounts.values()].reduce((x, a) => x + a.positions.size, 0);
  process.stderr.write(`${b.positions} positions opened in ${Math.round(performance.now() - started)} ms\n`);
  return b;
}
