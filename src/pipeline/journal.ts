// The command journal's binary form: one 64-byte record per sequenced command, so a batch of
// thousands encodes in microseconds. Commands that do not fit a record exactly (deposits and
// withdrawals with their string keys, or anything with out-of-range fields) are kept as JSON in an
// extras section; replay must see exactly the commands the pipeline saw.
import type { NodeCommand, Outcome } from './commands.js';

export interface SequencedCommand {
  seq: number;
  ts: number;
  command: NodeCommand;
  /** An outcome to reuse for this command (the runtime's, for commands whose outcome no caller keeps). */
  outcome?: Outcome;
}

const RECORD_BYTES = 64;
const HEADER_BYTES = 8;
const NONE = 255;

const enum RecordType { Json = 0, Order = 3, Cancel = 4, Amend = 5, MassCancel = 6 }

const isU32 = (x: unknown): x is number => typeof x === 'number' && Number.isInteger(x) && x >= 0 && x <= 0xffffffff;
const isU8 = (x: unknown): x is number => typeof x === 'number' && Number.isInteger(x) && x >= 0 && x < NONE;
const isNumber = (x: unknown): x is number => typeof x === 'number';

/**
 * How many own enumerable fields a command has, its origin aside (for-in uses the shape's cache:
 * no array per command). The origin is never journaled: what it explains (reports, references)
 * is written with the batch by the components that derive it.
 */
function fieldCount(c: object): number {
  let n = 0;
  for (const key in c) if (Object.hasOwn(c, key) && key !== 'origin' && (c as Record<string, unknown>)[key] !== undefined) n++;
  return n;
}

const withoutOrigin = (key: string, value: unknown) => (key === 'origin' ? undefined : value);
// (A field whose value is undefined is no field: JSON drops it too, so replay sees the same command.)

function fits(c: NodeCommand): boolean {
  const keys = fieldCount(c);
  switch (c.type) {
    case 'order':
      return keys === (c.stpMode === undefined ? 8 : 9) && isU32(c.account) && isU32(c.instrument) && isU8(c.side) && isU8(c.orderType)
        && isU8(c.tif) && isNumber(c.price) && isNumber(c.qty) && (c.stpMode === undefined || isU8(c.stpMode));
    case 'cancel':
      return keys === 4 && isU32(c.account) && isU32(c.instrument) && isNumber(c.orderId);
    case 'amend':
      return keys === 6 && isU32(c.account) && isU32(c.instrument) && isNumber(c.orderId) && isNumber(c.price) && isNumber(c.qty);
    case 'massCancel':
      return keys === 2 + (c.instrument !== undefined ? 1 : 0) + (c.side !== undefined ? 1 : 0) && isU32(c.account)
        && (c.instrument === undefined || isU32(c.instrument)) && (c.side === undefined || isU8(c.side));
    default:
      return false;
  }
}

export function encodeJournal(batch: readonly SequencedCommand[]): Buffer {
  const extras: NodeCommand[] = [];
  const bytes = new ArrayBuffer(HEADER_BYTES + batch.length * RECORD_BYTES);
  const u8 = new Uint8Array(bytes);
  const u32 = new Uint32Array(bytes);
  const f64 = new Float64Array(bytes);
  u32[0] = batch.length;
  for (let i = 0; i < batch.length; i++) {
    const { seq, ts, command: c } = batch[i];
    const at = HEADER_BYTES + i * RECORD_BYTES;
    const d = at >> 3;
    f64[d + 2] = seq;
    f64[d + 3] = ts;
    if (c.type === 'admin' || c.type === 'price' || !fits(c)) {
      u8[at] = RecordType.Json;
      extras.push(c);
      continue;
    }
    switch (c.type) {
      case 'order':
        u8[at] = RecordType.Order;
        u8[at + 1] = c.side;
        u8[at + 2] = c.orderType;
        u8[at + 3] = c.tif;
        u8[at + 4] = c.stpMode ?? NONE;
        f64[d + 5] = c.price;
        f64[d + 6] = c.qty;
        break;
      case 'cancel':
        u8[at] = RecordType.Cancel;
        f64[d + 4] = c.orderId;
        break;
      case 'amend':
        u8[at] = RecordType.Amend;
        f64[d + 4] = c.orderId;
        f64[d + 5] = c.price;
        f64[d + 6] = c.qty;
        break;
      case 'massCancel':
        u8[at] = RecordType.MassCancel;
        u8[at + 1] = c.side ?? NONE;
        u8[at + 5] = c.instrument === undefined ? 0 : 1;
        break;
    }
    u32[(at >> 2) + 2] = c.account;
    if ('instrument' in c && c.instrument !== undefined) u32[(at >> 2) + 3] = c.instrument;
  }
  u32[1] = extras.length;
  const records = Buffer.from(bytes);
  return extras.length === 0 ? records : Buffer.concat([records, Buffer.from(JSON.stringify(extras, withoutOrigin))]);
}

export function decodeJournal(bytes: Uint8Array): SequencedCommand[] {
  const b = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const count = b.readUInt32LE(0);
  const extraCount = b.readUInt32LE(4);
  const end = HEADER_BYTES + count * RECORD_BYTES;
  const extras: NodeCommand[] = extraCount > 0 ? JSON.parse(b.subarray(end).toString()) : [];
  let nextExtra = 0;
  const out: SequencedCommand[] = new Array(count);
  for (let i = 0; i < count; i++) {
    const at = HEADER_BYTES + i * RECORD_BYTES;
    const seq = b.readDoubleLE(at + 16);
    const ts = b.readDoubleLE(at + 24);
    const account = b.readUInt32LE(at + 8);
    const instrument = b.readUInt32LE(at + 12);
    let command: NodeCommand;
    switch (b.readUInt8(at) as RecordType) {
      case RecordType.Order: {
        const stpMode = b.readUInt8(at + 4);
        command = {
          type: 'order', account, instrument, side: b.readUInt8(at + 1), orderType: b.readUInt8(at + 2), tif: b.readUInt8(at + 3),
          price: b.readDoubleLE(at + 40), qty: b.readDoubleLE(at + 48),
        };
        if (stpMode !== NONE) command.stpMode = stpMode;
        break;
      }
      case RecordType.Cancel:
        command = { type: 'cancel', account, instrument, orderId: b.readDoubleLE(at + 32) };
        break;
      case RecordType.Amend:
        command = { type: 'amend', account, instrument, orderId: b.readDoubleLE(at + 32), price: b.readDoubleLE(at + 40), qty: b.readDoubleLE(at + 48) };
        break;
      case RecordType.MassCancel: {
        command = { type: 'massCancel', account };
        if (b.readUInt8(at + 5) === 1) command.instrument = instrument;
        const side = b.readUInt8(at + 1);
        if (side !== NONE) command.side = side;
        break;
      }
      default:
        command = extras[nextExtra++];
    }
    out[i] = { seq, ts, command };
  }
  return out;
}
