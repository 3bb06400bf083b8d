// ReferenceBook: a plain, obviously-correct TypeScript implementation of the matching rules in
// native/SEMANTICS.md. It favours clarity over speed (sorted arrays, Map, one object per order);
// the differential tests hold the native core to it event for event.
import {
  CancelReason, CommandKind, EventKind, OrderType, RejectReason, Scope, Side, StpMode, TimeInForce,
  emptyEvent,
  type AmendCommand, type CancelCommand, type Command, type CoreEvent, type InstrumentSpec,
  type MassCancelCommand, type NewOrderCommand,
} from './layout.js';

interface RestingOrder {
  id: number;
  instrument: number;
  account: number;
  side: Side;
  price: number;
  qty: number;
  stpGroup: number;
  stpMode: number;
  tif: number;
}

interface Level { price: number; orders: RestingOrder[] }

interface Book {
  spec: InstrumentSpec;
  refPrice: number;
  lastTradeId: number;
  /** Best first: bids by descending price, asks by ascending price. */
  levels: [Level[], Level[]];
}

interface Taker {
  id: number; account: number; side: Side; stpGroup: number; stpMode: number; limit: number; remaining: number;
}

export class ReferenceBook {
  private readonly books = new Map<number, Book>();
  private readonly orders = new Map<number, RestingOrder>();
  private out: CoreEvent[] = [];
  private commandIndex = 0;

  constructor(private readonly limits: { ordersMax: number; instrumentsMax: number }) {}

  addInstrument(spec: InstrumentSpec): void {
    if (spec.id < 1 || spec.id > this.limits.instrumentsMax || this.books.has(spec.id)) {
      throw new Error(`bad instrument id ${spec.id}`);
    }
    this.books.set(spec.id, { spec: { ...spec }, refPrice: spec.refPrice, lastTradeId: 0, levels: [[], []] });
  }

  get resting(): number { return this.orders.size; }

  /** Applies commands in order; commandIndex counts from 0 within this call, as a flush does. */
  execute(commands: readonly Command[]): CoreEvent[] {
    this.out = [];
    commands.forEach((c, i) => {
      this.commandIndex = i;
      this.apply(c);
    });
    return this.out;
  }

  /** Best-first levels of one side with their totals. */
  depth(instrument: number, side: Side): { price: number; qty: number; count: number }[] {
    const book = this.books.get(instrument);
    if (!book) return [];
    return book.levels[side].map((l) => ({ price: l.price, qty: l.orders.reduce((s, o) => s + o.qty, 0), count: l.orders.length }));
  }

  private emit(fields: Partial<CoreEvent>): void {
    this.out.push({ ...emptyEvent(), ...fields, commandIndex: this.commandIndex });
  }

  /** Echoes the fields the command kind carries, zero for the rest (as the native core does). */
  private reject(c: Command, reason: RejectReason): void {
    const event: Partial<CoreEvent> = { kind: EventKind.Rejected, reason, instrument: c.instrument ?? 0, account: c.account ?? 0 };
    switch (c.kind) {
      case CommandKind.NewOrder:
        Object.assign(event, { side: c.side & 0xff, orderId: c.orderId, price: c.price, qty: c.qty });
        break;
      case CommandKind.Cancel:
        event.orderId = c.orderId;
        break;
      case CommandKind.Amend:
        Object.assign(event, { orderId: c.orderId, price: c.price, qty: c.qty });
        break;
      case CommandKind.MassCancel:
        event.side = c.side & 0xff;
        break;
    }
    this.emit(event);
  }

  private orderEvent(kind: EventKind, reason: number, o: RestingOrder, qty: number, remaining: number): void {
    this.emit({ kind, reason, side: o.side, instrument: o.instrument, account: o.account, orderId: o.id, price: o.price, qty, remaining });
  }

  private takerEvent(kind: EventKind, reason: number, instrument: number, t: Taker, qty: number, flags = 0): void {
    this.emit({ kind, reason, flags, side: t.side, instrument, account: t.account, orderId: t.id, price: t.limit, qty, remaining: t.remaining });
  }

