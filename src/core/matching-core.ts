// MatchingCore: the typed face of the native engine. Commands are written as fixed-size records
// into a reused buffer and cross N-API in one call per batch; events come back the same way and are
// read in place through EventBatch, so no JavaScript object is made per order on the hot path.
import {
  COMMAND_BYTES, COMMAND_WORDS, CommandKind, CommandWord, EVENT_BYTES, EVENT_WORDS, EventWord,
  emptyEvent,
  type Command, type CoreEvent, type EventKind, type InstrumentSpec, type OrderType, type Side,
  type StpMode, type TimeInForce,
} from './layout.js';
import { native, type EngineHandle } from './native.js';

export interface CoreLimits {
  /** Resting orders the preallocated pool holds, across all instruments. */
  ordersMax: number;
  /** Instrument ids run from 1 to instrumentsMax. */
  instrumentsMax: number;
  /** Commands per batch (one N-API call); default 4096. */
  batchCommandsMax?: number;
  /** Initial event buffer capacity in events; it doubles when a batch needs more. Default 32768. */
  eventsInitial?: number;
}

export interface BookLevel { price: number; qty: number; count: number }
export interface CoreStats { resting: number; memoryBytes: number; ordersMax: number }

const BATCH_COMMANDS_DEFAULT = 4096;
const EVENTS_INITIAL = 1 << 15;
const TWO_32 = 4294967296;
const TWO_MINUS_32 = 1 / TWO_32; // scaling by a power of two is exact: no division on the hot path

function writeI64(words: Int32Array, at: number, x: number): void {
  words[at] = x | 0; // ToInt32 keeps the low 32 bits of any safe integer
  // Almost every value fits 31 bits: a predictable branch beats the float multiply and floor.
  words[at + 1] = x >= 0 && x <= 0x7fffffff ? 0 : Math.floor(x * TWO_MINUS_32) | 0;
}

function readI64(words: Int32Array, at: number): number {
  return words[at + 1] * TWO_32 + (words[at] >>> 0);
}

/** The events of one flush, read in place. Valid until the next flush of the same core. */
export class EventBatch {
  length = 0;
  /** @internal */ words: Int32Array;
  /** @internal */ bytes: Uint8Array;

  constructor(words: Int32Array) {
    this.words = words;
    this.bytes = new Uint8Array(words.buffer, words.byteOffset, words.byteLength);
  }

  kind(i: number): EventKind { return this.bytes[i * EVENT_BYTES] as EventKind; }
  reason(i: number): number { return this.bytes[i * EVENT_BYTES + 1]; }
  side(i: number): number { return this.bytes[i * EVENT_BYTES + 2]; }
  flags(i: number): number { return this.bytes[i * EVENT_BYTES + 3]; }
  instrument(i: number): number { return this.words[i * EVENT_WORDS + EventWord.instrument] >>> 0; }
  commandIndex(i: number): number { return this.words[i * EVENT_WORDS + EventWord.commandIndex] >>> 0; }
  account(i: number): number { return this.words[i * EVENT_WORDS + EventWord.account] >>> 0; }
  orderId(i: number): number { return readI64(this.words, i * EVENT_WORDS + EventWord.orderId); }
  makerOrderId(i: number): number { return readI64(this.words, i * EVENT_WORDS + EventWord.makerOrderId); }
  price(i: number): number { return readI64(this.words, i * EVENT_WORDS + EventWord.price); }
  qty(i: number): number { return readI64(this.words, i * EVENT_WORDS + EventWord.qty); }
  remaining(i: number): number { return readI64(this.words, i * EVENT_WORDS + EventWord.remaining); }
  makerRemaining(i: number): number { return readI64(this.words, i * EVENT_WORDS + EventWord.makerRemaining); }
  tradeId(i: number): number { return readI64(this.words, i * EVENT_WORDS + EventWord.tradeId); }
  makerAccount(i: number): number { return this.words[i * EVENT_WORDS + EventWord.makerAccount] >>> 0; }

  /** A plain object copy of event i (for tests, logs and the slow path). */
  get(i: number): CoreEvent {
    return this.read(i, emptyEvent());
  }

  /** Fills `e` with event i and returns it (a reused object: no allocation per event). */
  read(i: number, e: CoreEvent): CoreEvent {
    e.kind = this.kind(i); e.reason = this.reason(i); e.side = this.side(i); e.flags = this.flags(i);
    e.instrument = this.instrument(i); e.commandIndex = this.commandIndex(i); e.account = this.account(i);
    e.orderId = this.orderId(i); e.makerOrderId = this.makerOrderId(i); e.price = this.price(i);
    e.qty = this.qty(i); e.remaining = this.remaining(i); e.makerRemaining = this.makerRemaining(i);
    e.tradeId = this.tradeId(i); e.makerAccount = this.makerAccount(i);
    return e;
  }

