// `junction perps stress --scenario FILE [--json]` (PERP-3): replays a scenario — each price
// source's prices over time, trades on the platform's own books — through the node's own pipeline
// (index, mark, margin exactly as the node computes them, on the scenario's clock) and prints the
// paths and which accounts would be liquidated (equity below maintenance margin). Nothing touches a
// data folder: the pipeline runs in memory.
//
// A scenario, in whole dollars and coins (converted to ledger units here):
// {
//   "name": "...", "description": "...",
//   "product": { ...PerpProduct fields to override (tiers, staleMs, outlierBps, markBandBps, ...) },
//   "start": { "prices": { "src-a": 95000, "src-b": 95010, "src-c": 94990 }, "book": 95000 },
//   "accounts": [{ "name": "long-20x", "collateral": 5000, "side": "long", "qty": 1, "entry": 95000 }],
//   "events": [{ "at": 10, "prices": { "src-a": 80000 } }, { "at": 11, "silence": ["src-b"] },
//              { "at": 12, "trade": { "book": "perp" | "spot", "price": 70000, "qty": 0.01 } }],
//   "seconds": 120, "step": 1
// }
import { readFileSync } from 'node:fs';
import { AccountKind, PLATFORM_CUSTODY } from '../ledger/model.js';
import { NodeRuntime, type NodeConfig } from '../pipeline/runtime.js';
import type { NodeCommand } from '../pipeline/commands.js';
import type { Pipeline } from '../pipeline/pipeline.js';
import type { PerpProduct } from './config.js';

const USD = 1_000_000;
const BTC = 100_000_000;
const SPOT = 1;
const PERP = 2;
const MAKER = 8;
const TAKER = 9;
const FIRST_ACCOUNT = 100;
const SOURCE_KEYS = [1, 2, 3];
const SOURCE_IDS = ['src-a', 'src-b', 'src-c'];
/** The scenario clock starts here (µs). */
const START_US = Date.parse('2026-01-01T00:00:00Z') * 1000;

export interface StressAccount { name: string; collateral: number; side: 'long' | 'short'; qty: number; entry: number }
/**
 * At `at` seconds: sources change price (each live source pushes its price every step, as a real
 * one streams), sources fall silent (they stop pushing: stale after staleMs), a trade on a book.
 */
export interface StressEvent { at: number; prices?: Record<string, number>; silence?: string[]; trade?: { book: 'perp' | 'spot'; price: number; qty: number } }
export interface Scenario {
  name: string;
  description?: string;
  product?: Partial<PerpProduct>;
  start: { prices: Record<string, number>; book?: number };
  accounts: StressAccount[];
  events: StressEvent[];
  seconds: number;
  step?: number;
}

export interface StressStep {
  t: number; index: number; mark: number; lastTrade: number; degraded: boolean; clamped: boolean;
  sources: { source: string; price: number; status: string }[];
  inputs: { fundingBasis: number; movingBasis: number; lastTrade: number };
}
export interface StressAccountResult {
  name: string; side: string; qty: number; entry: number; collateral: number;
  /** The liquidation price at the start, in dollars. */
  liquidationPrice: number;
  minEquity: number; maxMarginRatioBps: number;
  /** When its equity first fell below maintenance margin (seconds), or null. */
  liquidatedAt: number | null;
}
export interface StressResult { scenario: string; description: string; steps: StressStep[]; accounts: StressAccountResult[]; liquidated: string[] }

export const STRESS_PRODUCT: PerpProduct = {
  instrument: PERP, symbol: 'BTC-PERP', underlying: 'BTC',
  tiers: [
    { notionalMax: 250_000 * USD, imBps: 200, mmBps: 100, maxLeverage: 50 },
    { notionalMax: 1_000_000 * USD, imBps: 500, mmBps: 250, maxLeverage: 20 },
    { notionalMax: 10_000_000 * USD, imBps: 1_000, mmBps: 500, maxLeverage: 10 },
  ],
  fundingIntervalMin: 60, fundingCapE8: 750_000, interestE8: 1_250, premiumClampE8: 50_000, impactNotional: 10_000 * USD,
  sources: SOURCE_IDS.map((id, i) => ({ id, keyId: SOURCE_KEYS[i] })), bookInstrument: SPOT,
  staleMs: 10_000, outlierBps: 300, minSources: 3, basisMinutes: 30, markBandBps: 1_000, markWindowMs: 60_000,
};

