// The perpetual contracts' side of the node state (PERP-1, 2, 3, 4, 5, 7, 10, 11), applied by the
// pipeline on the sequencer's time like everything else, so replay rebuilds it exactly:
// - positions per account and product (signed size, signed entry cost), open orders' reservations;
// - who may trade them (professional investors with a valid suitability assessment);
// - collateral (the allow-list, valued at par less haircut, only what has been received);
// - cross margin per account, checked before any position opens or grows;
// - index and mark prices from the price sources, the book and the clock; the premium index and
//   funding, paid between longs and shorts through the clearing account;
// - after every mark change, the accounts a move can bring near maintenance margin are re-margined.
//
// Money moves only as ledger postings in the settlement asset: realized PnL and funding between the
// account and the clearing account, fees to the fees account. What an account cannot pay from its
// available settlement balance (its other collateral covers it) the clearing account pays for it
// and the account owes it (`owed`, counted against its equity and repaid from its next receipts).
// Hence, always: clearing balance + Σ owed + Σ entry cost of open positions = 0.
import type { MatchingCore } from '../core/index.js';
import type { Ledger } from '../ledger/ledger.js';
import { AccountKind, Bucket, Cause, type InstrumentTerms } from '../ledger/model.js';
import { mulDiv } from '../ledger/fees.js';
import { NodeReject } from '../risk/reasons.js';
import { AdminError } from '../venues/admin.js';
import {
  BPS_ONE, RATE_ONE, changedProduct, checkPerpAction,
  type Assessment, type Backstop, type CollateralEntry, type PerpAction, type PerpProduct, type PerpsConfig,
} from './config.js';
import { REPORTS_KEPT, Waterfall, adlRanking, type Notice, type PostEventReport, type WaterfallStep } from './liquidation.js';
import {
  computeIndex, fundingBasis, fundingRateE8, impactPrice, markBounds, premiumE8, rawMark,
  type Contribution, type MarkInputs, type SourcePrice,
} from './prices.js';
import { initialMargin, liquidationPrice, maintenanceMargin, notionalUp, tierOf, valueAt } from './margin.js';

export type Refusal = [number, string];

/** A price source's update, as sequenced (sourceTs: the source's own time, µs). */
export interface PriceCommand { type: 'price'; source: number; underlying: string; price: number; sourceTs: number }

/** How far a source's own time may be from the sequencer's. */
export const SOURCE_SKEW_US = 30_000_000;
const MINUTE_US = 60_000_000;
/** Funding payments kept per product (the public history). */
export const FUNDING_HISTORY_MAX = 1_000;
/** The re-margin index's bucket width, in bps of the product's reference price. */
const BUCKET_BPS = 5;

export interface Position {
  instrument: number;
  /** Signed quantity: positive long. */
  size: number;
  /** Signed entry cost in settlement units (a long's is what it paid, a short's negative: what it received). */
  cost: number;
  realized: number;
  /** Funding received (positive) or paid, over the position's life. */
  funding: number;
}

/** An account's open perp orders on one product: what they could add either way. */
export interface Reservation { buyQty: number; buyNotional: number; sellQty: number; sellNotional: number; reduceBuy: number; reduceSell: number }

export interface PerpAccount {
  id: number;
  positions: Map<number, Position>;
  orders: Map<number, Reservation>;
  /** What it owes the clearing account (paid for it when its settlement balance fell short). */
  owed: number;
  /** Its open reduce-only orders. */
  reduceOnly: Set<number>;
}

export interface FundingRecord { ts: number; rateE8: number; mark: number; index: number; paid: number; received: number; residual: number; positions: number }

export interface Product {
  p: PerpProduct;
  terms: InstrumentTerms;
  /** Quote units of qty × price: notional = qty × price ÷ unit. */
  unit: number;
  prices: Map<string, SourcePrice>;
  index: number;
  degraded: boolean;
  contributions: Contribution[];
  mark: number;
  inputs: MarkInputs;
  clamped: boolean;
  markRef: number;
  markWindow: number;
  lastTrade: number;
  premiumSum: number;
  premiumCount: number;
  /** The basis samples (impact mid − index), the last basisMinutes of them. */
  basis: number[];
  nextSampleUs: number;
  nextFundingUs: number;
  lastRateE8: number;
  openInterest: number;
  holders: Set<number>;
  history: FundingRecord[];
  /**
   * The re-margin index: each single-product holder under the interval of marks within which it
   * cannot cross maintenance margin — below its `low` end (a long's liquidation price, at its tier,
   * lower tiers being safer) or above its `high` end (a short's liquidation price, or the next tier's
   * boundary, where maintenance jumps) it may. Ends are kept in price buckets of `bucket` quote units,
   * so an account's entry moves in O(1) when it changes and a mark move visits only the buckets it
   * crossed.
   */
  bucket: number;
  lows: Map<number, Set<number>>;
  highs: Map<number, Set<number>>;
}

export interface PositionView {
  instrument: number; symbol: string; size: number; entryPrice: number; mark: number; notional: number;
  unrealizedPnl: number; realizedPnl: number; funding: number; initialMargin: number; maintenanceMargin: number; liquidationPrice: number;
  /** Auto-deleveraging likelihood (PERP-9): quintile 1 (last) to 5 (first) among its side's positions. */
  adlRank: number;
}

export interface AccountView {
  account: number; collateral: number; unrealizedPnl: number; owed: number; equity: number;
  initialMargin: number; maintenanceMargin: number; available: number;
  /** Maintenance ÷ equity in bps (10,000: at maintenance; 0 with nothing open). */
  marginRatioBps: number;
  positions: PositionView[];
}

export interface MarketView {
  instrument: number; symbol: string; underlying: string; mark: number; index: number; degraded: boolean;
  contributions: Contribution[]; inputs: MarkInputs; clamped: boolean; markBand: [number, number];
  lastRateE8: number; predictedRateE8: number; nextFundingUs: number; fundingIntervalMin: number; openInterest: number; lastTrade: number;
}

export interface PerpsState {
  products: { p: PerpProduct; prices: [string, SourcePrice][]; index: number; mark: number; markRef: number; markWindow: number; lastTrade: number;
    premiumSum: number; premiumCount: number; basis: number[]; nextSampleUs: number; nextFundingUs: number; lastRateE8: number; history: FundingRecord[] }[];
  accounts: { id: number; owed: number; positions: Position[] }[];
  assessments: Assessment[];
  collateral: CollateralEntry[];
  lastSourceTs: [string, number][];
  /** Absent before part 2 (liquidation) existed. */
  backstops?: Backstop[];
  reports?: PostEventReport[];
  notices?: Notice[];
  fundHistory?: { ts: number; level: number }[];
  liquidationLog?: (WaterfallStep & { seq: number; ts: number })[];
  depleted?: boolean;
  liquidationOrders?: number;
}

/** Liquidation orders' ids start here, far above any sequence number (an order's id is its sequence number). */
export const LIQUIDATION_ID_BASE = 2 ** 52;
/** Points of the insurance fund's history kept. */
export const FUND_HISTORY_MAX = 2_000;
/** Waterfall steps kept in the log. */
export const LIQUIDATION_LOG_MAX = 10_000;


function emptyReservation(): Reservation {
  return { buyQty: 0, buyNotional: 0, sellQty: 0, sellNotional: 0, reduceBuy: 0, reduceSell: 0 };
}

/** What the pipeline knows of an open perp order (a view of its OpenOrder). */
export interface PerpOrder { id: number; account: number; instrument: number; side: number; limit: number; remaining: number; reduceOnly?: boolean; rq?: number; rl?: number }