  /** A copy of this batch's events that stays valid after the next flush. */
  copy(): EventBatch {
    const c = new EventBatch(this.words.slice(0, this.length * EVENT_WORDS));
    c.length = this.length;
    return c;
  }

  toArray(): CoreEvent[] {
    const out: CoreEvent[] = new Array(this.length);
    for (let i = 0; i < this.length; i++) out[i] = this.get(i);
    return out;
  }
}

export class MatchingCore {
  readonly batchCommandsMax: number;
  private handle: EngineHandle;
  private readonly commandBytes: Uint8Array;
  private readonly commandWords: Int32Array;
  private eventBytes: Uint8Array;
  private readonly status = new Uint32Array(4);
  private readonly statsOut = new Float64Array(3);
  private batch: EventBatch;
  private count = 0;

  constructor(limits: CoreLimits, handle?: EngineHandle) {
    this.batchCommandsMax = limits.batchCommandsMax ?? BATCH_COMMANDS_DEFAULT;
    if (!Number.isInteger(this.batchCommandsMax) || this.batchCommandsMax < 1) {
      throw new RangeError('batchCommandsMax must be a positive integer');
    }
    this.handle = handle ?? native.createEngine(limits.ordersMax, limits.instrumentsMax);
    this.commandBytes = new Uint8Array(this.batchCommandsMax * COMMAND_BYTES);
    this.commandWords = new Int32Array(this.commandBytes.buffer);
    const eventWords = new Int32Array((limits.eventsInitial ?? EVENTS_INITIAL) * EVENT_WORDS);
    this.eventBytes = new Uint8Array(eventWords.buffer);
    this.batch = new EventBatch(eventWords);
  }

  /** Rebuilds a core from `snapshot()` bytes. */
  static restore(bytes: Uint8Array, options: { batchCommandsMax?: number; eventsInitial?: number } = {}): MatchingCore {
    return new MatchingCore({ ordersMax: 0, instrumentsMax: 0, ...options }, native.restore(bytes));
  }

  addInstrument(spec: InstrumentSpec): void {
    native.addInstrument(this.handle, spec.id, spec.tickSize, spec.lotSize, spec.minQty, spec.maxQty, spec.refPrice, spec.bandBps);
  }

  /** Commands queued for the next flush. */
  get pending(): number { return this.count; }

  private slot(): number {
    if (this.count === this.batchCommandsMax) {
      throw new RangeError(`batch is full (batchCommandsMax ${this.batchCommandsMax}): flush first`);
    }
    return this.count++ * COMMAND_WORDS;
  }

  /** Queues a new order; returns its index in the batch (events carry it as commandIndex). */
  newOrder(instrument: number, orderId: number, account: number, side: Side, type: OrderType, tif: TimeInForce,
    price: number, qty: number, stpGroup: number, stpMode: StpMode): number {
    const w = this.commandWords;
    const at = this.slot();
    w[at] = CommandKind.NewOrder | ((side & 0xff) << 8) | ((type & 0xff) << 16) | ((tif & 0xff) << 24);
    w[at + CommandWord.modes] = stpMode & 0xff;
    w[at + CommandWord.instrument] = instrument;
    w[at + CommandWord.account] = account;
    writeI64(w, at + CommandWord.orderId, orderId);
    writeI64(w, at + CommandWord.price, price);
    writeI64(w, at + CommandWord.qty, qty);
    w[at + CommandWord.stpGroup] = stpGroup;
    return at / COMMAND_WORDS;
  }

  cancel(instrument: number, orderId: number, account: number): number {
    return this.orderReference(CommandKind.Cancel, instrument, orderId, account) / COMMAND_WORDS;
  }

  /** New price and new remaining quantity for a resting order. */
  amend(instrument: number, orderId: number, account: number, price: number, qty: number): number {
    const at = this.orderReference(CommandKind.Amend, instrument, orderId, account);
    writeI64(this.commandWords, at + CommandWord.price, price);
    writeI64(this.commandWords, at + CommandWord.qty, qty);
    return at / COMMAND_WORDS;
  }

  /**
   * Queues a command naming a resting order, writing only the fields it carries (the core reads,
   * and echoes, nothing else of it); returns its word offset.
   */
  private orderReference(kind: CommandKind, instrument: number, orderId: number, account: number): number {
    const w = this.commandWords;
    const at = this.slot();
    w[at] = kind;
    w[at + CommandWord.instrument] = instrument;
    w[at + CommandWord.account] = account;
    writeI64(w, at + CommandWord.orderId, orderId);
    return at;
  }

  /** Cancels every resting order selected by `scope` (Scope bits; 0 selects all). */
  massCancel(scope: number, account: number, instrument: number, side: number): number {
    const w = this.commandWords;
    const at = this.slot();
    w[at] = CommandKind.MassCancel | ((side & 0xff) << 8);
    w[at + CommandWord.modes] = (scope & 0xff) << 8;
    w[at + CommandWord.instrument] = instrument;
    w[at + CommandWord.account] = account;
    return at / COMMAND_WORDS;
  }

