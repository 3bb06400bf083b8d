// The liquidation waterfall (PERP-6, PERP-8, PERP-9), run by the pipeline at the end of a batch on
// every account whose equity is below maintenance margin, in this disclosed order:
//   0. its open orders are cancelled (what they held returns to its collateral); if that restores
//      maintenance, it stops there;
//   1. the book: an IOC per position, never past its bankruptcy price nor further from the mark than
//      liquidationImpactBps; a fill better than bankruptcy pays the insurance fund up to
//      liquidationFeeBps of its notional, the rest stays the account's;
//   2. backstop liquidity providers take what is left at the bankruptcy price, pro rata by their
//      committed capacity, each only as far as its own margin and position limit allow;
//   3. the insurance fund: the book again, past the bankruptcy price as far as the fund can pay the
//      difference (and the impact bound allows); the fund pays it;
//   4. auto-deleveraging: what is left closes against opposite positions at the bankruptcy price,
//      the highest ranked first (profit × effective leverage, in quintile buckets), pro rata within
//      a bucket, exactly the quantity left — never more.
// The bankruptcy price is where the account's equity would be zero (its equity shared among its
// positions by notional); rounded for the account, so its equity never goes below zero and it owes
// nothing for the positions closed. The house account never takes the other side. Everything is
// part of the batch (sequenced, journaled, replayed): a crash mid-waterfall recovers it exactly once.
import { fromUnits } from '../client/units.js';
import { mulDiv } from '../ledger/fees.js';
import { Cause } from '../ledger/model.js';
import { BPS_ONE, type Backstop } from './config.js';
import type { Contribution } from './prices.js';
import { notionalUp, valueAt } from './margin.js';
import type { Perps, Position, Product } from './perps.js';

/** What the pipeline does for the waterfall: cancels, IOC orders for an account, and running them. */
export interface WaterfallOps {
  /** Queues the cancel of every open order of the account. */
  cancelAll(account: number): void;
  /** How many open orders the account has (spot and perp). */
  openOrders(account: number): number;
  /** Queues an IOC order for the account (it bypasses pre-trade checks: it only reduces). */
  ioc(account: number, instrument: number, side: number, limit: number, qty: number): void;
  /** Runs what is queued. */
  flush(): void;
}

export type Stage = 'cancel' | 'book' | 'backstop' | 'insurance' | 'adl' | 'cover' | 'collateral';

/** One step of a waterfall, as it happened (no identities beyond account ids kept in the node's state). */
export interface WaterfallStep {
  stage: Stage; account: number; instrument: number; side: number; qty: number; price: number; amount: number;
  /** Who took the other side (a backstop provider, a deleveraged position's owner): kept in the node, never published. */
  counterparty?: number;
}

/** What the waterfall did to one account's position, told to that account alone. */
export interface AccountNotice { account: number; kind: 'liquidated' | 'deleveraged' | 'backstop'; seq: number; ts: number; text: string }

export interface PostEventReport {
  id: string;
  seq: number;
  ts: number;
  triggers: ('backstop' | 'insurance-depletion' | 'adl')[];
  products: { instrument: number; symbol: string; mark: number; index: number; sources: Contribution[] }[];
  /** The liquidated positions, without identities: side, size, bankruptcy price. */
  liquidated: { instrument: number; side: 'long' | 'short'; size: number; bankruptcyPrice: number }[];
  /** What each stage closed: quantities and prices (ADL: each counterparty position's quantity, anonymously). */
  timeline: { stage: Stage; instrument: number; qty: number; price: number; amount: number }[];
  fundBefore: number;
  fundAfter: number;
  text: string;
}

export interface Notice { seq: number; ts: number; kind: 'insurance-depleted' | 'insurance-restored'; fund: number; text: string }

/** Reports and notices kept in the node's state. */
export const REPORTS_KEPT = 500;

/**
 * One position being liquidated: `pos` is the account's Position object itself, which the waterfall's
 * transfers and fills only shrink (to zero once closed), never replace.
 */