function stressConfig(s: Scenario): NodeConfig {
  const account = (id: number, participant: number, kind: AccountKind) => ({
    id, participant, kind, feeTier: 0, custody: [PLATFORM_CUSTODY], instruments: [], ordersOpenMax: 10_000, orderNotionalMax: 0,
  });
  return {
    ordersMax: 1 << 16,
    assets: [{ code: 'USD', scale: 6, custody: PLATFORM_CUSTODY }, { code: 'BTC', scale: 8, custody: PLATFORM_CUSTODY }],
    participants: [
      { id: 1, name: 'platform', professionalInvestor: true, affiliatedMarketMaker: false, homeVenue: null },
      { id: 2, name: 'liquidity', professionalInvestor: true, affiliatedMarketMaker: false, homeVenue: null },
      ...s.accounts.map((a, i) => ({ id: 10 + i, name: a.name, professionalInvestor: true, affiliatedMarketMaker: false, homeVenue: null })),
    ],
    accounts: [
      account(1, 1, AccountKind.Fees), account(3, 1, AccountKind.Insurance), account(4, 1, AccountKind.Clearing),
      account(MAKER, 2, AccountKind.Client), account(TAKER, 2, AccountKind.Client),
      ...s.accounts.map((_, i) => account(FIRST_ACCOUNT + i, 10 + i, AccountKind.Client)),
    ],
    feeTiers: [{ id: 0, makerBps: 0, takerBps: 0 }],
    instruments: [
      { symbol: 'BTC-USD', base: 'BTC', quote: 'USD', spec: { id: SPOT, tickSize: 10_000, lotSize: 10_000, minQty: 10_000, maxQty: 1_000 * BTC, refPrice: Math.round(s.start.book ?? Object.values(s.start.prices)[0]) * USD, bandBps: 9_000 } },
      { symbol: 'BTC-PERP', base: 'BTC', quote: 'USD', spec: { id: PERP, tickSize: 10_000, lotSize: 10_000, minQty: 10_000, maxQty: 1_000 * BTC, refPrice: Math.round(s.start.book ?? Object.values(s.start.prices)[0]) * USD, bandBps: 9_000 } },
    ],
    perps: {
      products: [{ ...STRESS_PRODUCT, ...s.product, instrument: PERP, symbol: 'BTC-PERP', underlying: 'BTC' }],
      collateral: [{ asset: 'USD', kind: 'fiat', haircutBps: 0, status: 'active' }],
      settlementAsset: 'USD', clearingAccount: 4, residualAccount: 3,
    },
  };
}

const usd = (x: number) => Math.round(x * 100) * 10_000; // to the cent: on the tick
const btc = (x: number) => Math.round(x * 10_000) * 10_000; // to the lot

export function checkScenario(input: unknown): Scenario {
  const s = input as Scenario;
  const fail = (m: string): never => { throw new Error(`scenario: ${m}`); };
  if (typeof s !== 'object' || s === null) fail('must be a JSON object');
  if (typeof s.name !== 'string' || s.name === '') fail('name must be a text');
  if (typeof s.start !== 'object' || s.start === null || typeof s.start.prices !== 'object') fail('start.prices must name each source\'s first price');
  for (const id of Object.keys(s.start.prices)) if (!SOURCE_IDS.includes(id)) fail(`unknown source ${id}: the sources are ${SOURCE_IDS.join(', ')}`);
  if (!Array.isArray(s.accounts)) fail('accounts must be a list');
  for (const a of s.accounts) {
    if (typeof a.name !== 'string' || !(a.collateral > 0) || (a.side !== 'long' && a.side !== 'short') || !(a.qty > 0) || !(a.entry > 0)) {
      fail(`account ${JSON.stringify(a)}: needs name, collateral > 0, side long|short, qty > 0, entry > 0`);
    }
  }
  if (!Array.isArray(s.events)) fail('events must be a list');
  for (const e of s.events) {
    if (!(e.at >= 0)) fail(`event ${JSON.stringify(e)}: at must be seconds from the start`);
    for (const id of [...Object.keys(e.prices ?? {}), ...(e.silence ?? [])]) if (!SOURCE_IDS.includes(id)) fail(`event at ${e.at}: unknown source ${id}`);
    if (e.trade && ((e.trade.book !== 'perp' && e.trade.book !== 'spot') || !(e.trade.price > 0) || !(e.trade.qty > 0))) fail(`event at ${e.at}: trade needs book perp|spot, price > 0, qty > 0`);
  }
  if (!(s.seconds > 0) || s.seconds > 86_400) fail('seconds must be from 1 to 86400');
  if (s.step !== undefined && !(s.step > 0)) fail('step must be positive seconds');
  return s;
}