export class Perps {
  readonly products = new Map<number, Product>();
  private readonly byUnderlying = new Map<string, Product[]>();
  private readonly bookSources = new Map<number, Product[]>();
  readonly accounts = new Map<number, PerpAccount>();
  readonly assessments = new Map<number, Assessment>();
  readonly collateral = new Map<string, CollateralEntry>();
  /** The settlement asset (index). */
  readonly settle: number;
  readonly clearing: number;
  /** The insurance fund's account (funding's residual goes there too). */
  readonly residual: number;
  private readonly feesAccount: number;
  /** Each source key's last own time per index (`key|underlying` → µs): updates must move forward. */
  private readonly lastSourceTs = new Map<string, number>();
  /** Accounts whose positions, orders or collateral changed since the liquidation index was built. */
  private readonly dirty = new Set<number>();
  /** Accounts with positions on more than one product (re-checked on any mark change). */
  private readonly multi = new Set<number>();
  /** Accounts whose equity is below maintenance margin (part 2's liquidation waterfall takes them). */
  readonly atRisk = new Set<number>();
  /** In the batch being applied: products whose mark moved, accounts whose figures changed (for the gateways). */
  readonly markChanged = new Set<number>();
  readonly touched = new Set<number>();
  /** Accounts whose positions changed in the batch (their reduce-only orders are checked). */
  private readonly positionChanged = new Set<number>();
  /** Backstop liquidity providers by account (PERP-6). */
  readonly backstops = new Map<number, Backstop>();
  /** The liquidation waterfall, and what it produced: post-event reports and notices kept (PERP-8, PERP-9). */
  readonly waterfall: Waterfall;
  readonly reports: PostEventReport[] = [];
  readonly notices: Notice[] = [];
  /** Every waterfall step with the batch's sequence and time (PERP-6), the last LIQUIDATION_LOG_MAX. */
  readonly liquidationLog: (WaterfallStep & { seq: number; ts: number })[] = [];
  /** The insurance fund's level over time (PERP-8): a point whenever a batch leaves it changed, the last FUND_HISTORY_MAX. */
  readonly fundHistory: { ts: number; level: number }[] = [];
  /** Liquidation orders placed so far (their ids follow LIQUIDATION_ID_BASE). */
  private liquidationOrders = 0;
  /** The sequencer time of the batch being applied (µs). */
  now = 0;
  private readonly ticks = new Map<number, number>();
  /** In the batch being applied: time spent re-margining after mark changes (µs) and accounts checked (the benchmark's figures). */
  remarginUs = 0;
  remarginChecked = 0;

  constructor(private readonly ledger: Ledger, private readonly core: MatchingCore, config: PerpsConfig | undefined, private readonly orders: Map<number, PerpOrder>) {
    this.settle = config ? ledger.assetIndex.get(config.settlementAsset)! : 0;
    this.clearing = config?.clearingAccount ?? 0;
    this.residual = config?.residualAccount ?? 0;
    this.feesAccount = [...ledger.accounts.values()].find((a) => a.kind === AccountKind.Fees)?.id ?? 0;
    this.waterfall = new Waterfall(this, config?.insuranceFloor ?? 0);
    if (!config) return;
    ledger.mayGoNegative.add(this.clearing);
    for (const e of config.collateral) this.collateral.set(e.asset, { ...e });
    for (const p of config.products) this.addProduct(p);
  }

  get active(): boolean { return this.products.size > 0; }

  isPerp(instrument: number): boolean { return this.products.has(instrument); }

  private addProduct(p: PerpProduct): void {
    const terms = this.ledger.instruments.get(p.instrument)!;
    const spec = terms as InstrumentTerms & { refPrice?: number };
    const product: Product = {
      p, terms, unit: terms.priceDivisor * terms.qtyDivisor, prices: new Map(), index: 0, degraded: true, contributions: [],
      mark: spec.refPrice ?? 0, inputs: { index: 0, fundingBasis: 0, movingBasis: 0, lastTrade: 0 }, clamped: false, markRef: 0, markWindow: -1, lastTrade: 0,
      premiumSum: 0, premiumCount: 0, basis: [], nextSampleUs: 0, nextFundingUs: 0, lastRateE8: 0, openInterest: 0, holders: new Set(), history: [],
      bucket: 1, lows: new Map(), highs: new Map(),
    };
    this.products.set(p.instrument, product);
    this.byUnderlying.set(p.underlying, [...(this.byUnderlying.get(p.underlying) ?? []), product]);
    if (p.bookInstrument !== undefined) this.bookSources.set(p.bookInstrument, [...(this.bookSources.get(p.bookInstrument) ?? []), product]);
  }

  /** The instruments' reference prices (the first marks, before any source has priced them) and ticks. */
  setInitialMarks(refPrices: ReadonlyMap<number, number>, ticks: ReadonlyMap<number, number> = new Map()): void {
    for (const [id, product] of this.products) {
      if (product.mark === 0) product.mark = refPrices.get(id) ?? 0;
      product.bucket = Math.max(1, Math.floor((product.mark * BUCKET_BPS) / BPS_ONE));
    }
    for (const [id, tick] of ticks) this.ticks.set(id, tick);
  }

  /**
   * The price band the matching core takes orders in on a perp's book now, [low, high], as the core
   * has it: around the mark it was last centred on (bandsToRecentre), or a trade since. A liquidation
   * order's limit is kept inside it, or the core would refuse the order and the bids inside the band with it.
   */
  coreBand(instrument: number): [number, number] {
    const { low, high } = this.core.band(instrument);
    return [low, high];
  }

  tickOf(instrument: number): number | undefined { return this.ticks.get(instrument); }

  /**
   * The perps whose book's band should be centred on the mark again (PERP-3: quotes near the mark,
   * not near a trade the market has left): each product the batch moved the mark of, where the core's
   * band is centred elsewhere. The caller queues the core's SetReference for each.
   */
  bandsToRecentre(): { instrument: number; price: number }[] {
    const out: { instrument: number; price: number }[] = [];
    for (const id of this.markChanged) {
      const product = this.products.get(id)!;
      if (product.mark > 0 && product.mark !== this.core.band(id).reference) out.push({ instrument: id, price: product.mark });
    }
    return out;
  }

  /** An asset's scale (decimal places of its ledger units). */
  assetScale(asset: number): number { return this.ledger.assets[asset].scale; }

  /** The best price resting on one side of a book (0 when that side is empty). */
  bestPrice(instrument: number, side: number): number {
    return this.core.depth(instrument, side, 1)[0]?.price ?? 0;
  }

  /** The settlement asset's code. */
  get settlementCode(): string { return this.ledger.assets[this.settle]?.code ?? ''; }

  /** An amount of the settlement asset in whole units, as text (exact: from its integer digits). */
  whole(amount: number): string {
    const scale = this.ledger.assets[this.settle]?.scale ?? 0;
    if (scale === 0) return String(amount);
    const digits = String(Math.abs(amount)).padStart(scale + 1, '0');
    const text = `${digits.slice(0, -scale)}.${digits.slice(-scale)}`.replace(/\.?0+$/, '');
    return amount < 0 ? `-${text}` : text;
  }

  /** The insurance fund's level (its available settlement balance). */
  /**
   * What the insurance fund holds besides the settlement asset (collateral it took from defaulters,
   * PERP-6): each asset's amount and what it is worth at par less its haircut (0 when not active
   * collateral). It cannot pay in them: the fund's level is the settlement asset alone.
   */
  fundOtherAssets(): { asset: string; scale: number; amount: number; value: number }[] {
    const out: { asset: string; scale: number; amount: number; value: number }[] = [];
    this.ledger.assets.forEach((asset, i) => {
      if (i === this.settle) return;
      const amount = this.ledger.balance(this.residual, i).available;
      if (amount <= 0) return;
      const entry = this.collateral.get(asset.code);
      const value = entry && entry.status === 'active' ? mulDiv(this.atPar(i, amount), BPS_ONE - entry.haircutBps, BPS_ONE, false) : 0;
      out.push({ asset: asset.code, scale: asset.scale, amount, value });
    });
    return out;
  }

  fundLevel(): number {
    return this.ledger.balanceOf(this.residual * 4096 + this.settle).available;
  }

  /** The next liquidation order's id. */
  nextLiquidationId(): number {
    return LIQUIDATION_ID_BASE + ++this.liquidationOrders;
  }

  /** What would be left of the account's available margin with this order added (its own loss charged in full). */
  marginAfter(accountId: number, instrument: number, side: number, price: number, qty: number, reduceOnly = false): number {
    const { after, im } = this.withOrder(accountId, instrument, side, price, qty, reduceOnly);
    return after.equity - im;
  }

  /**
   * The account's figures before and after an order is added, and the initial margin it would then
   * need: the order's own loss at the mark (a buy above it, a sell below) is charged in full —
   * netting it against the account's other orders of that side would let a deep order hide a
   * marketable one.
   */
  private withOrder(accountId: number, instrument: number, side: number, price: number, qty: number, reduceOnly: boolean) {
    const product = this.products.get(instrument)!;
    const before = this.figures(accountId);
    const after = this.figures(accountId, { instrument, side, price, qty, reduceOnly });
    const own = reduceOnly ? 0 : Math.max(0, side === 0
      ? notionalUp(qty, price, product.unit) - mulDiv(qty, product.mark, product.unit, false)
      : mulDiv(qty, product.mark, product.unit, true) - mulDiv(qty, price, product.unit, false));
    return { before, after, im: after.im - after.openLoss + before.openLoss + own };
  }