/** Passes of stage 3 at most (each a core batch of the positions still open). */
const INSURANCE_PASSES = 3;
const EMPTY_PRICES: ReadonlyMap<number, number> = new Map();

/** How each stage reads in an account's notice. */
const STAGE_NOTICE: Record<Stage, string> = {
  cancel: 'with its orders cancelled', book: 'sold or bought on the book (average)', backstop: 'taken by backstop providers at its bankruptcy price',
  insurance: 'closed on the book past its bankruptcy price, the insurance fund paying the difference (average)', adl: 'auto-deleveraged against opposite positions at its bankruptcy price',
  cover: 'covered by the insurance fund', collateral: 'settled from its other collateral',
};

interface Plan { account: number; product: Product; pos: Position; side: number; bankruptcy: number; closedNotional: number }

/** ADL quintile buckets of one side of a product: 5 is deleveraged first. */
export function adlRanking(perps: Perps, product: Product, side: 'long' | 'short'): { account: number; size: number; score: number; bucket: number }[] {
  const out: { account: number; size: number; score: number; bucket: number }[] = [];
  for (const id of product.holders) {
    const pos = perps.accounts.get(id)!.positions.get(product.p.instrument)!;
    if ((pos.size > 0) !== (side === 'long')) continue;
    const value = valueAt(pos.size, product.mark, product.unit);
    const pnl = value - pos.cost;
    const equity = perps.quick(id).equity;
    // profit (as a share of entry) × effective leverage (notional ÷ equity); losers and those without equity rank last.
    const score = pnl > 0 && equity > 0 ? (pnl / Math.abs(pos.cost)) * (Math.abs(value) / equity) : pnl > 0 ? Number.MAX_VALUE : pnl / Math.abs(pos.cost || 1) - 1e9;
    out.push({ account: id, size: Math.abs(pos.size), score, bucket: 1 });
  }
  out.sort((x, y) => y.score - x.score || x.account - y.account);
  out.forEach((x, i) => (x.bucket = 5 - Math.floor((i * 5) / out.length)));
  return out;
}

export class Waterfall {
  /** Steps and reports of the batch being applied (the gateways read them after it). */
  readonly steps: WaterfallStep[] = [];
  readonly reports: PostEventReport[] = [];
  readonly notices: Notice[] = [];
  /** Whether the fund is depleted (at or below its floor) now. */
  depleted = false;
  /** Fills of liquidation orders in the flush being run: `account|instrument` → quantity and notional. */
  private readonly fills = new Map<string, { qty: number; notional: number }>();

  /** A liquidation order filled (the pipeline tells). */
  filled(account: number, instrument: number, qty: number, notional: number): void {
    const key = `${account}|${instrument}`;
    const f = this.fills.get(key);
    if (f) {
      f.qty += qty;
      f.notional += notional;
    } else this.fills.set(key, { qty, notional });
  }

  constructor(private readonly perps: Perps, readonly floor: number) {}

  fund(): number {
    return this.perps.fundLevel();
  }

  /**
   * The fund's state follows its level (PERP-8): at or below its floor it is depleted. A change is
   * announced in the batch that made it — a waterfall's payments, or an operator's withdrawal or
   * top-up — and goes to every holder and the public channel. Returns whether it changed.
   */
  followFund(seq: number, ts: number): boolean {
    const level = this.fund();
    const depleted = level <= this.floor;
    if (depleted === this.depleted) return false;
    this.depleted = depleted;
    this.notices.push({
      seq, ts, kind: depleted ? 'insurance-depleted' : 'insurance-restored', fund: level,
      text: depleted ? `the insurance fund is depleted (${level}): positions may be auto-deleveraged` : `the insurance fund is restored (${level})`,
    });
    return true;
  }

  /** Clears what the last batch noted for the gateways (the kept reports stay in the state). */
  beginBatch(): void {
    this.steps.length = 0;
    this.reports.length = 0;
    this.notices.length = 0;
  }

