// The node's state machine: a batch of sequenced commands goes through pre-trade risk, the native
// matching core (one N-API call per core batch) and post-trade ledger postings. It reads no clock,
// no random source and does no I/O, so the state is a pure function of the sequenced batches
// (CORE-4); recovery replays the journal through it.
import {
  EventKind, MatchingCore, RejectReason, Scope, Side,
  type EventBatch, type InstrumentSpec,
} from '../core/index.js';
import { feeOf } from '../ledger/fees.js';
import { ASSETS_MAX, balanceKey, type Ledger } from '../ledger/ledger.js';
import { AccountKind, Bucket, Cause, EXTERNAL_ACCOUNT, type Account, type InstrumentTerms } from '../ledger/model.js';
import { assert } from '../assert.js';
import { PreTradeRisk } from '../risk/risk.js';
import { NodeReject, rejectName } from '../risk/reasons.js';
import { Venues, type VenuesState } from '../venues/venues.js';
import { LIQUIDATION_ID_BASE, Perps, type PerpsState, type PriceCommand } from '../perps/perps.js';
import type { WaterfallOps } from '../perps/liquidation.js';
import { isPerpAction, type PerpsConfig } from '../perps/config.js';
import type { AdminAction } from '../venues/admin.js';
import { Afmm, isAfmmAction, type AfmmState } from '../afmm/afmm.js';

/**
 * The self-trade prevention group the house's accounts and every affiliated market maker's share
 * (AFMM-5): their orders never match each other — the core prevents it as it prevents a self-trade.
 */
export const BARRED_STP_GROUP = 0x7ffffffe;
import {
  Outcome,
  type AdminCommand, type AmendCommand, type CancelCommand, type DepositCommand, type MassCancelCommand, type OrderCommand, type SequencedCommand,
  type WithdrawCommand,
} from './commands.js';

export interface OpenOrder {
  id: number;
  account: number;
  instrument: number;
  side: number;
  limit: number;
  remaining: number;
  /** What the order holds now: exactly what its remaining quantity needs (see PreTradeRisk.holdAmount). */
  held: number;
  asset: number;
  /** The last batch (its number in this pipeline's life) whose verification noted the order; not state. */
  mark?: number;
  /** A perp order that may only reduce the position. */
  reduceOnly?: boolean;
  /** A perp order's quantity and limit as its account's margin reservation counts them (see Perps.reserve); not state. */
  rq?: number;
  rl?: number;
}

export interface PipelineState {
  orders: OpenOrder[];
  keys: [string, number][];
  /** Absent in snapshots written before venues existed. */
  venues?: VenuesState;
  /** Absent in snapshots written before perpetuals existed. */
  perps?: PerpsState;
  /** Absent in snapshots written before affiliated market makers existed. */
  afmm?: AfmmState;
}

/** Order objects kept for reuse at most. */
const SPARE_ORDERS_MAX = 4_096;

/** In the pending arrays' amend-delta place: the command is a new order (its reject closes it). */
const NEW_ORDER = -1;

/** An (instrument, side) pair as one number. */
function takingKey(instrument: number, side: number): number {
  return instrument * 2 + side;
}

export class Pipeline {
  readonly risk: PreTradeRisk;
  readonly orders = new Map<number, OpenOrder>();
  private readonly openCounts = new Map<number, number>();
  /** Idempotency keys of deposits and withdrawals → the sequence number that applied them. */
  private readonly keys = new Map<string, number>();
  private readonly feesAccount: number;
  /**
   * Per core command queued in the current core batch, in parallel arrays (no object per command):
   * its outcome, and what to undo on a reject: a new order (amend delta NEW_ORDER) is closed; an
   * amend's extra hold (its delta, when positive) released from its order.
   */
  private pendingCount = 0;
  private readonly pendingOutcomes: Outcome[] = [];
  private readonly pendingOrders: (OpenOrder | undefined)[] = [];
  private readonly pendingAmendDeltas: number[] = [];
  private seq = 0;
  /** The current batch's sequencer time (µs since the epoch). */
  private ts = 0;
  /** The venue registry, venue clients and custody dues (SL-7, SL-8). */
  readonly venues: Venues;
  /**
   * What the queued core commands may change, so an amend can tell whether the order it names is
   * still as it sees it (see amend): orders from this sequence on are new in the core batch...
   */
  private queuedFromSeq = Number.MAX_SAFE_INTEGER;
  /** ...orders a queued cancel or amend names... */
  private readonly queuedNamed = new Set<number>();
  /**
   * ...per (instrument, side) of a queued order or amend, its most aggressive limit (the highest
   * buy, the lowest sell): resting orders of the opposite side that it crosses may trade with it
   * (or be cancelled or reduced by self-trade prevention)...
   */
  private readonly queuedTaking = new Map<number, number>();
  /** ...and accounts a queued mass cancel empties. */
  private readonly queuedMassCancel = new Set<number>();
  /**
   * Orders whose hold changed in the batch being applied, and what each held before it (see
   * verify): a batch that would break the hold invariant is refused before it can be committed.
   * Reused arrays and a mark on the order, so noting one allocates nothing.
   */
  private readonly touchedOrders: OpenOrder[] = [];
  private readonly touchedBefore: number[] = [];
  private touchedCount = 0;
  /** This batch's mark (touch notes each order once per batch). */
  private stamp = 0;
  /** This batch's orders that cannot rest (IOC, FOK, market), and such objects free for reuse. */
  private readonly passing: OpenOrder[] = [];
  private readonly spareOrders: OpenOrder[] = [];
  /** The balances verify checks (repeats are harmless), reused. */
  private readonly verifyKeys: number[] = [];
  /** balanceKey → what the open orders hold there, as of the last verified batch. */
  private readonly heldByKey = new Map<number, number>();
  /**
   * Test-only: runs after a batch is applied and before it is verified, to force an impossible
   * state and show it never reaches the disk. Never set outside tests.
   */
  testFault?: (pipeline: Pipeline) => void;