/** A trade between the two liquidity accounts at `price` on a book (what moves the last trade). */
function trade(book: number, price: number, qty: number): NodeCommand[] {
  return [
    { type: 'order', account: MAKER, instrument: book, side: 1, orderType: 0, tif: 0, price: usd(price), qty: btc(qty) },
    { type: 'order', account: TAKER, instrument: book, side: 0, orderType: 0, tif: 1, price: usd(price), qty: btc(qty) },
  ];
}

export function runStress(s: Scenario): StressResult {
  const config = stressConfig(s);
  const pipeline: Pipeline = NodeRuntime.build(config).pipeline;
  let seq = 0;
  let ts = START_US;
  const run = (commands: NodeCommand[]) => {
    const outcomes = pipeline.apply(commands.map((command) => ({ seq: ++seq, ts, command })));
    pipeline.ledger.takePending();
    return outcomes;
  };
  const must = (commands: NodeCommand[], what: string) => {
    for (const o of run(commands)) if (!o.ok) throw new Error(`scenario set-up (${what}) refused: ${o.reasonName}: ${o.text ?? ''}`);
  };
  const participants = [2, ...s.accounts.map((_, i) => 10 + i)];
  must(participants.map((participant) => ({
    type: 'admin', operator: 0,
    body: { action: 'investor.assess', participant, professional: true, assessor: 'stress', assessedOn: '2025-12-01', expires: '2026-12-31', result: 'pass' },
  })), 'assessments');
  const prices = (p: Record<string, number>) => Object.entries(p).map(([id, price]): NodeCommand => ({
    type: 'price', source: SOURCE_KEYS[SOURCE_IDS.indexOf(id)], underlying: 'BTC', price: usd(price), sourceTs: ts,
  }));
  must([
    { type: 'deposit', key: 'maker-usd', account: MAKER, asset: 'USD', amount: 1e9 * USD },
    { type: 'deposit', key: 'maker-btc', account: MAKER, asset: 'BTC', amount: 10_000 * BTC },
    { type: 'deposit', key: 'taker-usd', account: TAKER, asset: 'USD', amount: 1e9 * USD },
    ...s.accounts.map((a, i): NodeCommand => ({ type: 'deposit', key: `c-${i}`, account: FIRST_ACCOUNT + i, asset: 'USD', amount: usd(a.collateral) })),
    ...prices(s.start.prices),
  ], 'funding and first prices');
  if (s.start.book !== undefined) must(trade(SPOT, s.start.book, 0.01), 'the spot book\'s first trade');
  // The accounts' positions, opened against the liquidity accounts at their entry prices.
  s.accounts.forEach((a, i) => {
    const id = FIRST_ACCOUNT + i;
    const maker: NodeCommand = { type: 'order', account: MAKER, instrument: PERP, side: a.side === 'long' ? 1 : 0, orderType: 0, tif: 0, price: usd(a.entry), qty: btc(a.qty) };
    const taker: NodeCommand = { type: 'order', account: id, instrument: PERP, side: a.side === 'long' ? 0 : 1, orderType: 0, tif: 1, price: usd(a.entry), qty: btc(a.qty) };
    must([maker, taker], `${a.name}'s position`);
  });
  const startLiq = s.accounts.map((_, i) => pipeline.perps.accountView(FIRST_ACCOUNT + i).positions[0]?.liquidationPrice ?? 0);
  const results: StressAccountResult[] = s.accounts.map((a, i) => ({
    name: a.name, side: a.side, qty: a.qty, entry: a.entry, collateral: a.collateral, liquidationPrice: startLiq[i] / USD,
    minEquity: Number.MAX_SAFE_INTEGER, maxMarginRatioBps: 0, liquidatedAt: null,
  }));
  const step = s.step ?? 1;
  const events = [...s.events].sort((x, y) => x.at - y.at);
  const steps: StressStep[] = [];
  let next = 0;
  const start = ts;
  const live = new Map(Object.entries(s.start.prices));
  for (let t = step; t <= s.seconds + 1e-9; t += step) {
    ts = start + Math.round(t * 1_000_000);
    const trades: NodeCommand[] = [];
    while (next < events.length && events[next].at <= t) {
      const e = events[next++];
      for (const [id, price] of Object.entries(e.prices ?? {})) live.set(id, price);
      for (const id of e.silence ?? []) live.delete(id);
      if (e.trade) trades.push(...trade(e.trade.book === 'perp' ? PERP : SPOT, e.trade.price, e.trade.qty));
    }
    run([{ type: 'admin', operator: 0, body: { action: 'clock' } }, ...prices(Object.fromEntries(live)), ...trades]);
    // An account the batch found below maintenance margin went through the waterfall (its first step cancels its orders).
    const hit = new Set(pipeline.perps.waterfall.steps.map((x) => x.account));
    const m = pipeline.perps.marketView(PERP);
    steps.push({
      t, index: m.index / USD, mark: m.mark / USD, lastTrade: m.lastTrade / USD, degraded: m.degraded, clamped: m.clamped,
      sources: m.contributions.map((c) => ({ source: c.source, price: c.price / USD, status: c.status })),
      inputs: { fundingBasis: m.inputs.fundingBasis / USD, movingBasis: m.inputs.movingBasis / USD, lastTrade: m.inputs.lastTrade / USD },
    });
    s.accounts.forEach((_, i) => {
      const v = pipeline.perps.accountView(FIRST_ACCOUNT + i);
      const r = results[i];
      r.minEquity = Math.min(r.minEquity, v.equity / USD);
      r.maxMarginRatioBps = Math.max(r.maxMarginRatioBps, v.marginRatioBps);
      if (r.liquidatedAt === null && (hit.has(FIRST_ACCOUNT + i) || pipeline.perps.atRisk.has(FIRST_ACCOUNT + i))) r.liquidatedAt = t;
    });
  }
  return { scenario: s.name, description: s.description ?? '', steps, accounts: results, liquidated: results.filter((r) => r.liquidatedAt !== null).map((r) => r.name) };
}