  /** The bankruptcy price of each of the account's positions: its equity shared by notional. */
  private bankruptcy(account: number): Map<number, number> {
    const a = this.perps.accounts.get(account);
    const out = new Map<number, number>();
    if (!a || a.positions.size === 0) return out;
    const equity = this.perps.quick(account).equity;
    let total = 0;
    for (const pos of a.positions.values()) total += notionalUp(pos.size, this.perps.products.get(pos.instrument)!.mark, this.perps.products.get(pos.instrument)!.unit);
    for (const pos of a.positions.values()) {
      const product = this.perps.products.get(pos.instrument)!;
      const n = notionalUp(pos.size, product.mark, product.unit);
      const share = total === 0 ? 0 : Math.floor((equity * n) / total);
      const q = Math.abs(pos.size);
      // Where value(size, B) − value(size, mark) = −share; rounded so the account keeps ≥ 0.
      const b = pos.size > 0 ? Math.ceil(product.mark - (share * product.unit) / q) : Math.floor(product.mark + (share * product.unit) / q);
      out.set(pos.instrument, Math.max(1, b));
    }
    return out;
  }

  /** The account's equity were its positions closed at these prices. */
  private equityAt(account: number, prices: ReadonlyMap<number, number>): number {
    const a = this.perps.accounts.get(account);
    let e = this.perps.collateralValue(account) - (a?.owed ?? 0);
    for (const pos of a?.positions.values() ?? []) {
      const product = this.perps.products.get(pos.instrument)!;
      e += valueAt(pos.size, prices.get(pos.instrument) ?? product.mark, product.unit) - pos.cost;
    }
    return e;
  }

  private step(stage: Stage, account: number, instrument: number, side: number, qty: number, price: number, amount: number, counterparty?: number): void {
    this.steps.push(counterparty === undefined ? { stage, account, instrument, side, qty, price, amount } : { stage, account, instrument, side, qty, price, amount, counterparty });
  }

  /**
   * What the batch's waterfalls did to each wanted account's position, in words, for its owner alone
   * (PERP-9, PERP-10), worked out only for those asked about (the gateways' logged-on accounts):
   * the liquidated account's closing by stage, each backstop provider's takeover, each deleveraged
   * position's reduction. Amounts are in the instrument's units (decimals).
   */
  noticesFor(wanted: (account: number) => boolean, seq: number, ts: number): AccountNotice[] {
    const out: AccountNotice[] = [];
    if (this.steps.length === 0) return out;
    const report = this.reports.at(-1)?.id;
    const perps = this.perps;
    const words = (x: { qty: number; notional: number }, instrument: number) => {
      const product = perps.products.get(instrument)!;
      const base = perps.assetScale(product.terms.base);
      const quote = perps.assetScale(product.terms.quote);
      const avg = Math.round((x.notional * product.unit) / x.qty);
      return `${fromUnits(x.qty, base)} at ${x.qty === 0 ? 0 : fromUnits(avg, quote)}`;
    };
    const closed = new Map<string, { account: number; instrument: number; side: number; parts: Map<Stage, { qty: number; notional: number }> }>();
    const taken = new Map<string, { account: number; kind: 'deleveraged' | 'backstop'; instrument: number; side: number; qty: number; notional: number }>();
    for (const s of this.steps) {
      if (s.qty === 0 || !(wanted(s.account) || (s.counterparty !== undefined && wanted(s.counterparty)))) continue;
      const product = perps.products.get(s.instrument)!;
      const notional = (s.qty * s.price) / product.unit;
      const key = `${s.account}|${s.instrument}`;
      let c = closed.get(key);
      if (!c) closed.set(key, (c = { account: s.account, instrument: s.instrument, side: s.side, parts: new Map() }));
      const part = c.parts.get(s.stage) ?? { qty: 0, notional: 0 };
      part.qty += s.qty;
      part.notional += notional;
      c.parts.set(s.stage, part);
      if (s.counterparty !== undefined) {
        const kind = s.stage === 'adl' ? 'deleveraged' : 'backstop';
        const k = `${s.counterparty}|${s.instrument}|${kind}`;
        const t = taken.get(k) ?? { account: s.counterparty, kind, instrument: s.instrument, side: s.side, qty: 0, notional: 0 };
        t.qty += s.qty;
        t.notional += notional;
        taken.set(k, t);
      }
    }
    const about = report ? ` (post-event report ${report})` : '';
    for (const c of closed.values()) {
      if (!wanted(c.account)) continue;
      const symbol = perps.products.get(c.instrument)!.p.symbol;
      const parts = [...c.parts].map(([stage, x]) => `${words(x, c.instrument)} ${STAGE_NOTICE[stage]}`);
      out.push({ account: c.account, kind: 'liquidated', seq, ts, text: `your ${symbol} ${c.side === 1 ? 'long' : 'short'} was liquidated: ${parts.join('; ')}${about}` });
    }
    for (const t of taken.values()) {
      if (!wanted(t.account)) continue;
      const symbol = perps.products.get(t.instrument)!.p.symbol;
      // The liquidated side sold (a long) or bought (a short); the counterparty did the opposite.
      const text = t.kind === 'deleveraged'
        ? `your ${symbol} ${t.side === 1 ? 'short' : 'long'} was auto-deleveraged: ${words(t, t.instrument)} closed at a liquidated position's bankruptcy price${about}`
        : `as a backstop provider you took over ${words(t, t.instrument)} of a liquidated ${symbol} ${t.side === 1 ? 'long' : 'short'} (its bankruptcy price)${about}`;
      out.push({ account: t.account, kind: t.kind, seq, ts, text });
    }
    return out;
  }

