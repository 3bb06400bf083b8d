// The running node: sequencer, batch pipeline and durable group commit over LMDB, and recovery.
//
// Commands arriving in one event-loop turn (up to batch_commands_max) form a batch. The sequencer
// stamps each with a sequence number and a timestamp, the only clock read on the path; the batch
// goes through the pipeline (risk → core → ledger) and is committed to LMDB in one transaction.
// Only then are its outcomes released: an acknowledgement means durable.
//
// Recovery loads the latest snapshot (core books, ledger, open orders) and replays the journal
// after it through the same deterministic pipeline, checking that every replayed batch posts
// exactly what was committed for it, and that the invariants hold, before accepting traffic.
import { DataDirLock, prepareDataDir } from './data-dir.js';
import { MatchingCore, type InstrumentSpec } from '../core/index.js';
import { Ledger, balanceKey, ASSETS_MAX } from '../ledger/ledger.js';
import type { Account, Asset, InstrumentTerms, Participant, Posting } from '../ledger/model.js';
import type { FeeTier } from '../ledger/fees.js';
import { LedgerStore, type Snapshot } from '../ledger/store.js';
import { decodePostings } from '../ledger/postings.js';
import { Outcome, type NodeCommand, type OrderCommand, type Origin } from './commands.js';
import { decodeJournal, encodeJournal, type SequencedCommand } from './journal.js';
import { Pipeline, type PipelineState } from './pipeline.js';
import { checkPerpsConfig, type PerpsConfig } from '../perps/config.js';
import { TradeRecords } from '../reports/trade-records.js';

export const BATCH_COMMANDS_MAX = 4096;
/** Batches applied in memory but not yet durable; past this the sequencer waits for a commit. */
export const COMMITS_INFLIGHT_MAX = 16;
export const SNAPSHOT_EVERY_BATCHES_DEFAULT = 1000;
export const INSTRUMENTS_MAX = 1024;
/**
 * Commands queued and not yet in a batch, at most: past it enqueue refuses (a stalled disk cannot
 * make the queue grow without bound). Gateways refuse new orders well before it (their intake
 * limit), and cancels at twice that, which this leaves room for.
 */
export const QUEUED_MAX = 400_000;
/** Queue entries kept for reuse at most. */
const SPARE_MAX = 65_536;
/** Marks an order command made by orderCommand(): the runtime reuses it once its batch is durable. */
const REUSABLE: unique symbol = Symbol('reusable order command');
/** An order command with its origin, from orderCommand(). */
export type ReusableOrder = OrderCommand & { origin: Origin; [REUSABLE]: true };

export interface InstrumentListing {
  symbol: string; base: string; quote: string; spec: InstrumentSpec;
  /** Base ledger units one unit of quantity stands for (a perpetual's contract size; default 1). Must divide 10^scale. */
  contractSize?: number;
}

export interface NodeConfig {
  ordersMax: number;
  assets: Asset[];
  participants: Participant[];
  accounts: Account[];
  feeTiers: FeeTier[];
  instruments: InstrumentListing[];
  /** Perpetual contracts on some of the instruments, and their collateral (PERP-1..5). */
  perps?: PerpsConfig;
}

export interface RuntimeOptions {
  dataDir: string;
  /** Used when the data folder is new; an existing folder keeps the configuration it was made with. */
  config?: NodeConfig;
  snapshotEveryBatches?: number;
  batchCommandsMax?: number;
  /** Commands queued at most before enqueue refuses (default QUEUED_MAX). */
  queuedMax?: number;
  /** Told each batch's size and how long its commit took to become durable, in microseconds. */
  onCommit?: (commands: number, micros: number) => void;
  /**
   * The sequencer's clock, ms since the epoch (default Date.now): the one time source of the
   * node's state. Tests set it to show what happens when a date passes.
   */
  clockMs?: () => number;
}

function gcd(a: number, b: number): number {
  while (b) [a, b] = [b, a % b];
  return a;
}

