// Pre-trade risk (SL-10): every order is checked in real time, before it reaches the book, against
// in-memory state: the account may trade this instrument, the order is fully pre-funded from
// assets in a custody location that counts for the account, and the account's limits hold.
// Nothing here changes state: the caller places the hold only when the check passes.
import { RejectReason, type InstrumentSpec } from '../core/index.js';
import { feeOf } from '../ledger/fees.js';
import type { Ledger } from '../ledger/ledger.js';
import { TRADING_KINDS, type Account, type InstrumentTerms } from '../ledger/model.js';
import { NodeReject } from './reasons.js';

export interface OrderIntent {
  account: number;
  instrument: number;
  side: number; // 0 buy, 1 sell
  market: boolean;
  /** Limit price, or a market order's protection price. */
  price: number;
  qty: number;
}

export interface HoldPlan { asset: number; amount: number }

export type RiskResult = { ok: true; hold: HoldPlan } | { ok: false; reason: NodeReject | RejectReason };

export class PreTradeRisk {
  private readonly specs = new Map<number, InstrumentSpec>();

  constructor(private readonly ledger: Ledger, specs: readonly InstrumentSpec[] = []) {
    for (const spec of specs) this.specs.set(spec.id, spec);
  }

  /**
   * The instrument's grid and size limits, checked before notional and funds so a reject names
   * the real cause (the core checks them again; its reasons are the same codes). An amend's
   * quantity has no minimum (a partly filled order may be below it). A price of 0 (a market
   * order's band edge) is not on any grid and is not checked here.
   */
  checkGrid(instrument: number, price: number, qty: number, amend = false): RejectReason | undefined {
    const spec = this.specs.get(instrument);
    if (!spec) return undefined;
    if (qty % spec.lotSize !== 0) return RejectReason.QuantityOffLot;
    if (!amend && qty < spec.minQty) return RejectReason.QuantityBelowMin;
    if (qty > spec.maxQty) return RejectReason.QuantityAboveMax;
    if (price !== 0 && price % spec.tickSize !== 0) return RejectReason.PriceOffTick;
    return undefined;
  }

  /**
   * What an order on `terms` at `price` for `qty` must hold: a sell holds the quantity; a buy holds
   * the notional, the largest fee its account's tier can charge on it, and one quote unit per
   * possible fill (each fill rounds its fee up by less than one unit).
   */
  holdFor(account: Account, terms: InstrumentTerms, side: number, price: number, qty: number): HoldPlan {
    if (side === 1) return { asset: terms.base, amount: qty };
    const notional = this.ledger.notional(terms, price, qty);
    const tier = this.ledger.fees.tier(account.feeTier);
    const feeMax = feeOf(notional, Math.max(tier.takerBps, tier.makerBps, 0));
    return { asset: terms.quote, amount: notional + feeMax + qty / terms.lotSize };
  }

  checkOrder(o: OrderIntent, openOrders: number): RiskResult {
    const account = this.ledger.accounts.get(o.account);
    if (!account) return { ok: false, reason: NodeReject.UnknownAccount };
    if (!TRADING_KINDS.has(account.kind)) return { ok: false, reason: NodeReject.AccountCannotTrade };
    const terms = this.ledger.instruments.get(o.instrument);
    if (!terms) return { ok: false, reason: NodeReject.UnknownInstrument };
    if (account.instruments.length > 0 && !account.instruments.includes(o.instrument)) {
      return { ok: false, reason: NodeReject.InstrumentNotEnabled };
    }
    if (o.market && o.price === 0) return { ok: false, reason: NodeReject.ProtectionPriceRequired };
    if (!Number.isSafeInteger(o.price) || o.price <= 0) return { ok: false, reason: NodeReject.InvalidPrice };
    if (!Number.isSafeInteger(o.qty) || o.qty <= 0) return { ok: false, reason: NodeReject.InvalidQuantity };
    const grid = this.checkGrid(o.instrument, o.price, o.qty);
    if (grid !== undefined) return { ok: false, reason: grid };
    if (openOrders >= account.ordersOpenMax) return { ok: false, reason: NodeReject.OpenOrdersLimit };
    const notional = this.ledger.notional(terms, o.price, o.qty);
    if (Number.isNaN(notional)) return { ok: false, reason: NodeReject.NotionalTooLarge };
    if (account.orderNotionalMax > 0 && notional > account.orderNotionalMax) return { ok: false, reason: NodeReject.NotionalLimit };
    const hold = this.holdFor(account, terms, o.side, o.price, o.qty);
    if (!Number.isSafeInteger(hold.amount)) return { ok: false, reason: NodeReject.NotionalTooLarge };
    const check = this.checkFunds(account, hold);
    return check === undefined ? { ok: true, hold } : { ok: false, reason: check };
  }

  /** Is `hold` coverable from the account's available balance in a custody location that counts? */
  checkFunds(account: Account, hold: HoldPlan): NodeReject | undefined {
    if (!account.custody.includes(this.ledger.assets[hold.asset].custody)) return NodeReject.CustodyNotEligible;
    if (this.ledger.balance(account.id, hold.asset).available < hold.amount) return NodeReject.InsufficientFunds;
    return undefined;
  }
}