  /** Runs the waterfall on the accounts at risk; returns whether anything was done. */
  run(targets: number[], ops: WaterfallOps, seq: number, ts: number): boolean {
    if (targets.length === 0) return false;
    const perps = this.perps;
    const fundBefore = this.fund();
    const first = this.steps.length;
    this.changed.clear();
    // 0. Open orders go: what they held returns (a spot buy's hold is collateral again).
    const cancelled: number[] = [];
    for (const t of targets) {
      this.step('cancel', t, 0, 0, 0, 0, 0);
      if (ops.openOrders(t) === 0) continue;
      ops.cancelAll(t);
      cancelled.push(t);
    }
    if (cancelled.length > 0) ops.flush();
    // Only an account that had orders can have been restored by their cancel.
    for (const t of cancelled) perps.check(t);
    const live = targets.filter((t) => perps.atRisk.has(t));
    if (live.length === 0) return true;
    const plans: Plan[] = [];
    let prices = new Map<number, Map<number, number>>();
    for (const t of live) {
      const b = this.bankruptcy(t);
      prices.set(t, b);
      for (const pos of perps.accounts.get(t)!.positions.values()) {
        const product = perps.products.get(pos.instrument)!;
        plans.push({ account: t, product, pos, side: pos.size > 0 ? 1 : 0, bankruptcy: b.get(pos.instrument)!, closedNotional: 0 });
      }
    }
    const liquidated = plans.map((p) => ({ instrument: p.product.p.instrument, side: (p.side === 1 ? 'long' : 'short') as 'long' | 'short', size: this.size(p), bankruptcyPrice: p.bankruptcy }));
    // 1. The book, never past bankruptcy.
    this.book(plans, ops, (p) => p.bankruptcy, 'book');
    // What fills gained over bankruptcy pays the fund its fee; the rest stays the account's.
    const feeCaps = new Map<number, number>();
    for (const p of plans) feeCaps.set(p.account, (feeCaps.get(p.account) ?? 0) + mulDiv(p.closedNotional, p.product.p.liquidationFeeBps ?? 50, BPS_ONE, true));
    for (const t of live) {
      const feeCap = feeCaps.get(t) ?? 0;
      if (feeCap === 0) continue;
      const surplus = this.equityAt(t, prices.get(t)!);
      const fee = Math.min(Math.max(0, surplus), feeCap);
      if (fee > 0) {
        perps.pay(seq, Cause.LiquidationFee, perps.account(t), perps.residual, fee);
        this.step('book', t, 0, 0, 0, 0, fee);
      }
    }
    // 2. Backstop providers at the (new) bankruptcy price.
    this.reprice(prices, plans);
    const usedBackstop = this.backstop(plans, seq, ts);
    // 3. The insurance fund: the book past bankruptcy as far as the fund can pay the difference. An
    // order may cost the fund at most (bankruptcy − limit) × size: that much of its room is set aside
    // for each order placed; what fills better leaves room, which a further pass offers to the
    // positions still open (while the last pass filled something).
    for (let pass = 0; pass < INSURANCE_PASSES; pass++) {
      this.reprice(prices, plans);
      let room = Math.max(0, this.fund() - this.floor);
      if (room === 0) break;
      const filled = this.book(plans, ops, (p) => {
        const left = this.size(p);
        if (left === 0 || room === 0) return undefined;
        const reach = Math.floor((room * p.product.unit) / left);
        return p.side === 1 ? p.bankruptcy - reach : p.bankruptcy + reach;
      }, 'insurance', (p, limit, qty) => {
        const past = p.side === 1 ? p.bankruptcy - limit : limit - p.bankruptcy;
        room = Math.max(0, room - Math.ceil((Math.max(0, past) * qty) / p.product.unit));
      });
      for (const t of this.changed) this.cover(t, prices.get(t)!, seq, 'insurance', Math.max(0, this.fund() - this.floor));
      if (!filled) break;
    }
    // The fund pays, as far as its room allows, what an account's equity is below zero at the mark:
    // what it cannot close on the book then closes no worse than the mark.
    this.reprice(prices, plans);
    for (const t of live) {
      if (perps.accounts.get(t)?.positions.size) this.cover(t, EMPTY_PRICES, seq, 'insurance', Math.max(0, this.fund() - this.floor));
    }
    // 4. ADL at the bankruptcy price, exactly what is left.
    this.reprice(prices, plans);
    const deleveraged = this.adl(plans, seq);
    // A counterparty deleveraged at a price past the mark (the fund was spent) may be left below
    // zero: the fund covers it too, as far as it can.
    for (const c of this.deleveraged) this.cover(c, EMPTY_PRICES, seq, 'cover', Math.max(0, this.fund()));
    // Anything left below zero (rounding) the fund covers, as far as it can; what a closed-out
    // account still owes its other collateral settles (the fund takes it at its haircut value).
    for (const t of live) {
      this.cover(t, EMPTY_PRICES, seq, 'cover', Math.max(0, this.fund()));
      if (perps.accounts.get(t)?.positions.size === 0) {
        const settled = perps.settleFromCollateral(seq, t);
        if (settled > 0) this.step('collateral', t, 0, 0, 0, 0, settled);
      }
    }
    // (Every account the waterfall touched is checked again by the caller.)
    // The fund's state, and a report when more than the book was needed.
    const fundAfter = this.fund();
    const wasDepleted = this.depleted;
    this.followFund(seq, ts);
    const triggers: PostEventReport['triggers'] = [];
    if (usedBackstop) triggers.push('backstop');
    if (this.depleted && !wasDepleted) triggers.push('insurance-depletion');
    if (deleveraged) triggers.push('adl');
    if (triggers.length > 0) {
      const instruments = [...new Set(plans.map((p) => p.product.p.instrument))].sort((x, y) => x - y);
      this.reports.push({
        id: `PER-${seq}`, seq, ts, triggers,
        products: instruments.map((id) => {
          const m = perps.marketView(id);
          return { instrument: id, symbol: m.symbol, mark: m.mark, index: m.index, sources: m.contributions };
        }),
        liquidated,
        timeline: this.timeline(first),
        fundBefore, fundAfter,
        text: `${liquidated.length} position(s) liquidated: ${triggers.join(', ')}; insurance fund ${perps.whole(fundBefore)} → ${perps.whole(fundAfter)} ${perps.settlementCode}`,
      });
    }
    return true;
  }

