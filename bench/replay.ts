// Replays a workload file (../shared/workloads format) on one instrument and prints one JSON line:
// {"engine","ops","ops_per_s","ns_per_op","fills","resting", ...}
//   native     - through MatchingCore: commands written to the shared buffer, one N-API call per batch,
//                events read in place
//   native-raw - the whole file replayed inside Rust in one call (no N-API per batch)
//   reference  - the TypeScript reference book
// usage: npm run bench:replay -- --ops FILE --engine native|native-raw|reference [--runs N] [--batch N]
import { parseArgs } from 'node:util';
import {
  EventKind, MatchingCore, ReferenceBook, WORKLOAD_ACCOUNT, WORKLOAD_INSTRUMENT, WorkloadOp, readWorkload,
  workloadCommand, type Command,
} from '../src/core/index.js';

const { values } = parseArgs({
  options: {
    ops: { type: 'string' },
    engine: { type: 'string', default: 'native' },
    runs: { type: 'string', default: '5' },
    batch: { type: 'string', default: '4096' },
  },
});
if (!values.ops) {
  console.error('usage: npm run bench:replay -- --ops FILE --engine native|native-raw|reference [--runs N] [--batch N]');
  process.exit(2);
}
const ops = readWorkload(values.ops);
const count = ops.length / 5;
const runs = Number(values.runs);
const batch = Number(values.batch);
const ORDERS_MAX = 1 << 20;

interface Run { seconds: number; fills: number; resting: number; bytesPerOrder?: number }

function newCore(): MatchingCore {
  const core = new MatchingCore({ ordersMax: ORDERS_MAX, instrumentsMax: 1, batchCommandsMax: batch });
  core.addInstrument(WORKLOAD_INSTRUMENT);
  return core;
}

function runNative(): Run {
  const core = newCore();
  const instrument = WORKLOAD_INSTRUMENT.id;
  let fills = 0;
  const start = process.hrtime.bigint();
  for (let i = 0; i < count; i++) {
    const r = i * 5;
    const op = ops[r];
    if (op === WorkloadOp.Cancel) core.cancel(instrument, ops[r + 4], WORKLOAD_ACCOUNT);
    else core.newOrder(instrument, ops[r + 4], WORKLOAD_ACCOUNT, ops[r + 1], 0, op === WorkloadOp.Ioc ? 1 : 0, ops[r + 2], ops[r + 3], 0, 0);
    if (core.pending === batch || i === count - 1) {
      const events = core.flush();
      for (let e = 0; e < events.length; e++) if (events.kind(e) === EventKind.Fill) fills++;
    }
  }
  const seconds = Number(process.hrtime.bigint() - start) / 1e9;
  const stats = core.stats();
  return { seconds, fills, resting: stats.resting, bytesPerOrder: stats.memoryBytes / stats.ordersMax };
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
  const book = new ReferenceBook({ ordersMax: ORDERS_MAX, instrumentsMax: 1 });
  book.addInstrument(WORKLOAD_INSTRUMENT);
  let fills = 0;
  const start = process.hrtime.bigint();
  for (let i = 0; i < count; i += batch) {
    const commands: Command[] = [];
    for (let j = i; j < Math.min(count, i + batch); j++) commands.push(workloadCommand(ops, j));
    for (const e of book.execute(commands)) if (e.kind === EventKind.Fill) fills++;
  }
  const seconds = Number(process.hrtime.bigint() - start) / 1e9;
  return { seconds, fills, resting: book.resting };
}

const engines: Record<string, () => Run> = { native: runNative, 'native-raw': runNativeRaw, reference: runReference };
const run = engines[values.engine!];
if (!run) {
  console.error(`unknown engine ${values.engine}: use native, native-raw or reference`);
  process.exit(2);
}
// The first run warms the JIT; the best of the following runs is reported.
run();
let best: Run | undefined;
for (let i = 0; i < Math.max(1, runs); i++) {
  const r = run();
  if (!best || r.seconds < best.seconds) best = r;
}
const result: Record<string, unknown> = {
  engine: values.engine,
  ops: count,
  ops_per_s: Math.round(count / best!.seconds),
  ns_per_op: Number(((best!.seconds * 1e9) / count).toFixed(1)),
  fills: best!.fills,
  resting: best!.resting,
};
if (best!.bytesPerOrder !== undefined) result.native_bytes_per_order_capacity = Number(best!.bytesPerOrder.toFixed(1));
console.log(JSON.stringify(result));
