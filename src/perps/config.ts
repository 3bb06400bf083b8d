// Perpetual contracts' configuration (PERP-1, 3, 4, 5): products, margin tiers, price sources,
// funding parameters, the collateral allow-list, and the operators' commands that change them. Every
// input is checked field by field; a configuration that could not be run safely is refused by name.
import { AdminError, day, flag, matching, text, whole } from '../venues/admin.js';

/** Rates are integers in 1e-8 (RATE_ONE is 100%); margins and haircuts in basis points. */
export const RATE_ONE = 100_000_000;
export const BPS_ONE = 10_000;
const DAY_MINUTES = 1_440;

/**
 * One notional bracket: a position whose notional (at mark) is at most `notionalMax` quote units
 * needs initial margin imBps and maintenance margin mmBps of its whole notional; maxLeverage is
 * what that initial margin allows (at most 10,000 / imBps).
 */
export interface MarginTier { notionalMax: number; imBps: number; mmBps: number; maxLeverage: number }

/** An index price source: a registered API key (permission price-source) that pushes signed prices. */
export interface PriceSource { id: string; keyId: number }

export interface PerpProduct {
  /** The core instrument it trades on (listed in the node's instruments, base = the underlying asset, quote = the settlement asset). */
  instrument: number;
  symbol: string;
  /** The index's name (the underlying asset's code). */
  underlying: string;
  tiers: MarginTier[];
  /** Minutes between funding times (1..1440, dividing a day: at least daily). */
  fundingIntervalMin: number;
  /** The largest funding rate per interval, either way (1e-8). */
  fundingCapE8: number;
  /** The interest term per interval (1e-8) and how far the premium may pull the rate from it. */
  interestE8: number;
  premiumClampE8: number;
  /** The notional (quote units) whose average fill price on each side gives the impact bid and ask. */
  impactNotional: number;
  sources: PriceSource[];
  /** The platform's own spot book as one more index source (its last trade), if set: at most one. */
  bookInstrument?: number;
  /** A source older than this is excluded (ms). */
  staleMs: number;
  /** A source more than this far from the median of the fresh ones is excluded (bps). */
  outlierBps: number;
  /** Below this many usable sources the index is degraded: positions may not open or grow. */
  minSources: number;
  /** The moving average of the basis in the mark price spans this many minute samples. */
  basisMinutes: number;
  /** Circuit breaker: the mark moves at most markBandBps from where it stood when its window began. */
  markBandBps: number;
  markWindowMs: number;
  /** Liquidation (PERP-6): the most of a fill's gain over the bankruptcy price the insurance fund keeps (bps of notional; default 50). */
  liquidationFeeBps?: number;
  /** How far from the mark a liquidation order may trade (bps; default 200): the slice's price-impact bound. */
  liquidationImpactBps?: number;
}

export type CollateralKind = 'fiat' | 'stablecoin' | 'tokenized-deposit';
export const COLLATERAL_KINDS: readonly CollateralKind[] = ['fiat', 'stablecoin', 'tokenized-deposit'];

/** An allow-listed collateral asset: valued at par in the settlement asset, less its haircut. */
export interface CollateralEntry { asset: string; kind: CollateralKind; haircutBps: number; status: 'active' | 'suspended' }

export interface PerpsConfig {
  products: PerpProduct[];
  collateral: CollateralEntry[];
  /** The asset positions settle in (USD): realized PnL, funding and fees move in it. */
  settlementAsset: string;
  /** The perps' settlement pool: realized PnL and funding pass through it (its balance may go below zero). */
  clearingAccount: number;
  /** Where funding's rounding residual goes (the insurance fund). */
  residualAccount: number;
  /** The insurance fund counts as depleted at or below this level (settlement units; default 0). */
  insuranceFloor?: number;
}

/** A suitability assessment of a participant as a professional investor (PERP-2). */
export interface Assessment {
  participant: number;
  professional: boolean;
  assessor: string;
  /** The day assessed and the day it lapses (YYYY-MM-DD, UTC: valid until the end of that day). */
  assessedOn: string;
  expires: string;
  result: 'pass' | 'fail';
  /** Who recorded it and when (sequencer µs). */
  operator: number;
  recordedAt: number;
}

/** A backstop liquidity provider (PERP-6): takes what the book did not, at the bankruptcy price, up to its capacity. */
export interface Backstop { account: number; capacity: number; status: 'active' | 'suspended' }