  /** Perpetual contracts: positions, margin, index and mark, funding (PERP-1..5, 7, 10, 11). */
  readonly perps: Perps;
  /** Affiliated market makers: who, their disclosed preferences, the audit of every change (AFMM-1..5). */
  readonly afmm: Afmm;

  constructor(readonly ledger: Ledger, readonly core: MatchingCore, specs: readonly InstrumentSpec[] = [], perps?: PerpsConfig) {
    this.risk = new PreTradeRisk(ledger, specs);
    const fees = [...ledger.accounts.values()].filter((a) => a.kind === AccountKind.Fees);
    if (fees.length !== 1) throw new Error(`the ledger needs exactly one fees account, found ${fees.length}`);
    this.feesAccount = fees[0].id;
    const refPrices = new Map(specs.map((spec) => [spec.id, spec.refPrice]));
    this.venues = new Venues(ledger, this.keys, (account) => this.cancelAccount(account), refPrices);
    this.perps = new Perps(ledger, core, perps, this.orders);
    this.afmm = new Afmm(ledger);
    this.perps.setInitialMarks(refPrices, new Map(specs.map((spec) => [spec.id, spec.tickSize])));
  }

  /** What the liquidation waterfall asks of the pipeline: cancels, IOC orders, running them (reported under the batch's last command). */
  private readonly waterfallOps: WaterfallOps = {
    cancelAll: (account) => this.cancelAccount(account),
    openOrders: (account) => this.openCounts.get(account) ?? 0,
    ioc: (account, instrument, side, limit, qty) => {
      if (this.core.pending === this.core.batchCommandsMax) this.flush();
      const terms = this.ledger.instruments.get(instrument)!;
      const order: OpenOrder = { id: this.perps.nextLiquidationId(), account, instrument, side, limit, remaining: qty, held: 0, asset: terms.quote, mark: 0 };
      this.passing.push(order);
      this.touch(order, 0);
      this.open(order, false);
      this.core.newOrder(instrument, order.id, account, side, 0, 1, limit, qty, 0, 0);
      this.queued(this.current!, order, NEW_ORDER);
    },
    flush: () => this.flush(),
  };

  /** Queues the cancel of an account's every open order, reported under the current command. */
  private cancelAccount(account: number): void {
    if (this.core.pending === this.core.batchCommandsMax) this.flush();
    this.core.massCancel(Scope.Account, account, 0, 0);
    this.queued(this.current!);
    this.queuedMassCancel.add(account);
  }

  /** The outcome of the command being applied. */
  private current: Outcome | undefined;

