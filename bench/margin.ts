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
import type { NodeCommand } from '../src/pipeline/commands.js';
import { USD, perpsBench } from './perps-positions.js';

const { values } = parseArgs({ options: { positions: { type: 'string', default: '100000' }, updates: { type: 'string', default: '2000' } } });
const N = Math.floor(Number(values.positions) / 2) * 2;
const UPDATES = Number(values.updates);

const bench = perpsBench(N, { seed: 42 });
const { pipeline, positions } = bench;
let index = 95_000 * USD;
/** The three sources a cent apart around the walk's price. */
const prices = (): NodeCommand[] => bench.prices(index).map((c, i) => ({ ...c, price: index + (i - 1) * 10_000 }) as NodeCommand);

const remargin: number[] = [];
const update: number[] = [];
let checkedMax = 0;
const liquidated = new Set<number>();
const started = performance.now();
for (let u = 0; u < UPDATES; u++) {
  bench.advance(1_000_000);
  // A random walk of up to ±0.1% a second, kept within ±3% of 95,000.
  index = Math.round(Math.min(97_850 * USD, Math.max(92_150 * USD, index * (1 + (bench.rnd() - 0.5) * 0.002))) / 10_000) * 10_000;
  const t0 = performance.now();
  bench.apply(prices());
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
