// Seeded random command streams for the differential tests: every order type, time in force, STP
// mode, amend, mass cancel scope and reject path, over three instruments with different grids.
import {
  CommandKind, OrderType, TimeInForce, type Command, type InstrumentSpec,
} from '../../src/core/index.js';

/** mulberry32's 32-bit outputs: a generator whose arithmetic stays exact in doubles. */
function mulberry32Words(seed: number): () => number {
  return () => {
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return (t ^ (t >>> 14)) >>> 0;
  };
}

/** Uniform in [0, 1). */
export function mulberry32(seed: number): () => number {
  const next = mulberry32Words(seed);
  return () => next() / 4294967296;
}

/** Whole numbers below n (the 32-bit output mod n). */
export function mulberry32Below(seed: number): (n: number) => number {
  const next = mulberry32Words(seed);
  return (n) => next() % n;
}

export const STREAM_INSTRUMENTS: InstrumentSpec[] = [
  { id: 1, tickSize: 1, lotSize: 1, minQty: 1, maxQty: 1_000, refPrice: 10_000, bandBps: 500 },
  { id: 2, tickSize: 5, lotSize: 10, minQty: 20, maxQty: 5_000, refPrice: 2_000, bandBps: 1_000 },
  { id: 3, tickSize: 100, lotSize: 1_000, minQty: 1_000, maxQty: 100_000, refPrice: 5_000_000, bandBps: 200 },
  // No band: any positive price on the tick grid (and market orders' edge at the extremes).
  { id: 4, tickSize: 50, lotSize: 5, minQty: 5, maxQty: 500, refPrice: 1_000, bandBps: 0 },
];
export const STREAM_LIMITS = { ordersMax: 600, instrumentsMax: 4 };

export class CommandStream {
  private readonly random: () => number;
  private nextId = 1;

  constructor(readonly seed: number) {
    this.random = mulberry32(seed);
  }

  private int(n: number): number { return Math.floor(this.random() * n); }
  private chance(p: number): boolean { return this.random() < p; }
  private pick<T>(xs: readonly T[]): T { return xs[this.int(xs.length)]; }

  private instrument(): InstrumentSpec { return this.pick(STREAM_INSTRUMENTS); }

  /** A price around the instrument's initial reference: usually valid, sometimes off the grid or band. */
  private price(spec: InstrumentSpec): number {
    if (this.chance(0.02)) return this.pick([0, -spec.tickSize, spec.tickSize + 1, spec.refPrice * 3]);
    const halfBand = spec.bandBps === 0 ? 40 : Math.floor((spec.refPrice * spec.bandBps) / 10_000 / spec.tickSize);
    const ticks = this.int(Math.max(2, Math.floor(halfBand * 0.3))) - Math.floor(halfBand * 0.15);
    const price = spec.refPrice + ticks * spec.tickSize;
    return this.chance(0.01) ? price + 1 : price;
  }

  private qty(spec: InstrumentSpec): number {
    if (this.chance(0.02)) return this.pick([0, -spec.lotSize, spec.maxQty + spec.lotSize, spec.minQty - spec.lotSize, spec.lotSize + 1]);
    return spec.minQty + spec.lotSize * this.int(Math.min(40, (spec.maxQty - spec.minQty) / spec.lotSize + 1));
  }

  /** An order id: mostly fresh, sometimes recent (to cancel, amend or duplicate), sometimes 0. */
  private existingId(): number {
    if (this.chance(0.02)) return 0;
    return Math.max(1, this.nextId - 1 - this.int(300));
  }

  next(): Command {
    const x = this.random();
    const spec = this.instrument();
    const account = 1 + this.int(6);
    if (x < 0.5) {
      const market = this.chance(0.12);
      let tif = this.pick([TimeInForce.GTC, TimeInForce.GTC, TimeInForce.IOC, TimeInForce.FOK, TimeInForce.PostOnly]);
      if (market && tif !== TimeInForce.FOK && !this.chance(0.05)) tif = TimeInForce.IOC;
      const c: Command = {
        kind: CommandKind.NewOrder,
        instrument: this.chance(0.01) ? this.pick([0, 4, 9]) : spec.id,
        orderId: this.chance(0.03) ? this.existingId() : this.nextId++,
        account,
        side: this.chance(0.005) ? 2 : this.int(2),
        type: this.chance(0.005) ? (2 as OrderType) : market ? OrderType.Market : OrderType.Limit,
        tif: this.chance(0.005) ? (this.pick([4, 255]) as TimeInForce) : tif,
        price: market && this.chance(0.6) ? 0 : this.price(spec),
        qty: this.qty(spec),
        // Accounts 1-3 share STP group 1; 4-5 group 2; account 6 uses none.
        stpGroup: account <= 3 ? 1 : account <= 5 ? 2 : 0,
        stpMode: this.chance(0.005) ? 4 : this.int(4),
      };
      return c;
    }
    if (x < 0.75) {
      return { kind: CommandKind.Cancel, instrument: this.chance(0.02) ? 7 : spec.id, orderId: this.existingId(), account };
    }
    if (x < 0.975) {
      return { kind: CommandKind.Amend, instrument: spec.id, orderId: this.existingId(), account, price: this.price(spec), qty: this.qty(spec) };
    }
    if (x < 0.995) {
      const scope = this.chance(0.03) ? 8 + this.int(8) : this.int(8);
      return { kind: CommandKind.MassCancel, scope, account, instrument: this.chance(0.05) ? 9 : spec.id, side: this.chance(0.05) ? 3 : this.int(2) };
    }
    if (x < 0.9975) {
      // The band recentred (a perpetual's mark), now and then on a bad price or an unknown book.
      const price = this.chance(0.1) ? this.pick([0, -5]) : this.price(spec);
      return { kind: CommandKind.SetReference, instrument: this.chance(0.05) ? 9 : spec.id, price, account };
    }
    return { kind: this.pick([0, 6, 200]), instrument: spec.id, orderId: 1, account } as unknown as Command;
  }
}