/** How the ledger forms an instrument's notional exactly (see InstrumentTerms). */
export function instrumentTerms(config: NodeConfig): InstrumentTerms[] {
  const index = new Map(config.assets.map((a, i) => [a.code, i]));
  return config.instruments.map((l) => {
    const base = index.get(l.base);
    const quote = index.get(l.quote);
    if (base === undefined || quote === undefined) throw new Error(`instrument ${l.symbol}: unknown asset`);
    const contractSize = l.contractSize ?? 1;
    const scaleUnit = 10 ** config.assets[base].scale;
    if (!Number.isSafeInteger(contractSize) || contractSize < 1 || scaleUnit % contractSize !== 0) {
      throw new Error(`instrument ${l.symbol}: contractSize ${contractSize} must be a whole number dividing 10^${config.assets[base].scale}`);
    }
    const unit = scaleUnit / contractSize;
    const priceDivisor = gcd(l.spec.tickSize, unit);
    const qtyDivisor = unit / priceDivisor;
    if (l.spec.lotSize % qtyDivisor !== 0) {
      throw new Error(`instrument ${l.symbol}: tickSize × lotSize must be a multiple of 10^${config.assets[base].scale} so every notional is whole quote units`);
    }
    const perp = config.perps?.products.some((p) => p.instrument === l.spec.id) ?? false;
    return { id: l.spec.id, symbol: l.symbol, base, quote, priceDivisor, qtyDivisor, lotSize: l.spec.lotSize, ...(perp ? { perp } : {}) };
  });
}

/** A queued command; sequenced in place (seq and ts set) when its batch starts. */
interface Waiting extends SequencedCommand {
  resolve?: (o: Outcome) => void;
  reject?: (e: Error) => void;
}

/**
 * A batch as it was applied: its sequenced commands (each with its origin, when a gateway entered
 * it) and their outcomes, in sequence order. What every component beside the pipeline derives its
 * own state from.
 */
export interface AppliedBatch {
  readonly batch: number;
  readonly commands: readonly SequencedCommand[];
  readonly outcomes: readonly Outcome[];
}

/**
 * A component beside the pipeline (a gateway, the report streams): it hears of every batch twice,
 * in order, once applied and once durable, whoever entered its commands.
 */
export interface BatchListener {
  /** The batch was just applied; it is not durable yet. Derive what must be written with it here. */
  applied?(batch: AppliedBatch): void;
  /**
   * Runs inside the batch's LMDB transaction, right after applied(): what the listener derived from
   * the batch becomes durable with it, never without it and never later. It only puts rows it
   * prepared in applied() and must not throw (LMDB would keep what the transaction put so far).
   */
  write?(batch: number): void;
  /** The batch is durable (after its submitters' callbacks). */
  durable?(batch: AppliedBatch): void;
  /** The node stopped (a commit failed or an invariant broke): nothing more will be acknowledged. */
  failed?(error: Error): void;
}

export class NodeRuntime {
  private queue: Waiting[] = [];
  /** The first unprocessed entry of `queue` (compacted once the processed part is large). */
  private head = 0;
  private scheduled = false;
  private batch: number;
  private lastSeq: number;
  private lastTs = 0;
  private inflight = new Set<Promise<unknown>>();
  private listeners: BatchListener[] = [];
  /** Queue entries of durable batches, reused by enqueue. */
  private readonly spare: Waiting[] = [];
  /** Order commands (with their origin) of durable batches, reused by orderCommand(). */
  private readonly spareOrders: ReusableOrder[] = [];
  /** Batches applied whose commit has not landed yet. */
  private undurable = 0;
  private waitingForCommit = false;
  private failure: Error | undefined;
  /**
   * The batch that failed (its apply broke an invariant, or its commit failed): batches before it
   * that land are sound and still acknowledged; it and every later one never are.
   */
  private failedBatch = Number.MAX_SAFE_INTEGER;
  private readonly batchCommandsMax: number;
  private readonly snapshotEvery: number;
  private readonly onCommit: RuntimeOptions['onCommit'];
  private readonly queuedMax: number;
  private readonly clockMs: () => number;
  /** The exclusive hold on the data folder (none when opened read-only). */
  private lock: DataDirLock | undefined;
  /** When the next licence ends (µs), and the timer that sends the clock command then. */
  private clockAtUs = 0;
  private clockTimer: NodeJS.Timeout | undefined;
  /** A clock command is queued and not yet applied. */
  private clockQueued = false;
  /**
   * Every trade on a book, durable with its batch (AFMM-3): recorded by the node itself, first of
   * its listeners, whatever is attached; read-only opens read them.
   */
  readonly trades: TradeRecords;

