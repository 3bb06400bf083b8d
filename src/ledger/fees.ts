// Fee schedule by account tier. Fees are charged in the quote asset on each fill's notional:
// a positive rate rounds up (never undercharged), a negative maker rate is a rebate rounded down.
export interface FeeTier { id: number; makerBps: number; takerBps: number }

export const BPS = 10_000;

export class FeeSchedule {
  private readonly tiers = new Map<number, FeeTier>();

  constructor(tiers: readonly FeeTier[]) {
    for (const t of tiers) {
      if (!Number.isInteger(t.makerBps) || !Number.isInteger(t.takerBps) || t.takerBps < 0 || t.takerBps >= BPS || t.makerBps >= BPS || t.makerBps <= -BPS) {
        throw new Error(`fee tier ${t.id}: takerBps must be in 0..9999 and makerBps in -9999..9999`);
      }
      this.tiers.set(t.id, { ...t });
    }
    // A rebate is paid out of the same fill's taker fee, so the fee account can never go negative.
    const rebateMax = Math.max(0, ...[...this.tiers.values()].map((t) => -t.makerBps));
    const takerMin = Math.min(...[...this.tiers.values()].map((t) => t.takerBps));
    if (rebateMax > takerMin) {
      throw new Error(`a maker rebate of ${rebateMax} bps exceeds the lowest taker fee of ${takerMin} bps`);
    }
  }

  tier(id: number): FeeTier {
    const t = this.tiers.get(id);
    if (!t) throw new Error(`unknown fee tier ${id}`);
    return t;
  }

  has(id: number): boolean { return this.tiers.has(id); }

  all(): FeeTier[] { return [...this.tiers.values()]; }
}

/** a × b ÷ c of non-negative integers, rounded up (or down), exactly: in BigInt past 2^53. */
export function mulDiv(a: number, b: number, c: number, up = true): number {
  const product = a * b;
  if (product <= Number.MAX_SAFE_INTEGER) return up ? Math.ceil(product / c) : Math.floor(product / c);
  // Split a factor by c: a×b÷c = a×⌊b÷c⌋ + a×(b mod c)÷c, exact in doubles while a×c is a safe
  // integer (a quantity times a price past 2^53, divided back to quote units: the common case).
  const aFirst = a * c <= Number.MAX_SAFE_INTEGER;
  if (aFirst || b * c <= Number.MAX_SAFE_INTEGER) {
    const x = aFirst ? a : b;
    const y = aFirst ? b : a;
    const part = x * (y % c);
    const whole = x * Math.floor(y / c) + (up ? Math.ceil(part / c) : Math.floor(part / c));
    if (whole <= Number.MAX_SAFE_INTEGER) return whole;
  }
  const p = BigInt(a) * BigInt(b);
  const q = p / BigInt(c);
  return Number(up && q * BigInt(c) !== p ? q + 1n : q);
}

/** The fee on `notional` at `bps`: positive is charged (rounded up), negative is a rebate (rounded down). */
export function feeOf(notional: number, bps: number): number {
  const fee = mulDiv(notional, Math.abs(bps), BPS, bps >= 0);
  return bps >= 0 ? fee : -fee;
}