/** The CLI's entry: reads and runs a scenario file; prints JSON or a summary. */
export function stressCommand(file: string, json: boolean): string {
  let parsed: unknown;
  try {
    parsed = JSON.parse(readFileSync(file, 'utf8'));
  } catch (e) {
    throw new Error(`cannot read scenario ${file}: ${(e as Error).message}`);
  }
  const result = runStress(checkScenario(parsed));
  if (json) return JSON.stringify(result);
  const lines = [`scenario ${result.scenario}: ${result.description}`];
  const lo = result.steps.reduce((m, x) => Math.min(m, x.mark), Infinity);
  const hi = result.steps.reduce((m, x) => Math.max(m, x.mark), -Infinity);
  const loTrade = result.steps.reduce((m, x) => Math.min(m, x.lastTrade || Infinity), Infinity);
  lines.push(`  mark between ${lo} and ${hi}; lowest last trade ${loTrade}; index degraded for ${result.steps.filter((x) => x.degraded).length} of ${result.steps.length} steps; circuit breaker held the mark in ${result.steps.filter((x) => x.clamped).length}`);
  for (const a of result.accounts) {
    lines.push(`  ${a.name}: ${a.side} ${a.qty} at ${a.entry} on ${a.collateral} collateral, liquidation price ${a.liquidationPrice}: ${a.liquidatedAt === null ? 'not liquidated' : `below maintenance margin at ${a.liquidatedAt} s`}`);
  }
  lines.push(`  would be liquidated: ${result.liquidated.length === 0 ? 'nobody' : result.liquidated.join(', ')}`);
  return lines.join('\n');
}