  private constructor(
    readonly config: NodeConfig,
    readonly store: LedgerStore<PipelineState, NodeConfig>,
    readonly ledger: Ledger,
    readonly pipeline: Pipeline,
    batch: number,
    lastSeq: number,
    options: RuntimeOptions & { readOnly?: boolean },
  ) {
    this.batch = batch;
    this.lastSeq = lastSeq;
    this.batchCommandsMax = options.batchCommandsMax ?? BATCH_COMMANDS_MAX;
    this.snapshotEvery = options.snapshotEveryBatches ?? SNAPSHOT_EVERY_BATCHES_DEFAULT;
    this.onCommit = options.onCommit;
    this.queuedMax = options.queuedMax ?? QUEUED_MAX;
    this.clockMs = options.clockMs ?? Date.now;
    this.trades = new TradeRecords(store, pipeline.afmm);
    if (!options.readOnly) this.listeners = [this.trades];
  }

  /** Recovers a data folder's state for reading only (operators' tools); writes nothing. */
  static async inspect(dataDir: string): Promise<NodeRuntime> {
    return NodeRuntime.open({ dataDir, readOnly: true });
  }

  /**
   * Opens the node in its data folder, which it then holds exclusively until close() or stop()
   * (or its process ends): a second node on the same folder is refused (see data-dir.ts). A
   * read-only open (operators' tools) takes no lock and writes nothing (but the empty tables a
   * newer version adds, such as the trade records', when the folder has none yet).
   */
  static async open(options: RuntimeOptions & { readOnly?: boolean }): Promise<NodeRuntime> {
    prepareDataDir(options.dataDir, !options.readOnly);
    const lock = options.readOnly ? undefined : DataDirLock.acquire(options.dataDir);
    let store: LedgerStore<PipelineState, NodeConfig> | undefined;
    try {
      store = new LedgerStore<PipelineState, NodeConfig>(options.dataDir);
      const runtime = await NodeRuntime.recover(store, options);
      runtime.lock = lock;
      return runtime;
    } catch (e) {
      await store?.close();
      lock?.release();
      throw e;
    }
  }

  private static async recover(store: LedgerStore<PipelineState, NodeConfig>, options: RuntimeOptions & { readOnly?: boolean }): Promise<NodeRuntime> {
    let config = store.config();
    if (!config && options.readOnly) throw new Error(`${options.dataDir} holds no node`);
    if (!config) {
      if (!options.config) throw new Error(`${options.dataDir} holds no node and no configuration was given`);
      config = options.config;
      NodeRuntime.build(config, undefined); // validate before anything is written
      await store.writeConfig(config);
    }
    const snapshot = store.latestSnapshot();
    const { ledger, pipeline } = NodeRuntime.build(config, snapshot);
    let batch = snapshot?.batch ?? 0;
    let lastSeq = snapshot?.lastSeq ?? 0;
    for (const entry of store.journalAfter(batch)) {
      const commands = decodeJournal(entry.journal);
      pipeline.apply(commands);
      const replayed = ledger.takePending();
      const committed = store.postingsOf(entry.batch);
      if (!replayed.equals(committed)) {
        throw new Error(`journal replay diverged at batch ${entry.batch}: ${firstPostingDifference(decodePostings(replayed), decodePostings(committed))}`);
      }
      batch = entry.batch;
      if (commands.length > 0) lastSeq = commands[commands.length - 1].seq;
    }
    const runtime = new NodeRuntime(config, store, ledger, pipeline, batch, lastSeq, options);
    runtime.checkInvariants();
    runtime.checkStoredBalances();
    if (!options.readOnly) runtime.armClock();
    return runtime;
  }

