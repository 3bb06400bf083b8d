// Public market data (OPS-3), built from durable batches only: per instrument a book topic (a
// snapshot on subscribe, then updates with a rising bookSeq) and a trades topic (perpetuals'
// trades too), published on uWS topics once per turn; per perpetual a perp topic (PERP-10,
// PERP-11): its PerpMarket (mark, index and each source's part in it, funding, the insurance fund
// and the ADL distribution: PERP-8, PERP-9) on subscribe, then whenever one of those changes; and
// one topic of the insurance fund's notices and post-event reports that every Perp subscriber
// joins. A trade says whether an affiliated market maker was a party (AFMM-3): trades go out in
// two layouts, each subscriber getting the one its Subscribe (or Logon) says it decodes. No logon
// needed; subscribers without one are bounded (connections.ts).
import { EventKind, type CoreEvent } from '../../core/index.js';
import type { MarketView, Perps } from '../../perps/perps.js';
import { BookFeed } from '../../marketdata/book-feed.js';
import type { AppliedBatch, NodeRuntime } from '../../pipeline/runtime.js';
import * as sbe from '../../protocol/codec.js';
import { WireTime } from '../../protocol/time.js';
import type { Topic, Ws } from './connection.js';
import type { ConnectionBounds } from './connections.js';
import { newTopic, type Outbox } from './outbox.js';
import { encodePerpEvents } from './perp-events.js';

/**
 * A PerpMarket at most: its block and 17 sources (16 keys and the platform's book, what a product
 * may have) take under 1 KiB.
 */
const PERP_MARKET_BYTES_MAX = 4096;

/**
 * How many of `n` positions on one side fall in each ADL quintile, 1 to 5: the node ranks a side's
 * positions and puts the i-th of n in quintile 5 − ⌊5i ÷ n⌋ (liquidation.ts, adlRanking), so the
 * counts follow from n alone; quintile 5 − k holds the i with ⌊5i ÷ n⌋ = k.
 */