export type PerpAction =
  | { action: 'investor.assess'; participant: number; professional: boolean; assessor: string; assessedOn: string; expires: string; result: 'pass' | 'fail' }
  | { action: 'backstop.set'; backstop: Backstop }
  | { action: 'collateral.set'; entry: CollateralEntry }
  | { action: 'perp.set'; instrument: number; changes: Partial<Omit<PerpProduct, 'instrument' | 'symbol' | 'underlying'>> };

export const PERP_ACTIONS: readonly PerpAction['action'][] = ['investor.assess', 'collateral.set', 'perp.set', 'backstop.set'];

export function isPerpAction(body: { action?: unknown }): boolean {
  return (PERP_ACTIONS as readonly unknown[]).includes(body.action);
}

/** AccountKind.Clearing and AccountKind.Insurance (src/ledger/model.ts). */
const CLEARING_KIND = 7;
const INSURANCE_KIND = 4;

const SOURCE_ID = /^[a-z0-9][a-z0-9._-]{0,31}$/;
const SYMBOL = /^[A-Z0-9][A-Z0-9-]{1,31}$/;
const ASSET = /^[A-Z0-9]{2,16}$/;

function tiers(v: unknown): MarginTier[] {
  if (!Array.isArray(v) || v.length === 0 || v.length > 32) throw new AdminError('tiers must be a list of 1 to 32 brackets');
  const out = v.map((t, i) => {
    if (typeof t !== 'object' || t === null) throw new AdminError(`tiers[${i}] must be an object`);
    const o = t as Record<string, unknown>;
    return {
      notionalMax: whole(o.notionalMax, `tiers[${i}].notionalMax`, 1, Number.MAX_SAFE_INTEGER),
      imBps: whole(o.imBps, `tiers[${i}].imBps`, 1, BPS_ONE),
      mmBps: whole(o.mmBps, `tiers[${i}].mmBps`, 1, BPS_ONE),
      maxLeverage: whole(o.maxLeverage, `tiers[${i}].maxLeverage`, 1, BPS_ONE),
    };
  });
  out.forEach((t, i) => {
    if (t.imBps <= t.mmBps) throw new AdminError(`tiers[${i}]: initial margin (${t.imBps} bps) must be above maintenance margin (${t.mmBps} bps)`);
    if (t.maxLeverage * t.imBps > BPS_ONE) throw new AdminError(`tiers[${i}]: maxLeverage ${t.maxLeverage} is more than ${t.imBps} bps of initial margin allows (${Math.floor(BPS_ONE / t.imBps)})`);
    if (i === 0) return;
    const p = out[i - 1];
    if (t.notionalMax <= p.notionalMax) throw new AdminError(`tiers are not monotonic: tiers[${i}].notionalMax must be above ${p.notionalMax}`);
    if (t.imBps < p.imBps || t.mmBps < p.mmBps) throw new AdminError(`tiers are not monotonic: tiers[${i}] margins must not be below tiers[${i - 1}]'s`);
    if (t.maxLeverage > p.maxLeverage) throw new AdminError(`tiers are not monotonic: tiers[${i}].maxLeverage must not be above tiers[${i - 1}]'s`);
  });
  return out;
}

function sources(v: unknown): PriceSource[] {
  if (!Array.isArray(v) || v.length > 16) throw new AdminError('sources must be a list of at most 16 price sources');
  const out = v.map((s, i) => {
    if (typeof s !== 'object' || s === null) throw new AdminError(`sources[${i}] must be an object`);
    const o = s as Record<string, unknown>;
    return { id: matching(o.id, SOURCE_ID, `sources[${i}].id`, 'a source id (lowercase letters, digits, . _ -)'), keyId: whole(o.keyId, `sources[${i}].keyId`, 1, 0xffffffff) };
  });
  if (new Set(out.map((s) => s.id)).size !== out.length) throw new AdminError('sources: an id is listed twice');
  if (new Set(out.map((s) => s.keyId)).size !== out.length) throw new AdminError('sources: a key is listed twice (each source is independent)');
  return out;
}

type ProductFields = Omit<PerpProduct, 'instrument' | 'symbol' | 'underlying'>;

