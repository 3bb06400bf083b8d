// The shared order-flow workload (../shared/workloads): 5 little-endian int32 per operation,
// [op, side, price, qty, id] with op 0 = limit GTC, 1 = cancel, 2 = limit IOC.
import { readFileSync } from 'node:fs';
import { CommandKind, OrderType, StpMode, TimeInForce, type Command, type InstrumentSpec } from './layout.js';

export const WORKLOAD_RECORD_WORDS = 5;

export const enum WorkloadOp { Limit = 0, Cancel = 1, Ioc = 2 }

/** The single instrument a workload is replayed on: integer ticks and lots, a wide band. */
export const WORKLOAD_INSTRUMENT: InstrumentSpec = {
  id: 1, tickSize: 1, lotSize: 1, minQty: 1, maxQty: 1_000_000, refPrice: 100_000, bandBps: 1_000,
};
export const WORKLOAD_ACCOUNT = 1;

export function readWorkload(path: string): Int32Array {
  const bytes = readFileSync(path);
  if (bytes.byteLength % (WORKLOAD_RECORD_WORDS * 4) !== 0) {
    throw new Error(`${path}: ${bytes.byteLength} bytes is not a whole number of 20-byte records`);
  }
  const ops = new Int32Array(bytes.byteLength / 4);
  new Uint8Array(ops.buffer).set(bytes);
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