  /**
   * Moves a book's price band to centre on `price` (a perpetual's mark): emits nothing when it
   * applies (a Rejected event for an unknown instrument or a price outside 1..2^53−1).
   */
  setReference(instrument: number, price: number): number {
    const w = this.commandWords;
    const at = this.slot();
    w[at] = CommandKind.SetReference;
    w[at + CommandWord.instrument] = instrument;
    writeI64(w, at + CommandWord.price, price);
    return at / COMMAND_WORDS;
  }

  /** Queues any command given as an object. */
  submit(c: Command): number {
    switch (c.kind) {
      case CommandKind.NewOrder:
        return this.newOrder(c.instrument, c.orderId, c.account, c.side, c.type, c.tif, c.price, c.qty, c.stpGroup, c.stpMode);
      case CommandKind.Cancel: return this.cancel(c.instrument, c.orderId, c.account);
      case CommandKind.Amend: return this.amend(c.instrument, c.orderId, c.account, c.price, c.qty);
      case CommandKind.MassCancel: return this.massCancel(c.scope, c.account, c.instrument, c.side);
      case CommandKind.SetReference: {
        const at = this.setReference(c.instrument, c.price);
        this.commandWords[at * COMMAND_WORDS + CommandWord.account] = c.account ?? 0;
        return at;
      }
      default: {
        // An unknown kind still reaches the core, which rejects it with UnknownCommand.
        const raw = c as { kind: number; instrument?: number; account?: number };
        const at = this.cancel(raw.instrument ?? 0, 0, raw.account ?? 0);
        this.commandBytes[at * COMMAND_BYTES] = raw.kind & 0xff;
        return at;
      }
    }
  }

  /** Runs every queued command through the engine; the returned batch is valid until the next flush. */
  flush(): EventBatch {
    let first = 0;
    let written = 0;
    while (first < this.count) {
      native.process(this.handle, this.commandBytes, first, this.count - first, this.eventBytes, written, this.status);
      first += this.status[0];
      written = this.status[1];
      const needed = this.status[2];
      if (first < this.count) this.growEvents(written + needed);
    }
    this.count = 0;
    this.batch.length = written;
    return this.batch;
  }

  /** Convenience for tests and the slow path: submit, flush, copy the events out. */
  execute(commands: readonly Command[]): CoreEvent[] {
    const out: CoreEvent[] = [];
    for (let i = 0; i < commands.length; i += this.batchCommandsMax) {
      for (const c of commands.slice(i, i + this.batchCommandsMax)) this.submit(c);
      out.push(...this.flush().toArray());
    }
    return out;
  }

  private growEvents(eventsMin: number): void {
    let capacity = this.eventBytes.byteLength / EVENT_BYTES;
    while (capacity < eventsMin) capacity *= 2;
    const words = new Int32Array(capacity * EVENT_WORDS);
    words.set(this.batch.words);
    this.eventBytes = new Uint8Array(words.buffer);
    this.batch = new EventBatch(words);
  }

  /** Best-first price levels of one side, at most `levelsMax`. */
  depth(instrument: number, side: Side, levelsMax: number): BookLevel[] {
    const out = new Float64Array(levelsMax * 3);
    const n = native.depth(this.handle, instrument, side, levelsMax, out);
    const levels: BookLevel[] = [];
    for (let i = 0; i < n; i++) levels.push({ price: out[3 * i], qty: out[3 * i + 1], count: out[3 * i + 2] });
    return levels;
  }

  /**
   * The prices a book takes orders at now, inclusive, and the reference its band is centred on (its
   * last trade, or the last SetReference): as of the last flush.
   */
  band(instrument: number): { low: number; high: number; reference: number } {
    native.band(this.handle, instrument, this.bandOut);
    return { low: this.bandOut[0], high: this.bandOut[1], reference: this.bandOut[2] };
  }

  private readonly bandOut = new Float64Array(3);

  /** Top of book: best bid and best ask with their level totals. */
  top(instrument: number): { bid: BookLevel | undefined; ask: BookLevel | undefined } {
    return { bid: this.depth(instrument, 0, 1)[0], ask: this.depth(instrument, 1, 1)[0] };
  }

  stats(): CoreStats {
    native.stats(this.handle, this.statsOut);
    return { resting: this.statsOut[0], memoryBytes: this.statsOut[1], ordersMax: this.statsOut[2] };
  }

  /** Walks every book, level, order and index entry; throws on the first broken invariant. */
  checkInvariants(): void { native.checkInvariants(this.handle); }

  snapshot(): Buffer { return native.snapshot(this.handle); }

  /** Replays a workload file (scripts/gen-ops.mjs format) entirely inside Rust; returns the fill count. */
  replayOpsNative(ops: Int32Array, instrument: number, account: number): number {
    return native.replayOps(this.handle, ops, instrument, account);
  }
}
