// The LMDB store of the ledger: the command journal, the postings and balances of every batch,
// periodic snapshots, and the node's configuration. Each batch is one transaction, committed
// durably (fsync) before any acknowledgement of it is released (OPS-2). Other components keep
// their own tables in the same LMDB environment (openDB) and join a batch's transaction through
// one hook (commit's `alsoWrite`), so what they derive from a batch is durable exactly with it.
import { open, type Database, type DatabaseOptions, type Key, type RootDatabase } from 'lmdb';
import type { Posting } from './model.js';
import { decodePostings } from './postings.js';
import type { LedgerState } from './ledger.js';

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
}

export class LedgerStore<Extra, Config> {
  private readonly root: RootDatabase;
  private readonly meta: Database<unknown, string>;
  private readonly journal: Database<Buffer, number>;
  private readonly postings: Database<Buffer, number>;
  private readonly balances: Database<[number, number], number>;
  private readonly snapshots: Database<Snapshot<Extra>, number>;

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
  }

  /**
   * A table of another component in the same environment (its own name): written in a batch's
   * transaction through commit's hook, or on its own.
   */
  openDB<V, K extends Key>(name: string, options: Omit<DatabaseOptions, 'name'> = {}): Database<V, K> {
    return this.root.openDB<V, K>({ name, ...options });
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

  /**
   * One transaction for the whole batch; resolves once it is durable. `alsoWrite` runs inside it:
   * the other components' rows for the batch (see openDB).
   */
  commit(record: BatchRecord<Extra>, alsoWrite?: () => void): Promise<boolean> {
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
      alsoWrite?.();
      return true;
    });
  }

  async close(): Promise<void> {
    await this.root.flushed;
    await this.root.close();
  }
}