  /**
   * What would be left of the account's margin were every product's initial margin taken at its top
   * tier's rate: a floor under marginAfter that a further position only lowers by its own top-rate
   * margin (a tier change can raise the whole position's rate, never past the top one).
   */
  marginAtTopRate(accountId: number): number {
    const a = this.accounts.get(accountId);
    const f = this.figures(accountId);
    let im = f.openLoss;
    for (const [id, product] of this.products) {
      const pos = a?.positions.get(id);
      const r = a?.orders.get(id);
      const s = pos?.size ?? 0;
      const worst = Math.max(Math.abs(s + (r?.buyQty ?? 0) + (r?.reduceBuy ?? 0)), Math.abs(s - (r?.sellQty ?? 0) - (r?.reduceSell ?? 0)));
      if (worst === 0) continue;
      im += mulDiv(notionalUp(worst, product.mark, product.unit), product.p.tiers[product.p.tiers.length - 1].imBps, BPS_ONE, true);
    }
    return f.equity - im;
  }

  /**
   * The most an account may add to its position on one side of a product, at the mark, before its
   * worst case (position and open orders) would pass the largest margin tier: the position limit a
   * backstop provider's take must stay within, as an order's would (PositionLimit).
   */
  positionRoom(accountId: number, instrument: number, side: number): number {
    const product = this.products.get(instrument)!;
    const a = this.accounts.get(accountId);
    const s = a?.positions.get(instrument)?.size ?? 0;
    const r = a?.orders.get(instrument);
    // notionalUp(q, mark) ≤ notionalMax exactly when q × mark ≤ notionalMax × unit.
    const most = Math.floor((product.p.tiers[product.p.tiers.length - 1].notionalMax * product.unit) / product.mark);
    const room = side === 0 ? most - (s + (r?.buyQty ?? 0) + (r?.reduceBuy ?? 0)) : most + (s - (r?.sellQty ?? 0) - (r?.reduceSell ?? 0));
    return Math.max(0, room);
  }

  /** A position moves between two accounts at a price outside the book (backstop, auto-deleveraging). */
  transfer(seq: number, product: Product, buyer: number, seller: number, qty: number, notional: number): void {
    this.trade(seq, product, this.account(buyer), qty, notional);
    this.trade(seq, product, this.account(seller), -qty, -notional);
  }

  /** ADL quintiles of a product's positions, as of the last second of sequencer time (computed at most once a second). */
  adlRanks(instrument: number): Map<number, number> {
    const product = this.products.get(instrument)!;
    const second = Math.floor(this.now / 1_000_000);
    const cached = this.rankCache.get(instrument);
    if (cached && cached.second === second && cached.holders === product.holders.size) return cached.ranks;
    const ranks = new Map<number, number>();
    for (const side of ['long', 'short'] as const) for (const r of adlRanking(this, product, side)) ranks.set(r.account, r.bucket);
    this.rankCache.set(instrument, { second, holders: product.holders.size, ranks });
    return ranks;
  }

  private readonly rankCache = new Map<number, { second: number; holders: number; ranks: Map<number, number> }>();

  /** The account's perps record, made when first needed (the waterfall's too). */
  account(id: number): PerpAccount {
    let a = this.accounts.get(id);
    if (!a) {
      a = { id, positions: new Map(), orders: new Map(), owed: 0, reduceOnly: new Set() };
      this.accounts.set(id, a);
    }
    return a;
  }

  // ---- who may trade (PERP-2) ----

  /**
   * Whether an account may take on a position in the product at `ts` (a backstop provider, PERP-2):
   * its participant passes the professional-investor gate and the product's index stands.
   */
  mayOpen(accountId: number, instrument: number, ts: number): boolean {
    const account = this.ledger.accounts.get(accountId);
    const product = this.products.get(instrument);
    return account !== undefined && product !== undefined && !product.degraded && this.gateRefusal(account.participant, ts) === undefined;
  }

  /** Why the participant may not open or grow a perp position at `ts`, if it may not. */
  gateRefusal(participant: number, ts: number): string | undefined {
    const p = this.ledger.participants.get(participant);
    if (!p) return `participant ${participant} is unknown`;
    const a = this.assessments.get(participant);
    // The assessment on record says whether the participant is a professional investor; before one, the configured flag.
    if (!(a?.professional ?? p.professionalInvestor)) return `participant ${participant} is not a professional investor`;
    if (!a) return `participant ${participant} has no suitability assessment on record`;
    if (a.result !== 'pass') return `participant ${participant}'s suitability assessment of ${a.assessedOn} by ${a.assessor} did not pass`;
    if (Date.parse(`${a.expires}T00:00:00Z`) * 1000 + 86_400_000_000 <= ts) return `participant ${participant}'s suitability assessment expired on ${a.expires}`;
    return undefined;
  }

  // ---- collateral and margin (PERP-4, PERP-5) ----

  /** An amount of a collateral asset in settlement units at par, before haircut (rounded down). */
  private atPar(asset: number, amount: number): number {
    const from = this.ledger.assets[asset].scale;
    const to = this.ledger.assets[this.settle].scale;
    return from === to ? amount : from > to ? Math.floor(amount / 10 ** (from - to)) : amount * 10 ** (to - from);
  }

  /** The collateral value of an account: received (available) allow-listed assets, at par less haircut. */
  collateralValue(accountId: number, spend?: { asset: number; amount: number }): number {
    const account = this.ledger.accounts.get(accountId);
    if (!account) return 0;
    this.activeCollateral ??= [...this.collateral.values()].filter((e) => e.status === 'active' && this.ledger.assetIndex.has(e.asset))
      .map((e) => ({ asset: this.ledger.assetIndex.get(e.asset)!, keepBps: BPS_ONE - e.haircutBps }));
    let total = 0;
    for (const { asset, keepBps } of this.activeCollateral) {
      if (!account.custody.includes(this.ledger.locationOf(account, asset))) continue;
      let amount = this.ledger.balanceOf(accountId * 4096 + asset).available;
      if (spend && spend.asset === asset) amount -= spend.amount;
      if (amount <= 0) continue;
      total += keepBps === BPS_ONE ? this.atPar(asset, amount) : mulDiv(this.atPar(asset, amount), keepBps, BPS_ONE, false);
    }
    return total;
  }

  /**
   * What a liquidated account still owes once its positions are closed is settled from its other
   * collateral (PERP-6: the platform keeps no credit exposure): the insurance fund takes each
   * allow-listed asset at its haircut value and pays the clearing account that much of the debt, as
   * far as the fund's settlement asset reaches. Every rounding is against the account (by < 1 unit
   * of the asset taken). Returns what was settled, in the settlement asset.
   */
  settleFromCollateral(seq: number, accountId: number): number {
    const a = this.accounts.get(accountId);
    const account = this.ledger.accounts.get(accountId);
    if (!a || !account || a.owed <= 0) return 0;
    this.collateralValue(accountId); // builds the active allow-list
    let settled = 0;
    for (const { asset, keepBps } of this.activeCollateral!) {
      if (a.owed <= 0) break;
      if (asset === this.settle || !account.custody.includes(this.ledger.locationOf(account, asset))) continue;
      const available = this.ledger.balanceOf(accountId * 4096 + asset).available;
      const fund = this.ledger.balance(this.residual, this.settle).available;
      const target = Math.min(a.owed, fund);
      if (available <= 0 || target <= 0) continue;
      // The fewest units whose value at par less haircut covers the target, at most what it has.
      const from = this.ledger.assets[asset].scale;
      const to = this.ledger.assets[this.settle].scale;
      // target ÷ keep, in the asset's own units, rounded up once (a finer scale is scaled first).
      const units = Math.min(available, from >= to
        ? mulDiv(target * 10 ** (from - to), BPS_ONE, keepBps, true)
        : Math.ceil(mulDiv(target, BPS_ONE, keepBps, true) / 10 ** (to - from)));
      // What they are worth at par less haircut, rounded down once (in the finer of the two scales).
      const worth = from >= to ? mulDiv(units, keepBps, BPS_ONE * 10 ** (from - to), false) : mulDiv(units * 10 ** (to - from), keepBps, BPS_ONE, false);
      const value = Math.min(target, worth);
      if (units <= 0 || value <= 0) continue;
      this.ledger.post(seq, Cause.CollateralTaken, asset, accountId, Bucket.Available, this.residual, Bucket.Available, units);
      this.receive(seq, Cause.InsuranceCover, a, this.residual, value);
      settled += value;
    }
    this.noteChange(a);
    return settled;
  }

  /** The active allow-list by asset index, with what each keeps after its haircut (rebuilt when it changes). */
  private activeCollateral: { asset: number; keepBps: number }[] | undefined;

