// Micro-benchmarks of the native core through MatchingCore: resting adds, cancels, and IOC sweeps.
// Each iteration prepares its book untimed, times only the queueing and the one flush of a batch,
// and reports that time divided by the batch size; the time per operation therefore includes the
// wrapper's command writes and its share of one N-API call, not the reading of the events.
// Prints a table, then one JSON line per benchmark: {"bench","ns_per_op","ops_per_s"}, where
// ns_per_op is the median over iterations of (batch time / batch size).
// usage: npm run bench:micro -- [--time MS]
import { parseArgs } from 'node:util';
import { Bench, type FnReturnedObject, type Task } from 'tinybench';
import {
  EventKind, MatchingCore, OrderType, Scope, Side, StpMode, TimeInForce, WORKLOAD_ACCOUNT, WORKLOAD_INSTRUMENT,
  type EventBatch,
} from '../src/core/index.js';

const { values } = parseArgs({ options: { time: { type: 'string', default: '1000' } } });
const TASK_MS = Number(values.time);
const WARMUP_MS = 250;

const INSTRUMENT = WORKLOAD_INSTRUMENT.id;
const ACCOUNT = WORKLOAD_ACCOUNT;
const MID = WORKLOAD_INSTRUMENT.refPrice;
const ORDERS_MAX = 1 << 14;
const BATCH_COMMANDS_MAX = 8192;

// Adds and cancels: 1000 orders per batch, each side within 50 ticks of mid (as in the shared
// workload), so a batch creates up to 100 levels and queues about 10 orders behind each.
const ORDERS_PER_BATCH = 1000;
const PASSIVE_TICKS_MAX = 50;
const ORDER_QTY_MAX = 10;

// Sweeps: one IOC takes out 10 ask levels of 5 orders each.
const SWEEP_LEVELS = 10;
const SWEEP_ORDERS_PER_LEVEL = 5;
const SWEEP_MAKERS = SWEEP_LEVELS * SWEEP_ORDERS_PER_LEVEL;
const SWEEP_MAKER_QTY = 2;

// A fixed pseudo-random order flow (xorshift32), so every run measures the same commands.
function xorshift32(seed: number): () => number {
  let x = seed | 0;
  return () => {
    x ^= x << 13; x ^= x >>> 17; x ^= x << 5;
    return (x >>> 0) / 4294967296;
  };
}
const random = xorshift32(42);
const passiveSide = new Int32Array(ORDERS_PER_BATCH);
const passivePrice = new Int32Array(ORDERS_PER_BATCH);
const passiveQty = new Int32Array(ORDERS_PER_BATCH);
for (let k = 0; k < ORDERS_PER_BATCH; k++) {
  const buy = random() < 0.5;
  const offset = 1 + Math.floor(random() * PASSIVE_TICKS_MAX);
  passiveSide[k] = buy ? Side.Buy : Side.Sell;
  passivePrice[k] = buy ? MID - offset : MID + offset;
  passiveQty[k] = 1 + Math.floor(random() * ORDER_QTY_MAX);
}
// Cancels hit the batch in shuffled order: any level, any place in its queue.
const cancelOrder = new Int32Array(ORDERS_PER_BATCH);
for (let k = 0; k < ORDERS_PER_BATCH; k++) cancelOrder[k] = k;
for (let k = ORDERS_PER_BATCH - 1; k > 0; k--) {
  const j = Math.floor(random() * (k + 1));
  const t = cancelOrder[k]; cancelOrder[k] = cancelOrder[j]; cancelOrder[j] = t;
}

// Ids only increase, across every benchmark, so no id is ever reused.
let nextId = 1;

function newCore(): MatchingCore {
  const core = new MatchingCore({ ordersMax: ORDERS_MAX, instrumentsMax: 1, batchCommandsMax: BATCH_COMMANDS_MAX });
  core.addInstrument(WORKLOAD_INSTRUMENT);
  return core;
}

function limit(core: MatchingCore, id: number, side: Side, tif: TimeInForce, price: number, qty: number): void {
  core.newOrder(INSTRUMENT, id, ACCOUNT, side, OrderType.Limit, tif, price, qty, 0, StpMode.CancelNewest);
}

function countKind(events: EventBatch, kind: EventKind): number {
  let n = 0;
  for (let e = 0; e < events.length; e++) if (events.kind(e) === kind) n++;
  return n;
}

// The checks run outside the timed part: a benchmark that measured rejects would be worthless.
function expect(what: string, actual: number, expected: number): void {
  if (actual !== expected) throw new Error(`${what}: ${actual}, expected ${expected}`);
}

function emptyBook(core: MatchingCore): void {
  core.massCancel(Scope.Instrument, ACCOUNT, INSTRUMENT, 0);
  core.flush();
  expect('resting after mass cancel', core.stats().resting, 0);
}

function ms(from: bigint, to: bigint): number { return Number(to - from) / 1e6; }

