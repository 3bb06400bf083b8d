// The liquidation waterfall under a crash (PERP-6): `npm run bench:liquidation -- --positions N
// --move 0.2` opens N perp positions (N accounts in long/short pairs, leverage spread from 2x to
// 40x) through the node's pipeline with a backstop provider and an insurance fund, then moves every
// source's price down by `move` in one batch and times until no account is below maintenance margin
// (the waterfall runs in the batch that moved the mark; batches follow while any account is left).
// Prints one JSON line: {"positions","liquidated","adl","time_to_safe_ms"} (liquidated: accounts
// taken through the waterfall; adl: positions closed by auto-deleveraging).
import { parseArgs } from 'node:util';
import { AccountKind, PLATFORM_CUSTODY } from '../src/ledger/model.js';
import type { NodeCommand } from '../src/pipeline/commands.js';
import { NodeRuntime, type NodeConfig } from '../src/pipeline/runtime.js';
import { STRESS_PRODUCT } from '../src/perps/stress.js';

const { values } = parseArgs({ options: { positions: { type: 'string', default: '100000' }, move: { type: 'string', default: '0.2' } } });
const N = Math.floor(Number(values.positions) / 2) * 2;
const MOVE = Number(values.move);
const USD = 1_000_000;
const FIRST = 100;
const BACKSTOP = 50;

const account = (id: number, participant: number, kind: AccountKind) => ({ id, participant, kind, feeTier: 0, custody: [PLATFORM_CUSTODY], instruments: [], ordersOpenMax: 10, orderNotionalMax: 0 });
const config: NodeConfig = {
  ordersMax: 1 << 18,
  assets: [{ code: 'USD', scale: 6, custody: PLATFORM_CUSTODY }, { code: 'BTC', scale: 8, custody: PLATFORM_CUSTODY }],
  participants: [{ id: 1, name: 'platform', professionalInvestor: true, affiliatedMarketMaker: false, homeVenue: null }, { id: 2, name: 'traders', professionalInvestor: true, affiliatedMarketMaker: false, homeVenue: null }],
  accounts: [account(1, 1, AccountKind.Fees), account(3, 1, AccountKind.Insurance), account(4, 1, AccountKind.Clearing), account(BACKSTOP, 2, AccountKind.Client),
    ...Array.from({ length: N }, (_, i) => account(FIRST + i, 2, AccountKind.Client))],
  feeTiers: [{ id: 0, makerBps: 0, takerBps: 0 }],
  instruments: [
    { symbol: 'BTC-USD', base: 'BTC', quote: 'USD', spec: { id: 1, tickSize: 10_000, lotSize: 10_000, minQty: 10_000, maxQty: 1e12, refPrice: 95_000 * USD, bandBps: 5_000 } },
    { symbol: 'BTC-PERP', base: 'BTC', quote: 'USD', spec: { id: 2, tickSize: 10_000, lotSize: 10_000, minQty: 10_000, maxQty: 1e12, refPrice: 95_000 * USD, bandBps: 5_000 } },
  ],
  // A 20% move in one step: the circuit breaker is opened wide for the benchmark.
  perps: { products: [{ ...STRESS_PRODUCT, markBandBps: 5_000 }], collateral: [{ asset: 'USD', kind: 'fiat', haircutBps: 0, status: 'active' }], settlementAsset: 'USD', clearingAccount: 4, residualAccount: 3 },
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
let rng = 7;
const rnd = () => {
  rng = (rng + 0x6d2b79f5) | 0;
  let t = Math.imul(rng ^ (rng >>> 15), 1 | rng);
  t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
  return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
};
const prices = (price: number): NodeCommand[] => [1, 2, 3].map((source) => ({ type: 'price', source, underlying: 'BTC', price, sourceTs: ts }));
apply([
  { type: 'admin', operator: 0, body: { action: 'investor.assess', participant: 2, professional: true, assessor: 'bench', assessedOn: '2027-01-01', expires: '2027-12-31', result: 'pass' } },
  { type: 'deposit', key: 'fund', account: 3, asset: 'USD', amount: 5_000_000 * USD },
  { type: 'deposit', key: 'backstop', account: BACKSTOP, asset: 'USD', amount: 50_000_000 * USD },
  { type: 'admin', operator: 0, body: { action: 'backstop.set', backstop: { account: BACKSTOP, capacity: 20_000_000 * USD, status: 'active' } } },
  ...prices(95_000 * USD),
]);
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
apply(prices(95_000 * USD));
const positions = [...pipeline.perps.accounts.values()].reduce((n, a) => n + a.positions.size, 0);
process.stderr.write(`${positions} positions opened in ${Math.round(performance.now() - setup)} ms\n`);

const liquidated = new Set<number>();
let adl = 0;
let batches = 0;
const started = performance.now();
ts += 1_000_000;
apply(prices(Math.round((95_000 * (1 - MOVE)) / 0.01) * 10_000));
do {
  for (const s of pipeline.perps.waterfall.steps) {
    if (s.stage === 'cancel') liquidated.add(s.account);
    if (s.stage === 'adl') adl++;
  }
  batches++;
  if (pipeline.perps.atRisk.size === 0) break;
  ts += 1_000;
  apply([{ type: 'admin', operator: 0, body: { action: 'clock' } }]);
} while (batches < 100);
const elapsed = performance.now() - started;
// Check: nobody is below maintenance margin, nobody below zero equity.
let below = 0;
let negative = 0;
for (const id of pipeline.perps.accounts.keys()) {
  const f = pipeline.perps.figures(id);
  if (f.mm > 0 && f.equity < f.mm) below++;
  if (f.equity < 0) negative++;
}
process.stderr.write(`${batches} batch(es); below maintenance after: ${below}; below zero equity: ${negative}; insurance fund ${pipeline.perps.fundLevel() / USD} USD; stages: ${JSON.stringify(pipeline.perps.reports.at(-1)?.triggers ?? [])}\n`);
console.log(JSON.stringify({ positions, liquidated: liquidated.size, adl, time_to_safe_ms: Math.round(elapsed) }));
