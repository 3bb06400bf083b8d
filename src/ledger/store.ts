// The LMDB store: the command journal, the postings and balances of every batch, periodic
// snapshots, and the node's configuration. Each batch is one transaction, committed durably
// (fsync) before any acknowledgement of it is released (OPS-2).
import { open, type Database, type RootDatabase } from 'lmdb';
import type { Posting } from './model.js';
import { decodePostings } from './postings.js';
import type { LedgerState } from './ledger.js';

/** An API key: its Ed25519 public key (32 raw bytes), the account it acts for, what it may do. */
export interface ApiKeyRecord {
  keyId: number;
  account: number;
  publicKey: Uint8Array;
  permission: 'trade' | 'read';
}

export interface Snapshot<Extra> {
  batch: number;
  lastSeq: number;
  core: Uint8Array;
  ledger: LedgerState;
  extra: Extra;
}

export interface BatchRecord<Extra> {
  batch: number;
  /** The batch's sequenced commands, encoded (pipeline/journal.ts). */
  journal: Buffer;
  /** The batch's postings, encoded (ledger/postings.ts). */
  postings: Buffer;
  /** [balanceKey, available, held] of every balance the batch touched. */
  balances: [number, number, number][];
  snapshot?: Snapshot<Extra>;
  /** Rows the node's listeners derived from the batch (NodeListener.ride), written with it. */
  rides?: RideRow[];
}

/** A row riding in a batch's transaction: a gateway's report frames or order references. */
export type RideRow =
  | { db: 'reports'; key: [keyId: number, lastOutSeq: number]; value: Buffer }
  | { db: 'orderRefs'; key: number; value: Buffer };

export class LedgerStore<Extra, Config> {
  private readonly root: RootDatabase;
  private readonly meta: Database<unknown, string>;
  private readonly journal: Database<Buffer, number>;
  private readonly postings: Database<Buffer, number>;
  private readonly balances: Database<[number, number], number>;
  private readonly snapshots: Database<Snapshot<Extra>, number>;
  private readonly apiKeys: Database<ApiKeyRecord, number>;
  private readonly reports: Database<Buffer, [number, number]>;
  private readonly orderRefs: Database<Buffer, number>;
  /** Logon nonces admitted: [keyId, nonce] → when (ms), so a logon cannot be replayed across a restart. */
  private readonly logonNonces: Database<number, [number, number]>;

  constructor(readonly path: string) {
    // overlappingSync off: a transaction's promise resolves only once it is flushed to disk.
    // noSubdir off: the environment lives inside the folder `path`, whatever its name (lmdb-js
    // would otherwise take a dotted name for a file).
    this.root = open({ path, noSubdir: false, compression: false, overlappingSync: false, noSync: false, maxDbs: 16 });
    this.meta = this.root.openDB({ name: 'meta' });
    this.journal = this.root.openDB({ name: 'journal', keyEncoding: 'uint32', encoding: 'binary' });
    this.postings = this.root.openDB({ name: 'postings', keyEncoding: 'uint32', encoding: 'binary' });
    this.balances = this.root.openDB({ name: 'balances', keyEncoding: 'ordered-binary' });
    this.snapshots = this.root.openDB({ name: 'snapshots', keyEncoding: 'uint32' });
    this.apiKeys = this.root.openDB({ name: 'apiKeys', keyEncoding: 'uint32' });
    this.reports = this.root.openDB({ name: 'reports', encoding: 'binary' });
    this.orderRefs = this.root.openDB({ name: 'orderRefs', keyEncoding: 'uint32', encoding: 'binary' });
    this.logonNonces = this.root.openDB({ name: 'logonNonces' });
  }

  /** Records an admitted logon nonce; resolves once it is durable. */
  async putLogonNonce(keyId: number, nonce: number, atMs: number): Promise<void> {
    await this.logonNonces.put([keyId, nonce], atMs);
  }

  /**
   * The logon nonces admitted since `sinceMs`, oldest first; older ones (stale by now: their logons
   * would be refused for their timestamps) are removed.
   */
  logonNoncesSince(sinceMs: number): [keyId: number, nonce: number, atMs: number][] {
    const recent: [number, number, number][] = [];
    for (const { key, value } of this.logonNonces.getRange({})) if (value >= sinceMs) recent.push([key[0], key[1], value]);
    this.pruneLogonNonces(sinceMs);
    return recent.sort((a, b) => a[2] - b[2]);
  }