  /** The steps from `first` on, but the cancels, without account ids. */
  private timeline(first: number): PostEventReport['timeline'] {
    const out: PostEventReport['timeline'] = [];
    for (let i = first; i < this.steps.length; i++) {
      const s = this.steps[i];
      if (s.stage !== 'cancel') out.push({ stage: s.stage, instrument: s.instrument, qty: s.qty, price: s.price, amount: s.amount });
    }
    return out;
  }

  private size(p: Plan): number {
    return Math.abs(p.pos.size);
  }

  /** Backstop providers' margin surely spare in this stage (see feasible). */
  private readonly spare = new Map<number, number>();

  /** Accounts a stage changed (fills, fees, transfers): their bankruptcy prices are worked out again. */
  private readonly changed = new Set<number>();

  /** Bankruptcy prices again for the accounts the last stages changed. */
  private reprice(prices: Map<number, Map<number, number>>, plans: Plan[]): void {
    if (this.changed.size === 0) return;
    for (const t of this.changed) prices.set(t, this.bankruptcy(t));
    for (const p of plans) if (this.changed.has(p.account)) p.bankruptcy = prices.get(p.account)!.get(p.product.p.instrument) ?? p.bankruptcy;
    this.changed.clear();
  }

  /**
   * IOC orders for each plan with a limit (bounded by the impact band around the mark, on the tick),
   * each told to `placed` as it is queued; whether any filled.
   */
  private book(plans: Plan[], ops: WaterfallOps, limitOf: (p: Plan) => number | undefined, stage: Stage, placed?: (p: Plan, limit: number, qty: number) => void): boolean {
    const before = plans.map((p) => this.size(p));
    let any = false;
    // Cleared before any order is queued: a full core batch is run as the orders are queued (ioc),
    // and the fills of those runs count as much as the last one's.
    this.fills.clear();
    const best = new Map<number, number>();
    plans.forEach((p, i) => {
      if (before[i] === 0) return;
      const raw = limitOf(p);
      if (raw === undefined) return;
      // The best price on the side it would take, once per product and side: nothing there, no order.
      const key = p.product.p.instrument * 2 + (1 - p.side);
      let top = best.get(key);
      if (top === undefined) best.set(key, (top = this.perps.bestPrice(p.product.p.instrument, 1 - p.side)));
      if (top === 0 || (p.side === 1 ? top < raw : top > raw)) return;
      const m = p.product.mark;
      const band = Math.floor((m * (p.product.p.liquidationImpactBps ?? 200)) / BPS_ONE);
      const tick = p.product.terms.priceDivisor; // any multiple of it is a notional in whole units
      const spec = this.perps.tickOf(p.product.p.instrument) ?? tick;
      // A sell never below its limit, a buy never above: rounded toward the mark onto the tick, and
      // inside the core's price band (else the core refuses it, and the bids inside the band too).
      const [low, high] = this.perps.coreBand(p.product.p.instrument);
      const limit = p.side === 1 ? Math.ceil(Math.max(raw, m - band, low) / spec) * spec : Math.floor(Math.min(raw, m + band, high) / spec) * spec;
      if (limit <= 0) return;
      ops.ioc(p.account, p.product.p.instrument, p.side, limit, before[i]);
      placed?.(p, limit, before[i]);
      any = true;
    });
    if (!any) return false;
    ops.flush();
    let filled = false;
    for (const p of plans) {
      const f = this.fills.get(`${p.account}|${p.product.p.instrument}`);
      if (!f) continue;
      filled = true;
      this.changed.add(p.account);
      p.closedNotional += f.notional;
      // The average price of the stage's fills.
      this.step(stage, p.account, p.product.p.instrument, p.side, f.qty, Math.round((f.notional * p.product.unit) / f.qty), f.notional);
    }
    this.fills.clear();
    return filled;
  }

