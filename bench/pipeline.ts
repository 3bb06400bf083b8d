// Replays a workload file through the whole node path: sequencer → risk → core → ledger → LMDB
// group commit, with funded accounts and every batch durably committed before its acks. Prints:
// {"orders","orders_per_s","commit_p50_us","commit_p99_us", ..., "rejected","rejected_new_orders"}
// Rejected cancels are expected (a cancel may name an order that has filled since); a rejected new
// order means the figure is not the one claimed, so the run names the first one and exits 1.
// usage: npm run bench:pipeline -- --ops FILE [--data DIR]
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { WORKLOAD_INSTRUMENT, WorkloadOp, readWorkload } from '../src/core/index.js';
import { AccountKind, PLATFORM_CUSTODY } from '../src/ledger/model.js';
import type { NodeCommand, Outcome } from '../src/pipeline/commands.js';
import { RejectTally } from './rejects.js';
import { NodeRuntime, type NodeConfig } from '../src/pipeline/runtime.js';

const { values } = parseArgs({ options: { ops: { type: 'string' }, data: { type: 'string' } } });
if (!values.ops) {
  console.error('usage: npm run bench:pipeline -- --ops FILE [--data DIR]');
  process.exit(2);
}
let ops: Int32Array;
try {
  ops = readWorkload(values.ops);
} catch (e) {
  console.error(`bench:pipeline: ${(e as Error).message}`);
  process.exit(2);
}
const count = ops.length / 5;
const ACCOUNT = 10;

// Whole units (scale 0), so notional = price × qty; the workload's single account trades with
// itself, as in the replay benchmark (no self-trade prevention).
const config: NodeConfig = {
  ordersMax: 1 << 20,
  assets: [{ code: 'QUOTE', scale: 0, custody: PLATFORM_CUSTODY }, { code: 'BASE', scale: 0, custody: PLATFORM_CUSTODY }],
  participants: [
    { id: 1, name: 'platform', professionalInvestor: true, affiliatedMarketMaker: false, homeVenue: null },
    { id: 2, name: 'maker', professionalInvestor: true, affiliatedMarketMaker: false, homeVenue: null },
  ],
  accounts: [
    { id: 1, participant: 1, kind: AccountKind.Fees, feeTier: 0, custody: [PLATFORM_CUSTODY], instruments: [], ordersOpenMax: 0, orderNotionalMax: 0 },
    { id: ACCOUNT, participant: 2, kind: AccountKind.Client, feeTier: 0, custody: [PLATFORM_CUSTODY], instruments: [], ordersOpenMax: 1 << 20, orderNotionalMax: 0 },
  ],
  feeTiers: [{ id: 0, makerBps: 1, takerBps: 2 }],
  instruments: [{ symbol: 'W-Q', base: 'BASE', quote: 'QUOTE', spec: WORKLOAD_INSTRUMENT }],
};

const dataDir = values.data ?? mkdtempSync(join(tmpdir(), 'junction-bench-pipeline-'));
const commits: number[] = [];
const node = await NodeRuntime.open({ dataDir, config, onCommit: (_n, micros) => commits.push(micros) });
await node.submit({ type: 'deposit', key: 'q', account: ACCOUNT, asset: 'QUOTE', amount: 1e15 });
await node.submit({ type: 'deposit', key: 'b', account: ACCOUNT, asset: 'BASE', amount: 1e12 });
commits.length = 0;

// The node numbers orders by sequence: workload order id → the sequence its command will get.
const first = node.lastSequence + 1;
const orderSeq = new Map<number, number>();
const commands: NodeCommand[] = new Array(count);
for (let i = 0; i < count; i++) {
  const r = i * 5;
  const [op, side, price, qty, id] = [ops[r], ops[r + 1], ops[r + 2], ops[r + 3], ops[r + 4]];
  if (op === WorkloadOp.Cancel) {
    commands[i] = { type: 'cancel', account: ACCOUNT, instrument: WORKLOAD_INSTRUMENT.id, orderId: orderSeq.get(id) ?? 0 };
  } else {
    orderSeq.set(id, first + i);
    commands[i] = { type: 'order', account: ACCOUNT, instrument: WORKLOAD_INSTRUMENT.id, side, orderType: 0, tif: op === WorkloadOp.Ioc ? 1 : 0, price, qty };
  }
}

// Open-loop within a window: up to WINDOW commands in flight, as many clients would keep.
const WINDOW = 32_768;
let fills = 0;
const rejects = new RejectTally(ops);
const start = process.hrtime.bigint();
await new Promise<void>((done) => {
  let next = 0;
  let acked = 0;
  const onOutcome = (o: Outcome) => {
    acked++;
    if (!o.ok) rejects.count(o.seq - first, o.reason ?? 0); // commands are sequenced in submission order
    fills += o.fills();
    if (acked === count) done();
    else if (next - acked < WINDOW / 2) pump();
  };
  const pump = () => {
    while (next < count && next - acked < WINDOW) void node.submit(commands[next++]).then(onOutcome);
  };
  pump();
});
const seconds = Number(process.hrtime.bigint() - start) / 1e9;

node.checkInvariants();
await node.close();
if (!values.data) rmSync(dataDir, { recursive: true, force: true });
commits.sort((a, b) => a - b);
const pct = (p: number) => Math.round(commits[Math.min(commits.length - 1, Math.floor(p * commits.length))]);
console.log(JSON.stringify({
  orders: count,
  orders_per_s: Math.round(count / seconds),
  commit_p50_us: pct(0.5),
  commit_p99_us: pct(0.99),
  batches: commits.length,
  fills,
  rejected: rejects.total,
  rejected_new_orders: rejects.newOrders,
  reject_reasons: rejects.reasons(),
}));
rejects.failOnRejectedNewOrders('bench:pipeline', 'the pipeline');