  /** Applies one batch; outcomes come back in command order. */
  apply(batch: readonly SequencedCommand[]): Outcome[] {
    this.stamp++;
    const outcomes: Outcome[] = [];
    this.afmm.beginBatch();
    // Which venues may trade is a matter of time too (a licence ends): known per batch.
    if (batch.length > 0 && this.venues.active) this.venues.refresh(batch[0].ts);
    // So is the perps' state: premium samples and funding that fell due, and index and mark now.
    const perps = this.perps.active && batch.length > 0;
    if (perps) {
      this.perps.beginBatch();
      this.perps.advance(batch[0].seq, batch[0].ts);
      this.perps.reprice(batch[0].ts);
    }
    for (const { seq, ts, command: c, outcome: reused } of batch) {
      this.seq = seq;
      this.ts = ts;
      const outcome = reused ? reused.reset(seq, ts) : new Outcome(seq, ts);
      this.current = outcome;
      outcomes.push(outcome);
      switch (c.type) {
        case 'deposit': this.deposit(c, outcome); break;
        case 'withdraw': this.withdraw(c, outcome); break;
        case 'order': this.order(c, outcome); break;
        case 'cancel': this.cancel(c, outcome); break;
        case 'amend': this.amend(c, outcome); break;
        case 'massCancel': this.massCancel(c, outcome); break;
        case 'admin': this.admin(c, outcome); break;
        case 'price': this.price(c, outcome); break;
        default: this.reject(outcome, NodeReject.InvalidCommand);
      }
      if (this.core.pending === this.core.batchCommandsMax) this.flush();
    }
    this.flush();
    if (perps) {
      // Balances that moved (withdrawals, spot fills and holds, fees) change what covers margin.
      this.ledger.pending.forEachSide((account) => this.perps.noteLedger(account));
      const last = batch[batch.length - 1];
      this.perps.reprice(last.ts);
      // The fund depleted or restored by the batch's own commands (an operator's withdrawal or
      // top-up) is said before any waterfall, whose report then does not claim it.
      this.perps.followFund(last.seq, last.ts);
      // Accounts below maintenance margin go through the liquidation waterfall now, in this batch (PERP-6).
      if (this.perps.atRisk.size > 0) {
        this.seq = last.seq;
        this.perps.liquidate(this.waterfallOps, last.seq, last.ts);
      }
      this.perps.followFund(last.seq, last.ts);
      // Reduce-only orders a fill or a deleveraging left with nothing to reduce are cancelled
      // (reported with the batch's last command).
      for (const id of this.perps.reduceOnlyExcess()) {
        const o = this.orders.get(id)!;
        if (this.core.pending === this.core.batchCommandsMax) this.flush();
        this.core.cancel(o.instrument, o.id, o.account);
        this.queued(this.current!);
      }
      // A perp's price band follows its mark (PERP-3): centred on the mark the batch left, so the
      // next batch's quotes near the mark are taken though no trade has moved the band there.
      for (const { instrument, price } of this.perps.bandsToRecentre()) {
        if (this.core.pending === this.core.batchCommandsMax) this.flush();
        this.core.setReference(instrument, price);
        this.queued(this.current!);
      }
      this.flush();
    }
    if (this.venues.active && batch.length > 0) this.venues.checkLimits(batch[batch.length - 1].seq, batch[batch.length - 1].ts);
    this.testFault?.(this);
    this.verify();
    // The batch's IOC, FOK and market orders are all done (verify saw each closed): reuse them.
    for (const o of this.passing) {
      assert(o.held === 0 && !this.orders.has(o.id), 'an order that cannot rest is closed by the end of its batch');
      if (this.spareOrders.length < SPARE_ORDERS_MAX) this.spareOrders.push(o);
    }
    this.passing.length = 0;
    return outcomes;
  }

  /**
   * The invariants the batch touched, checked before it can be committed (a throw stops the node
   * and nothing of the batch is written): every order whose hold changed holds exactly what its
   * remaining quantity needs (nothing once closed), and every balance the batch touched holds
   * exactly what its open orders hold there.
   */
  private verify(): void {
    const keys = this.verifyKeys;
    let keyCount = 0;
    try {
      for (let i = 0; i < this.touchedCount; i++) {
        const o = this.touchedOrders[i];
        const before = this.touchedBefore[i];
        const key = balanceKey(o.account, o.asset);
        keys[keyCount++] = key;
        if (this.orders.get(o.id) === o) {
          const need = this.need(o);
          if (o.held !== need) throw new Error(`order ${o.id} holds ${o.held} but needs ${need}`);
        } else if (o.held !== 0) {
          throw new Error(`closed order ${o.id} still holds ${o.held}`);
        }
        this.heldByKey.set(key, (this.heldByKey.get(key) ?? 0) + o.held - before);
      }
      this.ledger.pending.forEachSide((account, asset) => {
        if (account !== EXTERNAL_ACCOUNT) keys[keyCount++] = balanceKey(account, asset);
      });
      for (let k = 0; k < keyCount; k++) {
        const key = keys[k];
        const held = this.ledger.balanceOf(key).held;
        const expected = this.heldByKey.get(key) ?? 0;
        if (held !== expected) {
          throw new Error(`account ${Math.floor(key / ASSETS_MAX)} holds ${held} ${this.ledger.assets[key % ASSETS_MAX].code} but its open orders need ${expected}`);
        }
      }
      const resting = this.core.stats().resting;
      if (resting !== this.orders.size) throw new Error(`the core rests ${resting} orders but the node tracks ${this.orders.size}`);
    } finally {
      this.touchedCount = 0;
    }
  }

  /** What an open order must hold for its remaining quantity. */
  private need(o: OpenOrder): number {
    const account = this.ledger.accounts.get(o.account)!;
    return this.risk.holdAmount(account, this.ledger.instruments.get(o.instrument)!, o.side, o.limit, o.remaining);
  }

  /** Notes an order's hold before the batch first changes it (verify checks what it became). */
  private touch(o: OpenOrder, before = o.held): void {
    if (o.mark === this.stamp) return;
    o.mark = this.stamp;
    this.touchedOrders[this.touchedCount] = o;
    this.touchedBefore[this.touchedCount++] = before;
  }

  /** Notes a core command queued: from the first, what the core batch may change is tracked. */
  private queued(outcome: Outcome, newOrder?: OpenOrder, amendDelta = 0): void {
    if (this.pendingCount === 0) this.queuedFromSeq = this.seq;
    const i = this.pendingCount++;
    this.pendingOutcomes[i] = outcome;
    this.pendingOrders[i] = newOrder;
    this.pendingAmendDeltas[i] = amendDelta;
  }

  private reject(outcome: Outcome, reason: number): void {
    outcome.ok = false;
    outcome.reason = reason;
    outcome.reasonName = rejectName(reason);
  }

  private assetOf(code: string): number | undefined { return this.ledger.assetIndex.get(code); }