  /** The account's margin figures; `extra` adds an order not yet placed. */
  figures(accountId: number, extra?: { instrument: number; side: number; price: number; qty: number; reduceOnly?: boolean }, spend?: { asset: number; amount: number }): { equity: number; im: number; mm: number; upnl: number; collateral: number; limitExceeded: boolean; openLoss: number } {
    const a = this.accounts.get(accountId);
    const collateral = this.collateralValue(accountId, spend);
    let upnl = 0;
    let im = 0;
    let mm = 0;
    let limitExceeded = false;
    let openLoss = 0;
    const instruments = new Set<number>();
    if (a) {
      for (const id of a.positions.keys()) instruments.add(id);
      for (const id of a.orders.keys()) instruments.add(id);
    }
    if (extra) instruments.add(extra.instrument);
    for (const id of instruments) {
      const product = this.products.get(id)!;
      const pos = a?.positions.get(id);
      const r = a?.orders.get(id);
      const s = pos?.size ?? 0;
      let buyQty = r?.buyQty ?? 0;
      let buyN = r?.buyNotional ?? 0;
      let sellQty = r?.sellQty ?? 0;
      let sellN = r?.sellNotional ?? 0;
      let reduceBuy = r?.reduceBuy ?? 0;
      let reduceSell = r?.reduceSell ?? 0;
      if (extra && extra.instrument === id) {
        const n = notionalUp(extra.qty, extra.price, product.unit);
        if (extra.reduceOnly) {
          if (extra.side === 0) reduceBuy += extra.qty; else reduceSell += extra.qty;
        } else if (extra.side === 0) { buyQty += extra.qty; buyN += n; } else { sellQty += extra.qty; sellN += n; }
      }
      const m = product.mark;
      if (s !== 0) {
        upnl += valueAt(s, m, product.unit) - pos!.cost;
        mm += maintenanceMargin(product.p.tiers, notionalUp(s, m, product.unit));
      }
      // Reduce-only orders count too: beside ordinary orders of their side they could carry the position past zero.
      const worst = Math.max(Math.abs(s + buyQty + reduceBuy), Math.abs(s - sellQty - reduceSell));
      const worstNotional = notionalUp(worst, m, product.unit);
      if (tierOf(product.p.tiers, worstNotional) === undefined) limitExceeded = true;
      im += initialMargin(product.p.tiers, worstNotional);
      // An order that would buy above the mark (or sell below) loses that much the moment it fills.
      // Netted per side: a new order's own loss is charged in full when it is checked (see checkOrder).
      openLoss += Math.max(0, buyN - mulDiv(buyQty, m, product.unit, false)) + Math.max(0, mulDiv(sellQty, m, product.unit, true) - sellN);
    }
    return { equity: collateral + upnl - (a?.owed ?? 0), im: im + openLoss, mm, upnl, collateral, limitExceeded, openLoss };
  }

  /** Whether the account has perp positions or open perp orders, or owes the clearing account (then its collateral is spoken for). */
  exposed(accountId: number): boolean {
    const a = this.accounts.get(accountId);
    return a !== undefined && (a.positions.size > 0 || a.orders.size > 0 || a.owed > 0);
  }

  /**
   * A spot hold or withdrawal of `amount` of `asset` by an account with perp exposure: refused
   * when it would leave its initial margin uncovered.
   */
  spendRefusal(accountId: number, asset: number, amount: number): Refusal | undefined {
    if (!this.exposed(accountId)) return undefined;
    const entry = this.collateral.get(this.ledger.assets[asset].code);
    if (!entry || entry.status !== 'active') return undefined;
    const f = this.figures(accountId, undefined, { asset, amount });
    if (f.equity - f.im >= 0) return undefined;
    return [NodeReject.InsufficientMargin, `it would leave ${f.equity - f.im} of initial margin uncovered (equity would be ${f.equity}, initial margin ${f.im})`];
  }

  /**
   * The pre-trade check of a perp order (PERP-2, 3, 4, 5): a position may open or grow only for a
   * qualifying participant, on a sound index, within the position limit, with its initial margin
   * (positions and open orders at the mark) fully covered by received collateral. An order that
   * cannot grow the requirement (it only reduces) passes those. A reduce-only order must shrink the
   * position: its quantity is trimmed to what is left to reduce (the returned quantity).
   */
  checkOrder(accountId: number, instrument: number, side: number, price: number, qty: number, reduceOnly: boolean, ts: number): Refusal | number {
    const product = this.products.get(instrument)!;
    const account = this.ledger.accounts.get(accountId)!;
    // A venue client's collateral sits in its venue's custody, outside what settles perps here.
    if (account.holdsIn !== undefined || account.venue !== undefined) return [NodeReject.InstrumentNotEnabled, 'perpetual contracts are not offered to venue clients'];
    // The house never holds a position: it could be the other side of a liquidation or of an AFMM.
    if (account.kind !== AccountKind.Client) return [NodeReject.AccountCannotTrade, 'perpetual contracts are for client accounts'];
    const a = this.accounts.get(accountId);
    const size = a?.positions.get(instrument)?.size ?? 0;
    if (reduceOnly) {
      const r = a?.orders.get(instrument);
      const reducing = side === 0 ? -size : size;
      const pending = side === 0 ? r?.reduceBuy ?? 0 : r?.reduceSell ?? 0;
      const room = reducing - pending;
      const lot = product.terms.lotSize;
      const fit = Math.floor(Math.min(qty, room) / lot) * lot;
      if (fit <= 0) {
        return [NodeReject.ReduceOnly, reducing <= 0
          ? `a reduce-only ${side === 0 ? 'buy' : 'sell'} would not reduce the position (${size})`
          : `the position (${size}) is already covered by open reduce-only orders (${pending})`];
      }
      qty = fit;
    }
    const { before, after, im } = this.withOrder(accountId, instrument, side, price === 0 ? product.mark : price, qty, reduceOnly);
    if (im <= before.im) return qty;
    const gate = this.gateRefusal(account.participant, ts);
    if (gate) return [NodeReject.NotProfessionalInvestor, gate];
    if (product.degraded) return [NodeReject.IndexDegraded, `${product.p.symbol}'s index has fewer than ${product.p.minSources} usable price sources: positions may not open or grow`];
    if (after.limitExceeded) return [NodeReject.PositionLimit, `the position could pass ${product.p.symbol}'s largest margin tier (${product.p.tiers[product.p.tiers.length - 1].notionalMax})`];
    const available = after.equity - im;
    if (available < 0) return [NodeReject.InsufficientMargin, `initial margin ${im} would exceed equity ${after.equity} by ${-available}`];
    return qty;
  }

  /**
   * An open perp order's reservation follows its remaining quantity and limit (called after any
   * change; `open` false once it closed). An admitted amend reserves what it will make of the order
   * at once (`as`), so later commands of the batch are checked against it; its Amended event or its
   * reject sets the reservation back to what the order is.
   */
  reserve(o: PerpOrder, open: boolean, as?: { qty: number; limit: number }): void {
    const rq = o.rq ?? 0;
    const remaining = as ? as.qty : open ? o.remaining : 0;
    const limit = as ? as.limit : o.limit;
    if (rq === remaining && o.rl === limit) return;
    const a = this.account(o.account);
    let r = a.orders.get(o.instrument);
    if (!r) {
      r = emptyReservation();
      a.orders.set(o.instrument, r);
    }
    const product = this.products.get(o.instrument)!;
    if (o.reduceOnly) {
      if (o.side === 0) r.reduceBuy += remaining - rq; else r.reduceSell += remaining - rq;
      if (remaining === 0) a.reduceOnly.delete(o.id); else a.reduceOnly.add(o.id);
    } else {
      const dn = notionalUp(remaining, limit, product.unit) - notionalUp(rq, o.rl ?? limit, product.unit);
      if (o.side === 0) { r.buyQty += remaining - rq; r.buyNotional += dn; } else { r.sellQty += remaining - rq; r.sellNotional += dn; }
    }
    o.rq = remaining;
    o.rl = limit;
    if (r.buyQty === 0 && r.sellQty === 0 && r.reduceBuy === 0 && r.reduceSell === 0) a.orders.delete(o.instrument);
    this.noteChange(a);
  }

  private noteChange(a: PerpAccount): void {
    this.dirty.add(a.id);
    this.touched.add(a.id);
    if (a.positions.size === 0 && a.orders.size === 0 && a.owed === 0 && a.reduceOnly.size === 0) this.accounts.delete(a.id);
  }