export function adlQuintiles(n: number): [number, number, number, number, number] {
  const upTo = (k: number) => Math.ceil((k * n) / 5); // how many i < n have 5i < k·n
  const at = (k: number) => upTo(k + 1) - upTo(k);
  return [at(4), at(3), at(2), at(1), at(0)];
}

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
  /** Trades per instrument in the layout of version 1 (no afmm) and of version 2. */
  private readonly tradeTopics = new Map<number, Topic>();
  private readonly tradeTopicsV2 = new Map<number, Topic>();
  private ts = 0;
  private readonly time = new WireTime();
  /**
   * Of a batch applied but not yet durable, for each fill in event order, which parties were
   * affiliated market makers (AfmmSide): taken as it is applied, as designations are sequenced
   * too. Absent when nobody was.
   */
  private readonly afmmPending = new Map<number, Uint8Array>();
  /** Those of the durable batch being published, and the next fill's place in them. */
  private afmmFills: Uint8Array | undefined;
  private afmmAt = 0;
  private readonly perpTopics = new Map<number, Topic>();
  /** The insurance fund's notices and post-event reports, for every Perp subscriber. */
  private readonly perpEvents = newTopic('perp.events');
  /** Each perpetual's PerpMarket as of the last durable batch that changed it (what a subscriber gets first). */
  private readonly perpLatest = new Map<number, Uint8Array>();
  /** PerpMarkets, notices and reports of batches applied but not yet durable, by batch. */
  private readonly perpPending = new Map<number, { markets: [number, Uint8Array][]; events: Uint8Array[] }>();
  private readonly perpScratch = new DataView(new ArrayBuffer(PERP_MARKET_BYTES_MAX));
  /**
   * Each open position's side (account → instrument → 1 long, −1 short) and each product's count
   * of longs and shorts, as of the last batch applied, kept from the accounts each batch touched
   * (every position change touches its account): what the ADL distribution follows.
   */
  private readonly sides = new Map<number, Map<number, number>>();
  private readonly sideCounts = new Map<number, { longs: number; shorts: number }>();
  /** The insurance fund as the last PerpMarkets said it. */
  private fund = 0;
  private depleted = false;

  constructor(private readonly node: NodeRuntime, private readonly outbox: Outbox, private readonly bounds: ConnectionBounds) {
    this.feed.seed(node.pipeline.orders.values());
    for (const l of node.config.instruments) {
      this.bookTopics.set(l.spec.id, newTopic(`book.${l.spec.id}`));
      this.tradeTopics.set(l.spec.id, newTopic(`trades.${l.spec.id}`));
      this.tradeTopicsV2.set(l.spec.id, newTopic(`trades.${l.spec.id}.v2`));
    }
    // A gateway starts on an idle node: the perps' state is durable as it stands.
    const perps = node.pipeline.perps;
    for (const id of perps.products.keys()) this.sideCounts.set(id, { longs: 0, shorts: 0 });
    for (const id of perps.accounts.keys()) this.trackSides(perps, id, new Set());
    this.fund = perps.active ? perps.fundLevel() : 0;
    this.depleted = perps.waterfall.depleted;
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
      // The layout the subscriber decodes: its Subscribe says, else its Logon, else version 1.
      const version = Math.min(sbe.SCHEMA_VERSION, m.schemaVersion || ws.getUserData().session?.schemaVersion || 1);
      const [topic, other] = version >= 2 ? [this.tradeTopicsV2, this.tradeTopics] : [this.tradeTopics, this.tradeTopicsV2];
      this.leave(ws, other.get(m.instrument)!);
      this.join(ws, topic.get(m.instrument)!);
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
    this.join(ws, this.perpEvents);
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

  /** Leaves a topic, if subscribed (a subscriber that asks for trades in another layout). */
  private leave(ws: Ws, topic: Topic): void {
    if (!ws.isSubscribed(topic.name)) return;
    ws.unsubscribe(topic.name);
    topic.subscribers--;
    const topics = ws.getUserData().topics!;
    topics.splice(topics.indexOf(topic), 1);
  }

  /** A subscriber closed. */
  left(ws: Ws): void {
    for (const topic of ws.getUserData().topics ?? []) topic.subscribers--;
    this.outbox.subscribers.delete(ws);
  }

  /**
   * A batch was applied: which parties of its trades were AFMMs; the PerpMarket of each perpetual
   * whose mark, index, funding or ADL distribution it changed (of all, when it changed the
   * insurance fund), as it stands now (later batches may change it before this one is durable);
   * its notices and reports.
   */
  applied(b: AppliedBatch): void {
    this.noteAfmmTrades(b);
    const perps = this.node.pipeline.perps;
    if (!perps.active || b.commands.length === 0) return;
    const ts = b.commands[b.commands.length - 1].ts;
    const sidesChanged = new Set<number>();
    for (const account of perps.touched) this.trackSides(perps, account, sidesChanged);
    const fund = perps.fundLevel();
    const fundChanged = fund !== this.fund || perps.waterfall.depleted !== this.depleted;
    this.fund = fund;
    this.depleted = perps.waterfall.depleted;
    const markets: [number, Uint8Array][] = [];
    for (const id of perps.products.keys()) {
      if (fundChanged || perps.markChanged.has(id) || sidesChanged.has(id)) markets.push([id, this.encodePerpMarket(perps.marketView(id), ts)]);
    }
    const events = encodePerpEvents(perps, this.time);
    if (markets.length > 0 || events.length > 0) this.perpPending.set(b.batch, { markets, events });
  }

  /** Notes the side of each position the account holds now, and the products whose count of longs or shorts that changed. */
  private trackSides(perps: Perps, account: number, changed: Set<number>): void {
    const before = this.sides.get(account);
    const positions = perps.accounts.get(account)?.positions;
    const move = (instrument: number, side: number, by: number) => {
      const counts = this.sideCounts.get(instrument)!;
      if (side > 0) counts.longs += by;
      else counts.shorts += by;
      changed.add(instrument);
    };
    for (const [instrument, side] of before ?? []) {
      const now = positions?.get(instrument)?.size ?? 0;
      if (Math.sign(now) !== side) move(instrument, side, -1);
    }
    if (!positions || positions.size === 0) return void this.sides.delete(account);
    const after = new Map<number, number>();
    for (const [instrument, pos] of positions) {
      const side = Math.sign(pos.size);
      after.set(instrument, side);
      if (before?.get(instrument) !== side) move(instrument, side, 1);
    }
    this.sides.set(account, after);
  }

  /** Of each fill of the batch, in event order, which parties were AFMMs when it was made (nothing kept when none was). */
  private noteAfmmTrades(b: AppliedBatch): void {
    const afmm = this.node.pipeline.afmm;
    if (!afmm.anyInBatch) return;
    const flags: number[] = [];
    let any = false;
    for (const outcome of b.outcomes) {
      const seq = outcome.seq;
      outcome.forEachEvent((e) => {
        if (e.kind !== EventKind.Fill) return;
        const flag = (afmm.isAfmmAt(e.makerAccount, seq) ? sbe.AfmmSide.Maker : 0) | (afmm.isAfmmAt(e.account, seq) ? sbe.AfmmSide.Taker : 0);
        flags.push(flag);
        any ||= flag !== 0;
      });
    }
    if (any) this.afmmPending.set(b.batch, Uint8Array.from(flags));
  }

  /** A durable batch: the book feed, public trades, and the perpetuals it changed with its notices and reports. */
  durable(b: AppliedBatch): void {
    this.afmmFills = this.afmmPending.get(b.batch);
    this.afmmPending.delete(b.batch);
    this.afmmAt = 0;
    for (const outcome of b.outcomes) {
      this.ts = outcome.ts;
      outcome.forEachEvent(this.event);
    }
    this.afmmFills = undefined;
    const perp = this.perpPending.get(b.batch);
    if (!perp) return;
    this.perpPending.delete(b.batch);
    for (const [id, bytes] of perp.markets) {
      this.perpLatest.set(id, bytes);
      this.outbox.publish(this.perpTopics.get(id)!, copyOf(bytes));
    }
    for (const bytes of perp.events) this.outbox.publish(this.perpEvents, copyOf(bytes));
  }

  /** A perpetual's PerpMarket, encoded (kept as bytes: the view it comes from changes with the next batch). */
  private encodePerpMarket(m: MarketView, asOfUs: number): Uint8Array {
    const status = { used: sbe.SourceStatus.Used, stale: sbe.SourceStatus.Stale, outlier: sbe.SourceStatus.Outlier, none: sbe.SourceStatus.None } as const;
    const counts = this.sideCounts.get(m.instrument)!;
    const [l1, l2, l3, l4, l5] = adlQuintiles(counts.longs);
    const [s1, s2, s3, s4, s5] = adlQuintiles(counts.shorts);
    const length = sbe.encodePerpMarket(this.perpScratch, 0, {
      instrument: m.instrument, asOfNs: this.time.ns(asOfUs), mark: m.mark, index: m.index,
      degraded: m.degraded ? sbe.BooleanType.True : sbe.BooleanType.False, clamped: m.clamped ? sbe.BooleanType.True : sbe.BooleanType.False,
      markBandLow: m.markBand[0], markBandHigh: m.markBand[1], lastFundingRateE8: m.lastRateE8, predictedFundingRateE8: m.predictedRateE8,
      nextFundingNs: BigInt(m.nextFundingUs) * 1000n, fundingIntervalMin: m.fundingIntervalMin, openInterest: m.openInterest,
      fundingBasis: m.inputs.fundingBasis, movingBasis: m.inputs.movingBasis, lastTrade: m.inputs.lastTrade,
      insuranceFund: this.fund, insuranceDepleted: this.depleted ? sbe.BooleanType.True : sbe.BooleanType.False,
      adlLongs1: l1, adlLongs2: l2, adlLongs3: l3, adlLongs4: l4, adlLongs5: l5, adlShorts1: s1, adlShorts2: s2, adlShorts3: s3, adlShorts4: s4, adlShorts5: s5,
      sources: m.contributions.map((c) => ({ source: c.source, price: c.price, ageMs: c.ageMs, status: status[c.status] })),
    });
    return new Uint8Array(this.perpScratch.buffer.slice(0, length));
  }

  private readonly event = (e: CoreEvent): void => {
    if (this.feed.apply(e)) this.outbox.scheduleFlush();
    if (e.kind !== EventKind.Fill) return;
    const afmm = (this.afmmFills?.[this.afmmAt++] ?? sbe.AfmmSide.None) as sbe.AfmmSide;
    const v1 = this.tradeTopics.get(e.instrument);
    const v2 = this.tradeTopicsV2.get(e.instrument);
    if (v1 && v1.subscribers > 0) this.publishTrade(v1, e, afmm, 1);
    if (v2 && v2.subscribers > 0) this.publishTrade(v2, e, afmm, 2);
  };

  private publishTrade(topic: Topic, e: CoreEvent, afmm: sbe.AfmmSide, version: number): void {
    this.outbox.publish(topic, (v) => sbe.encodeTrade(v, 0, {
      instrument: e.instrument, tradeId: e.tradeId, execTimeNs: this.time.ns(this.ts), price: e.price, qty: e.qty, aggressor: e.side as sbe.Side, afmm,
    }, version));
  }

  /** At the start of each flush: this turn's book updates, one per instrument that changed. */
  publishBook(): void {
    for (const u of this.feed.flush()) {
      this.outbox.publish(this.bookTopics.get(u.instrument)!, (v) => sbe.encodeBookUpdate(v, 0, {
        instrument: u.instrument, bookSeq: u.bookSeq, levels: u.levels as sbe.BookUpdateLevelsEntry[],
      }));
    }
  }
}