function result(timedMs: number, ops: number, startedAt: bigint): FnReturnedObject {
  return { overriddenDuration: timedMs / ops, overriddenIterationCost: ms(startedAt, process.hrtime.bigint()) };
}

// Timed: 1000 resting GTC adds into an empty book and one flush. Untimed: the mass cancel after.
const addCore = newCore();
function addBatch(): FnReturnedObject {
  const startedAt = process.hrtime.bigint();
  const first = nextId;
  nextId += ORDERS_PER_BATCH;
  const t0 = process.hrtime.bigint();
  for (let k = 0; k < ORDERS_PER_BATCH; k++) {
    limit(addCore, first + k, passiveSide[k], TimeInForce.GTC, passivePrice[k], passiveQty[k]);
  }
  const events = addCore.flush();
  const t1 = process.hrtime.bigint();
  expect('rested', countKind(events, EventKind.Rested), ORDERS_PER_BATCH);
  emptyBook(addCore);
  return result(ms(t0, t1), ORDERS_PER_BATCH, startedAt);
}

// Untimed: 1000 resting orders added. Timed: 1000 cancels of them in shuffled order and one flush.
const cancelCore = newCore();
function cancelBatch(): FnReturnedObject {
  const startedAt = process.hrtime.bigint();
  const first = nextId;
  nextId += ORDERS_PER_BATCH;
  for (let k = 0; k < ORDERS_PER_BATCH; k++) {
    limit(cancelCore, first + k, passiveSide[k], TimeInForce.GTC, passivePrice[k], passiveQty[k]);
  }
  expect('rested', countKind(cancelCore.flush(), EventKind.Rested), ORDERS_PER_BATCH);
  const t0 = process.hrtime.bigint();
  for (let k = 0; k < ORDERS_PER_BATCH; k++) cancelCore.cancel(INSTRUMENT, first + cancelOrder[k], ACCOUNT);
  const events = cancelCore.flush();
  const t1 = process.hrtime.bigint();
  expect('cancelled', countKind(events, EventKind.Cancelled), ORDERS_PER_BATCH);
  expect('resting after cancels', cancelCore.stats().resting, 0);
  return result(ms(t0, t1), ORDERS_PER_BATCH, startedAt);
}

// Untimed: 10 ask levels of 5 orders seeded above mid. Timed: one IOC buy that takes them all out
// (50 fills) and its own flush, so unlike add and cancel this includes a whole N-API call per sweep.
const sweepCore = newCore();
function sweep(): FnReturnedObject {
  const startedAt = process.hrtime.bigint();
  for (let level = 0; level < SWEEP_LEVELS; level++) {
    for (let o = 0; o < SWEEP_ORDERS_PER_LEVEL; o++) {
      limit(sweepCore, nextId++, Side.Sell, TimeInForce.GTC, MID + 1 + level, SWEEP_MAKER_QTY);
    }
  }
  expect('rested', countKind(sweepCore.flush(), EventKind.Rested), SWEEP_MAKERS);
  const t0 = process.hrtime.bigint();
  limit(sweepCore, nextId++, Side.Buy, TimeInForce.IOC, MID + SWEEP_LEVELS, SWEEP_MAKERS * SWEEP_MAKER_QTY);
  const events = sweepCore.flush();
  const t1 = process.hrtime.bigint();
  expect('fills', countKind(events, EventKind.Fill), SWEEP_MAKERS);
  expect('resting after sweep', sweepCore.stats().resting, 0);
  return result(ms(t0, t1), 1, startedAt);
}

const batchSize: Record<string, number> = { add: ORDERS_PER_BATCH, cancel: ORDERS_PER_BATCH, sweep: 1 };
const bench = new Bench({ name: 'MatchingCore micro', time: TASK_MS, warmupTime: WARMUP_MS, throws: true });
bench.add('add', addBatch).add('cancel', cancelBatch).add('sweep', sweep);
const tasks: Task[] = bench.runSync();

const rows: Record<string, string | number>[] = [];
const lines: string[] = [];
for (const task of tasks) {
  const r = task.result;
  if (r.state !== 'completed') throw new Error(`${task.name}: ${r.state}`);
  // Samples are per operation in milliseconds (overriddenDuration).
  const nsPerOp = r.latency.p50 * 1e6;
  const opsPerS = Math.round(1e9 / nsPerOp);
  rows.push({
    bench: task.name,
    'ops/batch': batchSize[task.name],
    'ns/op (median)': Number(nsPerOp.toFixed(1)),
    'ns/op (mean)': `${(r.latency.mean * 1e6).toFixed(1)} ± ${r.latency.rme.toFixed(1)}%`,
    'ops/s': opsPerS,
    batches: r.latency.samplesCount,
  });
  lines.push(JSON.stringify({ bench: task.name, ns_per_op: Number(nsPerOp.toFixed(1)), ops_per_s: opsPerS }));
}
console.table(rows);
for (const line of lines) console.log(line);
