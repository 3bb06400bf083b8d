// Order-flow workload files (written by scripts/gen-ops.mjs, or any tool that follows the format):
// 5 little-endian int32 per operation, [op, side, price, qty, id], with op 0 = limit GTC,
// 1 = cancel of an earlier id, 2 = limit IOC; side 0 buy, 1 sell; price in ticks, qty in lots;
// new orders' ids increase from 1.
import { readFileSync } from 'node:fs';
import { CommandKind, OrderType, StpMode, TimeInForce, type Command, type InstrumentSpec } from './layout.js';

export const WORKLOAD_RECORD_WORDS = 5;

export const enum WorkloadOp { Limit = 0, Cancel = 1, Ioc = 2 }

const INT32_MAX = 2 ** 31 - 1;

/**
 * The single instrument a workload is replayed on. It accepts every order the format allows: any
 * price and quantity in 1..2^31-1, at any time. Tick, lot and minimum are 1, the maximum quantity
 * is 2^31-1, and it has no price band (bandBps 0), so no later price is out of band whatever the
 * last trade. The replay benchmark still counts rejects and fails if a new order is rejected.
 */
export const WORKLOAD_INSTRUMENT: InstrumentSpec = {
  id: 1, tickSize: 1, lotSize: 1, minQty: 1, maxQty: INT32_MAX, refPrice: 100_000, bandBps: 0,
};
export const WORKLOAD_ACCOUNT = 1;

/**
 * The first record that breaks the format, described, or undefined when every record is valid:
 * op in 0..2; a new order has side 0 or 1, price and qty ≥ 1 and an id above every earlier one
 * (ids start at 1); a cancel names an id ≥ 1 that an earlier new order had.
 */
export function workloadProblem(ops: Int32Array): string | undefined {
  let lastId = 0;
  for (let i = 0, r = 0; r < ops.length; i++, r += WORKLOAD_RECORD_WORDS) {
    const [op, side, price, qty, id] = [ops[r], ops[r + 1], ops[r + 2], ops[r + 3], ops[r + 4]];
    const at = `operation ${i} [${op}, ${side}, ${price}, ${qty}, ${id}]`;
    if (op === WorkloadOp.Cancel) {
      if (id < 1 || id > lastId) return `${at}: a cancel must name an earlier order id (1..${lastId})`;
    } else if (op === WorkloadOp.Limit || op === WorkloadOp.Ioc) {
      if (side !== 0 && side !== 1) return `${at}: side must be 0 (buy) or 1 (sell)`;
      if (price < 1) return `${at}: price must be at least 1 tick`;
      if (qty < 1) return `${at}: qty must be at least 1 lot`;
      if (id <= lastId) return `${at}: order ids must increase (the last was ${lastId})`;
      lastId = id;
    } else {
      return `${at}: op must be 0 (GTC), 1 (cancel) or 2 (IOC)`;
    }
  }
  return undefined;
}

/** Reads a workload file; throws naming the first record that breaks the format. */
export function readWorkload(path: string): Int32Array {
  const bytes = readFileSync(path);
  const recordBytes = WORKLOAD_RECORD_WORDS * 4;
  if (bytes.byteLength % recordBytes !== 0) {
    throw new Error(`${path}: ${bytes.byteLength} bytes is not a whole number of ${recordBytes}-byte records`);
  }
  const ops = new Int32Array(bytes.byteLength / 4);
  for (let i = 0; i < ops.length; i++) ops[i] = bytes.readInt32LE(i * 4);
  const problem = workloadProblem(ops);
  if (problem !== undefined) throw new Error(`${path}: ${problem}`);
  return ops;
}

/** Operation i of a workload as a core command. */
export function workloadCommand(ops: Int32Array, i: number): Command {
  const r = i * WORKLOAD_RECORD_WORDS;
  const [op, side, price, qty, id] = [ops[r], ops[r + 1], ops[r + 2], ops[r + 3], ops[r + 4]];
  const instrument = WORKLOAD_INSTRUMENT.id;
  if (op === WorkloadOp.Cancel) return { kind: CommandKind.Cancel, instrument, orderId: id, account: WORKLOAD_ACCOUNT };
  return {
    kind: CommandKind.NewOrder, instrument, orderId: id, account: WORKLOAD_ACCOUNT, side, type: OrderType.Limit,
    tif: op === WorkloadOp.Ioc ? TimeInForce.IOC : TimeInForce.GTC, price, qty, stpGroup: 0, stpMode: StpMode.CancelNewest,
  };
}