  // ---- money: what an account pays and receives in the settlement asset ----

  /** The account pays `amount` to `to`: from its available settlement balance, the rest paid by the clearing account and owed to it. */
  pay(seq: number, cause: Cause, a: PerpAccount, to: number, amount: number): void {
    if (amount <= 0) return;
    const available = this.ledger.balance(a.id, this.settle).available;
    const paid = Math.max(0, Math.min(available, amount));
    if (paid > 0) this.ledger.post(seq, cause, this.settle, a.id, Bucket.Available, to, Bucket.Available, paid);
    const short = amount - paid;
    if (short > 0) {
      if (to !== this.clearing) this.ledger.post(seq, cause, this.settle, this.clearing, Bucket.Available, to, Bucket.Available, short);
      a.owed += short;
    }
  }

  /** The account receives `amount` from `from`, what it owes the clearing account repaid first. */
  receive(seq: number, cause: Cause, a: PerpAccount, from: number, amount: number): void {
    if (amount <= 0) return;
    const repay = Math.min(a.owed, amount);
    a.owed -= repay;
    if (repay > 0 && from !== this.clearing) this.ledger.post(seq, cause, this.settle, from, Bucket.Available, this.clearing, Bucket.Available, repay);
    if (amount > repay) this.ledger.post(seq, cause, this.settle, from, Bucket.Available, a.id, Bucket.Available, amount - repay);
  }

  /** A fee on a perp fill (negative: a rebate), in the settlement asset. */
  fee(seq: number, accountId: number, fee: number): void {
    const a = this.account(accountId);
    if (fee > 0) this.pay(seq, Cause.Fee, a, this.feesAccount, fee);
    else this.receive(seq, Cause.Rebate, a, this.feesAccount, -fee);
    this.noteChange(a);
  }

  // ---- fills (PERP-5, PERP-11) ----

  /** A fill on a perp: both positions change; what a reduction realizes is paid through the clearing account. */
  fill(seq: number, buyer: number, seller: number, instrument: number, price: number, qty: number, notional: number): void {
    const product = this.products.get(instrument)!;
    product.lastTrade = price;
    this.transfer(seq, product, buyer, seller, qty, notional);
  }

  /**
   * An amend of a perp order is checked as the order it would become: the same checks as a new
   * order, against everything else the account holds and has open.
   */
  amendRefusal(o: PerpOrder, price: number, qty: number, ts: number): Refusal | undefined {
    const was = { qty: o.rq ?? o.remaining, limit: o.rl ?? o.limit };
    this.reserve(o, false);
    const r = this.checkOrder(o.account, o.instrument, o.side, price, qty, o.reduceOnly === true, ts);
    const refusal: Refusal | undefined = typeof r !== 'number' ? r
      : r < qty ? [NodeReject.ReduceOnly, `a reduce-only order may be at most ${r} now (what is left to reduce)`] : undefined;
    this.reserve(o, true, refusal ? was : { qty, limit: price });
    return refusal;
  }

  trade(seq: number, product: Product, a: PerpAccount, delta: number, deltaCost: number): void {
    const id = product.p.instrument;
    let pos = a.positions.get(id);
    if (!pos) {
      pos = { instrument: id, size: 0, cost: 0, realized: 0, funding: 0 };
      a.positions.set(id, pos);
      product.holders.add(a.id);
      if (a.positions.size > 1) this.multi.add(a.id);
    }
    const before = pos.size;
    if (before === 0 || Math.sign(before) === Math.sign(delta)) {
      pos.size += delta;
      pos.cost += deltaCost;
    } else {
      const closing = Math.min(Math.abs(delta), Math.abs(before));
      // The entry cost of the part closed, rounded against the client (a long's up, a short's proceeds down).
      const part = before > 0 ? mulDiv(pos.cost, closing, before, true) : mulDiv(-pos.cost, closing, -before, false);
      const closeNotional = mulDiv(Math.abs(deltaCost), closing, Math.abs(delta), false);
      const realized = before > 0 ? closeNotional - part : part - closeNotional;
      pos.cost += before > 0 ? -part : part;
      pos.size += before > 0 ? -closing : closing;
      const rest = Math.abs(delta) - closing;
      if (pos.size === 0 && pos.cost !== 0) throw new Error(`position ${a.id}/${id} closed with cost ${pos.cost} left`);
      if (rest > 0) {
        // The fill turned the position around: the rest opens it the other way at the fill's price.
        const restCost = Math.abs(deltaCost) - closeNotional;
        pos.size = Math.sign(delta) * rest;
        pos.cost = Math.sign(delta) * restCost;
      }
      pos.realized += realized;
      if (realized > 0) this.receive(seq, Cause.RealizedPnl, a, this.clearing, realized);
      else this.pay(seq, Cause.RealizedPnl, a, this.clearing, -realized);
    }
    product.openInterest += Math.max(0, pos.size) - Math.max(0, before);
    if (pos.size === 0) {
      a.positions.delete(id);
      product.holders.delete(a.id);
      if (a.positions.size <= 1) this.multi.delete(a.id);
    }
    // Only an account with reduce-only orders has anything to check when its position changes.
    if (a.reduceOnly.size > 0) this.positionChanged.add(a.id);
    this.noteChange(a);
  }

  /** A spot instrument traded: the book source of the products that use it. */
  traded(instrument: number, price: number, ts: number): void {
    const products = this.bookSources.get(instrument);
    if (products) for (const product of products) product.prices.set('book', { price, ts, sourceTs: ts });
  }

  // ---- prices (PERP-3) ----

  /** A price source's update. */
  price(c: PriceCommand, ts: number): Refusal | undefined {
    if (!Number.isSafeInteger(c.price) || c.price <= 0) return [NodeReject.InvalidPrice, `price ${c.price} must be a positive whole number of quote units`];
    const products = this.byUnderlying.get(c.underlying);
    if (!products) return [NodeReject.UnknownPriceSource, `no perpetual product has the index ${JSON.stringify(c.underlying)}`];
    if (!products.some((x) => x.p.sources.some((s) => s.keyId === c.source))) return [NodeReject.UnknownPriceSource, `key ${c.source} is not a price source of the ${c.underlying} index`];
    if (!Number.isSafeInteger(c.sourceTs) || Math.abs(c.sourceTs - ts) > SOURCE_SKEW_US) {
      return [NodeReject.StalePrice, `the source's time is ${Math.round((c.sourceTs - ts) / 1000)} ms from the node's (at most ${SOURCE_SKEW_US / 1000} ms)`];
    }
    const key = `${c.source}|${c.underlying}`;
    const last = this.lastSourceTs.get(key) ?? 0;
    if (c.sourceTs <= last) return [NodeReject.StalePrice, `the update is not newer than the source's last (${last} µs)`];
    this.lastSourceTs.set(key, c.sourceTs);
    for (const product of products) {
      const s = product.p.sources.find((x) => x.keyId === c.source);
      if (s) product.prices.set(s.id, { price: c.price, ts, sourceTs: c.sourceTs });
    }
    return undefined;
  }

  /** The next time the clock must reach the pipeline (a premium sample or a funding time), µs; 0 if none. */
  nextDueUs(): number {
    let next = 0;
    for (const product of this.products.values()) {
      for (const t of [product.nextSampleUs, product.nextFundingUs]) if (t > 0 && (next === 0 || t < next)) next = t;
    }
    return next;
  }

  /** The sequencer's time reached `ts`: premium samples and funding that fell due. */
  advance(seq: number, ts: number): void {
    for (const product of this.products.values()) {
      const intervalUs = product.p.fundingIntervalMin * MINUTE_US;
      if (product.nextSampleUs === 0) {
        product.nextSampleUs = (Math.floor(ts / MINUTE_US) + 1) * MINUTE_US;
        product.nextFundingUs = (Math.floor(ts / intervalUs) + 1) * intervalUs;
        continue;
      }
      if (ts >= product.nextSampleUs) {
        // One sample per minute reached (minutes the node was down are not made up).
        this.sample(product);
        product.nextSampleUs = (Math.floor(ts / MINUTE_US) + 1) * MINUTE_US;
      }
      if (ts >= product.nextFundingUs) {
        this.fund(seq, product, product.nextFundingUs);
        product.nextFundingUs = (Math.floor(ts / intervalUs) + 1) * intervalUs;
      }
    }
  }

  private impact(product: Product): [number, number] {
    const levels = 64;
    const bid = impactPrice(this.core.depth(product.p.instrument, 0, levels), product.p.impactNotional, product.unit);
    const ask = impactPrice(this.core.depth(product.p.instrument, 1, levels), product.p.impactNotional, product.unit);
    return [bid, ask];
  }