  /**
   * The ledger and pipeline a configuration makes (restored from a snapshot, if given): what the
   * node runs, and what tests and benchmarks drive directly with the sequencer times they choose.
   */
  static build(config: NodeConfig, snapshot?: Snapshot<PipelineState>): { ledger: Ledger; pipeline: Pipeline } {
    const ledger = new Ledger({
      assets: config.assets, participants: config.participants, accounts: config.accounts,
      feeTiers: config.feeTiers, instruments: instrumentTerms(config),
    });
    let core: MatchingCore;
    if (snapshot) {
      core = MatchingCore.restore(snapshot.core, { batchCommandsMax: BATCH_COMMANDS_MAX });
    } else {
      core = new MatchingCore({ ordersMax: config.ordersMax, instrumentsMax: INSTRUMENTS_MAX, batchCommandsMax: BATCH_COMMANDS_MAX });
      for (const l of config.instruments) core.addInstrument(l.spec);
    }
    const perps = config.perps && checkPerpsConfig(config.perps, {
      assets: new Set(config.assets.map((a) => a.code)), accounts: new Map(config.accounts.map((a) => [a.id, a.kind])),
      instruments: new Map(config.instruments.map((l) => [l.spec.id, { base: l.base, quote: l.quote }])),
    });
    const pipeline = new Pipeline(ledger, core, config.instruments.map((l) => l.spec), perps);
    if (snapshot) {
      ledger.restoreState(snapshot.ledger);
      pipeline.restoreState(snapshot.extra);
    }
    return { ledger, pipeline };
  }

  get lastSequence(): number { return this.lastSeq; }

  /** Commands queued and not yet in a batch (what intake control looks at). */
  get queued(): number { return this.queue.length - this.head; }

  /** Nothing queued, and every applied batch durable: a listener added now misses nothing. */
  get idle(): boolean { return this.queued === 0 && this.undurable === 0; }

  /** Queues a command; resolves with its outcome once the batch holding it is durable. */
  submit(command: NodeCommand): Promise<Outcome> {
    return new Promise<Outcome>((resolve, reject) => {
      if (!this.enqueue(command, resolve, reject)) reject(new Error(`node busy: ${this.queued} commands queued`));
    });
  }

  /**
   * Adds a listener of every batch, whoever submitted its commands; returns what detaches it. A
   * listener is attached while the node is idle (nothing queued or in flight), so it hears of
   * every batch it derives from whole. It must not keep a batch's entries or outcomes past its
   * durable(): they are reused for later commands.
   */
  attach(listener: BatchListener): () => void {
    if (!this.idle) throw new Error('a listener must be attached while the node is idle (nothing queued or in flight)');
    this.listeners = [...this.listeners, listener];
    return () => {
      this.listeners = this.listeners.filter((l) => l !== listener);
    };
  }

  /**
   * An order command with its origin for a gateway to fill in and enqueue: reused once its batch is
   * durable (so a gateway must not keep it), so the order path makes no object per order. Every
   * field is set by the caller; stpMode and the origin's optional fields are undefined until set.
   */
  orderCommand(): ReusableOrder {
    return this.spareOrders.pop() ?? {
      type: 'order', account: 0, instrument: 0, side: 0, orderType: 0, tif: 0, price: 0, qty: 0, stpMode: undefined,
      origin: { gateway: 0, keyId: 0, clOrdId: 0, origClOrdId: undefined, arrivedMs: undefined }, [REUSABLE]: true,
    };
  }