  private apply(c: Command): void {
    switch (c.kind) {
      case CommandKind.NewOrder: return this.newOrder(c);
      case CommandKind.Cancel: return this.cancel(c);
      case CommandKind.Amend: return this.amend(c);
      case CommandKind.MassCancel: return this.massCancel(c);
      case CommandKind.SetReference: {
        const book = this.books.get(c.instrument);
        if (!book) return this.reject(c, RejectReason.UnknownInstrument);
        if (!(c.price > 0 && c.price <= Number.MAX_SAFE_INTEGER)) return this.reject(c, RejectReason.InvalidPrice);
        book.refPrice = c.price;
        return;
      }
      default: return this.reject(c, RejectReason.UnknownCommand);
    }
  }

  private band(book: Book): [number, number] {
    // bandBps 0: no band (every positive price the core takes, up to 2^53 - 1).
    if (book.spec.bandBps === 0) return [1, Number.MAX_SAFE_INTEGER];
    const delta = Number((BigInt(book.refPrice) * BigInt(book.spec.bandBps)) / 10000n);
    return [book.refPrice - delta, book.refPrice + delta];
  }

  private checkQuantity(spec: InstrumentSpec, qty: number, checkMin: boolean): RejectReason | undefined {
    if (qty <= 0) return RejectReason.InvalidQuantity;
    if (qty % spec.lotSize !== 0) return RejectReason.QuantityOffLot;
    if (checkMin && qty < spec.minQty) return RejectReason.QuantityBelowMin;
    if (qty > spec.maxQty) return RejectReason.QuantityAboveMax;
    return undefined;
  }

  private checkPrice(book: Book, price: number): RejectReason | undefined {
    if (price <= 0) return RejectReason.InvalidPrice;
    if (price % book.spec.tickSize !== 0) return RejectReason.PriceOffTick;
    const [low, high] = this.band(book);
    if (price < low || price > high) return RejectReason.PriceOutOfBand;
    return undefined;
  }

  private crosses(book: Book, side: Side, limit: number): boolean {
    const best = book.levels[side === Side.Buy ? Side.Sell : Side.Buy][0];
    if (!best) return false;
    return side === Side.Buy ? best.price <= limit : best.price >= limit;
  }

  private newOrder(c: NewOrderCommand): void {
    const book = this.books.get(c.instrument);
    if (!book) return this.reject(c, RejectReason.UnknownInstrument);
    const market = c.type === OrderType.Market;
    const rests = !market && (c.tif === TimeInForce.GTC || c.tif === TimeInForce.PostOnly);
    let reason: RejectReason | undefined;
    if (c.side !== Side.Buy && c.side !== Side.Sell) reason = RejectReason.InvalidSide;
    else if (c.type !== OrderType.Limit && c.type !== OrderType.Market) reason = RejectReason.InvalidOrderType;
    else if (c.tif < 0 || c.tif > TimeInForce.PostOnly || (market && (c.tif === TimeInForce.GTC || c.tif === TimeInForce.PostOnly))) reason = RejectReason.InvalidTimeInForce;
    else if (c.stpMode < 0 || c.stpMode > StpMode.DecrementAndCancel) reason = RejectReason.InvalidStpMode;
    else if (c.orderId === 0) reason = RejectReason.InvalidOrderId;
    else if (this.orders.has(c.orderId)) reason = RejectReason.DuplicateOrderId;
    else reason = this.checkQuantity(book.spec, c.qty, true);
    if (reason === undefined) {
      if (market && c.price < 0) reason = RejectReason.InvalidPrice;
      else if (!(market && c.price === 0)) reason = this.checkPrice(book, c.price);
    }
    if (reason === undefined && rests && this.orders.size >= this.limits.ordersMax) reason = RejectReason.OrderPoolFull;
    if (reason === undefined && c.tif === TimeInForce.PostOnly && this.crosses(book, c.side, c.price)) reason = RejectReason.PostOnlyWouldTake;
    if (reason !== undefined) return this.reject(c, reason);

    const limit = market && c.price === 0 ? this.bandEdge(book, c.side) : c.price;
    const taker: Taker = { id: c.orderId, account: c.account, side: c.side, stpGroup: c.stpGroup, stpMode: c.stpMode, limit, remaining: c.qty };
    this.takerEvent(EventKind.Accepted, 0, c.instrument, taker, c.qty, (c.type << 4) | c.tif);
    if (c.tif === TimeInForce.FOK && !this.fokFillable(book, taker)) {
      taker.remaining = 0;
      return this.takerEvent(EventKind.Cancelled, CancelReason.FokUnfillable, c.instrument, taker, c.qty);
    }
    const killed = this.match(book, taker);
    if (killed || taker.remaining === 0) return;
    if (rests) {
      const order: RestingOrder = {
        id: taker.id, instrument: c.instrument, account: taker.account, side: taker.side, price: limit,
        qty: taker.remaining, stpGroup: taker.stpGroup, stpMode: taker.stpMode, tif: c.tif,
      };
      this.rest(book, order);
      this.orderEvent(EventKind.Rested, 0, order, order.qty, order.qty);
    } else {
      const left = taker.remaining;
      taker.remaining = 0;
      this.takerEvent(EventKind.Cancelled, CancelReason.Unfilled, c.instrument, taker, left);
    }
  }

