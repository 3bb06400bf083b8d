// The public book feed: level totals per instrument built from durable events (in commit order,
// never ahead of what is acknowledged), with a sequence per instrument that rises by one per
// published update. Subscribers get a snapshot, then every update; one that sees a gap in
// bookSeq re-subscribes for a fresh snapshot.
import { EventKind, type CoreEvent } from '../core/index.js';

export interface LevelChange { side: number; price: number; qty: number; count: number }

interface Resting { instrument: number; side: number; price: number; qty: number }

class Ladder {
  readonly levels: [Map<number, { qty: number; count: number }>, Map<number, { qty: number; count: number }>] = [new Map(), new Map()];
  seq = 0;
  /** Changed levels, as 2 × price + side. */
  readonly changed = new Set<number>();

  add(side: number, price: number, qty: number, count: number): void {
    const level = this.levels[side].get(price) ?? { qty: 0, count: 0 };
    level.qty += qty;
    level.count += count;
    if (level.count === 0) this.levels[side].delete(price);
    else this.levels[side].set(price, level);
    this.changed.add(2 * price + side);
  }
}

export class BookFeed {
  private readonly ladders = new Map<number, Ladder>();
  private readonly resting = new Map<number, Resting>();

  /** levelsMax: the most levels one update carries (the protocol's group limit). */
  constructor(private readonly levelsMax = 4096) {}

  private ladder(instrument: number): Ladder {
    let l = this.ladders.get(instrument);
    if (!l) this.ladders.set(instrument, (l = new Ladder()));
    return l;
  }

  /** Starts from the resting orders a recovered node already has. */
  seed(orders: Iterable<{ id: number; instrument: number; side: number; limit: number; remaining: number }>): void {
    for (const o of orders) {
      this.resting.set(o.id, { instrument: o.instrument, side: o.side, price: o.limit, qty: o.remaining });
      this.ladder(o.instrument).add(o.side, o.limit, o.remaining, 1);
    }
    for (const l of this.ladders.values()) l.changed.clear();
  }

  /** Applies one durable core event; says whether it changed the book. */
  apply(e: CoreEvent): boolean {
    switch (e.kind) {
      case EventKind.Rested:
        this.resting.set(e.orderId, { instrument: e.instrument, side: e.side, price: e.price, qty: e.qty });
        this.ladder(e.instrument).add(e.side, e.price, e.qty, 1);
        return true;
      case EventKind.Fill: {
        const maker = this.resting.get(e.makerOrderId);
        if (maker) this.take(e.makerOrderId, maker, e.qty, e.makerRemaining);
        return maker !== undefined;
      }
      case EventKind.Reduced:
      case EventKind.Cancelled: {
        const o = this.resting.get(e.orderId);
        if (o) this.take(e.orderId, o, e.qty, e.remaining);
        return o !== undefined;
      }
      case EventKind.Amended: {
        const o = this.resting.get(e.orderId);
        if (!o) return false;
        if (e.flags === 1) this.take(e.orderId, o, o.qty - e.qty, e.qty);
        // Lost priority: the order leaves its level; a Rested event follows if it rests again.
        else this.take(e.orderId, o, o.qty, 0);
        return true;
      }
      default:
        return false;
    }
  }

  private take(orderId: number, o: Resting, qty: number, left: number): void {
    this.ladder(o.instrument).add(o.side, o.price, -qty, left === 0 ? -1 : 0);
    o.qty = left;
    if (left === 0) this.resting.delete(orderId);
  }

  /**
   * The updates since the last flush: per instrument the changed levels, at most `levelsMax` per
   * update, each update with the next bookSeq.
   */
  flush(): { instrument: number; bookSeq: number; levels: LevelChange[] }[] {
    const out = [];
    for (const [instrument, l] of this.ladders) {
      if (l.changed.size === 0) continue;
      const levels = [...l.changed].map((key) => {
        const side = key % 2;
        const price = (key - side) / 2;
        const level = l.levels[side].get(price);
        return { side, price, qty: level?.qty ?? 0, count: level?.count ?? 0 };
      });
      l.changed.clear();
      for (let at = 0; at < levels.length; at += this.levelsMax) {
        l.seq += 1;
        out.push({ instrument, bookSeq: l.seq, levels: levels.slice(at, at + this.levelsMax) });
      }
    }
    return out;
  }

  /** Every level of an instrument, best first per side, with the bookSeq it is current at. */
  snapshot(instrument: number): { bookSeq: number; levels: LevelChange[] } {
    const l = this.ladder(instrument);
    const side = (s: number, better: (a: number, b: number) => number) =>
      [...l.levels[s]].sort(([a], [b]) => better(a, b)).map(([price, v]) => ({ side: s, price, qty: v.qty, count: v.count }));
    return { bookSeq: l.seq, levels: [...side(0, (a, b) => b - a), ...side(1, (a, b) => a - b)] };
  }
}
