// What the gateway keeps in LMDB so a session can replay its reports and keep its client order ids
// across reconnects and restarts: each API key's outbound frames, and which key and client order id
// each node order came from. Both are derived from a batch as it is applied and written in that
// batch's own transaction (one blob per key, one of references), so they are durable exactly when
// the commands they describe are: a crash loses neither a sent report nor an order's reference.
import type { LedgerStore, RideRow } from '../../ledger/store.js';

/** What the journal uses of the store: its report and order-reference tables. */
type ReportStore = Pick<LedgerStore<unknown, unknown>, 'nextRefBlobKey' | 'allOrderRefs' | 'lastReportBlob' | 'reportBlobs'>;
import { messageEnd } from '../../protocol/codec.js';

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

export class ReportJournal {
  private readonly pending = new Map<number, PendingFrames>();
  private pendingRefs: number[] = [];

  constructor(private readonly store: ReportStore) {}

  /**
   * The rows for the batch just applied (its frames, one blob per key, and its order references),
   * and the frames to send once it is durable. Nothing stays pending after this.
   */
  take(): { rows: RideRow[]; frames: BatchFrames[] } {
    const rows: RideRow[] = [];
    const frames: BatchFrames[] = [];
    for (const [keyId, p] of this.pending) {
      if (p.length === 0) continue;
      const blob = Buffer.from(p.bytes.subarray(0, p.length));
      rows.push({ db: 'reports', key: [keyId, p.lastSeq], value: blob });
      frames.push({ keyId, blob, lastSeq: p.lastSeq });
      p.length = 0;
    }
    if (this.pendingRefs.length > 0) {
      rows.push({ db: 'orderRefs', key: this.store.nextRefBlobKey(), value: Buffer.from(new Float64Array(this.pendingRefs).buffer) });
      this.pendingRefs = [];
    }
    return { rows, frames };
  }

  /** Every stored order reference: which key and client order id each order came from. */
  loadRefs(visit: (keyId: number, clOrdId: number, orderId: number) => void): void {
    for (const { value } of this.store.allOrderRefs()) {
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
    return p && p.lastSeq > 0 ? p.lastSeq : this.store.lastReportBlob(keyId);
  }

  /** A key's stored frames from an outbound sequence on, up to `toOutSeq` (what has been released). */
  *framesFrom(keyId: number, fromOutSeq: number, toOutSeq: number): IterableIterator<Uint8Array> {
    for (const { value } of this.store.reportBlobs(keyId, fromOutSeq)) {
      for (const frame of framesOf(value, fromOutSeq)) {
        if (outSeqOf(frame) > toOutSeq) return;
        yield frame;
      }
    }
  }
}