  /** Stage 2: backstop providers take what is left at the bankruptcy price, pro rata by capacity. */
  private backstop(plans: Plan[], seq: number, ts: number): boolean {
    const perps = this.perps;
    let used = false;
    const all = [...perps.backstops.values()].filter((b) => b.status === 'active').sort((x, y) => x.account - y.account);
    if (all.length === 0) return false;
    this.spare.clear();
    const mayOpen = new Map<number, boolean>();
    for (const p of plans) {
      let left = this.size(p);
      if (left === 0) continue;
      // Only providers that may take on a position now (PERP-2: the gate; an index that stands).
      const instrument = p.product.p.instrument;
      const providers = all.filter((b) => {
        if (b.capacity <= 0 || b.account === p.account) return false;
        const key = b.account * 65_536 + instrument;
        let may = mayOpen.get(key);
        if (may === undefined) mayOpen.set(key, (may = perps.mayOpen(b.account, instrument, ts)));
        return may;
      });
      const total = providers.reduce((s, b) => s + b.capacity, 0);
      if (total === 0) continue;
      const lot = p.product.terms.lotSize;
      const want = left;
      // Pro rata by capacity first; then what rounding, or a provider's capacity, margin or position
      // limit, left over goes to the others in account order, as far as each can take it.
      for (const share of [true, false]) {
        for (const b of providers) {
          if (left === 0) break;
          let take = share ? Math.min(left, Math.floor((want * b.capacity) / total / lot) * lot || lot) : left;
          take = this.feasible(b, p, take);
          if (take === 0) continue;
          this.transfer(seq, p, b.account, take);
          this.changed.add(p.account);
          b.capacity = Math.max(0, b.capacity - notionalUp(take, p.bankruptcy, p.product.unit));
          left -= take;
          used = true;
          this.step('backstop', p.account, p.product.p.instrument, p.side, take, p.bankruptcy, 0, b.account);
        }
      }
    }
    return used;
  }

