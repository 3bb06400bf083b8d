// Replays a workload file (the format of scripts/gen-ops.mjs, see src/core/workload.ts) on one
// instrument and prints one JSON line:
// {"engine","ops","ops_per_s","ns_per_op","fills","resting","rejects","rejected_new_orders","reject_reasons", ...}
//   native     - through MatchingCore: commands written to the shared buffer, one N-API call per batch,
//                events read in place
//   native-raw - the whole file replayed inside Rust in one call (no N-API per batch); that call
//                returns only the fill count, so the rejects come from one untimed pass of the same
//                engine through MatchingCore, whose fills and resting count must agree
//   reference  - the TypeScript reference book
// Rejected cancels are expected (a cancel may name an order that has filled since). A rejected new
// order means the figure would time rejects instead of matching: the run prints its line, names
// the first such order on stderr and exits 1.
// usage: npm run bench:replay -- --ops FILE --engine native|native-raw|reference [--runs N] [--batch N] [--orders-max N]
import { parseArgs } from 'node:util';
import { RejectTally } from './rejects.js';
import {
  EventKind, MatchingCore, ReferenceBook, WORKLOAD_ACCOUNT, WORKLOAD_INSTRUMENT, WorkloadOp,
  readWorkload, workloadCommand, type Command,
} from '../src/core/index.js';
import { WORKLOAD_RECORD_WORDS } from '../src/core/workload.js';

const USAGE = 'usage: npm run bench:replay -- --ops FILE --engine native|native-raw|reference [--runs N] [--batch N] [--orders-max N]';
const { values } = parseArgs({
  options: {
    ops: { type: 'string' },
    engine: { type: 'string', default: 'native' },
    runs: { type: 'string', default: '5' },
    batch: { type: 'string', default: '4096' },
    'orders-max': { type: 'string', default: String(1 << 20) },
  },
});
if (!values.ops) {
  console.error(USAGE);
  process.exit(2);
}
function positive(name: string, text: string): number {
  const n = Number(text);
  if (!Number.isSafeInteger(n) || n < 1) {
    console.error(`--${name} must be a positive integer, got ${JSON.stringify(text)}\n${USAGE}`);
    process.exit(2);
  }
  return n;
}
const runs = positive('runs', values.runs!);
const batch = positive('batch', values.batch!);
const ordersMax = positive('orders-max', values['orders-max']!);
let ops: Int32Array;
try {
  ops = readWorkload(values.ops);
} catch (e) {
  console.error(`bench:replay: ${(e as Error).message}`);
  process.exit(2);
}
const count = ops.length / WORKLOAD_RECORD_WORDS;

interface Run { seconds: number; fills: number; resting: number; rejects?: RejectTally; bytesPerOrder?: number }

function newCore(): MatchingCore {
  const core = new MatchingCore({ ordersMax, instrumentsMax: 1, batchCommandsMax: batch });
  core.addInstrument(WORKLOAD_INSTRUMENT);
  return core;
}

function runNative(): Run {
  const core = newCore();
  const instrument = WORKLOAD_INSTRUMENT.id;
  const rejects = new RejectTally(ops);
  let fills = 0;
  let batchStart = 0;
  const start = process.hrtime.bigint();
  for (let i = 0; i < count; i++) {
    const r = i * WORKLOAD_RECORD_WORDS;
    const op = ops[r];
    if (op === WorkloadOp.Cancel) core.cancel(instrument, ops[r + 4], WORKLOAD_ACCOUNT);
    else core.newOrder(instrument, ops[r + 4], WORKLOAD_ACCOUNT, ops[r + 1], 0, op === WorkloadOp.Ioc ? 1 : 0, ops[r + 2], ops[r + 3], 0, 0);
    if (core.pending === batch || i === count - 1) {
      const events = core.flush();
      for (let e = 0; e < events.length; e++) {
        const kind = events.kind(e);
        if (kind === EventKind.Fill) fills++;
        else if (kind === EventKind.Rejected) rejects.count(batchStart + events.commandIndex(e), events.reason(e));
      }
      batchStart = i + 1;
    }
  }
  const seconds = Number(process.hrtime.bigint() - start) / 1e9;
  const stats = core.stats();
  return { seconds, fills, resting: stats.resting, rejects, bytesPerOrder: stats.memoryBytes / stats.ordersMax };
}

