// Public market data (OPS-3), built from durable batches only: per instrument a book topic (a
// snapshot on subscribe, then updates with a rising bookSeq) and a trades topic (perpetuals'
// trades too), published on uWS topics once per turn; per perpetual a perp topic (PERP-10,
// PERP-11): its PerpMarket (mark, index and each source's part in it, funding) on subscribe, then
// whenever its mark, index or funding changes. No logon needed; subscribers without one are
// bounded (connections.ts).
import { EventKind, type CoreEvent } from '../../core/index.js';
import type { MarketView } from '../../perps/perps.js';
import { BookFeed } from '../../marketdata/book-feed.js';
import type { AppliedBatch, NodeRuntime } from '../../pipeline/runtime.js';
import * as sbe from '../../protocol/codec.js';
import { WireTime } from '../../protocol/time.js';
import type { Topic, Ws } from './connection.js';
import type { ConnectionBounds } from './connections.js';
import { newTopic, type Outbox } from './outbox.js';

/**
 * A PerpMarket at most: its block and 17 sources (16 keys and the platform's book, what a product
 * may have) take under 1 KiB.
 */
const PERP_MARKET_BYTES_MAX = 4096;

/** Writes a message already encoded (`bytes`) where an encoder would. */
function copyOf(bytes: Uint8Array): (v: DataView) => number {
  return (v) => {
    new Uint8Array(v.buffer, v.byteOffset, bytes.byteLength).set(bytes);
    return bytes.byteLength;
  };
}

export class MarketData {
  private readonly feed = new BookFeed(sbe.GROUP_ENTRIES_MAX);
  private readonly bookTopics = new Map<number, Topic>();
  private readonly tradeTopics = new Map<number, Topic>();
  private ts = 0;
  private readonly time = new WireTime();
  private readonly perpTopics = new Map<number, Topic>();
  /** Each perpetual's PerpMarket as of the last durable batch that changed it (what a subscriber gets first). */
  private readonly perpLatest = new Map<number, Uint8Array>();
  /** PerpMarkets of batches applied but not yet durable, by batch. */
  private readonly perpPending = new Map<number, [number, Uint8Array][]>();
  private readonly perpScratch = new DataView(new ArrayBuffer(PERP_MARKET_BYTES_MAX));

  constructor(private readonly node: NodeRuntime, private readonly outbox: Outbox, private readonly bounds: ConnectionBounds) {
    this.feed.seed(node.pipeline.orders.values());
    for (const l of node.config.instruments) {
      this.bookTopics.set(l.spec.id, newTopic(`book.${l.spec.id}`));
      this.tradeTopics.set(l.spec.id, newTopic(`trades.${l.spec.id}`));
    }
    // A gateway starts on an idle node: the perps' state is durable as it stands.
    const perps = node.pipeline.perps;
    for (const id of perps.products.keys()) {
      this.perpTopics.set(id, newTopic(`perp.${id}`));
      this.perpLatest.set(id, this.encodePerpMarket(perps.marketView(id), Date.now() * 1000));
    }
  }

  /** The InstrumentList: each instrument with its assets and their scales, tick, lot and size limits. */
  encodeInstruments(v: DataView): number {
    const ledger = this.node.ledger;
    return sbe.encodeInstrumentList(v, 0, {
      instruments: this.node.config.instruments.map((l) => {
        const base = ledger.assets[ledger.assetIndex.get(l.base)!];
        const quote = ledger.assets[ledger.assetIndex.get(l.quote)!];
        return {
          instrument: l.spec.id, symbol: l.symbol, tickSize: l.spec.tickSize, lotSize: l.spec.lotSize, minQty: l.spec.minQty, maxQty: l.spec.maxQty,
          base: base.code, quote: quote.code, baseScale: base.scale, quoteScale: quote.scale,
        };
      }),
    });
  }

  subscribe(ws: Ws, m: sbe.Subscribe): void {
    if (m.channel === sbe.Channel.Perp) return this.subscribePerp(ws, m.instrument);
    if (m.instrument === 0) return this.outbox.sendMessage(ws, (v) => this.encodeInstruments(v));
    const book = this.bookTopics.get(m.instrument);
    if (!book) return this.outbox.reject(ws, sbe.TemplateId.Subscribe, sbe.RejectReason.UnknownInstrument, 'instrument', `no instrument ${m.instrument}`);
    if (!this.bounds.admitPublic(ws)) return;
    if (m.channel === sbe.Channel.Trades) {
      this.join(ws, this.tradeTopics.get(m.instrument)!);
      return this.outbox.sendMessage(ws, (v) => sbe.encodeSubscribeAck(v, 0, { instrument: m.instrument, channel: m.channel }));
    }
    // The snapshot goes out now, ahead of any update published at the end of this turn. It may
    // already hold changes that update (bookSeq + 1) carries: updates give levels' totals, so
    // applying one again changes nothing.
    this.join(ws, book);
    const snap = this.feed.snapshot(m.instrument);
    const parts = Math.max(1, Math.ceil(snap.levels.length / sbe.GROUP_ENTRIES_MAX));
    for (let part = 0; part < parts; part++) {
      const levels = snap.levels.slice(part * sbe.GROUP_ENTRIES_MAX, (part + 1) * sbe.GROUP_ENTRIES_MAX) as sbe.BookSnapshotLevelsEntry[];
      this.outbox.sendMessage(ws, (v) => sbe.encodeBookSnapshot(v, 0, { instrument: m.instrument, bookSeq: snap.bookSeq, part, parts, levels }));
    }
    this.outbox.sendQueued(ws, ws.getUserData());
  }