  private bandEdge(book: Book, side: Side): number {
    const [low, high] = this.band(book);
    const tick = book.spec.tickSize;
    if (side === Side.Buy) return Math.floor(high / tick) * tick;
    return low <= tick ? tick : Math.ceil(low / tick) * tick;
  }

  private fokFillable(book: Book, t: Taker): boolean {
    let available = 0;
    for (const level of book.levels[1 - t.side]) {
      if (t.side === Side.Buy ? level.price > t.limit : level.price < t.limit) return false;
      for (const o of level.orders) {
        if (t.stpGroup !== 0 && o.stpGroup === t.stpGroup) {
          if (t.stpMode !== StpMode.CancelOldest) return false;
        } else {
          available += o.qty;
          if (available >= t.remaining) return true;
        }
      }
    }
    return false;
  }

  /** Matches the taker; returns true when self-trade prevention cancelled it. */
  private match(book: Book, t: Taker): boolean {
    const opposite = book.levels[1 - t.side];
    const instrument = book.spec.id;
    while (t.remaining > 0 && opposite.length > 0) {
      const level = opposite[0];
      if (t.side === Side.Buy ? level.price > t.limit : level.price < t.limit) break;
      const maker = level.orders[0];
      if (t.stpGroup !== 0 && maker.stpGroup === t.stpGroup) {
        if (t.stpMode === StpMode.CancelOldest || t.stpMode === StpMode.CancelBoth) {
          this.remove(book, maker);
          this.orderEvent(EventKind.Cancelled, CancelReason.SelfTrade, maker, maker.qty, 0);
          if (t.stpMode === StpMode.CancelOldest) continue;
          const left = t.remaining;
          t.remaining = 0;
          this.takerEvent(EventKind.Cancelled, CancelReason.SelfTrade, instrument, t, left);
          return true;
        }
        if (t.stpMode === StpMode.DecrementAndCancel) {
          const d = Math.min(t.remaining, maker.qty);
          if (d === maker.qty) {
            this.remove(book, maker);
            this.orderEvent(EventKind.Cancelled, CancelReason.SelfTrade, maker, d, 0);
          } else {
            maker.qty -= d;
            this.orderEvent(EventKind.Reduced, CancelReason.SelfTrade, maker, d, maker.qty);
          }
          t.remaining -= d;
          if (t.remaining === 0) {
            this.takerEvent(EventKind.Cancelled, CancelReason.SelfTrade, instrument, t, d);
            return true;
          }
          this.takerEvent(EventKind.Reduced, CancelReason.SelfTrade, instrument, t, d);
          continue;
        }
        // Cancel newest.
        const left = t.remaining;
        t.remaining = 0;
        this.takerEvent(EventKind.Cancelled, CancelReason.SelfTrade, instrument, t, left);
        return true;
      }
      const q = Math.min(t.remaining, maker.qty);
      t.remaining -= q;
      maker.qty -= q;
      book.lastTradeId += 1;
      book.refPrice = level.price;
      this.emit({
        kind: EventKind.Fill, side: t.side, instrument, account: t.account, orderId: t.id, makerOrderId: maker.id,
        price: level.price, qty: q, remaining: t.remaining, makerRemaining: maker.qty, tradeId: book.lastTradeId,
        makerAccount: maker.account,
      });
      if (maker.qty === 0) this.remove(book, maker);
    }
    return false;
  }

