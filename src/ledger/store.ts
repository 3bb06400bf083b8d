// The LMDB store: the command journal, the postings and balances of every batch, periodic
// snapshots, and the node's configuration. Each batch is one transaction, committed durably
// (fsync) before any acknowledgement of it is released (OPS-2).
import { open, type Database, type RootDatabase } from 'lmdb';
import { Bucket, type Posting } from './model.js';
import type { LedgerState } from './ledger.js';

export const POSTING_BYTES = 40;

export interface Snapshot<Extra> {
  batch: number;
  lastSeq: number;
  core: Uint8Array;
  ledger: LedgerState;
  extra: Extra;
}

export interface BatchRecord<Command, Extra> {
  batch: number;
  commands: Command[];
  postings: Posting[];
  /** [balanceKey, available, held] of every balance the batch touched. */
  balances: [number, number, number][];
  snapshot?: Snapshot<Extra>;
}

export function encodePostings(postings: readonly Posting[]): Buffer {
  const out = Buffer.alloc(postings.length * POSTING_BYTES);
  postings.forEach((p, i) => {
    const at = i * POSTING_BYTES;
    out.writeDoubleLE(p.id, at);
    out.writeDoubleLE(p.seq, at + 8);
    out.writeDoubleLE(p.amount, at + 16);
    out.writeUInt32LE(p.debitAccount, at + 24);
    out.writeUInt32LE(p.creditAccount, at + 28);
    out.writeUInt16LE(p.asset, at + 32);
    out.writeUInt8(p.cause, at + 34);
    out.writeUInt8(p.debitBucket | (p.creditBucket << 1), at + 35);
  });
  return out;
}

export function decodePostings(bytes: Uint8Array): Posting[] {
  const b = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const out: Posting[] = [];
  for (let at = 0; at + POSTING_BYTES <= b.length; at += POSTING_BYTES) {
    const buckets = b.readUInt8(at + 35);
    out.push({
      id: b.readDoubleLE(at), seq: b.readDoubleLE(at + 8), amount: b.readDoubleLE(at + 16),
      debitAccount: b.readUInt32LE(at + 24), creditAccount: b.readUInt32LE(at + 28), asset: b.readUInt16LE(at + 32),
      cause: b.readUInt8(at + 34), debitBucket: (buckets & 1) as Bucket, creditBucket: ((buckets >> 1) & 1) as Bucket,
    });
  }
  return out;
}

export class LedgerStore<Command, Extra, Config> {
  private readonly root: RootDatabase;
  private readonly meta: Database<unknown, string>;
  private readonly journal: Database<Command[], number>;
  private readonly postings: Database<Buffer, number>;
  private readonly balances: Database<[number, number], number>;
  private readonly snapshots: Database<Snapshot<Extra>, number>;

  constructor(readonly path: string) {
    // overlappingSync off: a transaction's promise resolves only once it is flushed to disk.
    this.root = open({ path, compression: false, overlappingSync: false, noSync: false, maxDbs: 8 });
    this.meta = this.root.openDB({ name: 'meta' });
    this.journal = this.root.openDB({ name: 'journal', keyEncoding: 'uint32' });
    this.postings = this.root.openDB({ name: 'postings', keyEncoding: 'uint32', encoding: 'binary' });
    this.balances = this.root.openDB({ name: 'balances', keyEncoding: 'ordered-binary' });
    this.snapshots = this.root.openDB({ name: 'snapshots', keyEncoding: 'uint32' });
  }

  config(): Config | undefined { return this.meta.get('config') as Config | undefined; }

  async writeConfig(config: Config): Promise<void> {
    await this.root.transaction(() => { this.meta.put('config', config); });
  }

  lastBatch(): number { return (this.meta.get('lastBatch') as number | undefined) ?? 0; }

  latestSnapshot(): Snapshot<Extra> | undefined {
    for (const { value } of this.snapshots.getRange({ reverse: true, limit: 1 })) return value;
    return undefined;
  }

  *journalAfter(batch: number): IterableIterator<{ batch: number; commands: Command[] }> {
    for (const { key, value } of this.journal.getRange({ start: batch + 1 })) yield { batch: key, commands: value };
  }

  postingsOf(batch: number): Posting[] {
    const bytes = this.postings.getBinary(batch);
    return bytes ? decodePostings(bytes) : [];
  }

  *allPostings(): IterableIterator<Posting> {
    for (const { value } of this.postings.getRange({})) yield* decodePostings(value);
  }

  balance(key: number): [number, number] | undefined { return this.balances.get(key); }

  *allBalances(): IterableIterator<[number, number, number]> {
    for (const { key, value } of this.balances.getRange({})) yield [key, value[0], value[1]];
  }

  /** One transaction for the whole batch; resolves once it is durable. */
  commit(record: BatchRecord<Command, Extra>): Promise<boolean> {
    return this.root.transaction(() => {
      this.journal.put(record.batch, record.commands);
      if (record.postings.length > 0) this.postings.put(record.batch, encodePostings(record.postings));
      for (const [key, available, held] of record.balances) this.balances.put(key, [available, held]);
      if (record.snapshot) this.snapshots.put(record.batch, record.snapshot);
      this.meta.put('lastBatch', record.batch);
      return true;
    });
  }

  async close(): Promise<void> { await this.root.close(); }
}