  /** Listeners attached now (what a detach is checked against). */
  get listenerCount(): number { return this.listeners.filter((l) => l !== this.trades).length; }

  /**
   * Queues a command: the gateways' path, which hear of its outcome through their listener (the
   * command carries its origin), so `resolve` and `reject` are optional. False, and nothing
   * queued, when the node has stopped or its queue is full (QUEUED_MAX) — unless `force`: what only
   * takes risk off (cancel-on-disconnect, the dead-man's switch) is never refused for room.
   */
  enqueue(command: NodeCommand, resolve?: (o: Outcome) => void, reject?: (e: Error) => void, force = false): boolean {
    if (this.failure) {
      reject?.(this.failure);
      return false;
    }
    if (this.queued >= this.queuedMax && !force) return false;
    // A command whose outcome only listeners read (no resolve) reuses its entry's outcome too.
    const w = this.spare.pop();
    if (w) {
      w.command = command;
      w.resolve = resolve;
      w.reject = reject;
      w.outcome = resolve ? undefined : w.outcome ?? new Outcome(0, 0);
      this.queue.push(w);
    } else this.queue.push({ seq: 0, ts: 0, command, resolve, reject, outcome: resolve ? undefined : new Outcome(0, 0) });
    if (!this.scheduled && !this.waitingForCommit) this.schedule();
    return true;
  }

  private schedule(): void {
    if (this.scheduled) return;
    this.scheduled = true;
    setImmediate(() => this.runBatch());
  }

  private runBatch(): void {
    this.scheduled = false;
    if (this.head === this.queue.length || this.failure) return;
    if (this.inflight.size >= COMMITS_INFLIGHT_MAX) {
      // Backpressure: the next batch starts when a commit lands (see the commit's finally below).
      this.waitingForCommit = true;
      return;
    }
    const end = Math.min(this.queue.length, this.head + this.batchCommandsMax);
    const waiting = this.queue.slice(this.head, end);
    this.head = end;
    if (this.head === this.queue.length) {
      this.queue = [];
      this.head = 0;
    } else if (this.head > 65_536) {
      this.queue = this.queue.slice(this.head);
      this.head = 0;
    }
    // The sequencer: the one place on the path that reads a clock.
    const ts = Math.max(this.lastTs, this.clockMs() * 1000);
    this.lastTs = ts;
    for (let i = 0; i < waiting.length; i++) {
      waiting[i].seq = ++this.lastSeq;
      waiting[i].ts = ts;
    }
    let applied: AppliedBatch;
    const listeners = this.listeners;
    try {
      applied = { batch: this.batch + 1, commands: waiting, outcomes: this.pipeline.apply(waiting) };
      for (const l of listeners) l.applied?.(applied);
    } catch (e) {
      return this.fail(e as Error, waiting, this.batch + 1);
    }
    const outcomes = applied.outcomes;
    this.armClock(waiting);
    this.batch += 1;
    this.undurable++;
    const batch = this.batch;
    const started = this.onCommit ? process.hrtime.bigint() : 0n;
    const commit = this.commitBatch(batch, waiting, listeners).then(
      () => {
        this.undurable--;
        // From the failed batch on nothing is acknowledged, even a later batch that landed (the
        // store refuses one whose predecessor is missing, so none should). Earlier ones are sound.
        if (this.failure && batch >= this.failedBatch) {
          for (const w of waiting) w.reject?.(this.failure);
          return;
        }
        if (this.onCommit) this.onCommit(waiting.length, Number(process.hrtime.bigint() - started) / 1000);
        // In sequence order: the submitter's callback, then the listeners. One failing callback
        // must not keep the others from their outcomes; it is logged after.
        let thrown: unknown;
        for (let i = 0; i < waiting.length; i++) {
          try {
            waiting[i].resolve?.(outcomes[i]);
          } catch (e) {
            thrown ??= e;
          }
        }
        for (const l of listeners) {
          try {
            l.durable?.(applied);
          } catch (e) {
            thrown ??= e;
          }
        }
        // A listener's bug must not stop the node, whose state is durable and sound: say it loudly.
        if (thrown !== undefined) console.error(`junction: a callback failed after batch ${batch} was durable:`, thrown);
        // Every listener is done with the batch: its entries serve later commands (no object per command).
        for (const w of waiting) {
          const c = w.command as Partial<ReusableOrder>;
          if (c[REUSABLE] && this.spareOrders.length < SPARE_MAX) this.spareOrders.push(c as ReusableOrder);
          if (this.spare.length >= SPARE_MAX) continue;
          // An outcome handed to a submitter is theirs to keep: the entry gets a new one when reused.
          if (w.resolve) w.outcome = undefined;
          w.resolve = w.reject = undefined;
          this.spare.push(w);
        }
      },
      (e: Error) => this.fail(e, waiting, batch),
    );
    this.inflight.add(commit);
    void commit.finally(() => {
      this.inflight.delete(commit);
      if (this.waitingForCommit) {
        this.waitingForCommit = false;
        this.schedule();
      }
    });
    if (this.head < this.queue.length) this.schedule();
  }

