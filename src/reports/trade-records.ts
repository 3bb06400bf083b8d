// The node's trade records (AFMM-3, OPS-3): every trade on a book, durable with the batch that made
// it — in the same LMDB transaction, so a trade is recorded exactly when its batch is, never
// without it — with its time, price, size, aggressor, both parties' accounts and orders, and
// whether each party was an affiliated market maker as designated when the trade's command was applied (a
// later designation does not rewrite history). Liquidation orders' trades say so.
//
// Stored per batch and instrument: one row keyed [instrument, first trade id] holding the batch's
// trades of that instrument packed as float64s, so a busy batch costs one put per instrument traded,
// and the newest trades of an instrument are a short reverse range. Trade ids are per book and rise.
import type { Database } from 'lmdb';
import { EventKind, type CoreEvent } from '../core/index.js';
import type { LedgerStore } from '../ledger/store.js';
import { LIQUIDATION_ID_BASE } from '../perps/perps.js';
import type { AppliedBatch, BatchListener } from '../pipeline/runtime.js';

export interface TradeRecord {
  instrument: number;
  tradeId: number;
  /** The sequencer's time of the batch (µs). */
  ts: number;
  price: number;
  qty: number;
  aggressor: 'buy' | 'sell';
  taker: { account: number; orderId: number; afmm: boolean };
  maker: { account: number; orderId: number; afmm: boolean };
  /** A liquidation order of the waterfall (PERP-6) took part. */
  liquidation: boolean;
}

const FIELDS = 9; // tradeId, ts, price, qty, flags, taker account, taker order, maker account, maker order
const SELL = 1;
const TAKER_AFMM = 2;
const MAKER_AFMM = 4;

/** Who was an AFMM when a command of the batch just applied was. */
export interface AfmmFlags { isAfmmAt(account: number, seq: number): boolean }

export class TradeRecords implements BatchListener {
  private readonly db: Database<Buffer, [number, number]>;
  /** Per applied batch not yet written: each instrument's packed trades. */
  private readonly pending = new Map<number, Map<number, number[]>>();
  private current: Map<number, number[]> | undefined;
  private ts = 0;
  private seq = 0;

  constructor(store: Pick<LedgerStore<unknown, unknown>, 'openDB'>, private readonly afmm: AfmmFlags) {
    this.db = store.openDB('trades', { encoding: 'binary' });
  }

  applied(b: AppliedBatch): void {
    this.current = undefined;
    for (const outcome of b.outcomes) {
      if (outcome.fills() === 0) continue;
      this.ts = outcome.ts;
      this.seq = outcome.seq;
      outcome.forEachEvent(this.fill);
    }
    if (this.current) this.pending.set(b.batch, this.current);
  }

  private readonly fill = (e: CoreEvent): void => {
    if (e.kind !== EventKind.Fill) return;
    this.current ??= new Map();
    let packed = this.current.get(e.instrument);
    if (!packed) this.current.set(e.instrument, (packed = []));
    const flags = (e.side === 1 ? SELL : 0) | (this.afmm.isAfmmAt(e.account, this.seq) ? TAKER_AFMM : 0) | (this.afmm.isAfmmAt(e.makerAccount, this.seq) ? MAKER_AFMM : 0);
    packed.push(e.tradeId, this.ts, e.price, e.qty, flags, e.account, e.orderId, e.makerAccount, e.makerOrderId);
  };

  write(batch: number): void {
    const trades = this.pending.get(batch);
    if (!trades) return;
    this.pending.delete(batch);
    for (const [instrument, packed] of trades) {
      this.db.put([instrument, packed[0]], Buffer.from(new Float64Array(packed).buffer));
    }
  }

  // No failed(): a batch before the one that failed may still land after the node stopped (its
  // transaction was queued first), and its rows must land with it. Nothing more is applied.

  /** The instrument's newest durable trades before trade id `before`, newest first, at most `limit`. */
  latest(instrument: number, limit: number, before = Number.MAX_SAFE_INTEGER): TradeRecord[] {
    const out: TradeRecord[] = [];
    if (limit <= 0) return out;
    for (const { value } of this.db.getRange({ start: [instrument, before], end: [instrument, -1], reverse: true })) {
      // Read in place: a row need not sit on an 8-byte boundary of its page.
      const f = (k: number) => value.readDoubleLE(k * 8);
      for (let i = value.byteLength / 8 - FIELDS; i >= 0 && out.length < limit; i -= FIELDS) {
        if (f(i) >= before) continue;
        out.push(record(instrument, f, i));
      }
      if (out.length >= limit) break;
    }
    return out;
  }
}

function record(instrument: number, f: (k: number) => number, i: number): TradeRecord {
  const flags = f(i + 4);
  return {
    instrument, tradeId: f(i), ts: f(i + 1), price: f(i + 2), qty: f(i + 3), aggressor: flags & SELL ? 'sell' : 'buy',
    taker: { account: f(i + 5), orderId: f(i + 6), afmm: (flags & TAKER_AFMM) !== 0 },
    maker: { account: f(i + 7), orderId: f(i + 8), afmm: (flags & MAKER_AFMM) !== 0 },
    liquidation: f(i + 6) > LIQUIDATION_ID_BASE || f(i + 8) > LIQUIDATION_ID_BASE,
  };
}