  private sample(product: Product): void {
    if (product.index === 0) return;
    const [bid, ask] = this.impact(product);
    product.premiumSum += premiumE8(bid, ask, product.index);
    product.premiumCount++;
    if (bid > 0 && ask > 0) {
      product.basis.push(Math.floor((bid + ask) / 2) - product.index);
      if (product.basis.length > product.p.basisMinutes) product.basis.shift();
    }
  }

  /** Funding at `at`: longs pay shorts (or shorts longs) notional at mark × rate; payers round up, receivers down, the residual to its account. */
  private fund(seq: number, product: Product, at: number): void {
    const rate = fundingRateE8(product.p, product.premiumSum, product.premiumCount);
    product.premiumSum = 0;
    product.premiumCount = 0;
    product.lastRateE8 = rate;
    const record: FundingRecord = { ts: at, rateE8: rate, mark: product.mark, index: product.index, paid: 0, received: 0, residual: 0, positions: 0 };
    if (rate !== 0) {
      const holders = [...product.holders].sort((x, y) => x - y);
      const magnitude = Math.abs(rate);
      // Payers first: the clearing account collects before it pays out.
      for (const pass of [0, 1]) {
        for (const id of holders) {
          const a = this.accounts.get(id)!;
          const pos = a.positions.get(product.p.instrument)!;
          const pays = (pos.size > 0) === (rate > 0);
          if (pays !== (pass === 0)) continue;
          // Payers' notional rounds up and receivers' down, so receivers never get more than payers pay.
          const notional = pays ? notionalUp(pos.size, product.mark, product.unit) : mulDiv(Math.abs(pos.size), product.mark, product.unit, false);
          if (pays) {
            const amount = mulDiv(notional, magnitude, RATE_ONE, true);
            this.pay(seq, Cause.Funding, a, this.clearing, amount);
            pos.funding -= amount;
            record.paid += amount;
          } else {
            const amount = mulDiv(notional, magnitude, RATE_ONE, false);
            this.receive(seq, Cause.Funding, a, this.clearing, amount);
            pos.funding += amount;
            record.received += amount;
          }
          record.positions++;
          this.noteChange(a);
        }
      }
      record.residual = record.paid - record.received;
      if (record.residual < 0) throw new Error(`funding at ${at} would pay out ${-record.residual} more than it collects`);
      if (record.residual > 0) this.ledger.post(seq, Cause.FundingResidual, this.settle, this.clearing, Bucket.Available, this.residual, Bucket.Available, record.residual);
    }
    product.history.push(record);
    if (product.history.length > FUNDING_HISTORY_MAX) product.history.shift();
    this.markChanged.add(product.p.instrument);
  }

  /** The predicted funding rate of the current interval (1e-8). */
  predictedRate(product: Product): number {
    return fundingRateE8(product.p, product.premiumSum, product.premiumCount);
  }

  /** After a batch: index and mark of every product at `ts`, and re-margin where the mark moved. */
  reprice(ts: number): void {
    this.now = ts;
    const level = this.fundLevel();
    if (this.fundHistory.length === 0 || this.fundHistory[this.fundHistory.length - 1].level !== level) {
      this.fundHistory.push({ ts, level });
      if (this.fundHistory.length > FUND_HISTORY_MAX) this.fundHistory.shift();
    }
    for (const product of this.products.values()) {
      const r = computeIndex(product.p, product.prices, ts, product.index);
      product.index = r.index;
      product.degraded = r.degraded;
      product.contributions = r.contributions;
      if (r.index === 0) continue;
      const intervalUs = product.p.fundingIntervalMin * MINUTE_US;
      const left = product.nextFundingUs > ts ? product.nextFundingUs - ts : intervalUs;
      const basis = product.basis.length > 0 ? Math.trunc(product.basis.reduce((s, b) => s + b, 0) / product.basis.length) : 0;
      product.inputs = {
        index: r.index,
        fundingBasis: fundingBasis(r.index, this.predictedRate(product), left, intervalUs),
        // With no sample yet the basis is taken as 0 (the input is the index): never a missing input,
        // which would leave the median of two — the average — open to a wick in the last trade.
        movingBasis: r.index + basis,
        lastTrade: product.lastTrade,
      };
      let mark = rawMark(product.inputs);
      const window = Math.floor(ts / (product.p.markWindowMs * 1000));
      if (window !== product.markWindow) {
        product.markWindow = window;
        product.markRef = product.mark > 0 ? product.mark : mark;
      }
      const [lo, hi] = markBounds(product.markRef, product.p.markBandBps);
      product.clamped = mark < lo || mark > hi;
      mark = Math.min(hi, Math.max(lo, mark));
      if (mark !== product.mark) {
        const old = product.mark;
        product.mark = mark;
        this.markChanged.add(product.p.instrument);
        this.remargin(product, old, mark);
      }
    }
    if (this.dirty.size > 0) {
      // Checking what the move (or the batch) put in doubt is part of re-margining: timed with it.
      const started = performance.now();
      this.checkDirty();
      this.remarginUs += (performance.now() - started) * 1000;
    }
  }

  // ---- re-margining (PERP-7) ----

  /** Whether an account is below maintenance margin now; keeps atRisk. */
  check(id: number): void {
    // An account with nothing open and owing nothing has no maintenance to fall below.
    if (!this.accounts.has(id)) {
      this.atRisk.delete(id);
      return;
    }
    const q = this.quick(id);
    if (q.mm > 0 && q.equity < q.mm) this.atRisk.add(id);
    else this.atRisk.delete(id);
  }

  private readonly quickFigures = { equity: 0, mm: 0 };

  /** Equity and maintenance margin (one reused object: read it at once); the common case — one position, no orders — without figures()'s generality. */
  quick(id: number): { equity: number; mm: number } {
    const a = this.accounts.get(id);
    const out = this.quickFigures;
    if (a !== undefined && a.orders.size === 0 && a.positions.size === 1) {
      const pos: Position = a.positions.values().next().value!;
      const product = this.products.get(pos.instrument)!;
      out.equity = this.collateralValue(id) + valueAt(pos.size, product.mark, product.unit) - pos.cost - a.owed;
      out.mm = maintenanceMargin(product.p.tiers, notionalUp(pos.size, product.mark, product.unit));
    } else {
      const f = this.figures(id);
      out.equity = f.equity;
      out.mm = f.mm;
    }
    return out;
  }

  /** Accounts changed in the batch (their liquidation prices may have moved): checked, and their index entries moved. */
  private checkDirty(): void {
    let deferred: number[] | undefined;
    for (const id of this.dirty) {
      this.check(id);
      // One at risk is about to be liquidated (and changed again): its entry waits, and it stays
      // in doubt — checked in every batch — until it is safe and indexed.
      if (this.atRisk.has(id)) (deferred ??= []).push(id);
      else this.index(id, this.quickFigures); // check() left the account's figures there
    }
    this.dirty.clear();
    if (deferred) for (const id of deferred) this.dirty.add(id);
  }

  /** Each account's index entry: its product and the buckets of its interval's ends. */
  private readonly entries = new Map<number, { product: Product; low: number | undefined; high: number }>();

  /**
   * Moves an account's entry in the re-margin index to where its interval is now (or out of it);
   * `figures`, when given, are its quick() figures as they stand.
   */
  private index(id: number, figures?: { equity: number; mm: number }): void {
    const old = this.entries.get(id);
    if (old) {
      if (old.low !== undefined) leave(old.product.lows, old.low, id);
      leave(old.product.highs, old.high, id);
      this.entries.delete(id);
    }
    const a = this.accounts.get(id);
    if (!a || a.positions.size !== 1) return; // none, or several: checked on every mark change (multi)
    const product = this.products.get(a.positions.keys().next().value!)!;
    const v = this.positionLiquidation(id, product, figures ?? this.quick(id));
    const tier = tierOf(product.p.tiers, notionalUp(v.size, product.mark, product.unit));
    // Above the tier's largest notional, maintenance jumps to the next tier's rate.
    const boundary = tier === undefined ? product.mark : Math.floor((tier.notionalMax * product.unit) / Math.abs(v.size));
    const low = v.size > 0 ? Math.floor(v.price / product.bucket) : undefined;
    const high = Math.floor((v.size > 0 ? boundary : Math.min(v.price, boundary)) / product.bucket);
    if (low !== undefined) bucketOf(product.lows, low).add(id);
    bucketOf(product.highs, high).add(id);
    this.entries.set(id, { product, low, high });
  }