  private validTransfer(c: DepositCommand | WithdrawCommand, outcome: Outcome): number | undefined {
    const previous = this.keys.get(c.key);
    if (typeof c.key !== 'string' || c.key.length === 0) return this.reject(outcome, NodeReject.InvalidCommand), undefined;
    if (previous !== undefined) {
      outcome.duplicateOf = previous;
      return undefined;
    }
    const account = this.ledger.accounts.get(c.account);
    if (!account) return this.reject(outcome, NodeReject.UnknownAccount), undefined;
    const asset = this.assetOf(c.asset);
    if (asset === undefined) return this.reject(outcome, NodeReject.UnknownAsset), undefined;
    if (!Number.isSafeInteger(c.amount) || c.amount <= 0) return this.reject(outcome, NodeReject.InvalidAmount), undefined;
    return asset;
  }

  private deposit(c: DepositCommand, outcome: Outcome): void {
    const asset = this.validTransfer(c, outcome);
    if (asset === undefined) return;
    this.ledger.post(this.seq, Cause.Deposit, asset, EXTERNAL_ACCOUNT, Bucket.Available, c.account, Bucket.Available, c.amount);
    this.keys.set(c.key, this.seq);
  }

  private withdraw(c: WithdrawCommand, outcome: Outcome): void {
    const asset = this.validTransfer(c, outcome);
    if (asset === undefined) return;
    // Only available funds leave: what open orders hold never does.
    if (this.ledger.balance(c.account, asset).available < c.amount) return this.reject(outcome, NodeReject.InsufficientFunds);
    // Nor what perp positions and orders need as margin (PERP-5).
    if (this.perps.active && this.refused(this.perps.spendRefusal(c.account, asset, c.amount), outcome)) return;
    // The reserve fund never goes below the venues' unsettled limits (SL-17).
    const short = this.venues.reserveWithdrawalShort(c.account, asset, c.amount);
    if (short !== undefined && this.refused([NodeReject.ReserveShort, short], outcome)) return;
    this.ledger.post(this.seq, Cause.Withdrawal, asset, c.account, Bucket.Available, EXTERNAL_ACCOUNT, Bucket.Available, c.amount);
    this.keys.set(c.key, this.seq);
  }

  private admin(c: AdminCommand, outcome: Outcome): void {
    if (!Number.isSafeInteger(c.operator) || c.operator < 0) return this.reject(outcome, NodeReject.InvalidAdminCommand);
    const afmm = typeof c.body === 'object' && c.body !== null && isAfmmAction(c.body);
    const perp = typeof c.body === 'object' && c.body !== null && isPerpAction(c.body);
    // A venue's own session may only attest or release its clients' assets (the venues check the rest).
    if ((afmm || perp) && c.byVenue !== undefined) return void this.refused([NodeReject.InvalidAdminCommand, `venue ${c.byVenue} may only attest or release its own clients' assets`], outcome);
    if (afmm) {
      // The fills of the commands before it are booked, and their fees charged, under the
      // designations and preferences in force when they were made: their core batch runs first.
      const seq = this.seq;
      this.flush();
      this.seq = seq;
      const r = this.afmm.apply(c.body, c.operator, this.seq, this.ts, c.person);
      if (Array.isArray(r)) this.refused(r, outcome);
      else if (r && 'change' in r) outcome.text = `change ${r.change} proposed: it takes effect when another operator approves it (afmm.approve)`;
      else if (r && r.applied.action === 'afmm.designate' && !r.wasAfmm) {
        // Orders it placed before carry no barrier against the house (the core fixes a resting
        // order's STP group when it enters): they are cancelled, and what it places now is barred.
        // (A designation of one already an AFMM only changes its officer: its orders stay.)
        for (const a of this.ledger.accounts.values()) if (a.participant === r.applied.participant && (this.openCounts.get(a.id) ?? 0) > 0) this.cancelAccount(a.id);
      }
      return;
    }
    this.refused(perp ? this.perps.apply(c.body, c.operator, this.ts) : this.venues.apply(c as AdminCommand & { body: AdminAction }, this.seq, this.ts), outcome);
  }

  /** A price source's update (PERP-3). */
  private price(c: PriceCommand, outcome: Outcome): void {
    this.refused(this.perps.active ? this.perps.price(c, this.ts) : [NodeReject.UnknownPriceSource, 'no perpetual products are listed'], outcome);
  }

  /** Refused with the reason and text (a Refusal), returning true; false for none. */
  private refused(refusal: [number, string] | undefined, outcome: Outcome): boolean {
    if (refusal === undefined) return false;
    this.reject(outcome, refusal[0]);
    outcome.text = refusal[1];
    return true;
  }

  /** A venue client's order or amend, when its venue may not trade now: refused, naming why. */
  private venueRefused(account: number, outcome: Outcome): boolean {
    const why = this.venues.refusalFor(account);
    return why !== undefined && this.refused([NodeReject.VenueNotEligible, why], outcome);
  }

  /** A venue client's order whose worst case would pass its venue's unsettled limit (SL-15): refused. */
  private venueLimitRefused(account: number, asset: number, amount: number, outcome: Outcome, worstValue?: number): boolean {
    const why = this.venues.limitRefusal(account, asset, amount, worstValue);
    return why !== undefined && this.refused([NodeReject.UnsettledLimit, why], outcome);
  }