  private rest(book: Book, order: RestingOrder): void {
    const levels = book.levels[order.side];
    const better = (p: number) => (order.side === Side.Buy ? p > order.price : p < order.price);
    let i = 0;
    while (i < levels.length && better(levels[i].price)) i++;
    if (i < levels.length && levels[i].price === order.price) levels[i].orders.push(order);
    else levels.splice(i, 0, { price: order.price, orders: [order] });
    this.orders.set(order.id, order);
  }

  private remove(book: Book, order: RestingOrder): void {
    const levels = book.levels[order.side];
    const li = levels.findIndex((l) => l.price === order.price);
    const level = levels[li];
    level.orders.splice(level.orders.indexOf(order), 1);
    if (level.orders.length === 0) levels.splice(li, 1);
    this.orders.delete(order.id);
  }

  private find(c: CancelCommand | AmendCommand): RestingOrder | undefined {
    const o = this.orders.get(c.orderId);
    return o && o.instrument === c.instrument ? o : undefined;
  }

  private cancel(c: CancelCommand): void {
    const book = this.books.get(c.instrument);
    if (!book) return this.reject(c, RejectReason.UnknownInstrument);
    const o = this.find(c);
    if (!o) return this.reject(c, RejectReason.UnknownOrder);
    this.remove(book, o);
    this.orderEvent(EventKind.Cancelled, CancelReason.User, o, o.qty, 0);
  }

  private amend(c: AmendCommand): void {
    const book = this.books.get(c.instrument);
    if (!book) return this.reject(c, RejectReason.UnknownInstrument);
    const o = this.find(c);
    if (!o) return this.reject(c, RejectReason.UnknownOrder);
    let reason = this.checkQuantity(book.spec, c.qty, false);
    if (reason === undefined && c.price !== o.price) {
      reason = this.checkPrice(book, c.price);
      if (reason === undefined && o.tif === TimeInForce.PostOnly && this.crosses(book, o.side, c.price)) reason = RejectReason.PostOnlyWouldTake;
    }
    if (reason !== undefined) return this.reject(c, reason);
    if (c.price === o.price && c.qty <= o.qty) {
      o.qty = c.qty;
      return this.emit({ kind: EventKind.Amended, flags: 1, side: o.side, instrument: o.instrument, account: o.account, orderId: o.id, price: o.price, qty: c.qty, remaining: c.qty });
    }
    this.remove(book, o);
    o.price = c.price;
    o.qty = c.qty;
    this.orderEvent(EventKind.Amended, 0, o, c.qty, c.qty);
    const taker: Taker = { id: o.id, account: o.account, side: o.side, stpGroup: o.stpGroup, stpMode: o.stpMode, limit: c.price, remaining: c.qty };
    const killed = this.match(book, taker);
    if (killed || taker.remaining === 0) return;
    o.qty = taker.remaining;
    this.rest(book, o);
    this.orderEvent(EventKind.Rested, 0, o, o.qty, o.qty);
  }

  private massCancel(c: MassCancelCommand): void {
    if (c.scope < 0 || c.scope > 7) return this.reject(c, RejectReason.InvalidScope);
    const byAccount = (c.scope & Scope.Account) !== 0;
    const byInstrument = (c.scope & Scope.Instrument) !== 0;
    const bySide = (c.scope & Scope.Side) !== 0;
    if (byInstrument && !this.books.has(c.instrument)) return this.reject(c, RejectReason.UnknownInstrument);
    if (bySide && c.side !== Side.Buy && c.side !== Side.Sell) return this.reject(c, RejectReason.InvalidSide);
    const ids = [...this.books.keys()].sort((a, b) => a - b);
    for (const id of ids) {
      if (byInstrument && id !== c.instrument) continue;
      const book = this.books.get(id)!;
      for (const side of [Side.Buy, Side.Sell]) {
        if (bySide && side !== c.side) continue;
        const selected = book.levels[side].flatMap((l) => l.orders).filter((o) => !byAccount || o.account === c.account);
        for (const o of selected) {
          this.remove(book, o);
          this.orderEvent(EventKind.Cancelled, CancelReason.Mass, o, o.qty, 0);
        }
      }
    }
  }
}
