// Reference prices (PERP-3) and the funding rate (PERP-1), as pure integer arithmetic on the
// sequencer's time: the index from several independent sources, the mark price from several
// inputs with a circuit breaker, the premium index sampled every minute, the funding rate. Nothing
// here reads a clock: every function takes the time it computes for.
import { RATE_ONE, BPS_ONE, type PerpProduct } from './config.js';

/** One source's last price, as the node received it (ts: sequencer µs). */
export interface SourcePrice { price: number; ts: number; sourceTs: number }

export type SourceStatus = 'used' | 'stale' | 'outlier' | 'none';

export interface Contribution { source: string; price: number; ageMs: number; status: SourceStatus }

export interface IndexResult {
  /** The index (quote units per whole base unit); 0 while no source has ever priced it. */
  index: number;
  /** Fewer usable sources than the minimum: positions may not open or grow. */
  degraded: boolean;
  contributions: Contribution[];
}

/** The median of integers, rounding an even count's midpoint down. */
export function median(values: number[]): number {
  const s = [...values].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 === 1 ? s[m] : Math.floor((s[m - 1] + s[m]) / 2);
}

/**
 * The index at `ts`: sources older than staleMs are excluded, then those more than outlierBps from
 * the median of the fresh ones; the index is the median of what is left. A median moves only as far
 * as the next source's price, so no single source (the platform's own book included) can carry it.
 * Below minSources usable, the index is degraded (it still says what the usable ones give; with
 * none usable, it stays at `previous`).
 */
export function computeIndex(p: PerpProduct, prices: ReadonlyMap<string, SourcePrice>, ts: number, previous: number): IndexResult {
  const contributions: Contribution[] = [];
  const fresh: { c: Contribution; price: number }[] = [];
  const names = p.sources.map((s) => s.id);
  if (p.bookInstrument !== undefined) names.push('book');
  for (const name of names) {
    const sp = prices.get(name);
    if (!sp) {
      contributions.push({ source: name, price: 0, ageMs: -1, status: 'none' });
      continue;
    }
    const ageMs = Math.floor((ts - sp.ts) / 1000);
    const c: Contribution = { source: name, price: sp.price, ageMs, status: ts - sp.ts > p.staleMs * 1000 ? 'stale' : 'used' };
    contributions.push(c);
    if (c.status === 'used') fresh.push({ c, price: sp.price });
  }
  if (fresh.length === 0) return { index: previous, degraded: true, contributions };
  const m0 = median(fresh.map((f) => f.price));
  const kept: number[] = [];
  for (const f of fresh) {
    // |price − m0| / m0 > outlierBps, in integers.
    if (Math.abs(f.price - m0) * BPS_ONE > p.outlierBps * m0) f.c.status = 'outlier';
    else kept.push(f.price);
  }
  // Fresh sources that all disagree (two, more than outlierBps apart) leave nothing to use: the index
  // stays where it was, degraded, rather than becoming the median of nothing.
  if (kept.length === 0) return { index: previous, degraded: true, contributions };
  return { index: median(kept), degraded: kept.length < p.minSources, contributions };
}

/** The average fill price of `notional` quote units against `levels` (best first), or 0 when the book is too thin. */
export function impactPrice(levels: readonly { price: number; qty: number }[], notional: number, unitDivisor: number): number {
  let left = notional;
  let qty = 0;
  for (const l of levels) {
    const levelNotional = (l.price * l.qty) / unitDivisor;
    if (levelNotional >= left) {
      qty += (left * unitDivisor) / l.price;
      return Math.round((notional * unitDivisor) / qty);
    }
    left -= levelNotional;
    qty += l.qty;
  }
  return 0;
}

/**
 * The premium of the book over the index (1e-8): (max(0, impact bid − index) − max(0, index −
 * impact ask)) / index; 0 when either side is too thin to give an impact price.
 */
export function premiumE8(impactBid: number, impactAsk: number, index: number): number {
  if (impactBid === 0 || impactAsk === 0 || index === 0) return 0;
  return Math.trunc(((Math.max(0, impactBid - index) - Math.max(0, index - impactAsk)) * RATE_ONE) / index);
}

/**
 * The funding rate per interval from the premium samples so far (1e-8): the average premium, plus the
 * interest term less that average clamped to ±premiumClamp, capped at ±fundingCap. Rounded toward
 * zero. With no samples, the interest term alone (capped).
 */
export function fundingRateE8(p: PerpProduct, premiumSum: number, samples: number): number {
  const avg = samples > 0 ? Math.trunc(premiumSum / samples) : 0;
  const clamp = Math.min(p.premiumClampE8, Math.max(-p.premiumClampE8, p.interestE8 - avg));
  return Math.min(p.fundingCapE8, Math.max(-p.fundingCapE8, avg + clamp));
}

export interface MarkInputs {
  index: number;
  /** index × (1 + predicted rate × time to funding ÷ interval) */
  fundingBasis: number;
  /** index + the moving average of (impact mid − index) over the basis window (the index itself before any sample). */
  movingBasis: number;
  /** The perp's last trade price; 0 if none yet. */
  lastTrade: number;
}

/** The mark before the circuit breaker: the median of the inputs that exist. */
export function rawMark(inputs: MarkInputs): number {
  const xs = [inputs.fundingBasis, inputs.movingBasis, inputs.lastTrade].filter((x) => x > 0);
  return xs.length === 0 ? 0 : median(xs);
}

/** The funding-basis input: index × (1 + rate × timeLeft / interval), rounded down. */
export function fundingBasis(index: number, rateE8: number, timeLeftUs: number, intervalUs: number): number {
  return index + Math.floor((index * rateE8 * (timeLeftUs / intervalUs)) / RATE_ONE);
}

/** The circuit breaker's bounds around the window's reference mark. */
export function markBounds(reference: number, bandBps: number): [number, number] {
  const d = Math.floor((reference * bandBps) / BPS_ONE);
  return [reference - d, reference + d];
}