/** Checks the fields of a product that are present (all of them unless `partial`). */
function productFields(o: Record<string, unknown>, partial: boolean): Partial<ProductFields> {
  const out: Partial<ProductFields> = {};
  const has = (k: string) => !partial || o[k] !== undefined;
  if (has('tiers')) out.tiers = tiers(o.tiers);
  if (has('fundingIntervalMin')) {
    const m = whole(o.fundingIntervalMin, 'fundingIntervalMin', 1, Number.MAX_SAFE_INTEGER);
    if (m > DAY_MINUTES) throw new AdminError(`fundingIntervalMin ${m}: funding must happen at least daily (at most ${DAY_MINUTES} minutes)`);
    if (DAY_MINUTES % m !== 0) throw new AdminError(`fundingIntervalMin ${m} must divide a day (1440 minutes) so funding times fall on the same clock times every day`);
    out.fundingIntervalMin = m;
  }
  if (has('fundingCapE8')) out.fundingCapE8 = whole(o.fundingCapE8, 'fundingCapE8', 1, RATE_ONE / 10);
  if (has('interestE8')) out.interestE8 = whole(o.interestE8, 'interestE8', 0, RATE_ONE / 10);
  if (has('premiumClampE8')) out.premiumClampE8 = whole(o.premiumClampE8, 'premiumClampE8', 0, RATE_ONE / 10);
  if (has('impactNotional')) out.impactNotional = whole(o.impactNotional, 'impactNotional', 1, Number.MAX_SAFE_INTEGER);
  if (has('sources')) out.sources = sources(o.sources);
  if (o.bookInstrument !== undefined) out.bookInstrument = whole(o.bookInstrument, 'bookInstrument', 1, 0xffffffff);
  if (has('staleMs')) out.staleMs = whole(o.staleMs, 'staleMs', 100, 3_600_000);
  if (has('outlierBps')) out.outlierBps = whole(o.outlierBps, 'outlierBps', 1, BPS_ONE);
  if (has('minSources')) out.minSources = whole(o.minSources, 'minSources', 3, 16);
  if (has('basisMinutes')) out.basisMinutes = whole(o.basisMinutes, 'basisMinutes', 1, DAY_MINUTES);
  if (has('markBandBps')) out.markBandBps = whole(o.markBandBps, 'markBandBps', 1, BPS_ONE);
  if (has('markWindowMs')) out.markWindowMs = whole(o.markWindowMs, 'markWindowMs', 1_000, 3_600_000);
  if (o.liquidationFeeBps !== undefined) out.liquidationFeeBps = whole(o.liquidationFeeBps, 'liquidationFeeBps', 0, 1_000);
  if (o.liquidationImpactBps !== undefined) out.liquidationImpactBps = whole(o.liquidationImpactBps, 'liquidationImpactBps', 1, 5_000);
  return out;
}

/** What must hold across a product's fields together. */
function checkWhole(p: PerpProduct): PerpProduct {
  if (p.fundingCapE8 < p.interestE8) throw new AdminError(`fundingCapE8 ${p.fundingCapE8} must not be below the interest term ${p.interestE8}`);
  const independent = p.sources.length + (p.bookInstrument !== undefined ? 1 : 0);
  if (independent < p.minSources) throw new AdminError(`${p.symbol}: ${independent} price sources, fewer than minSources ${p.minSources}`);
  if (p.sources.length < 2 && p.bookInstrument !== undefined) throw new AdminError(`${p.symbol}: the platform's own book may be one source at most, beside at least two others`);
  return p;
}

/** A product as configured, checked (the node refuses to start on one that fails). */
export function checkProduct(input: unknown): PerpProduct {
  if (typeof input !== 'object' || input === null) throw new AdminError('a perpetual product must be an object');
  const o = input as Record<string, unknown>;
  const fields = productFields(o, false) as ProductFields;
  return checkWhole({
    instrument: whole(o.instrument, 'instrument', 1, 0xffffffff),
    symbol: matching(o.symbol, SYMBOL, 'symbol', 'a symbol such as BTC-PERP'),
    underlying: matching(o.underlying, ASSET, 'underlying', 'an asset code'),
    ...fields,
  });
}

/** A product with an operator's changes applied, checked as a whole. */
export function changedProduct(p: PerpProduct, changes: unknown): PerpProduct {
  if (typeof changes !== 'object' || changes === null || Object.keys(changes).length === 0) throw new AdminError('changes must name at least one field');
  for (const k of Object.keys(changes)) {
    if (['instrument', 'symbol', 'underlying'].includes(k)) throw new AdminError(`${k} cannot change`);
  }
  return checkWhole({ ...p, ...productFields(changes as Record<string, unknown>, true) });
}

