// The site's view of each market, from the node's batches (OPS-3, AFMM-3): the public book, built
// from durable events only (BookFeed, as the protocol's market data), and a ring of the recent
// trades of each instrument (seeded from the node's trade records when the site starts) — time,
// price, size, aggressor, and whether an affiliated market maker was the maker or the taker, as
// designated when the trade's command was applied (not a later approval, even in the same batch);
// the trade is shown only once its batch is durable.
// The rings are typed arrays: no object per trade.
import { EventKind, type CoreEvent } from '../core/index.js';
import { BookFeed, type LevelChange } from '../marketdata/book-feed.js';
import type { AppliedBatch, BatchListener, NodeRuntime } from '../pipeline/runtime.js';
import { TRADES_KEPT } from './limits.js';

export interface Trade { tradeId: number; ts: number; price: number; qty: number; aggressor: 'buy' | 'sell'; makerAfmm: boolean; takerAfmm: boolean }

const AGGRESSOR_SELL = 1;
const MAKER_AFMM = 2;
const TAKER_AFMM = 4;

class TradeRing {
  private readonly tradeId = new Float64Array(TRADES_KEPT);
  private readonly ts = new Float64Array(TRADES_KEPT);
  private readonly price = new Float64Array(TRADES_KEPT);
  private readonly qty = new Float64Array(TRADES_KEPT);
  private readonly flags = new Uint8Array(TRADES_KEPT);
  /** Trades appended, ever; those of batches not yet durable are past `shown`. */
  appended = 0;
  shown = 0;

  push(e: Pick<CoreEvent, 'tradeId' | 'price' | 'qty'>, ts: number, flags: number): void {
    const i = this.appended++ % TRADES_KEPT;
    this.tradeId[i] = e.tradeId;
    this.ts[i] = ts;
    this.price[i] = e.price;
    this.qty[i] = e.qty;
    this.flags[i] = flags;
  }

  /** The newest shown trades, newest first, at most `limit`. */
  latest(limit: number): Trade[] {
    const out: Trade[] = [];
    // Entries before appended − TRADES_KEPT were overwritten (by trades not yet shown, too).
    const oldest = Math.max(0, this.appended - TRADES_KEPT);
    for (let n = this.shown - 1; n >= oldest && out.length < limit; n--) {
      const i = n % TRADES_KEPT;
      const f = this.flags[i];
      out.push({
        tradeId: this.tradeId[i], ts: this.ts[i], price: this.price[i], qty: this.qty[i], aggressor: f & AGGRESSOR_SELL ? 'sell' : 'buy',
        makerAfmm: (f & MAKER_AFMM) !== 0, takerAfmm: (f & TAKER_AFMM) !== 0,
      });
    }
    return out;
  }
}

export class Tape implements BatchListener {
  private readonly feed = new BookFeed();
  private readonly rings = new Map<number, TradeRing>();
  /** Per applied batch not yet durable: each ring it appended to and its count after the batch. */
  private readonly pending: { batch: number; appended: [TradeRing, number][] }[] = [];
  /** Instruments whose book or trades changed since the last take (what a push re-renders). */
  private readonly changed = new Set<number>();
  private ts = 0;
  private seq = 0;
  /** The rings the batch being applied appended to. */
  private readonly touched: TradeRing[] = [];
  /** A durable batch arrived since the last take. */
  private durableSince = false;
  /** The sequencer's time of the last durable batch (µs). */
  lastTs = 0;
  /** The last durable batch's number (0: none since the site started). */
  durableBatch = 0;

  constructor(private readonly node: NodeRuntime) {
    this.feed.seed(node.pipeline.orders.values());
    for (const l of node.config.instruments) {
      // The recent trades from the node's trade records: a restart does not empty the tape.
      const ring = new TradeRing();
      for (const t of node.trades.latest(l.spec.id, TRADES_KEPT).reverse()) {
        ring.push(t, t.ts, (t.aggressor === 'sell' ? AGGRESSOR_SELL : 0) | (t.maker.afmm ? MAKER_AFMM : 0) | (t.taker.afmm ? TAKER_AFMM : 0));
      }
      ring.shown = ring.appended;
      this.rings.set(l.spec.id, ring);
    }
  }

  applied(b: AppliedBatch): void {
    for (const outcome of b.outcomes) {
      // Most commands fill nothing: counting their fills reads no event into an object.
      if (outcome.fills() === 0) continue;
      this.ts = outcome.ts;
      this.seq = outcome.seq;
      outcome.forEachEvent(this.fill);
    }
    if (this.touched.length === 0) return;
    this.pending.push({ batch: b.batch, appended: this.touched.map((r) => [r, r.appended]) });
    this.touched.length = 0;
  }

  private readonly fill = (e: CoreEvent): void => {
    if (e.kind !== EventKind.Fill) return;
    const ring = this.rings.get(e.instrument);
    if (!ring) return;
    const afmm = this.node.pipeline.afmm;
    ring.push(e, this.ts, (e.side === 1 ? AGGRESSOR_SELL : 0) | (afmm.isAfmmAt(e.makerAccount, this.seq) ? MAKER_AFMM : 0) | (afmm.isAfmmAt(e.account, this.seq) ? TAKER_AFMM : 0));
    if (!this.touched.includes(ring)) this.touched.push(ring);
  };

  durable(b: AppliedBatch): void {
    while (this.pending.length > 0 && this.pending[0].batch <= b.batch) {
      for (const [ring, appended] of this.pending.shift()!.appended) ring.shown = appended;
    }
    for (const outcome of b.outcomes) outcome.forEachEvent(this.event);
    if (b.commands.length > 0) this.lastTs = Math.max(this.lastTs, b.commands[b.commands.length - 1].ts);
    this.durableBatch = b.batch;
    // The site reads whole books, not the feed's updates: dropping them each batch keeps it from growing.
    this.feed.flush();
    this.durableSince = true;
  }

  private readonly event = (e: CoreEvent): void => {
    if (this.feed.apply(e) || e.kind === EventKind.Fill) this.changed.add(e.instrument);
  };

  /**
   * What changed since the last take: whether any batch became durable, and the instruments whose
   * book or trades did.
   */
  take(): { durable: boolean; instruments: number[] } {
    const out = { durable: this.durableSince, instruments: [...this.changed] };
    this.changed.clear();
    this.durableSince = false;
    return out;
  }

  /** The best `depth` levels of each side, best first. */
  book(instrument: number, depth: number): { bids: LevelChange[]; asks: LevelChange[] } {
    const levels = this.feed.snapshot(instrument).levels;
    const bids: LevelChange[] = [];
    const asks: LevelChange[] = [];
    for (const l of levels) {
      if (l.side === 0) {
        if (bids.length < depth) bids.push(l);
      } else if (asks.length < depth) asks.push(l);
    }
    return { bids, asks };
  }

  trades(instrument: number, limit: number): Trade[] {
    return this.rings.get(instrument)?.latest(limit) ?? [];
  }
}