  /**
   * A venue's licence that ends is a matter of the sequencer's time: when the next one ends (or at
   * once, for one that ended while the node was down), a clock command is sequenced, and the
   * pipeline suspends what no longer qualifies (replay sees the same command at the same time).
   * Orders are refused from the end on even before it lands. One clock command at a time.
   */
  private armClock(applied?: readonly SequencedCommand[]): void {
    if (this.clockQueued && applied?.some((c) => c.command.type === 'admin' && c.command.body.action === 'clock')) this.clockQueued = false;
    const venues = this.pipeline.venues;
    const perps = this.pipeline.perps;
    if ((!venues.active && venues.registry.compensation.size === 0 && !perps.active) || this.clockQueued || this.failure) return;
    // The sequencer's time: never behind what it has stamped already.
    const nowUs = Math.max(this.lastTs, this.clockMs() * 1000);
    // A compensation policy that lapsed unseen (while the node was down) is due at once.
    const settlement = venues.settlement;
    // Perps: the next premium sample or funding time (at once when no batch has set them yet).
    const perpsDue = perps.active ? perps.nextDueUs() || nowUs : undefined;
    const candidates = [venues.registry.nextExpiryUs(nowUs), settlement.nextCycle(), settlement.nextDeadline(), perpsDue].filter((t): t is number => t !== undefined);
    const next = venues.coverageDue(nowUs) ? nowUs : candidates.length > 0 ? Math.min(...candidates) : 0;
    if (next === this.clockAtUs) return;
    clearTimeout(this.clockTimer);
    this.clockTimer = undefined;
    this.clockAtUs = next;
    if (next === 0) return;
    const delayMs = Math.min(2 ** 31 - 1, Math.max(0, Math.ceil(next / 1000 - this.clockMs()) + 1));
    this.clockTimer = setTimeout(() => {
      this.clockAtUs = 0;
      this.clockTimer = undefined;
      // Early by the node's clock (a delay past a timer's range, or a clock that stands still):
      // nothing is due, so nothing is sequenced; the timer is armed again.
      if (Math.max(this.lastTs, this.clockMs() * 1000) < next) return this.armClock();
      // It takes risk off (suspensions cancel orders): never refused for room.
      this.clockQueued = this.enqueue({ type: 'admin', operator: 0, body: { action: 'clock' } }, undefined, undefined, true);
    }, delayMs);
    this.clockTimer.unref();
  }

