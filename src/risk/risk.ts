// Pre-trade risk (SL-10): every order is checked in real time, before it reaches the book, against
// in-memory state: the account may trade this instrument, the order is fully pre-funded from
// assets in a custody location that counts for the account, and the account's limits hold.
// Nothing here changes state: the caller places the hold only when the check passes.
import { RejectReason, type InstrumentSpec } from '../core/index.js';
import { feeOf } from '../ledger/fees.js';
import type { Ledger } from '../ledger/ledger.js';
import { TRADING_KINDS, type Account, type InstrumentTerms } from '../ledger/model.js';
import { NodeReject } from './reasons.js';

export interface HoldPlan { asset: number; amount: number }

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
   * What an order on `terms` at `price` for `qty` must hold, in its side's asset (a sell the base,
   * a buy the quote): a sell holds the quantity; a buy holds the notional, the largest fee its
   * account's tier can charge on it, and one quote unit per possible fill (each fill rounds its fee
   * up by less than one unit).
   */
  holdAmount(account: Account, terms: InstrumentTerms, side: number, price: number, qty: number): number {
    if (terms.perp === true) return 0; // margin, not a hold, covers a perp order (see Perps)
    if (side === 1) return qty;
    const notional = this.ledger.notional(terms, price, qty);
    const tier = this.ledger.fees.tier(account.feeTier);
    const feeMax = feeOf(notional, Math.max(tier.takerBps, tier.makerBps, 0));
    return notional + feeMax + qty / terms.lotSize;
  }

  /**
   * What a passed check must hold, kept here (one object, reused: the order path allocates nothing
   * for its check). Read it right after checkOrder says 0.
   */
  readonly hold: HoldPlan = { asset: 0, amount: 0 };

  /** Checks an order; 0 when it may enter (then `hold` says what it must hold), else the reason. */
  checkOrder(accountId: number, instrument: number, side: number, market: boolean, price: number, qty: number, openOrders: number): number {
    const account = this.ledger.accounts.get(accountId);
    if (!account) return NodeReject.UnknownAccount;
    if (!TRADING_KINDS.has(account.kind)) return NodeReject.AccountCannotTrade;
    const terms = this.ledger.instruments.get(instrument);
    if (!terms) return NodeReject.UnknownInstrument;
    if (account.instruments.length > 0 && !account.instruments.includes(instrument)) return NodeReject.InstrumentNotEnabled;
    if (market && price === 0) return NodeReject.ProtectionPriceRequired;
    if (!Number.isSafeInteger(price) || price <= 0) return NodeReject.InvalidPrice;
    if (!Number.isSafeInteger(qty) || qty <= 0) return NodeReject.InvalidQuantity;
    const grid = this.checkGrid(instrument, price, qty);
    if (grid !== undefined) return grid;
    if (openOrders >= account.ordersOpenMax) return NodeReject.OpenOrdersLimit;
    const notional = this.ledger.notional(terms, price, qty);
    if (Number.isNaN(notional)) return NodeReject.NotionalTooLarge;
    if (account.orderNotionalMax > 0 && notional > account.orderNotionalMax) return NodeReject.NotionalLimit;
    const asset = side === 1 ? terms.base : terms.quote;
    const amount = this.holdAmount(account, terms, side, price, qty);
    if (!Number.isSafeInteger(amount)) return NodeReject.NotionalTooLarge;
    const short = this.fundsShort(account, asset, amount);
    if (short !== undefined) return short;
    this.hold.asset = asset;
    this.hold.amount = amount;
    return 0;
  }

  /** Why `amount` of `asset` cannot be held for the account (custody, available balance), if it cannot. */
  fundsShort(account: Account, asset: number, amount: number): NodeReject | undefined {
    if (!account.custody.includes(this.ledger.locationOf(account, asset))) return NodeReject.CustodyNotEligible;
    if (this.ledger.balance(account.id, asset).available < amount) return NodeReject.InsufficientFunds;
    return undefined;
  }
}