  /** The most of `want` (in lots) a provider can take at the bankruptcy price with its initial margin covered, within its capacity and its position limit. */
  private feasible(b: Backstop, p: Plan, want: number): number {
    const lot = p.product.terms.lotSize;
    const side = p.side === 1 ? 0 : 1; // it buys what a long sells
    // What its capacity and its position limit allow first (cheap), then its margin.
    want = Math.min(want, Math.floor(Math.floor((b.capacity * p.product.unit) / p.bankruptcy) / lot) * lot);
    want = Math.min(want, Math.floor(this.perps.positionRoom(b.account, p.product.p.instrument, side) / lot) * lot);
    while (want > 0 && notionalUp(want, p.bankruptcy, p.product.unit) > b.capacity) want -= lot;
    if (want <= 0) return 0;
    // A bound first: its margin were everything at the top tier's rate (a floor under the real one), less
    // what each take could need at most (the top rate on the larger of the two prices, and any loss against the mark).
    const product = p.product;
    const top = product.p.tiers[product.p.tiers.length - 1].imBps;
    const bound = (q: number) => mulDiv(notionalUp(q, Math.max(p.bankruptcy, product.mark), product.unit), top, BPS_ONE, true)
      + Math.abs(notionalUp(q, p.bankruptcy, product.unit) - notionalUp(q, product.mark, product.unit));
    let spare = this.spare.get(b.account);
    if (spare === undefined) this.spare.set(b.account, (spare = this.perps.marginAtTopRate(b.account)));
    const need = bound(want);
    if (spare - need >= 0) {
      this.spare.set(b.account, spare - need);
      return want;
    }
    const ok = (q: number) => q === 0 || this.perps.marginAfter(b.account, p.product.p.instrument, side, p.bankruptcy, q) >= 0;
    this.spare.set(b.account, -Infinity); // from here on, exactly
    if (ok(want)) return want;
    let lo = 0;
    let hi = Math.floor(want / lot);
    while (lo < hi) {
      const mid = Math.ceil((lo + hi) / 2);
      if (ok(mid * lot)) lo = mid; else hi = mid - 1;
    }
    return lo * lot;
  }