  private order(c: OrderCommand, outcome: Outcome): void {
    if ((c.side !== 0 && c.side !== 1) || !Number.isInteger(c.orderType) || !Number.isInteger(c.tif)) {
      return this.reject(outcome, NodeReject.InvalidCommand);
    }
    // In range here, as the core reads them (whether an order can rest is decided on these).
    if (c.orderType !== 0 && c.orderType !== 1) return this.reject(outcome, RejectReason.InvalidOrderType);
    if (c.tif < 0 || c.tif > 3) return this.reject(outcome, RejectReason.InvalidTimeInForce);
    const perp = this.perps.active && this.perps.isPerp(c.instrument);
    if (c.reduceOnly !== undefined && typeof c.reduceOnly !== 'boolean') return void this.refused([NodeReject.InvalidCommand, 'reduceOnly must be true or false'], outcome);
    if (c.reduceOnly && !perp) return void this.refused([NodeReject.ReduceOnly, 'reduce-only is for perpetual contracts'], outcome);
    if (this.venueRefused(c.account, outcome)) return;
    const reason = this.risk.checkOrder(c.account, c.instrument, c.side, c.orderType === 1, c.price, c.qty, this.openCounts.get(c.account) ?? 0);
    if (reason !== 0) return this.reject(outcome, reason);
    const account = this.ledger.accounts.get(c.account)!;
    const { asset, amount } = this.risk.hold;
    let qty = c.qty;
    if (perp) {
      const checked = this.perps.checkOrder(c.account, c.instrument, c.side, c.price, c.qty, c.reduceOnly === true, this.ts);
      if (typeof checked !== 'number') return void this.refused(checked, outcome);
      qty = checked;
    } else if (amount > 0 && this.perps.active && this.refused(this.perps.spendRefusal(c.account, asset, amount), outcome)) return;
    // A sell's worst case is more than its hold: its fee, and a fill above the reference price.
    const sell = c.side === 1 ? this.venues.sellWorstCase(c.account, c.instrument, c.price, c.qty) : undefined;
    if (this.venueLimitRefused(c.account, asset, amount, outcome, sell?.value)) return;
    this.ledger.hold(this.seq, c.account, asset, amount);
    // Only an order that can rest (a GTC or post-only limit) goes in the index of open orders: an
    // IOC, FOK or market order lives out its batch in the pending arrays (no map entry to churn),
    // in an object reused once its batch is verified.
    const rests = c.orderType === 0 && (c.tif === 0 || c.tif === 3);
    const reused = rests ? undefined : this.spareOrders.pop();
    let order: OpenOrder;
    if (reused) {
      order = reused;
      order.id = this.seq; order.account = c.account; order.instrument = c.instrument; order.side = c.side; order.limit = c.price;
      order.remaining = qty; order.held = amount; order.asset = asset; order.mark = 0;
      order.reduceOnly = undefined; order.rq = undefined; order.rl = undefined;
    } else {
      order = { id: this.seq, account: c.account, instrument: c.instrument, side: c.side, limit: c.price, remaining: qty, held: amount, asset, mark: 0 };
    }
    if (c.reduceOnly === true) order.reduceOnly = true;
    if (!rests) this.passing.push(order);
    this.touch(order, 0);
    this.open(order, rests);
    outcome.orderId = order.id;
    // The house and affiliated market makers share one group: the core never matches them (AFMM-5).
    const barred = this.afmm.barred(c.account);
    const stp = c.stpMode !== undefined || barred;
    this.core.newOrder(c.instrument, order.id, c.account, c.side, c.orderType, c.tif, c.price, qty,
      barred ? BARRED_STP_GROUP : stp ? account.participant : 0, stp ? c.stpMode ?? 0 : 0);
    this.queued(outcome, order, NEW_ORDER);
    this.taking(c.instrument, c.side, c.price);
  }

  /** The caller's own open order, or undefined (another account's order is "unknown" to it). */
  private owned(account: number, instrument: number, orderId: number): OpenOrder | undefined {
    const o = this.orders.get(orderId);
    return o && o.account === account && o.instrument === instrument ? o : undefined;
  }

  private cancel(c: CancelCommand, outcome: Outcome): void {
    // "Not open" is one reason whoever finds it, the node now or the core later in the batch.
    if (!this.owned(c.account, c.instrument, c.orderId)) return this.reject(outcome, RejectReason.UnknownOrder);
    this.core.cancel(c.instrument, c.orderId, c.account);
    this.queued(outcome);
    this.queuedNamed.add(c.orderId);
  }

