// The liquidation waterfall under a crash (PERP-6): `npm run bench:liquidation -- --positions N
// --move 0.2` opens N perp positions (N accounts in long/short pairs, leverage spread from 2x to
// 40x) through the node's pipeline with two backstop providers and an insurance fund, then moves every
// source's price down by `move` in one batch and times until no account is below maintenance margin
// (the waterfall runs in the batch that moved the mark; batches follow while any account is left).
// Prints one JSON line: {"positions","liquidated","adl","time_to_safe_ms"} (liquidated: accounts
// taken through the waterfall; adl: positions closed by auto-deleveraging).
import { parseArgs } from 'node:util';
import type { NodeCommand } from '../src/pipeline/commands.js';
import { USD, perpsBench } from './perps-positions.js';

const { values } = parseArgs({ options: { positions: { type: 'string', default: '100000' }, move: { type: 'string', default: '0.2' } } });
const N = Math.floor(Number(values.positions) / 2) * 2;
const MOVE = Number(values.move);
// Two backstop providers, each committing 10,000,000 USD: what the product's largest margin tier
// lets one account hold (a provider never takes past its position limit).
const BACKSTOPS = [50, 51];

// A 20% move in one step: the circuit breaker is opened wide for the benchmark.
const bench = perpsBench(N, {
  product: { markBandBps: 5_000 }, extraAccounts: BACKSTOPS, seed: 7,
  setup: () => [
    { type: 'deposit', key: 'fund', account: 3, asset: 'USD', amount: 5_000_000 * USD },
    ...BACKSTOPS.flatMap((account): NodeCommand[] => [
      { type: 'deposit', key: `backstop-${account}`, account, asset: 'USD', amount: 25_000_000 * USD },
      { type: 'admin', operator: 0, body: { action: 'backstop.set', backstop: { account, capacity: 10_000_000 * USD, status: 'active' } } },
    ]),
  ],
});
const { pipeline, positions } = bench;

const liquidated = new Set<number>();
let adl = 0;
let batches = 0;
const started = performance.now();
bench.advance(1_000_000);
bench.apply(bench.prices(Math.round((95_000 * (1 - MOVE)) / 0.01) * 10_000));
do {
  for (const s of pipeline.perps.waterfall.steps) {
    if (s.stage === 'cancel') liquidated.add(s.account);
    if (s.stage === 'adl') adl++;
  }
  batches++;
  if (pipeline.perps.atRisk.size === 0) break;
  bench.advance(1_000);
  bench.apply([{ type: 'admin', operator: 0, body: { action: 'clock' } }]);
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
