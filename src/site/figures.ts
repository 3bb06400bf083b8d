// How the public site states a number: every figure is { value, raw } — `value` a decimal string in
// whole units (USD, BTC; a fraction for rates and margins, 0.0001 being one basis point; seconds for
// ages; an ISO-8601 UTC time for times), `raw` the node's own integer (ledger units, 1e-8 for funding
// rates, basis points, milliseconds, microseconds since the epoch). The pages show `value` and carry
// `raw`, so a page and the API can be compared figure by figure. Conversions are exact (no floating
// point): the client SDK's fromUnits.
import { fromUnits } from '../client/units.js';
import type { NodeRuntime } from '../pipeline/runtime.js';

export interface Figure { value: string; raw: number }

/** `raw` units of 10^-scale. */
export const amount = (raw: number, scale: number): Figure => ({ value: fromUnits(raw, scale), raw });
/** A funding or premium rate in 1e-8 (100,000,000 is 100%), as a fraction. */
export const rateE8 = (raw: number): Figure => ({ value: fromUnits(raw, 8), raw });
/** Basis points, as a fraction. */
export const bps = (raw: number): Figure => ({ value: fromUnits(raw, 4), raw });
/** Milliseconds, as seconds. */
export const millis = (raw: number): Figure => ({ value: fromUnits(raw, 3), raw });
/** Microseconds since the epoch, as an ISO-8601 UTC time (ms precision); none before any time was set. */
export const time = (us: number): Figure | null => (us > 0 ? { value: new Date(Math.floor(us / 1000)).toISOString(), raw: us } : null);

/** What the site needs to state an instrument's prices and quantities. */
export interface Market {
  id: number;
  symbol: string;
  base: string;
  quote: string;
  baseScale: number;
  quoteScale: number;
  /** Base ledger units per unit of quantity (a perpetual's contract size; 1 for spot). */
  contractSize: number;
  perpetual: boolean;
  tick: number;
  lot: number;
  minQty: number;
  maxQty: number;
}

export function marketsOf(node: NodeRuntime): Market[] {
  const ledger = node.ledger;
  const perps = node.pipeline.perps;
  return node.config.instruments.map((l) => ({
    id: l.spec.id, symbol: l.symbol, base: l.base, quote: l.quote,
    baseScale: ledger.assets[ledger.assetIndex.get(l.base)!].scale, quoteScale: ledger.assets[ledger.assetIndex.get(l.quote)!].scale,
    contractSize: l.contractSize ?? 1, perpetual: perps.products.has(l.spec.id),
    tick: l.spec.tickSize, lot: l.spec.lotSize, minQty: l.spec.minQty, maxQty: l.spec.maxQty,
  }));
}

/** A price of the market: quote units per whole base unit. */
export const price = (m: Market, raw: number): Figure => amount(raw, m.quoteScale);
/** A quantity of the market: units of quantity (raw), stated in the base asset. */
export const qty = (m: Market, raw: number): Figure => ({ value: fromUnits(raw * m.contractSize, m.baseScale), raw });