  /**
   * An amend takes any extra hold now, against the order as it stands when the core amends it. So
   * when a core command queued earlier in the batch may change the order first (cancel it, fill
   * it, amend it, or the order is itself new in the batch), those commands are run first.
   */
  private amend(c: AmendCommand, outcome: Outcome): void {
    let o = this.owned(c.account, c.instrument, c.orderId);
    if (o && this.core.pending > 0 && this.mayChange(o)) {
      const seq = this.seq;
      this.flush();
      this.seq = seq;
      o = this.owned(c.account, c.instrument, c.orderId);
    }
    if (!o) return this.reject(outcome, RejectReason.UnknownOrder);
    if (this.venueRefused(c.account, outcome)) return;
    if (c.ifRemaining !== undefined && o.remaining !== c.ifRemaining) {
      this.reject(outcome, NodeReject.OrderChanged);
      outcome.text = `the order has ${o.remaining} left, not ${c.ifRemaining}`;
      return;
    }
    if (!Number.isSafeInteger(c.price) || c.price <= 0) return this.reject(outcome, NodeReject.InvalidPrice);
    if (!Number.isSafeInteger(c.qty) || c.qty <= 0) return this.reject(outcome, NodeReject.InvalidQuantity);
    // The instrument's grid and size before funds, so the reason is the real cause.
    const grid = this.risk.checkGrid(o.instrument, c.price, c.qty, true);
    if (grid !== undefined) return this.reject(outcome, grid);
    const account = this.ledger.accounts.get(o.account)!;
    const terms = this.ledger.instruments.get(o.instrument)!;
    const notional = this.ledger.notional(terms, c.price, c.qty);
    if (Number.isNaN(notional)) return this.reject(outcome, NodeReject.NotionalTooLarge);
    // An amend obeys the account's limits as a new order does.
    if (account.orderNotionalMax > 0 && notional > account.orderNotionalMax) return this.reject(outcome, NodeReject.NotionalLimit);
    const need = this.risk.holdAmount(account, terms, o.side, c.price, c.qty);
    if (!Number.isSafeInteger(need)) {
      return this.reject(outcome, c.qty % terms.lotSize !== 0 ? RejectReason.QuantityOffLot : NodeReject.NotionalTooLarge);
    }
    if (this.perps.active && this.perps.isPerp(o.instrument) && this.refused(this.perps.amendRefusal(o, c.price, c.qty, this.ts), outcome)) return;
    const delta = need - o.held;
    if (delta > 0) {
      const short = this.risk.fundsShort(account, o.asset, delta);
      if (short !== undefined) return this.reject(outcome, short);
      if (this.perps.active && this.refused(this.perps.spendRefusal(o.account, o.asset, delta), outcome)) return;
      const sell = o.side === 1 ? this.venues.sellWorstCase(o.account, o.instrument, c.price, delta) : undefined;
      if (this.venueLimitRefused(o.account, o.asset, delta, outcome, sell?.value)) return;
      this.touch(o);
      this.ledger.hold(this.seq, o.account, o.asset, delta);
      o.held += delta;
    }
    this.core.amend(c.instrument, c.orderId, c.account, c.price, c.qty);
    this.queued(outcome, o, Math.max(0, delta));
    this.queuedNamed.add(o.id);
    this.taking(o.instrument, o.side, c.price);
  }

  /** Notes a queued command that may take liquidity on `side` up to `limit`. */
  private taking(instrument: number, side: number, limit: number): void {
    const key = takingKey(instrument, side);
    const known = this.queuedTaking.get(key);
    if (known === undefined || (side === Side.Buy ? limit > known : limit < known)) this.queuedTaking.set(key, limit);
  }

  /** Could a core command queued in this core batch change `o` before a command queued now? */
  private mayChange(o: OpenOrder): boolean {
    if (o.id >= this.queuedFromSeq || this.queuedNamed.has(o.id) || this.queuedMassCancel.has(o.account)) return true;
    const taker = this.queuedTaking.get(takingKey(o.instrument, 1 - o.side));
    return taker !== undefined && (o.side === Side.Sell ? o.limit <= taker : o.limit >= taker);
  }

  private massCancel(c: MassCancelCommand, outcome: Outcome): void {
    if (!this.ledger.accounts.has(c.account)) return this.reject(outcome, NodeReject.UnknownAccount);
    if (c.instrument !== undefined && !this.ledger.instruments.has(c.instrument)) return this.reject(outcome, NodeReject.UnknownInstrument);
    // An account only ever cancels its own orders.
    let scope = Scope.Account;
    if (c.instrument !== undefined) scope |= Scope.Instrument;
    if (c.side !== undefined) scope |= Scope.Side;
    this.core.massCancel(scope, c.account, c.instrument ?? 0, c.side ?? 0);
    this.queued(outcome);
    this.queuedMassCancel.add(c.account);
  }

  private open(o: OpenOrder, indexed = true): void {
    if (indexed) this.orders.set(o.id, o);
    this.openCounts.set(o.account, (this.openCounts.get(o.account) ?? 0) + 1);
    if (o.held === 0 && this.perps.active && this.perps.isPerp(o.instrument)) this.perps.reserve(o, true);
  }

  private close(o: OpenOrder): void {
    this.touch(o);
    this.ledger.release(this.seq, o.account, o.asset, o.held);
    o.held = 0;
    this.orders.delete(o.id);
    this.openCounts.set(o.account, this.openCounts.get(o.account)! - 1);
    if (o.rq !== undefined) this.perps.reserve(o, false);
  }

  /** Releases what an open order holds beyond what its remaining quantity needs. */
  private trim(o: OpenOrder): void {
    if (o.remaining === 0) return this.close(o);
    if (o.rq !== undefined) this.perps.reserve(o, true);
    this.touch(o);
    const need = this.need(o);
    const excess = o.held - need;
    if (excess < 0) throw new Error(`order ${o.id} holds ${o.held} but needs ${need}`);
    this.ledger.release(this.seq, o.account, o.asset, excess);
    o.held = need;
  }

