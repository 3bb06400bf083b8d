// Re-margining after a mark change (PERP-7): `npm run bench:margin -- --positions N [--updates U]`
// opens N perp positions (N accounts in pairs, leverage spread from 2x to 40x) through the node's
// pipeline, then applies U mark updates (the three sources' prices on a random walk, one batch per
// second of sequencer time) and times, per update, the re-margining the pipeline does: only accounts
// whose liquidation price lies between the old and the new mark (an index ordered by liquidation
// price), those changed since it was built, those on several products and those already at risk.
// Prints one JSON line: {"positions","mark_updates_per_s","remargin_p50_us","remargin_p99_us",
// "update_p99_us","checked_max","liquidated"} (update: the whole batch — index, mark, and the
// liquidation waterfalls the walk sets off for accounts it takes below maintenance margin).
import { parseArgs } from 'node:util';
import { AccountKind, PLATFORM_CUSTODY } from '../src/ledger/model.js';
import type { NodeCommand } from '../src/pipeline/commands.js';
import { NodeRuntime, type NodeConfig } from '../src/pipeline/runtime.js';
import { STRESS_PRODUCT } from '../src/perps/stress.js';

const { values } = parseArgs({ options: { positions: { type: 'string', default: '100000' }, updates: { type: 'string', default: '2000' } } });
const N = Math.floor(Number(values.positions) / 2) * 2;
const UPDATES = Number(values.updates);
const USD = 1_000_000;
const FIRST = 100;

const account = (id: number, participant: number, kind: AccountKind) => ({ id, participant, kind, feeTier: 0, custody: [PLATFORM_CUSTODY], instruments: [], ordersOpenMax: 10, orderNotionalMax: 0 });
const config: NodeConfig = {
  ordersMax: 1 << 18,
  assets: [{ code: 'USD', scale: 6, custody: PLATFORM_CUSTODY }, { code: 'BTC', scale: 8, custody: PLATFORM_CUSTODY }],
  participants: [{ id: 1, name: 'platform', professionalInvestor: true, affiliatedMarketMaker: false, homeVenue: null }, { id: 2, name: 'traders', professionalInvestor: true, affiliatedMarketMaker: false, homeVenue: null }],
  accounts: [account(1, 1, AccountKind.Fees), account(3, 1, AccountKind.Insurance), account(4, 1, AccountKind.Clearing),
    ...Array.from({ length: N }, (_, i) => account(FIRST + i, 2, AccountKind.Client))],
  feeTiers: [{ id: 0, makerBps: 0, takerBps: 0 }],
  instruments: [
    { symbol: 'BTC-USD', base: 'BTC', quote: 'USD', spec: { id: 1, tickSize: 10_000, lotSize: 10_000, minQty: 10_000, maxQty: 1e12, refPrice: 95_000 * USD, bandBps: 5_000 } },
    { symbol: 'BTC-PERP', base: 'BTC', quote: 'USD', spec: { id: 2, tickSize: 10_000, lotSize: 10_000, minQty: 10_000, maxQty: 1e12, refPrice: 95_000 * USD, bandBps: 5_000 } },
  ],
  perps: { products: [STRESS_PRODUCT], collateral: [{ asset: 'USD', kind: 'fiat', haircutBps: 0, status: 'active' }], settlementAsset: 'USD', clearingAccount: 4, residualAccount: 3 },
};
const { ledger, pipeline } = NodeRuntime.build(config);
let seq = 0;
let ts = Date.parse('2027-03-01T00:00:00Z') * 1000;
const apply = (commands: NodeCommand[]) => {
  const outcomes = pipeline.apply(commands.map((command) => ({ seq: ++seq, ts, command })));
  ledger.takePending();
  for (const o of outcomes) if (!o.ok) throw new Error(`refused: ${o.reasonName} ${o.text ?? ''}`);
  return outcomes;
};
let rng = 42;
const rnd = () => {
  rng = (rng + 0x6d2b79f5) | 0;
  let t = Math.imul(rng ^ (rng >>> 15), 1 | rng);
  t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
  return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
};
let index = 95_000 * USD;
const prices = (): NodeCommand[] => [1, 2, 3].map((source, i) => ({ type: 'price', source, underlying: 'BTC', price: index + (i - 1) * 10_000, sourceTs: ts }));
apply([{ type: 'admin', operator: 0, body: { action: 'investor.assess', participant: 2, professional: true, assessor: 'bench', assessedOn: '2027-01-01', expires: '2027-12-31', result: 'pass' } }, ...prices()]);

// The positions: pairs at 95,000, 0.01 to 0.1 BTC, each side's collateral giving 2x to 40x.
const setup = performance.now();
for (let from = 0; from < N; from += 2048) {
  const commands: NodeCommand[] = [];
  for (let i = from; i < Math.min(N, from + 2048); i += 2) {
    const qty = (1 + Math.floor(rnd() * 10)) * 100_000;
    const notional = (95_000 * USD * qty) / 1e8;
    for (const k of [0, 1]) commands.push({ type: 'deposit', key: `c${i + k}`, account: FIRST + i + k, asset: 'USD', amount: Math.ceil(notional / (2 + rnd() * 38)) });
    commands.push({ type: 'order', account: FIRST + i, instrument: 2, side: 0, orderType: 0, tif: 0, price: 95_000 * USD, qty });
    commands.push({ type: 'order', account: FIRST + i + 1, instrument: 2, side: 1, orderType: 0, tif: 1, price: 95_000 * USD, qty });
  }
  apply(commands);
}
ts += 1_000_000;
apply(prices()); // the first re-margin after set-up checks every changed account and builds the index
const positions = [...pipeline.perps.accounts.values()].reduce((n, a) => n + a.positions.size, 0);
process.stderr.write(`${positions} positions opened in ${Math.round(performance.now() - setup)} ms\n`);

const remargin: number[] = [];
const update: number[] = [];
let checkedMax = 0;
const liquidated = new Set<number>();
const started = performance.now();
for (let u = 0; u < UPDATES; u++) {
  ts += 1_000_000;
  // A random walk of up to ±0.1% a second, kept within ±3% of 95,000.
  index = Math.round(Math.min(97_850 * USD, Math.max(92_150 * USD, index * (1 + (rnd() - 0.5) * 0.002))) / 10_000) * 10_000;
  const t0 = performance.now();
  apply(prices());
  update.push((performance.now() - t0) * 1000);
  remargin.push(pipeline.perps.remarginUs);
  checkedMax = Math.max(checkedMax, pipeline.perps.remarginChecked);
  for (const step of pipeline.perps.waterfall.steps) if (step.stage === 'cancel') liquidated.add(step.account);
}
const elapsed = (performance.now() - started) / 1000;
const pct = (xs: number[], p: number) => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor(xs.length * p))];
process.stderr.write(`at risk after the walk: ${pipeline.perps.atRisk.size}; liquidated on the way: ${liquidated.size}\n`);
console.log(JSON.stringify({
  positions, mark_updates_per_s: Math.round(UPDATES / elapsed),
  remargin_p50_us: Math.round(pct(remargin, 0.5)), remargin_p99_us: Math.round(pct(remargin, 0.99)),
  update_p99_us: Math.round(pct(update, 0.99)), checked_max: checkedMax, liquidated: liquidated.size,
}));