export function checkCollateral(input: unknown): CollateralEntry {
  if (typeof input !== 'object' || input === null) throw new AdminError('a collateral entry must be an object');
  const o = input as Record<string, unknown>;
  if (!COLLATERAL_KINDS.includes(o.kind as CollateralKind)) {
    throw new AdminError(`kind must be one of ${COLLATERAL_KINDS.join(', ')} (only fiat, regulated stablecoins and tokenized deposits may be collateral), got ${JSON.stringify(o.kind)}`);
  }
  if (o.status !== 'active' && o.status !== 'suspended') throw new AdminError('status must be active or suspended');
  return { asset: matching(o.asset, ASSET, 'asset', 'an asset code'), kind: o.kind as CollateralKind, haircutBps: whole(o.haircutBps, 'haircutBps', 0, BPS_ONE - 1), status: o.status };
}

export function checkPerpAction(body: unknown): PerpAction {
  if (typeof body !== 'object' || body === null) throw new AdminError('the command must be an object');
  const o = body as Record<string, unknown>;
  switch (o.action) {
    case 'investor.assess': {
      if (o.result !== 'pass' && o.result !== 'fail') throw new AdminError('result must be pass or fail');
      const assessedOn = day(o.assessedOn, 'assessedOn');
      const expires = day(o.expires, 'expires');
      if (expires < assessedOn) throw new AdminError(`expires ${expires} is before assessedOn ${assessedOn}`);
      return {
        action: o.action, participant: whole(o.participant, 'participant', 1, 0xffffffff), professional: flag(o.professional, 'professional'),
        assessor: text(o.assessor, 'assessor', 100), assessedOn, expires, result: o.result,
      };
    }
    case 'collateral.set': return { action: o.action, entry: checkCollateral(o.entry) };
    case 'backstop.set': {
      const b = o.backstop as Record<string, unknown> | undefined;
      if (typeof b !== 'object' || b === null) throw new AdminError('backstop must be an object');
      if (b.status !== 'active' && b.status !== 'suspended') throw new AdminError('status must be active or suspended');
      return { action: o.action, backstop: { account: whole(b.account, 'account', 1, 0xffffffff), capacity: whole(b.capacity, 'capacity', 0, Number.MAX_SAFE_INTEGER), status: b.status } };
    }
    case 'perp.set': {
      if (typeof o.changes !== 'object' || o.changes === null) throw new AdminError('changes must be an object');
      return { action: o.action, instrument: whole(o.instrument, 'instrument', 1, 0xffffffff), changes: o.changes as Partial<ProductFields> };
    }
    default:
      throw new AdminError(`unknown action ${JSON.stringify(o.action)}`);
  }
}

/** The whole perps configuration, checked against the node's assets, accounts and instruments. */
export function checkPerpsConfig(c: PerpsConfig, known: { assets: Set<string>; accounts: Map<number, number>; instruments: Map<number, { base: string; quote: string }> }): PerpsConfig {
  const fail = (m: string): never => { throw new Error(`perps configuration: ${m}`); };
  try {
    const products = c.products.map(checkProduct);
    const collateral = c.collateral.map(checkCollateral);
    if (!known.assets.has(c.settlementAsset)) fail(`unknown settlement asset ${c.settlementAsset}`);
    for (const a of [c.clearingAccount, c.residualAccount]) if (!known.accounts.has(a)) fail(`unknown account ${a}`);
    if (c.clearingAccount === c.residualAccount) fail('the clearing and residual accounts must differ');
    // The pool may go below zero: only an account of its own kind, which can neither trade nor withdraw to a client.
    if (known.accounts.get(c.clearingAccount) !== CLEARING_KIND) fail(`the clearing account ${c.clearingAccount} must be of kind clearing`);
    if (known.accounts.get(c.residualAccount) !== INSURANCE_KIND) fail(`the residual account ${c.residualAccount} must be the insurance fund (kind insurance)`);
    for (const e of collateral) if (!known.assets.has(e.asset)) fail(`collateral asset ${e.asset} is not a ledger asset`);
    if (new Set(collateral.map((e) => e.asset)).size !== collateral.length) fail('a collateral asset is listed twice');
    const ids = new Set<number>();
    for (const p of products) {
      const listing = known.instruments.get(p.instrument);
      if (!listing) fail(`${p.symbol}: instrument ${p.instrument} is not listed`);
      if (ids.has(p.instrument)) fail(`instrument ${p.instrument} is two products`);
      ids.add(p.instrument);
      if (listing!.quote !== c.settlementAsset) fail(`${p.symbol}: quoted in ${listing!.quote}, not the settlement asset ${c.settlementAsset}`);
      if (p.bookInstrument !== undefined && !known.instruments.has(p.bookInstrument)) fail(`${p.symbol}: book source instrument ${p.bookInstrument} is not listed`);
    }
    return { ...c, products, collateral };
  } catch (e) {
    if (e instanceof AdminError) fail(e.message);
    throw e;
  }
}
