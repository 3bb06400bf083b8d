// What the gateway keeps in LMDB so a session can replay its reports and keep its client order ids
// across reconnects and restarts: each API key's outbound frames, and which key and client order id
// each node order came from. Both are written as one blob per key (frames) and one per batch
// (references) inside the next batch's transaction, so they cost no fsync and few puts; a crash can
// lose the newest few, never the orders or fills they describe (those are in the journal).
import type { LedgerStore } from '../../ledger/store.js';


interface PendingFrames { lastSeq: number; frames: Uint8Array[]; bytes: number }

/** The outbound sequence of a stream frame (ExecutionReport and CancelReject both lead with it). */
export function outSeqOf(frame: Uint8Array): number {
  const v = new DataView(frame.buffer, frame.byteOffset, frame.byteLength);
  return v.getUint32(12, true) * 4294967296 + v.getUint32(8, true);
}

export class ReportJournal {
  private pending = new Map<number, PendingFrames>();
  private pendingRefs: number[] = [];

  constructor(private readonly store: LedgerStore<unknown, unknown>) {
    store.ride((dbs) => {
      for (const [keyId, p] of this.pending) {
        const blob = Buffer.alloc(p.bytes + 4 * p.frames.length);
        let at = 0;
        for (const f of p.frames) {
          blob.writeUInt32LE(f.byteLength, at);
          blob.set(f, at + 4);
          at += 4 + f.byteLength;
        }
        dbs.reports.put([keyId, p.lastSeq], blob);
      }
      this.pending = new Map();
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

  add(keyId: number, outSeq: number, frame: Uint8Array): void {
    let p = this.pending.get(keyId);
    if (!p) this.pending.set(keyId, (p = { lastSeq: 0, frames: [], bytes: 0 }));
    p.frames.push(frame.slice());
    p.bytes += frame.byteLength;
    p.lastSeq = outSeq;
  }

  lastOutSeq(keyId: number): number {
    return this.pending.get(keyId)?.lastSeq ?? this.store.lastReportBlob(keyId);
  }

  /** A key's frames from an outbound sequence on: stored ones, then those not yet written. */
  *framesFrom(keyId: number, fromOutSeq: number): IterableIterator<Uint8Array> {
    for (const { value } of this.store.reportBlobs(keyId, fromOutSeq)) {
      for (let at = 0; at < value.byteLength;) {
        const length = value.readUInt32LE(at);
        const frame = new Uint8Array(value.subarray(at + 4, at + 4 + length));
        at += 4 + length;
        if (outSeqOf(frame) >= fromOutSeq) yield frame;
      }
    }
    for (const frame of this.pending.get(keyId)?.frames ?? []) if (outSeqOf(frame) >= fromOutSeq) yield frame;
  }
}