  /** Runs the queued core commands and books what they did. */
  private flush(): void {
    if (this.core.pending === 0) return;
    // A copy: outcomes keep reading their events after the core's buffer is reused.
    const events = this.core.flush().copy();
    const count = this.pendingCount;
    this.pendingCount = 0;
    this.queuedFromSeq = Number.MAX_SAFE_INTEGER;
    // Cleared only when used: clearing a Map or Set allocates its table anew.
    if (this.queuedNamed.size > 0) this.queuedNamed.clear();
    if (this.queuedTaking.size > 0) this.queuedTaking.clear();
    if (this.queuedMassCancel.size > 0) this.queuedMassCancel.clear();
    for (let i = 0; i < events.length; i++) {
      const k = events.commandIndex(i);
      assert(k < count, 'an event names a command of this core batch');
      this.seq = this.pendingOutcomes[k].seq;
      this.book(events, i, k);
    }
  }

  /** One event of the core batch: `k` is its command's place in the pending arrays. */
  private book(events: EventBatch, i: number, k: number): void {
    const kind = events.kind(i);
    const outcome = this.pendingOutcomes[k];
    outcome.addEvent(events, i);
    switch (kind) {
      case EventKind.Rejected:
        // A liquidation order the core refuses (outside the band, say) is the waterfall's, not the
        // command's it was reported under: it just closes, and the next stage takes the position.
        if (this.pendingAmendDeltas[k] === NEW_ORDER && this.pendingOrders[k]!.id > LIQUIDATION_ID_BASE) return this.close(this.pendingOrders[k]!);
        this.reject(outcome, events.reason(i));
        if (this.pendingAmendDeltas[k] === NEW_ORDER) this.close(this.pendingOrders[k]!);
        else if (this.pendingOrders[k]?.rq !== undefined && this.orders.has(this.pendingOrders[k]!.id)) {
          // A refused amend of a perp order: its reservation goes back to what the order is.
          this.perps.reserve(this.pendingOrders[k]!, true);
        } else if (this.pendingAmendDeltas[k] > 0) {
          const order = this.pendingOrders[k]!;
          const delta = this.pendingAmendDeltas[k];
          this.touch(order);
          this.ledger.release(this.seq, order.account, order.asset, delta);
          order.held -= delta;
        }
        return;
      case EventKind.Fill:
        return this.fill(events, i, k);
      case EventKind.Cancelled: {
        const o = this.orderOf(events.orderId(i), k);
        if (o) this.close(o);
        return;
      }
      case EventKind.Reduced:
      case EventKind.Amended: {
        const o = this.orderOf(events.orderId(i), k)!;
        if (kind === EventKind.Amended) o.limit = events.price(i);
        o.remaining = events.remaining(i);
        return this.trim(o);
      }
      default:
        return; // Accepted, Rested: nothing moves.
    }
  }

  /** An order an event of command `k` names: the command's own new order, or one in the index. */
  private orderOf(orderId: number, k: number): OpenOrder | undefined {
    const own = this.pendingOrders[k];
    return own !== undefined && own.id === orderId ? own : this.orders.get(orderId);
  }

  private fill(events: EventBatch, i: number, k: number): void {
    const taker = this.orderOf(events.orderId(i), k)!;
    const maker = this.orders.get(events.makerOrderId(i))!;
    const terms = this.ledger.instruments.get(taker.instrument)!;
    const buyer = events.side(i) === Side.Buy ? taker : maker;
    const seller = events.side(i) === Side.Buy ? maker : taker;
    const qty = events.qty(i);
    const notional = this.ledger.notional(terms, events.price(i), qty);
    this.venues.traded(taker.instrument, events.price(i));
    this.touch(taker);
    this.touch(maker);
    if (terms.perp === true) return this.perpFill(events, i, taker, maker, buyer, seller, terms, notional);
    if (this.perps.active) this.perps.traded(taker.instrument, events.price(i), this.ts);
    // Delivery versus payment inside the ledger: both legs post together.
    this.ledger.post(this.seq, Cause.Fill, terms.quote, buyer.account, Bucket.Held, seller.account, Bucket.Available, notional);
    buyer.held -= notional;
    this.ledger.post(this.seq, Cause.Fill, terms.base, seller.account, Bucket.Held, buyer.account, Bucket.Available, qty);
    seller.held -= qty;
    // Across custody locations (a venue client on one side): what each location owes the other.
    this.venues.moved(this.seq, buyer.account, seller.account, terms.quote, notional);
    this.venues.moved(this.seq, seller.account, buyer.account, terms.base, qty);
    // The taker's fee first, so a maker rebate is always covered by it.
    this.charge(taker, terms, notional, true);
    this.charge(maker, terms, notional, false);
    taker.remaining = events.remaining(i);
    maker.remaining = events.makerRemaining(i);
    this.trim(taker);
    this.trim(maker);
  }