  /** Rebuilds every product's re-margin index from the accounts as they are. */
  reindex(): void {
    this.entries.clear();
    for (const product of this.products.values()) {
      product.lows.clear();
      product.highs.clear();
      product.bucket = Math.max(1, Math.floor((product.mark * BUCKET_BPS) / BPS_ONE));
    }
    for (const id of this.accounts.keys()) this.index(id);
    this.dirty.clear();
  }

  private positionLiquidation(id: number, product: Product, f: { equity: number; mm: number }): { size: number; price: number } {
    const a = this.accounts.get(id)!;
    const pos = a.positions.get(product.p.instrument)!;
    const notional = notionalUp(pos.size, product.mark, product.unit);
    const own = maintenanceMargin(product.p.tiers, notional);
    const tier = tierOf(product.p.tiers, notional) ?? product.p.tiers[product.p.tiers.length - 1];
    return { size: pos.size, price: liquidationPrice(pos.size, product.mark, product.unit, f.equity, f.mm - own, tier.mmBps) };
  }

  /**
   * The mark moved from `from` to `to`: only accounts whose safe interval has an end between them (by
   * the index), those changed since it was built (checked after every batch) and those on several
   * products can have crossed maintenance margin, either way. Each is checked exactly.
   */
  private remargin(product: Product, from: number, to: number): void {
    const started = performance.now();
    const lo = Math.min(from, to);
    const hi = Math.max(from, to);
    let checked = 0;
    const first = Math.floor(lo / product.bucket);
    const last = Math.floor(hi / product.bucket);
    for (const buckets of [product.lows, product.highs]) {
      // Each is checked, and its entry moved (checkDirty, right after): an account the move did not
      // take below maintenance may still have left its interval, whose ends must follow it.
      const visit = (accounts: Set<number>) => {
        for (const id of accounts) {
          this.dirty.add(id);
          checked++;
        }
      };
      // Walk the crossed buckets, or the occupied ones when they are fewer.
      if (last - first + 1 <= buckets.size) {
        for (let k = first; k <= last; k++) {
          const accounts = buckets.get(k);
          if (accounts) visit(accounts);
        }
      } else {
        for (const [k, accounts] of buckets) if (k >= first && k <= last) visit(accounts);
      }
    }
    // Accounts at risk need no pass of their own: one the mark leaves lies in the range too.
    for (const id of this.multi) { this.dirty.add(id); checked++; }
    this.remarginChecked += checked;
    this.remarginUs += (performance.now() - started) * 1000;
  }

  // ---- reduce-only ----

  /** Reduce-only orders that could no longer only reduce (the position shrank or turned): newest first, to cancel. */
  reduceOnlyExcess(): number[] {
    const out: number[] = [];
    for (const id of this.positionChanged) {
      const a = this.accounts.get(id);
      if (!a || a.reduceOnly.size === 0) continue;
      for (const instrument of new Set([...a.reduceOnly].map((o) => this.orders.get(o)!.instrument))) {
        const size = a.positions.get(instrument)?.size ?? 0;
        for (const side of [0, 1]) {
          let room = Math.max(0, side === 0 ? -size : size);
          const mine = [...a.reduceOnly].map((o) => this.orders.get(o)!).filter((o) => o.instrument === instrument && o.side === side).sort((x, y) => x.id - y.id);
          for (const o of mine) {
            if (o.remaining <= room) room -= o.remaining;
            else { out.push(o.id); room = 0; }
          }
        }
      }
    }
    this.positionChanged.clear();
    return out;
  }

  /**
   * The waterfall on every account at risk (PERP-6), after the batch's own commands; its reports and
   * notices are kept. Rounds repeat while deleveraging leaves others at risk (a few at most).
   */
  liquidate(ops: import('./liquidation.js').WaterfallOps, seq: number, ts: number): void {
    // The batch's notices before the waterfall (the fund moved by its commands) are kept already.
    const noticesBefore = this.waterfall.notices.length;
    for (let round = 0; round < 4 && this.atRisk.size > 0; round++) {
      const targets = [...this.atRisk].sort((x, y) => x - y);
      this.waterfall.run(targets, ops, seq, ts);
      // Who the waterfall touched (counterparties, providers, accounts whose cancelled orders freed
      // their holds) is checked now, its index entry moved.
      this.ledger.pending.forEachSide((account) => this.noteLedger(account));
      this.checkDirty();
    }
    // Only the last LIQUIDATION_LOG_MAX steps are kept: a crash's tens of thousands are not all copied.
    const steps = this.waterfall.steps;
    for (let i = Math.max(0, steps.length - LIQUIDATION_LOG_MAX); i < steps.length; i++) {
      const x = steps[i];
      this.liquidationLog.push({ stage: x.stage, account: x.account, instrument: x.instrument, side: x.side, qty: x.qty, price: x.price, amount: x.amount, seq, ts });
    }
    if (this.liquidationLog.length > LIQUIDATION_LOG_MAX) this.liquidationLog.splice(0, this.liquidationLog.length - LIQUIDATION_LOG_MAX);
    for (const r of this.waterfall.reports) this.reports.push(r);
    for (let i = noticesBefore; i < this.waterfall.notices.length; i++) this.notices.push(this.waterfall.notices[i]);
    if (this.reports.length > REPORTS_KEPT) this.reports.splice(0, this.reports.length - REPORTS_KEPT);
    if (this.notices.length > REPORTS_KEPT) this.notices.splice(0, this.notices.length - REPORTS_KEPT);
  }

  /** A ledger posting touched an account's balance: if it has perp exposure, its margin is re-checked. */
  noteLedger(account: number): void {
    if (this.accounts.has(account)) this.dirty.add(account);
    else if (account === this.residual) this.fundMoved = true;
  }

  /** The insurance fund's balance moved in the batch (a deposit, a withdrawal, funding's residual). */
  private fundMoved = false;

  /**
   * After a batch's waterfall (if any): a fund moved by anything else — an operator's withdrawal or
   * top-up — is depleted or restored now, and says so (PERP-8), not at the next liquidation. A fund
   * never funded stays as it started until a waterfall needs it.
   */
  followFund(seq: number, ts: number): void {
    if (!this.fundMoved) return;
    this.fundMoved = false;
    if (!this.waterfall.followFund(seq, ts)) return;
    this.notices.push(this.waterfall.notices[this.waterfall.notices.length - 1]);
    if (this.notices.length > REPORTS_KEPT) this.notices.splice(0, this.notices.length - REPORTS_KEPT);
  }

  /** Starts a batch: what the last one noted for the gateways is cleared. */
  beginBatch(): void {
    this.markChanged.clear();
    this.touched.clear();
    this.waterfall.beginBatch();
    this.remarginUs = 0;
    this.remarginChecked = 0;
  }

  // ---- operators (PERP-2, 3, 4) ----

  apply(body: unknown, operator: number, ts: number): Refusal | undefined {
    let action: PerpAction;
    try {
      action = checkPerpAction(body);
      switch (action.action) {
        case 'investor.assess': {
          if (!this.ledger.participants.has(action.participant)) return [NodeReject.InvalidAdminCommand, `no participant ${action.participant}`];
          const { action: _, ...rest } = action;
          this.assessments.set(action.participant, { ...rest, operator, recordedAt: ts });
          return undefined;
        }
        case 'backstop.set': {
          const account = this.ledger.accounts.get(action.backstop.account);
          // The house never takes the other side of a liquidation: only clients may commit.
          if (!account || account.kind !== AccountKind.Client) return [NodeReject.InvalidAdminCommand, `account ${action.backstop.account} is not a client account: only clients may be backstop providers`];
          if (account.venue !== undefined) return [NodeReject.InvalidAdminCommand, `account ${action.backstop.account} is a venue client: its collateral is outside what settles perps here`];
          const gate = this.gateRefusal(account.participant, ts);
          if (gate && action.backstop.status === 'active') return [NodeReject.InvalidAdminCommand, `a backstop provider takes on positions: ${gate}`];
          this.backstops.set(action.backstop.account, { ...action.backstop });
          return undefined;
        }
        case 'collateral.set': {
          if (!this.ledger.assetIndex.has(action.entry.asset)) return [NodeReject.UnknownAsset, `no asset ${action.entry.asset}`];
          this.collateral.set(action.entry.asset, action.entry);
          this.activeCollateral = undefined;
          for (const id of this.accounts.keys()) this.dirty.add(id);
          return undefined;
        }
        case 'perp.set': {
          const product = this.products.get(action.instrument);
          if (!product) return [NodeReject.UnknownInstrument, `instrument ${action.instrument} is not a perpetual product`];
          const next = changedProduct(product.p, action.changes);
          if (next.bookInstrument !== product.p.bookInstrument) return [NodeReject.InvalidAdminCommand, 'bookInstrument cannot change'];
          if (next.fundingIntervalMin !== product.p.fundingIntervalMin) {
            const intervalUs = next.fundingIntervalMin * MINUTE_US;
            product.nextFundingUs = (Math.floor(ts / intervalUs) + 1) * intervalUs;
          }
          product.p = next;
          for (const id of product.holders) this.dirty.add(id);
          return undefined;
        }
      }
    } catch (e) {
      if (e instanceof AdminError) return [NodeReject.InvalidAdminCommand, e.message];
      throw e;
    }
  }

