// Margin arithmetic (PERP-5): tiers by notional, position values at a price, and the liquidation
// price estimate. Integers throughout, every rounding against the client by less than one unit:
// margins round up, a position's value rounds down (long) or its cost to buy back up (short).
import { mulDiv } from '../ledger/fees.js';
import { BPS_ONE, type MarginTier } from './config.js';

/** The bracket a notional falls in; undefined past the last (the position limit). */
export function tierOf(tiers: readonly MarginTier[], notional: number): MarginTier | undefined {
  for (const t of tiers) if (notional <= t.notionalMax) return t;
  return undefined;
}

/** Initial margin of a position of `notional` (the last bracket's rate past it: the order check refuses that). */
export function initialMargin(tiers: readonly MarginTier[], notional: number): number {
  const t = tierOf(tiers, notional) ?? tiers[tiers.length - 1];
  return mulDiv(notional, t.imBps, BPS_ONE, true);
}

export function maintenanceMargin(tiers: readonly MarginTier[], notional: number): number {
  const t = tierOf(tiers, notional) ?? tiers[tiers.length - 1];
  return mulDiv(notional, t.mmBps, BPS_ONE, true);
}

/** |qty| at `price` in quote units, rounded up (what margins are taken on). */
export function notionalUp(qty: number, price: number, unit: number): number {
  return mulDiv(Math.abs(qty), price, unit, true);
}

/**
 * What a position of signed `size` is worth at `price`, against the client: a long's value rounds
 * down, a short's (negative) buy-back cost rounds up.
 */
export function valueAt(size: number, price: number, unit: number): number {
  return size >= 0 ? mulDiv(size, price, unit, false) : -mulDiv(-size, price, unit, true);
}

/**
 * The mark at which the account would reach maintenance margin through this position alone (the
 * others' marks held): solves equity(P) = maintenance(P) with the position's current tier. A
 * long's is 0 when no fall can bring it there; a short's is Infinity when no rise can.
 */
export function liquidationPrice(size: number, mark: number, unit: number, equity: number, otherMaintenance: number, mmBps: number): number {
  if (size === 0) return 0;
  const mmr = mmBps / BPS_ONE;
  const q = Math.abs(size) / unit;
  if (size > 0) {
    const p = (otherMaintenance - equity + q * mark) / (q * (1 - mmr));
    return p > 0 ? Math.ceil(p) : 0;
  }
  const p = (equity + q * mark - otherMaintenance) / (q * (1 + mmr));
  return p > 0 ? Math.floor(p) : 0;
}