  /** Removes logon nonces admitted before `beforeMs` (in the background). */
  pruneLogonNonces(beforeMs: number): void {
    const stale: [number, number][] = [];
    for (const { key, value } of this.logonNonces.getRange({})) if (value < beforeMs) stale.push(key);
    if (stale.length > 0) void this.logonNonces.transaction(() => { for (const key of stale) this.logonNonces.remove(key); });
  }

  /** Report blobs of a key, keyed [keyId, last outSeq in the blob], from the first that reaches `fromOutSeq`. */
  reportBlobs(keyId: number, fromOutSeq: number): Iterable<{ key: [number, number]; value: Buffer }> {
    return this.reports.getRange({ start: [keyId, fromOutSeq], end: [keyId, Number.MAX_SAFE_INTEGER] });
  }

  lastReportBlob(keyId: number): number {
    for (const { key } of this.reports.getRange({ start: [keyId, Number.MAX_SAFE_INTEGER], end: [keyId, 0], reverse: true, limit: 1 })) return key[1];
    return 0;
  }

  private refBlobNext = 0;

  /** A fresh key for an order-reference blob (unique across everything riding on this store). */
  nextRefBlobKey(): number {
    if (this.refBlobNext === 0) {
      this.refBlobNext = 1;
      for (const { key } of this.orderRefs.getRange({ reverse: true, limit: 1 })) this.refBlobNext = key + 1;
    }
    return this.refBlobNext++;
  }

  allOrderRefs(): Iterable<{ key: number; value: Buffer }> {
    return this.orderRefs.getRange({});
  }


  apiKey(keyId: number): ApiKeyRecord | undefined { return this.apiKeys.get(keyId); }

  async putApiKey(record: ApiKeyRecord): Promise<void> {
    await this.apiKeys.put(record.keyId, record);
  }

  config(): Config | undefined { return this.meta.get('config') as Config | undefined; }

  async writeConfig(config: Config): Promise<void> {
    await this.root.transaction(() => { this.meta.put('config', config); });
  }

  latestSnapshot(): Snapshot<Extra> | undefined {
    for (const { value } of this.snapshots.getRange({ reverse: true, limit: 1 })) return value;
    return undefined;
  }

  *journalAfter(batch: number): IterableIterator<{ batch: number; journal: Buffer }> {
    for (const { key, value } of this.journal.getRange({ start: batch + 1 })) yield { batch: key, journal: value };
  }

  postingsOf(batch: number): Buffer {
    return this.postings.getBinary(batch) ?? Buffer.alloc(0);
  }

  /** Each batch's encoded postings, the newest batch first. */
  postingsNewestFirst(): Iterable<{ key: number; value: Buffer }> {
    return this.postings.getRange({ reverse: true });
  }

  *allPostings(): IterableIterator<Posting> {
    for (const { value } of this.postings.getRange({})) yield* decodePostings(value);
  }

  *allBalances(): IterableIterator<[number, number, number]> {
    for (const { key, value } of this.balances.getRange({})) yield [key, value[0], value[1]];
  }

  /** One transaction for the whole batch; resolves once it is durable. */
  commit(record: BatchRecord<Extra>): Promise<boolean> {
    return this.root.transaction(() => {
      // Batches land in order or not at all: one whose predecessor did not land is refused, so a
      // failed commit never leaves a gap that recovery could not replay across.
      if (record.batch > 1 && !this.journal.doesExist(record.batch - 1)) {
        throw new Error(`batch ${record.batch - 1} is not in the journal; batch ${record.batch} is refused`);
      }
      this.journal.put(record.batch, record.journal);
      if (record.postings.length > 0) this.postings.put(record.batch, record.postings);
      for (const [key, available, held] of record.balances) this.balances.put(key, [available, held]);
      if (record.snapshot) this.snapshots.put(record.batch, record.snapshot);
      for (const row of record.rides ?? []) {
        if (row.db === 'reports') this.reports.put(row.key, row.value);
        else this.orderRefs.put(row.key, row.value);
      }
      return true;
    });
  }

  async close(): Promise<void> {
    await this.root.flushed;
    await this.root.close();
  }
}