  private commitBatch(batch: number, commands: SequencedCommand[], listeners: readonly BatchListener[]): Promise<unknown> {
    const touched = new Set<number>();
    this.ledger.pending.forEachSide((account, asset) => {
      if (account !== 0) touched.add(balanceKey(account, asset));
    });
    const postings = this.ledger.takePending();
    const balances: [number, number, number][] = [...touched].map((key) => {
      const b = this.ledger.balance(Math.floor(key / ASSETS_MAX), key % ASSETS_MAX);
      return [key, b.available, b.held];
    });
    const snapshot = batch % this.snapshotEvery === 0 ? this.snapshot(batch) : undefined;
    return this.store.commit({ batch, journal: encodeJournal(commands), postings, balances, snapshot }, () => {
      for (const l of listeners) l.write?.(batch);
    });
  }

  private snapshot(batch: number): Snapshot<PipelineState> {
    return { batch, lastSeq: this.lastSeq, core: this.pipeline.core.snapshot(), ledger: this.ledger.state(), extra: this.pipeline.state() };
  }

  private fail(error: Error, waiting: Waiting[], batch: number): void {
    // Past a failed commit or a broken invariant the in-memory state cannot be trusted: stop.
    this.failedBatch = Math.min(this.failedBatch, batch);
    if (this.failure) {
      for (const w of waiting) w.reject?.(this.failure);
      return;
    }
    this.failure = new Error(`node stopped: ${error.message}`);
    for (const l of this.listeners) l.failed?.(this.failure);
    for (const w of waiting) w.reject?.(this.failure);
    for (let i = this.head; i < this.queue.length; i++) this.queue[i].reject?.(this.failure);
    this.queue = [];
    this.head = 0;
  }

  /** Waits for every queued command to be applied and committed. */
  async drain(): Promise<void> {
    while (this.head < this.queue.length || this.scheduled || this.inflight.size > 0) {
      await Promise.all([...this.inflight]);
      await new Promise((r) => setImmediate(r));
    }
  }

  checkInvariants(): void {
    this.pipeline.checkInvariants(this.config.instruments.map((l) => l.spec));
  }

  /** The balances table in LMDB must equal the ledger rebuilt in memory. */
  private checkStoredBalances(): void {
    for (const [key, available, held] of this.store.allBalances()) {
      const b = this.ledger.balance(Math.floor(key / ASSETS_MAX), key % ASSETS_MAX);
      if (b.available !== available || b.held !== held) {
        throw new Error(`stored balance ${key} is ${available}/${held} but the rebuilt ledger has ${b.available}/${b.held}`);
      }
    }
  }

  /** Drains, writes a snapshot so the next start replays nothing, and closes the store. */
  async close(): Promise<void> {
    clearTimeout(this.clockTimer);
    await this.drain();
    if (!this.failure) {
      this.batch += 1;
      await this.store.commit({ batch: this.batch, journal: encodeJournal([]), postings: Buffer.alloc(0), balances: [], snapshot: this.snapshot(this.batch) });
    }
    await this.store.close();
    this.lock?.release();
  }

  /**
   * Drains and closes the store without the closing snapshot, leaving the folder as a crash after
   * the last commit would (the next start replays the journal), and releases the folder.
   */
  async stop(): Promise<void> {
    clearTimeout(this.clockTimer);
    await this.drain();
    await this.store.close();
    this.lock?.release();
  }
}

function firstPostingDifference(replayed: Posting[], committed: Posting[]): string | undefined {
  const n = Math.max(replayed.length, committed.length);
  for (let i = 0; i < n; i++) {
    const a = replayed[i];
    const b = committed[i];
    if (!a || !b || a.id !== b.id || a.seq !== b.seq || a.amount !== b.amount || a.asset !== b.asset || a.cause !== b.cause
      || a.debitAccount !== b.debitAccount || a.creditAccount !== b.creditAccount || a.debitBucket !== b.debitBucket || a.creditBucket !== b.creditBucket) {
      return `posting #${i}: replayed ${JSON.stringify(a)} vs committed ${JSON.stringify(b)}`;
    }
  }
  return undefined;
}
