// The report streams' own tables in the node's LMDB environment, so a session can replay its
// reports and keep its client order ids across reconnects and restarts: each API key's outbound
// messages, and which key and client order id each node order came from. Both are derived from a
// batch as it is applied and written in that batch's own transaction (one blob per key, one of
// references), so they are durable exactly when the commands they describe are: a crash loses
// neither a sent report nor an order's reference.
import type { Database } from 'lmdb';
import type { LedgerStore } from '../ledger/store.js';
import { messageEnd } from '../protocol/codec.js';

/** The most bytes one stream message (ExecutionReport, CancelReject) takes. */
const STREAM_MESSAGE_BYTES_MAX = 1024;

/**
 * A key's stream messages of the batch being applied, back to back (SBE messages delimit
 * themselves): stored as one blob, and sent as one frame, as they are.
 */
class PendingFrames {
  lastSeq = 0;
  bytes = new Uint8Array(4096);
  private view = new DataView(this.bytes.buffer);
  length = 0;

  private reserve(bytes: number): void {
    if (this.length + bytes <= this.bytes.byteLength) return;
    const grown = new Uint8Array(Math.max(this.length + bytes, 2 * this.bytes.byteLength));
    grown.set(this.bytes.subarray(0, this.length));
    this.bytes = grown;
    this.view = new DataView(grown.buffer);
  }

  /** Appends message `outSeq`, written by `encode` at the offset it is given (returning its length). */
  encode(outSeq: number, encode: (v: DataView, at: number, outSeq: number) => number): void {
    this.reserve(STREAM_MESSAGE_BYTES_MAX);
    const length = encode(this.view, this.length, outSeq);
    if (length > STREAM_MESSAGE_BYTES_MAX) throw new Error(`a stream message of ${length} bytes is over ${STREAM_MESSAGE_BYTES_MAX}`);
    this.length += length;
    this.lastSeq = outSeq;
  }
}

/** The messages of a blob (stream messages back to back) from an outbound sequence on. */
function* framesOf(blob: Uint8Array, fromOutSeq: number): IterableIterator<Uint8Array> {
  const v = new DataView(blob.buffer, blob.byteOffset, blob.byteLength);
  for (let at = 0; at < blob.byteLength;) {
    const end = messageEnd(v, at, blob.byteLength);
    const frame = blob.subarray(at, end);
    at = end;
    if (outSeqOf(frame) >= fromOutSeq) yield frame;
  }
}

/** The outbound sequence of a stream frame (ExecutionReport and CancelReject both lead with it). */
export function outSeqOf(frame: Uint8Array): number {
  const v = new DataView(frame.buffer, frame.byteOffset, frame.byteLength);
  return v.getUint32(12, true) * 4294967296 + v.getUint32(8, true);
}

/** A key's stream messages of one batch, in the blob written for them: sent once the batch is durable. */
export interface BatchFrames { keyId: number; blob: Buffer; lastSeq: number }

export class ReportStore {
  private readonly pending = new Map<number, PendingFrames>();
  private pendingRefs: number[] = [];
  /**
   * Each applied batch's rows, taken after it is applied and written in its transaction (write),
   * which LMDB may run after later batches are applied.
   */
  private readonly rows = new Map<number, { reports: [[number, number], Buffer][]; refs: Buffer | undefined }>();
  private readonly reports: Database<Buffer, [number, number]>;
  private readonly orderRefs: Database<Buffer, number>;
  private refBlobNext = 0;

  constructor(store: Pick<LedgerStore<unknown, unknown>, 'openDB'>) {
    this.reports = store.openDB('reports', { encoding: 'binary' });
    this.orderRefs = store.openDB('orderRefs', { keyEncoding: 'uint32', encoding: 'binary' });
    for (const { key } of this.orderRefs.getRange({ reverse: true, limit: 1 })) this.refBlobNext = key;
  }

  /**
   * Closes the batch just applied: its frames (one blob per key) and order references become the
   * rows write(batch) puts in its transaction; returns the frames to send once it is durable.
   */
  take(batch: number): BatchFrames[] {
    const frames: BatchFrames[] = [];
    const reports: [[number, number], Buffer][] = [];
    for (const [keyId, p] of this.pending) {
      if (p.length === 0) continue;
      const blob = Buffer.from(p.bytes.subarray(0, p.length));
      reports.push([[keyId, p.lastSeq], blob]);
      frames.push({ keyId, blob, lastSeq: p.lastSeq });
      p.length = 0;
    }
    if (reports.length > 0 || this.pendingRefs.length > 0) {
      this.rows.set(batch, { reports, refs: this.pendingRefs.length > 0 ? Buffer.from(new Float64Array(this.pendingRefs).buffer) : undefined });
    }
    this.pendingRefs = [];
    return frames;
  }

  /** Inside a batch's transaction: its rows (from take). */
  write(batch: number): void {
    const rows = this.rows.get(batch);
    if (!rows) return;
    this.rows.delete(batch);
    for (const [key, blob] of rows.reports) this.reports.put(key, blob);
    if (rows.refs) this.orderRefs.put(++this.refBlobNext, rows.refs);
  }

  /** Every stored order reference: which key and client order id each order came from. */
  loadRefs(visit: (keyId: number, clOrdId: number, orderId: number) => void): void {
    for (const { value } of this.orderRefs.getRange({})) {
      const copy = new Uint8Array(value);
      const f = new Float64Array(copy.buffer, 0, copy.byteLength / 8);
      for (let i = 0; i + 2 < f.length; i += 3) visit(f[i], f[i + 1], f[i + 2]);
    }
  }

  addRef(keyId: number, clOrdId: number, orderId: number): void {
    this.pendingRefs.push(keyId, clOrdId, orderId);
  }

  /** Encodes a key's message `outSeq` into the frames of the batch being applied. */
  encode(keyId: number, outSeq: number, encode: (v: DataView, at: number, outSeq: number) => number): void {
    let p = this.pending.get(keyId);
    if (!p) this.pending.set(keyId, (p = new PendingFrames()));
    p.encode(outSeq, encode);
  }

  /** The last outbound sequence written for a key (at start-up: what a restarted stream continues from). */
  lastOutSeq(keyId: number): number {
    const p = this.pending.get(keyId);
    if (p && p.lastSeq > 0) return p.lastSeq;
    for (const { key } of this.reports.getRange({ start: [keyId, Number.MAX_SAFE_INTEGER], end: [keyId, 0], reverse: true, limit: 1 })) return key[1];
    return 0;
  }

  /** A key's stored frames from an outbound sequence on, up to `toOutSeq` (what has been released). */
  *framesFrom(keyId: number, fromOutSeq: number, toOutSeq: number): IterableIterator<Uint8Array> {
    for (const { value } of this.reports.getRange({ start: [keyId, fromOutSeq], end: [keyId, Number.MAX_SAFE_INTEGER] })) {
      for (const frame of framesOf(value, fromOutSeq)) {
        if (outSeqOf(frame) > toOutSeq) return;
        yield frame;
      }
    }
  }
}
