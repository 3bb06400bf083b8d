// Public market data (OPS-3), built from durable batches only: per instrument a book topic (a
// snapshot on subscribe, then updates with a rising bookSeq) and a trades topic, published on uWS
// topics once per turn. No logon needed; subscribers without one are bounded (connections.ts).
import { EventKind, type CoreEvent } from '../../core/index.js';
import { BookFeed } from '../../marketdata/book-feed.js';
import type { AppliedBatch, NodeRuntime } from '../../pipeline/runtime.js';
import * as sbe from '../../protocol/codec.js';
import { WireTime } from '../../protocol/time.js';
import type { Topic, Ws } from './connection.js';
import type { ConnectionBounds } from './connections.js';
import { newTopic, type Outbox } from './outbox.js';

export class MarketData {
  private readonly feed = new BookFeed(sbe.GROUP_ENTRIES_MAX);
  private readonly bookTopics = new Map<number, Topic>();
  private readonly tradeTopics = new Map<number, Topic>();
  private ts = 0;
  private readonly time = new WireTime();

  constructor(private readonly node: NodeRuntime, private readonly outbox: Outbox, private readonly bounds: ConnectionBounds) {
    this.feed.seed(node.pipeline.orders.values());
    for (const l of node.config.instruments) {
      this.bookTopics.set(l.spec.id, newTopic(`book.${l.spec.id}`));
      this.tradeTopics.set(l.spec.id, newTopic(`trades.${l.spec.id}`));
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

  /** A durable batch: the book feed and public trades. */
  durable(b: AppliedBatch): void {
    for (const outcome of b.outcomes) {
      this.ts = outcome.ts;
      outcome.forEachEvent(this.event);
    }
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