function runNativeRaw(): Run {
  const core = newCore();
  const start = process.hrtime.bigint();
  const fills = core.replayOpsNative(ops, WORKLOAD_INSTRUMENT.id, WORKLOAD_ACCOUNT);
  const seconds = Number(process.hrtime.bigint() - start) / 1e9;
  const stats = core.stats();
  return { seconds, fills, resting: stats.resting, bytesPerOrder: stats.memoryBytes / stats.ordersMax };
}

function runReference(): Run {
  const book = new ReferenceBook({ ordersMax, instrumentsMax: 1 });
  book.addInstrument(WORKLOAD_INSTRUMENT);
  const rejects = new RejectTally(ops);
  let fills = 0;
  const start = process.hrtime.bigint();
  for (let i = 0; i < count; i += batch) {
    const commands: Command[] = [];
    for (let j = i; j < Math.min(count, i + batch); j++) commands.push(workloadCommand(ops, j));
    for (const e of book.execute(commands)) {
      if (e.kind === EventKind.Fill) fills++;
      else if (e.kind === EventKind.Rejected) rejects.count(i + e.commandIndex, e.reason);
    }
  }
  const seconds = Number(process.hrtime.bigint() - start) / 1e9;
  return { seconds, fills, resting: book.resting, rejects };
}

function fail(message: string): never {
  console.error(`bench:replay: ${message}`);
  process.exit(1);
}

const engines: Record<string, () => Run> = { native: runNative, 'native-raw': runNativeRaw, reference: runReference };
const run = engines[values.engine!];
if (!run) {
  console.error(`unknown engine ${values.engine}: use native, native-raw or reference`);
  process.exit(2);
}
// The first run warms the JIT; the best of the following runs is reported. Every run must give
// the same outcome (the engines are deterministic).
const warm = run();
let best: Run | undefined;
for (let i = 0; i < runs; i++) {
  const r = run();
  if (r.fills !== warm.fills || r.resting !== warm.resting || r.rejects?.total !== warm.rejects?.total) {
    fail(`runs disagree: fills ${r.fills} vs ${warm.fills}, resting ${r.resting} vs ${warm.resting}`);
  }
  if (!best || r.seconds < best.seconds) best = r;
}
let rejects = best!.rejects;
if (!rejects) {
  // native-raw: count the rejects with one untimed pass of the same engine through MatchingCore.
  const audit = runNative();
  if (audit.fills !== best!.fills || audit.resting !== best!.resting) {
    fail(`native-raw and native disagree: fills ${best!.fills} vs ${audit.fills}, resting ${best!.resting} vs ${audit.resting}`);
  }
  rejects = audit.rejects!;
}

const result: Record<string, unknown> = {
  engine: values.engine,
  ops: count,
  ops_per_s: Math.round(count / best!.seconds),
  ns_per_op: Number(((best!.seconds * 1e9) / count).toFixed(1)),
  fills: best!.fills,
  resting: best!.resting,
  rejects: rejects.total,
  rejected_new_orders: rejects.newOrders,
  reject_reasons: rejects.reasons(),
};
if (best!.bytesPerOrder !== undefined) result.native_bytes_per_order_capacity = Number(best!.bytesPerOrder.toFixed(1));
console.log(JSON.stringify(result));

rejects.failOnRejectedNewOrders('bench:replay', 'matching', (name) => (name === 'OrderPoolFull' ? ' (raise --orders-max)' : ''));