  /** A perpetual's PerpMarket (instrument 0: every perpetual's), then a SubscribeAck; then its changes. */
  private subscribePerp(ws: Ws, instrument: number): void {
    const refuse = (text: string) => this.outbox.reject(ws, sbe.TemplateId.Subscribe, sbe.RejectReason.UnknownInstrument, 'instrument', text);
    if (this.perpTopics.size === 0) return refuse('this node lists no perpetual contracts');
    if (instrument !== 0 && !this.perpTopics.has(instrument)) {
      const listed = this.node.config.instruments.find((l) => l.spec.id === instrument);
      return refuse(listed ? `${listed.symbol} (${instrument}) is not a perpetual contract` : `no instrument ${instrument}`);
    }
    if (!this.bounds.admitPublic(ws)) return;
    for (const id of instrument === 0 ? this.perpTopics.keys() : [instrument]) {
      this.join(ws, this.perpTopics.get(id)!);
      this.outbox.sendMessage(ws, copyOf(this.perpLatest.get(id)!));
    }
    this.outbox.sendMessage(ws, (v) => sbe.encodeSubscribeAck(v, 0, { instrument, channel: sbe.Channel.Perp }));
    // Out now, ahead of any PerpMarket published at the end of this turn (which is newer).
    this.outbox.sendQueued(ws, ws.getUserData());
  }

  private join(ws: Ws, topic: Topic): void {
    if (ws.isSubscribed(topic.name)) return;
    ws.subscribe(topic.name);
    this.bounds.attached(ws);
    topic.subscribers++;
    (ws.getUserData().topics ??= []).push(topic);
    this.outbox.subscribers.add(ws);
  }

  /** A subscriber closed. */
  left(ws: Ws): void {
    for (const topic of ws.getUserData().topics ?? []) topic.subscribers--;
    this.outbox.subscribers.delete(ws);
  }

  /**
   * A batch was applied: the PerpMarket of each perpetual whose mark, index or funding it changed, as
   * it stands now (later batches may change it before this one is durable).
   */
  applied(b: AppliedBatch): void {
    const perps = this.node.pipeline.perps;
    if (!perps.active || perps.markChanged.size === 0 || b.commands.length === 0) return;
    const ts = b.commands[b.commands.length - 1].ts;
    const changed: [number, Uint8Array][] = [];
    for (const id of perps.markChanged) changed.push([id, this.encodePerpMarket(perps.marketView(id), ts)]);
    this.perpPending.set(b.batch, changed);
  }

  /** A durable batch: the book feed, public trades, and the perpetuals it changed. */
  durable(b: AppliedBatch): void {
    for (const outcome of b.outcomes) {
      this.ts = outcome.ts;
      outcome.forEachEvent(this.event);
    }
    const perp = this.perpPending.get(b.batch);
    if (!perp) return;
    this.perpPending.delete(b.batch);
    for (const [id, bytes] of perp) {
      this.perpLatest.set(id, bytes);
      this.outbox.publish(this.perpTopics.get(id)!, copyOf(bytes));
    }
  }

  /** A perpetual's PerpMarket, encoded (kept as bytes: the view it comes from changes with the next batch). */
  private encodePerpMarket(m: MarketView, asOfUs: number): Uint8Array {
    const status = { used: sbe.SourceStatus.Used, stale: sbe.SourceStatus.Stale, outlier: sbe.SourceStatus.Outlier, none: sbe.SourceStatus.None } as const;
    const length = sbe.encodePerpMarket(this.perpScratch, 0, {
      instrument: m.instrument, asOfNs: this.time.ns(asOfUs), mark: m.mark, index: m.index,
      degraded: m.degraded ? sbe.BooleanType.True : sbe.BooleanType.False, clamped: m.clamped ? sbe.BooleanType.True : sbe.BooleanType.False,
      markBandLow: m.markBand[0], markBandHigh: m.markBand[1], lastFundingRateE8: m.lastRateE8, predictedFundingRateE8: m.predictedRateE8,
      nextFundingNs: BigInt(m.nextFundingUs) * 1000n, fundingIntervalMin: m.fundingIntervalMin, openInterest: m.openInterest,
      fundingBasis: m.inputs.fundingBasis, movingBasis: m.inputs.movingBasis, lastTrade: m.inputs.lastTrade,
      sources: m.contributions.map((c) => ({ source: c.source, price: c.price, ageMs: c.ageMs, status: status[c.status] })),
    });
    return new Uint8Array(this.perpScratch.buffer.slice(0, length));
  }

  private readonly event = (e: CoreEvent): void => {
    if (this.feed.apply(e)) this.outbox.scheduleFlush();
    if (e.kind !== EventKind.Fill) return;
    const trades = this.tradeTopics.get(e.instrument);
    if (trades && trades.subscribers > 0) {
      this.outbox.publish(trades, (v) => sbe.encodeTrade(v, 0, {
        instrument: e.instrument, tradeId: e.tradeId, execTimeNs: this.time.ns(this.ts), price: e.price, qty: e.qty, aggressor: e.side as sbe.Side,
      }));
    }
  };

  /** At the start of each flush: this turn's book updates, one per instrument that changed. */
  publishBook(): void {
    for (const u of this.feed.flush()) {
      this.outbox.publish(this.bookTopics.get(u.instrument)!, (v) => sbe.encodeBookUpdate(v, 0, {
        instrument: u.instrument, bookSeq: u.bookSeq, levels: u.levels as sbe.BookUpdateLevelsEntry[],
      }));
    }
  }
}