  /** The liquidated account's position moves to `to` at the bankruptcy price, rounded for the liquidated account. */
  private transfer(seq: number, p: Plan, to: number, qty: number): void {
    const unit = p.product.unit;
    // A long being closed sells: its proceeds round up; a short buys back: its cost rounds down.
    const notional = mulDiv(qty, p.bankruptcy, unit, p.side === 1);
    const [seller, buyer] = p.side === 1 ? [p.account, to] : [to, p.account];
    this.perps.transfer(seq, p.product, buyer, seller, qty, notional);
  }

  /** Stage 4: what is left closes against opposite positions, highest ADL rank first, pro rata within a bucket. */
  /** Counterparties the last ADL stage closed positions of. */
  private readonly deleveraged = new Set<number>();

  private adl(plans: Plan[], seq: number): boolean {
    let any = false;
    this.deleveraged.clear();
    const groups = new Map<string, Plan[]>();
    for (const p of plans) {
      if (this.size(p) === 0) continue;
      const key = `${p.product.p.instrument}|${p.side}`;
      const group = groups.get(key);
      if (group) group.push(p); else groups.set(key, [p]);
    }
    for (const group of groups.values()) {
      const product = group[0].product;
      const lot = product.terms.lotSize;
      // A long being liquidated needs buyers: the shorts (and the other way round).
      // Liquidated accounts of the other side stay in (they rank last: they are losing).
      const ranking = adlRanking(this.perps, product, group[0].side === 1 ? 'short' : 'long');
      let need = group.reduce((s, p) => s + this.size(p), 0);
      // Allocate exactly `need` across the ranking: bucket by bucket, pro rata by size in lots within one.
      const allocation = new Map<number, number>();
      for (let bucket = 5; bucket >= 1 && need > 0; bucket--) {
        const members = ranking.filter((r) => r.bucket === bucket);
        const total = members.reduce((s, r) => s + r.size, 0);
        if (total === 0) continue;
        if (total <= need) {
          for (const r of members) allocation.set(r.account, r.size);
          need -= total;
          continue;
        }
        let given = 0;
        for (const r of members) {
          const share = Math.floor((need * r.size) / total / lot) * lot;
          allocation.set(r.account, share);
          given += share;
        }
        // The lots the rounding left, one by one in rank order, to positions with room.
        let rest = need - given;
        for (let i = 0; rest > 0; i = (i + 1) % members.length) {
          const r = members[i];
          if ((allocation.get(r.account) ?? 0) + lot <= r.size) {
            allocation.set(r.account, (allocation.get(r.account) ?? 0) + lot);
            rest -= lot;
          }
        }
        need = 0;
      }
      // Pair the liquidated positions with the counterparties in rank order, each at its own bankruptcy price.
      const counter = ranking.filter((r) => (allocation.get(r.account) ?? 0) > 0).map((r) => ({ account: r.account, left: allocation.get(r.account)! }));
      let j = 0;
      for (const p of group) {
        let left = this.size(p);
        while (left > 0 && j < counter.length) {
          const take = Math.min(left, counter[j].left);
          this.transfer(seq, p, counter[j].account, take);
          this.deleveraged.add(counter[j].account);
          this.step('adl', p.account, product.p.instrument, p.side, take, p.bankruptcy, 0, counter[j].account);
          counter[j].left -= take;
          left -= take;
          any = true;
          if (counter[j].left === 0) j++;
        }
      }
    }
    return any;
  }

  /** The fund pays what the account's equity (at these prices, else the mark) is below zero, `most` at most. */
  private cover(account: number, prices: ReadonlyMap<number, number>, seq: number, stage: Stage, most: number): void {
    const deficit = -this.equityAt(account, prices);
    if (deficit <= 0) return;
    const pay = Math.min(deficit, most);
    if (pay <= 0) return;
    this.perps.receive(seq, Cause.InsuranceCover, this.perps.account(account), this.perps.residual, pay);
    this.changed.add(account);
    this.step(stage, account, 0, 0, 0, 0, pay);
  }
}