  /** A fill on a perpetual: positions change (PnL realized through the clearing account), fees in the settlement asset. */
  private perpFill(events: EventBatch, i: number, taker: OpenOrder, maker: OpenOrder, buyer: OpenOrder, seller: OpenOrder, terms: InstrumentTerms, notional: number): void {
    this.perps.fill(this.seq, buyer.account, seller.account, taker.instrument, events.price(i), events.qty(i), notional);
    if (taker.id > LIQUIDATION_ID_BASE) this.perps.waterfall.filled(taker.account, taker.instrument, events.qty(i), notional);
    for (const [o, isTaker] of [[taker, true], [maker, false]] as const) {
      // A liquidation order pays no trading fee: the liquidation fee to the insurance fund replaces
      // it, and a fee past bankruptcy would leave the account owing (PERP-6).
      if (o.id > LIQUIDATION_ID_BASE) continue;
      const fee = feeOf(notional, this.feeBps(o.account, isTaker));
      if (fee !== 0) this.perps.fee(this.seq, o.account, fee);
    }
    taker.remaining = events.remaining(i);
    maker.remaining = events.makerRemaining(i);
    this.trim(taker);
    this.trim(maker);
  }

  /**
   * The fee rate of an account's fill: its own tier's, or an AFMM's fee preference (configured and
   * disclosed, AFMM-4) where that charges less. Never more than the own tier, which orders hold
   * for: an operator may change the own tier later (venue.update) to below the preference.
   */
  private feeBps(accountId: number, taker: boolean): number {
    const own = this.ledger.fees.tier(this.ledger.accounts.get(accountId)!.feeTier);
    const ownBps = taker ? own.takerBps : own.makerBps;
    const preferred = this.afmm.feeTier(accountId);
    if (preferred === undefined) return ownBps;
    const t = this.ledger.fees.tier(preferred);
    return Math.min(ownBps, taker ? t.takerBps : t.makerBps);
  }

  private charge(o: OpenOrder, terms: InstrumentTerms, notional: number, taker: boolean): void {
    const fee = feeOf(notional, this.feeBps(o.account, taker));
    if (fee > 0) {
      // A buyer pays from its hold, a seller from the proceeds it just received.
      const bucket = o.side === Side.Buy ? Bucket.Held : Bucket.Available;
      this.ledger.post(this.seq, Cause.Fee, terms.quote, o.account, bucket, this.feesAccount, Bucket.Available, fee);
      if (o.side === Side.Buy) o.held -= fee;
      this.venues.moved(this.seq, o.account, this.feesAccount, terms.quote, fee);
    } else if (fee < 0) {
      this.ledger.post(this.seq, Cause.Rebate, terms.quote, this.feesAccount, Bucket.Available, o.account, Bucket.Available, -fee);
      this.venues.moved(this.seq, this.feesAccount, o.account, terms.quote, -fee);
    }
  }

  /** balanceKey(account, asset) → what open orders hold there. */
  heldByOrders(): Map<number, number> {
    const held = new Map<number, number>();
    for (const o of this.orders.values()) {
      const key = balanceKey(o.account, o.asset);
      held.set(key, (held.get(key) ?? 0) + o.held);
    }
    return held;
  }

  /** Ledger invariants, and the core's resting orders against the open orders the node tracks. */
  checkInvariants(specs: readonly InstrumentSpec[]): void {
    this.ledger.checkInvariants(this.heldByOrders());
    this.perps.checkInvariants();
    this.core.checkInvariants();
    const resting = this.core.stats().resting;
    if (resting !== this.orders.size) throw new Error(`the core rests ${resting} orders but the node tracks ${this.orders.size}`);
    for (const spec of specs) {
      for (const side of [Side.Buy, Side.Sell]) {
        const core = this.core.depth(spec.id, side, resting).reduce((s, l) => s + l.qty, 0);
        let tracked = 0;
        for (const o of this.orders.values()) if (o.instrument === spec.id && o.side === side) tracked += o.remaining;
        if (core !== tracked) throw new Error(`instrument ${spec.id} side ${side}: the core rests ${core} but the node tracks ${tracked}`);
      }
    }
  }

  state(): PipelineState {
    return {
      orders: [...this.orders.values()].map((o) => ({
        id: o.id, account: o.account, instrument: o.instrument, side: o.side, limit: o.limit, remaining: o.remaining, held: o.held, asset: o.asset,
        ...(o.reduceOnly ? { reduceOnly: true } : {}),
      })),
      keys: [...this.keys],
      venues: this.venues.state(),
      ...(this.perps.active ? { perps: this.perps.state() } : {}),
      afmm: this.afmm.state(),
    };
  }

  restoreState(state: PipelineState): void {
    this.orders.clear();
    this.openCounts.clear();
    for (const o of state.orders) {
      const order: OpenOrder = { ...o, mark: 0 };
      this.orders.set(order.id, order);
      this.openCounts.set(order.account, (this.openCounts.get(order.account) ?? 0) + 1);
    }
    this.keys.clear();
    for (const [k, v] of state.keys) this.keys.set(k, v);
    this.venues.restoreState(state.venues);
    if (this.perps.active) this.perps.restoreState(state.perps, this.orders.values());
    this.afmm.restoreState(state.afmm);
    this.heldByKey.clear();
    for (const [key, held] of this.heldByOrders()) this.heldByKey.set(key, held);
  }
}

