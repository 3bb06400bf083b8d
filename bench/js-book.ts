// Replays a workload file (the format of scripts/gen-ops.mjs; see src/core/workload.ts) through
// nodejs-order-book, the most used JavaScript limit order book on npm, on one book, and prints one
// JSON line in the shape of bench/replay.ts: {"engine","ops","ops_per_s","ns_per_op","fills","resting"}.
// The library has no price band or size limits, so it accepts every order the format allows; an
// order it refuses stops the run.
// usage: npm run bench:js-book -- --ops FILE [--runs N]
import { createRequire } from 'node:module';
import { parseArgs } from 'node:util';
import { OrderBook, Side, type IProcessOrder, type LimitOrderOptions } from 'nodejs-order-book';
import { WORKLOAD_RECORD_WORDS, WorkloadOp, readWorkload } from '../src/core/workload.js';

const LIBRARY = 'nodejs-order-book';
const { version } = createRequire(import.meta.url)(`${LIBRARY}/package.json`) as { version: string };

const { values } = parseArgs({
  options: {
    ops: { type: 'string' },
    runs: { type: 'string', default: '3' },
  },
});
if (!values.ops) {
  console.error('usage: npm run bench:js-book -- --ops FILE [--runs N]');
  process.exit(2);
}
const ops = readWorkload(values.ops);
const count = ops.length / WORKLOAD_RECORD_WORDS;
const runs = Number(values.runs);

// The library keys orders by string id. The ids are made once here, outside the timed loop,
// so the figure is the library's own cost and not our integer-to-string conversion.
const ids: string[] = new Array(count);
for (let i = 0; i < count; i++) ids[i] = String(ops[i * WORKLOAD_RECORD_WORDS + 4]);

// The library's TimeInForce enum is not exported from its entry point; its values are these strings.
const GTC = 'GTC' as LimitOrderOptions['timeInForce'];
const IOC = 'IOC' as LimitOrderOptions['timeInForce'];

interface Run { seconds: number; fills: number; resting: number }

// Fills are counted as maker orders touched, which is what the native core reports as one Fill
// event each. The library's response lists in `done` every maker it filled completely, plus the
// taker itself when the taker was filled completely; `partial` is the maker left partly filled, or
// the taker when it traded but kept a remainder. Entries that are the taker are not counted.
function makersTouched(r: IProcessOrder, takerId: string): number {
  let n = 0;
  const done = r.done;
  for (let k = 0; k < done.length; k++) if (done[k].id !== takerId) n++;
  if (r.partial !== null && r.partial.id !== takerId) n++;
  return n;
}

function resting(book: OrderBook): number {
  const s = book.snapshot();
  let n = 0;
  for (const level of s.bids) n += level.orders.length;
  for (const level of s.asks) n += level.orders.length;
  return n;
}

function run(): Run {
  const book = new OrderBook();
  let fills = 0;
  const start = process.hrtime.bigint();
  for (let i = 0; i < count; i++) {
    const r = i * WORKLOAD_RECORD_WORDS;
    const op = ops[r];
    const id = ids[i];
    // A cancel of an order that is already filled returns undefined: a no-op, as in the core.
    if (op === WorkloadOp.Cancel) book.cancel(id);
    else {
      const result = book.limit({
        side: ops[r + 1] === 0 ? Side.BUY : Side.SELL, id, size: ops[r + 3], price: ops[r + 2],
        timeInForce: op === WorkloadOp.Ioc ? IOC : GTC,
      });
      if (result.err !== null) throw new Error(`operation ${i} (id ${id}) rejected: ${result.err.message}`);
      fills += makersTouched(result, id);
    }
  }
  const seconds = Number(process.hrtime.bigint() - start) / 1e9;
  return { seconds, fills, resting: resting(book) };
}

// The first run warms the JIT; the best of the following runs is reported.
const warm = run();
let best: Run | undefined;
for (let i = 0; i < Math.max(1, runs); i++) {
  const r = run();
  if (r.fills !== warm.fills || r.resting !== warm.resting) {
    throw new Error(`runs disagree: fills ${r.fills} vs ${warm.fills}, resting ${r.resting} vs ${warm.resting}`);
  }
  if (!best || r.seconds < best.seconds) best = r;
}
console.log(JSON.stringify({
  engine: `${LIBRARY}@${version}`,
  ops: count,
  ops_per_s: Math.round(count / best!.seconds),
  ns_per_op: Number(((best!.seconds * 1e9) / count).toFixed(1)),
  fills: best!.fills,
  resting: best!.resting,
}));