  // ---- views ----

  accountView(id: number): AccountView {
    const a = this.accounts.get(id);
    const f = this.figures(id);
    const positions: PositionView[] = [];
    for (const pos of a?.positions.values() ?? []) {
      const product = this.products.get(pos.instrument)!;
      const notional = notionalUp(pos.size, product.mark, product.unit);
      positions.push({
        instrument: pos.instrument, symbol: product.p.symbol, size: pos.size,
        entryPrice: Math.round((Math.abs(pos.cost) * product.unit) / Math.abs(pos.size)), mark: product.mark, notional,
        unrealizedPnl: valueAt(pos.size, product.mark, product.unit) - pos.cost, realizedPnl: pos.realized, funding: pos.funding,
        initialMargin: initialMargin(product.p.tiers, notional), maintenanceMargin: maintenanceMargin(product.p.tiers, notional),
        liquidationPrice: this.positionLiquidation(id, product, this.quick(id)).price,
        adlRank: this.adlRanks(pos.instrument).get(id) ?? 1,
      });
    }
    return {
      account: id, collateral: f.collateral, unrealizedPnl: f.upnl, owed: a?.owed ?? 0, equity: f.equity, initialMargin: f.im, maintenanceMargin: f.mm,
      available: f.equity - f.im, marginRatioBps: f.mm === 0 ? 0 : f.equity <= 0 ? Number.MAX_SAFE_INTEGER : mulDiv(f.mm, BPS_ONE, f.equity, true), positions,
    };
  }

  marketView(instrument: number): MarketView {
    const product = this.products.get(instrument)!;
    return {
      instrument, symbol: product.p.symbol, underlying: product.p.underlying, mark: product.mark, index: product.index, degraded: product.degraded,
      contributions: product.contributions, inputs: product.inputs, clamped: product.clamped, markBand: markBounds(product.markRef, product.p.markBandBps),
      lastRateE8: product.lastRateE8, predictedRateE8: this.predictedRate(product), nextFundingUs: product.nextFundingUs,
      fundingIntervalMin: product.p.fundingIntervalMin, openInterest: product.openInterest, lastTrade: product.lastTrade,
    };
  }

  fundingHistory(instrument: number): FundingRecord[] {
    return [...(this.products.get(instrument)?.history ?? [])];
  }

  // ---- invariants and state ----

  /** Σ sizes is 0 per product; open interest is Σ longs; clearing + Σ owed + Σ entry cost = 0. */
  checkInvariants(): void {
    if (!this.active) return;
    let owedAndCost = 0;
    const sums = new Map<number, [number, number]>();
    for (const a of this.accounts.values()) {
      if (a.owed < 0) throw new Error(`account ${a.id} owes ${a.owed}`);
      owedAndCost += a.owed;
      for (const pos of a.positions.values()) {
        owedAndCost += pos.cost;
        const s = sums.get(pos.instrument) ?? [0, 0];
        s[0] += pos.size;
        if (pos.size > 0) s[1] += pos.size;
        sums.set(pos.instrument, s);
      }
    }
    for (const [id, product] of this.products) {
      const [net, longs] = sums.get(id) ?? [0, 0];
      if (net !== 0) throw new Error(`${product.p.symbol}: positions add up to ${net}, not 0`);
      if (longs !== product.openInterest) throw new Error(`${product.p.symbol}: open interest ${product.openInterest} but longs add up to ${longs}`);
    }
    const clearing = this.ledger.balanceOf(this.clearing * 4096 + this.settle).available;
    if (clearing + owedAndCost !== 0) throw new Error(`perps clearing ${clearing} + owed and entry costs ${owedAndCost} is not 0`);
  }

  state(): PerpsState {
    return {
      products: [...this.products.values()].map((x) => ({
        p: x.p, prices: [...x.prices], index: x.index, mark: x.mark, markRef: x.markRef, markWindow: x.markWindow, lastTrade: x.lastTrade,
        premiumSum: x.premiumSum, premiumCount: x.premiumCount, basis: [...x.basis], nextSampleUs: x.nextSampleUs, nextFundingUs: x.nextFundingUs,
        lastRateE8: x.lastRateE8, history: [...x.history],
      })),
      accounts: [...this.accounts.values()].filter((a) => a.positions.size > 0 || a.owed !== 0).map((a) => ({ id: a.id, owed: a.owed, positions: [...a.positions.values()].map((p) => ({ ...p })) })),
      assessments: [...this.assessments.values()],
      collateral: [...this.collateral.values()],
      lastSourceTs: [...this.lastSourceTs],
      backstops: [...this.backstops.values()].map((b) => ({ ...b })),
      reports: [...this.reports],
      notices: [...this.notices],
      fundHistory: this.fundHistory.map((x) => ({ ...x })),
      liquidationLog: this.liquidationLog.map((x) => ({ ...x })),
      depleted: this.waterfall.depleted,
      liquidationOrders: this.liquidationOrders,
    };
  }

  /** Restores what state() wrote; open orders' reservations are rebuilt from the pipeline's orders. */
  restoreState(state: PerpsState | undefined, openOrders: Iterable<PerpOrder>): void {
    if (!state) return;
    for (const s of state.products) {
      const x = this.products.get(s.p.instrument);
      if (!x) continue;
      Object.assign(x, {
        p: s.p, prices: new Map(s.prices), index: s.index, mark: s.mark, markRef: s.markRef, markWindow: s.markWindow, lastTrade: s.lastTrade,
        premiumSum: s.premiumSum, premiumCount: s.premiumCount, basis: [...s.basis], nextSampleUs: s.nextSampleUs, nextFundingUs: s.nextFundingUs,
        lastRateE8: s.lastRateE8, history: [...s.history], openInterest: 0, holders: new Set<number>(),
      });
    }
    this.accounts.clear();
    for (const s of state.accounts) {
      const a = this.account(s.id);
      a.owed = s.owed;
      for (const pos of s.positions) {
        a.positions.set(pos.instrument, { ...pos });
        const product = this.products.get(pos.instrument)!;
        product.holders.add(a.id);
        if (pos.size > 0) product.openInterest += pos.size;
      }
      if (a.positions.size > 1) this.multi.add(a.id);
    }
    this.assessments.clear();
    for (const x of state.assessments) this.assessments.set(x.participant, { ...x });
    this.collateral.clear();
    for (const e of state.collateral) this.collateral.set(e.asset, { ...e });
    this.activeCollateral = undefined;
    this.lastSourceTs.clear();
    for (const [k, v] of state.lastSourceTs) this.lastSourceTs.set(k, v);
    this.backstops.clear();
    for (const b of state.backstops ?? []) this.backstops.set(b.account, { ...b });
    this.reports.splice(0, this.reports.length, ...(state.reports ?? []));
    this.notices.splice(0, this.notices.length, ...(state.notices ?? []));
    this.fundHistory.splice(0, this.fundHistory.length, ...(state.fundHistory ?? []).map((x) => ({ ...x })));
    this.liquidationLog.splice(0, this.liquidationLog.length, ...(state.liquidationLog ?? []).map((x) => ({ ...x })));
    this.waterfall.depleted = state.depleted ?? false;
    this.liquidationOrders = state.liquidationOrders ?? 0;
    for (const o of openOrders) if (this.products.has(o.instrument)) { o.rq = 0; o.rl = o.limit; this.reserve(o, true); }
    this.reindex();
    for (const id of this.accounts.keys()) this.check(id);
  }
}

/** Takes an account out of a bucket, dropping the bucket when it empties. */
function leave(buckets: Map<number, Set<number>>, key: number, id: number): void {
  const set = buckets.get(key);
  if (!set) return;
  set.delete(id);
  if (set.size === 0) buckets.delete(key);
}

/** The set of a bucket, made when first needed. */
function bucketOf(buckets: Map<number, Set<number>>, key: number): Set<number> {
  let set = buckets.get(key);
  if (!set) buckets.set(key, (set = new Set()));
  return set;
}
