// The postings of a batch, written straight into a binary log (40 bytes each, the form the store
// keeps) rather than as objects: a busy batch makes tens of thousands of them.
import type { Bucket, Cause, Posting } from './model.js';

export const POSTING_BYTES = 40;
const INITIAL_POSTINGS = 1 << 14;

export class PostingLog {
  private buffer = new ArrayBuffer(INITIAL_POSTINGS * POSTING_BYTES);
  private f64 = new Float64Array(this.buffer);
  private u32 = new Uint32Array(this.buffer);
  private u16 = new Uint16Array(this.buffer);
  private u8 = new Uint8Array(this.buffer);
  count = 0;

  append(id: number, seq: number, cause: Cause, asset: number, debitAccount: number, debitBucket: Bucket,
    creditAccount: number, creditBucket: Bucket, amount: number): void {
    if ((this.count + 1) * POSTING_BYTES > this.buffer.byteLength) this.grow();
    const at = this.count * POSTING_BYTES;
    this.f64[at >> 3] = id;
    this.f64[(at >> 3) + 1] = seq;
    this.f64[(at >> 3) + 2] = amount;
    this.u32[(at >> 2) + 6] = debitAccount;
    this.u32[(at >> 2) + 7] = creditAccount;
    this.u16[(at >> 1) + 16] = asset;
    this.u8[at + 34] = cause;
    this.u8[at + 35] = debitBucket | (creditBucket << 1);
    this.count++;
  }

  private grow(): void {
    const next = new ArrayBuffer(this.buffer.byteLength * 2);
    new Uint8Array(next).set(this.u8);
    this.buffer = next;
    this.f64 = new Float64Array(next);
    this.u32 = new Uint32Array(next);
    this.u16 = new Uint16Array(next);
    this.u8 = new Uint8Array(next);
  }

  /** Calls `f` with the account and asset of both sides of every posting. */
  forEachSide(f: (account: number, asset: number) => void): void {
    for (let i = 0; i < this.count; i++) {
      const at = i * POSTING_BYTES;
      const asset = this.u16[(at >> 1) + 16];
      f(this.u32[(at >> 2) + 6], asset);
      f(this.u32[(at >> 2) + 7], asset);
    }
  }

  /** The log so far as bytes (a copy), and empties it. */
  take(): Buffer {
    const out = Buffer.from(this.u8.subarray(0, this.count * POSTING_BYTES));
    this.count = 0;
    return out;
  }
}

export function decodePostings(bytes: Uint8Array): Posting[] {
  const copy = new Uint8Array(bytes); // aligned for the typed views
  const f64 = new Float64Array(copy.buffer, 0, copy.byteLength >> 3);
  const u32 = new Uint32Array(copy.buffer, 0, copy.byteLength >> 2);
  const u16 = new Uint16Array(copy.buffer, 0, copy.byteLength >> 1);
  const out: Posting[] = [];
  for (let at = 0; at + POSTING_BYTES <= copy.byteLength; at += POSTING_BYTES) {
    const buckets = copy[at + 35];
    out.push({
      id: f64[at >> 3], seq: f64[(at >> 3) + 1], amount: f64[(at >> 3) + 2],
      debitAccount: u32[(at >> 2) + 6], creditAccount: u32[(at >> 2) + 7], asset: u16[(at >> 1) + 16],
      cause: copy[at + 34] as Cause, debitBucket: (buckets & 1) as Bucket, creditBucket: ((buckets >> 1) & 1) as Bucket,
    });
  }
  return out;
}
