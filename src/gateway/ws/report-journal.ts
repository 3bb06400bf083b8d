// What the gateway keeps in LMDB so a session can replay its reports and keep its client order ids
// across reconnects and restarts: each API key's outbound frames, and which key and client order id
// each node order came from. Both are written as one blob per key (frames) and one per batch
// (references) inside the next batch's transaction, so they cost no fsync and few puts; a crash can
// lose the newest few, never the orders or fills they describe (those are in the journal).
import type { LedgerStore } from '../../ledger/store.js';
import { copyBytes } from './bytes.js';

/** A key's frames not yet written: each as a 4-byte length and the frame, back to back. */
class PendingFrames {
  lastSeq = 0;
  bytes = Buffer.allocUnsafe(4096);
  length = 0;

  add(outSeq: number, frame: Uint8Array, frameLength: number): void {
    const need = this.length + 4 + frameLength;
    if (need > this.bytes.byteLength) {
      const grown = Buffer.allocUnsafe(Math.max(need, 2 * this.bytes.byteLength));
      this.bytes.copy(grown, 0, 0, this.length);
      this.bytes = grown;
    }
    this.bytes.writeUInt32LE(frameLength, this.length);
    copyBytes(frame, frameLength, this.bytes, this.length + 4);
    this.length = need;
    this.lastSeq = outSeq;
  }
}

/** The frames of a blob (4-byte length, frame, …) from an outbound sequence on. */
function* framesOf(blob: Buffer, fromOutSeq: number): IterableIterator<Uint8Array> {
  for (let at = 0; at < blob.byteLength;) {
    const length = blob.readUInt32LE(at);
    const frame = blob.subarray(at + 4, at + 4 + length);
    at += 4 + length;
    if (outSeqOf(frame) >= fromOutSeq) yield frame;
  }
}

/** The outbound sequence of a stream frame (ExecutionReport and CancelReject both lead with it). */
export function outSeqOf(frame: Uint8Array): number {
  const v = new DataView(frame.buffer, frame.byteOffset, frame.byteLength);
  return v.getUint32(12, true) * 4294967296 + v.getUint32(8, true);
}

export class ReportJournal {
  private readonly pending = new Map<number, PendingFrames>();
  private pendingRefs: number[] = [];

  constructor(private readonly store: LedgerStore<unknown, unknown>) {
    store.ride((dbs) => {
      for (const [keyId, p] of this.pending) {
        if (p.length === 0) continue;
        dbs.reports.put([keyId, p.lastSeq], Buffer.from(p.bytes.subarray(0, p.length)));
        p.length = 0;
      }
      if (this.pendingRefs.length > 0) {
        dbs.orderRefs.put(this.store.nextRefBlobKey(), Buffer.from(new Float64Array(this.pendingRefs).buffer));
        this.pendingRefs = [];
      }
    });
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

  /** Keeps the first `length` bytes of `frame` (copied) as the key's message `outSeq`. */
  add(keyId: number, outSeq: number, frame: Uint8Array, length = frame.byteLength): void {
    let p = this.pending.get(keyId);
    if (!p) this.pending.set(keyId, (p = new PendingFrames()));
    p.add(outSeq, frame, length);
  }

  lastOutSeq(keyId: number): number {
    return this.pending.get(keyId)?.lastSeq ?? this.store.lastReportBlob(keyId);
  }

  /** A key's frames from an outbound sequence on: stored ones, then those not yet written. */
  *framesFrom(keyId: number, fromOutSeq: number): IterableIterator<Uint8Array> {
    for (const { value } of this.store.reportBlobs(keyId, fromOutSeq)) yield* framesOf(value, fromOutSeq);
    const p = this.pending.get(keyId);
    if (p) yield* framesOf(p.bytes.subarray(0, p.length), fromOutSeq);
  }
}
