// The shared order book's venue side of the node state (SL-7, SL-8, SL-10): the registry, the
// venue clients' accounts (pre-funded in their venue's custody by attestations), which venues may
// trade now, and what each custody location owes another for fills across them. Applied by the
// pipeline, deterministic: replay rebuilds it exactly.
import { Bucket, Cause, EXTERNAL_ACCOUNT, AccountKind, PLATFORM_CUSTODY, type Account, type Participant } from '../ledger/model.js';
import { balanceKey, type Ledger } from '../ledger/ledger.js';
import { feeOf, mulDiv } from '../ledger/fees.js';
import { NodeReject } from '../risk/reasons.js';
import type { AdminCommand } from '../pipeline/commands.js';
import { AdminError, checkAction, type AdminAction } from './admin.js';
import { RULES } from './rulebook.js';
import { nextDailyCutoff, Settlement, type SettlementState } from './settlement.js';
import { INELIGIBILITY_TEXT, VenueRegistry, type Ineligibility, type RegistryState, type Venue, type VenueEvent } from './registry.js';


/** Hours of history the expected settlement exposure is the peak of (the rulebook's). */
const EXPECTED_HOURS = RULES.expectedExposureHours;

/** Venue participants' and venue clients' ids start here (configured ones stay below). */
export const VENUE_IDS_FROM = 1_000_000;

/** What a custody location owes another, per asset (gross, in the asset's ledger units). */
export interface CustodyDue { from: string; to: string; asset: string; amount: number }

export interface VenuesState {
  registry: RegistryState;
  participants: Participant[];
  accounts: Account[];
  dues: [string, number][];
  nextId: number;
  /** Each instrument's last trade price (the reference prices exposure is valued at). */
  prices?: [number, number][];
  /** Venues whose exposure is past their limit (an alert was recorded). */
  breached?: string[];
  /** Hourly peaks of total exposure per limit asset, and the assets whose reserve is below them. */
  peaks?: [string, [number, number][]][];
  reserveBelow?: string[];
  coverageShort?: string[];
  settlement?: SettlementState;
  platformSettlement?: number;
}

/** A venue's unsettled exposure (SL-15), in units of its limit asset. */
export interface Exposure {
  /** What its custody owes other locations, valued at the reference prices... */
  owed: number;
  /** ...and the worst case of its clients' open orders: what they hold, valued the same way. */
  reserved: number;
  total: number;
  limit: number;
  asset: string;
}

/** A refused command: the reason and what it says. */
export type Refusal = [reason: NodeReject, text: string];

export class Venues {
  readonly registry = new VenueRegistry();
  /** Venue client account → its venue's code. */
  readonly clientAccounts = new Map<number, string>();
  /** Venues that may not trade now (suspended or not eligible at the current batch's time), and why. */
  readonly blocked = new Map<string, string>();
  /** `from|to|asset` → what custody location `from` owes `to` (gross). */
  private readonly dues = new Map<string, number>();
  private nextId = VENUE_IDS_FROM;
  /** The command being applied: its sequence number and time (what settlement events carry). */
  private seq = 0;
  private ts = 0;
  /** Settlement cycles and DVP batches (SL-11, SL-14). */
  readonly settlement = new Settlement({
    takeDues: () => {
      const taken = new Map(this.dues);
      this.dues.clear();
      return taken;
    },
    adjustOwed: (location, asset, delta) => this.owes(location, this.ledger.assetIndex.get(asset)!, delta),
    venueOf: (location) => {
      return this.registry.venueByCustody(location)?.code;
    },
    defaultVenue: (code, reason) => {
      const v = this.registry.venues.get(code)!;
      if (v.status === 'active') this.suspend(v, reason, 0, this.seq, this.ts, reason);
      this.refresh(this.ts);
    },
    record: (venue, event, detail) => this.record(this.seq, this.ts, venue, event as VenueEvent['event'], 0, detail),
    compensate: (venue, batch, asset, amount) => this.compensate(venue, batch, asset, amount),
    // A settled leg in the ledger: the obligation is met, both settlement accounts move back.
    settled: (from, to, asset, amount) => this.ledger.post(this.seq, Cause.Settlement, this.ledger.assetIndex.get(asset)!,
      this.settlementAccountOf(to), Bucket.Available, this.settlementAccountOf(from), Bucket.Available, amount),
  });

  /**
   * A venue defaulted on `amount` of `asset` (a failed settlement leg): the reserve fund covers it
   * into the venue's settlement account, valued in the reserve's asset (the venue's limit asset),
   * as a compensation posting that names the batch, the venue and the amounts (SL-16, SL-17).
   * What the reserve cannot cover is said. Platform clients' balances do not change.
   */
  private compensate(code: string, batch: string, asset: string, amount: number): number {
    const v = this.registry.venues.get(code)!;
    const reserve = this.reserveAccount();
    const quote = this.ledger.assetIndex.get(v.unsettledLimitAsset);
    if (reserve === undefined || quote === undefined || v.settlementAccount === undefined) return 0;
    const worth = this.value(this.ledger.assetIndex.get(asset)!, amount, quote);
    const available = this.ledger.balance(reserve, quote).available;
    const paid = Number.isFinite(worth) ? Math.min(worth, available) : 0;
    if (paid > 0) this.ledger.post(this.seq, Cause.Compensation, quote, reserve, Bucket.Available, v.settlementAccount, Bucket.Available, paid);
    this.record(this.seq, this.ts, code, 'compensation-paid', 0,
      `batch ${batch}: venue ${code} failed to deliver ${amount} ${asset} (worth ${worth} ${v.unsettledLimitAsset}); the reserve paid ${paid} ${v.unsettledLimitAsset} into settlement account ${v.settlementAccount}${paid < worth ? `; ${worth - paid} not covered` : ''}`);
    return paid;
  }
  /** Per venue, per asset: what its clients' open orders hold (kept by the ledger's onHeld). */
  private readonly heldBy = new Map<string, number[]>();
  /** Per custody location, per asset: what it owes other locations (gross). */
  private readonly owedBy = new Map<string, number[]>();
  /** Each instrument's last trade price, from its configured reference price on. */
  private readonly prices = new Map<number, number>();
  private readonly breached = new Set<string>();
  /** Per limit asset: [hour, highest total exposure in it] over the last EXPECTED_HOURS. */
  private readonly peaks = new Map<string, [number, number][]>();
  /** Limit assets whose reserve is below the expected settlement exposure (an alert was recorded). */
  private readonly reserveBelow = new Set<string>();
  /** Assets whose compensation coverage is below the minimum (an alert was recorded). */
  private readonly coverageShort = new Set<string>();

  constructor(
    private readonly ledger: Ledger,
    /** Idempotency keys shared with deposits and withdrawals → the sequence number that applied them. */
    private readonly keys: Map<string, number>,
    /** Queues the cancel of every open order of an account (the pipeline's mass cancel). */
    private readonly cancelAccount: (account: number) => void,
    /** The instruments' configured reference prices, the first valuation. */
    refPrices: ReadonlyMap<number, number> = new Map(),
  ) {
    for (const [id, price] of refPrices) this.prices.set(id, price);
  }

  private held(account: number, asset: number, delta: number): void {
    const venue = this.clientAccounts.get(account);
    if (venue === undefined) return;
    let held = this.heldBy.get(venue);
    if (!held) this.heldBy.set(venue, (held = this.ledger.assets.map(() => 0)));
    held[asset] += delta;
  }

  /** Starts counting holds once a venue client exists (until then the ledger pays nothing for it). */
  private watchHolds(): void {
    this.ledger.onHeld ??= (account, asset, delta) => this.held(account, asset, delta);
  }

  /**
   * The reserve fund (SL-17) is the ledger's reserve account, held in trust. The rule: in each
   * asset, what it holds covers the sum of the unsettled limits of every venue (any status) with
   * that limit asset — several venues may fail in one stress event, and one fund answers for all.
   */
  reserveAccount(): number | undefined {
    for (const a of this.ledger.accounts.values()) if (a.kind === AccountKind.Reserve) return a.id;
    return undefined;
  }

  /** The sum of the venues' unsettled limits in an asset. */
  limitsIn(asset: string): number {
    let sum = 0;
    for (const v of this.registry.venues.values()) if (v.unsettledLimitAsset === asset) sum += v.unsettledLimit;
    return sum;
  }

  /**
   * Why the reserve would not cover `limits` of `asset` after `withdrawn` leaves it; undefined when
   * it would.
   */
  reserveShort(asset: string, limits: number, withdrawn: number): string | undefined {
    if (limits === 0) return undefined;
    const account = this.reserveAccount();
    if (account === undefined) return 'the node has no reserve account to cover the venues\' unsettled limits';
    const index = this.ledger.assetIndex.get(asset);
    const holds = index === undefined ? 0 : this.ledger.balance(account, index).available;
    if (holds - withdrawn >= limits) return undefined;
    return `the reserve would hold ${holds - withdrawn} ${asset} but the venues' unsettled limits add up to ${limits}`;
  }

  /** Why a withdrawal from the reserve account would leave it short of the limits; undefined when it would not. */
  reserveWithdrawalShort(account: number, asset: number, amount: number): string | undefined {
    if (this.registry.venues.size === 0 || account !== this.reserveAccount()) return undefined;
    const code = this.ledger.assets[asset].code;
    return this.reserveShort(code, this.limitsIn(code), amount);
  }

  /** An instrument traded at `price`: its reference price from now on. */
  traded(instrument: number, price: number): void {
    if (this.clientAccounts.size > 0) this.prices.set(instrument, price);
  }

  /**
   * `units` of `asset` valued in `quote` at the reference price of the instrument trading one
   * against the other, rounded up (against the venue); Infinity when nothing prices it.
   */
  value(asset: number, units: number, quote: number): number {
    if (units === 0 || asset === quote) return units;
    for (const terms of this.ledger.instruments.values()) {
      const price = this.prices.get(terms.id) ?? 0;
      if (price <= 0) continue;
      const unit = terms.priceDivisor * terms.qtyDivisor;
      // The asset is the instrument's base: units × price; or its quote: units ÷ price (in base units).
      if (terms.base === asset && terms.quote === quote) return mulDiv(price, units, unit);
      if (terms.quote === asset && terms.base === quote) return mulDiv(unit, units, price);
    }
    return Infinity;
  }

  /**
   * A sell's worst case for its venue (SL-15): its quantity valued at the higher of its limit and
   * the reference price (it may fill above the reference, and its fill becomes the reference),
   * plus the largest fee its tier can charge on that notional, paid in the quote asset.
   */
  sellWorstCase(account: number, instrument: number, limitPrice: number, qty: number): { asset: number; value: number } | undefined {
    if (this.clientAccounts.size === 0 || !this.clientAccounts.has(account)) return undefined;
    const terms = this.ledger.instruments.get(instrument)!;
    const venue = this.registry.venues.get(this.clientAccounts.get(account)!)!;
    const quote = this.ledger.assetIndex.get(venue.unsettledLimitAsset);
    if (quote === undefined) return undefined;
    const price = Math.max(limitPrice, this.prices.get(instrument) ?? 0);
    const notional = mulDiv(price, qty, terms.priceDivisor * terms.qtyDivisor);
    const tier = this.ledger.fees.tier(this.ledger.accounts.get(account)!.feeTier);
    const fee = feeOf(notional, Math.max(tier.takerBps, tier.makerBps, 0));
    const inQuote = this.value(terms.quote, notional + fee, quote);
    return { asset: quote, value: inQuote };
  }

  private isBase(asset: number): boolean {
    for (const terms of this.ledger.instruments.values()) if (terms.base === asset) return true;
    return false;
  }

  /** A venue's unsettled exposure now. */
  exposure(code: string): Exposure {
    const v = this.registry.venues.get(code)!;
    const quote = this.ledger.assetIndex.get(v.unsettledLimitAsset) ?? -1;
    const held = this.heldBy.get(code);
    const owed = this.owedBy.get(v.custody);
    let reserved = 0;
    let owes = 0;
    const tier = this.ledger.fees.tier(v.feeTier);
    const feeBps = Math.max(tier.takerBps, tier.makerBps, 0);
    for (let a = 0; a < this.ledger.assets.length; a++) {
      if (held && held[a] > 0) {
        const worth = quote < 0 ? Infinity : this.value(a, held[a], quote);
        // A hold of an instrument's base asset is a sell's quantity: its fee is still to come (a
        // buy's hold, in a quote asset, has its fee in it already).
        reserved += a !== quote && this.isBase(a) ? worth + feeOf(Math.min(worth, Number.MAX_SAFE_INTEGER), feeBps) : worth;
      }
      if (owed && owed[a] > 0) owes += quote < 0 ? Infinity : this.value(a, owed[a], quote);
    }
    return { owed: owes, reserved, total: owes + reserved, limit: v.unsettledLimit, asset: v.unsettledLimitAsset };
  }

  /**
   * Why a venue client's order (or amend) that would hold `amount` more of `asset` is refused:
   * its worst case would take the venue's exposure past its limit. Undefined when it may enter.
   */
  limitRefusal(account: number, asset: number, amount: number, worstValue?: number): string | undefined {
    if (this.clientAccounts.size === 0) return undefined;
    const code = this.clientAccounts.get(account);
    if (code === undefined) return undefined;
    const v = this.registry.venues.get(code)!;
    const quote = this.ledger.assetIndex.get(v.unsettledLimitAsset);
    if (quote === undefined) return `the limit asset ${v.unsettledLimitAsset} is not an asset of the node`;
    const e = this.exposure(code);
    const worst = worstValue ?? this.value(asset, amount, quote);
    if (worst === Infinity) return `no reference price values ${this.ledger.assets[asset].code} in ${v.unsettledLimitAsset}`;
    if (e.total + worst <= e.limit) return undefined;
    return `exposure ${e.total} + this order's ${worst} would pass venue ${code}'s limit of ${e.limit} ${v.unsettledLimitAsset}`;
  }

  /**
   * After a batch: a venue whose exposure went past its limit (prices moved) is recorded once, and
   * again when it is back within it. Its new orders are refused meanwhile (limitRefusal).
   */
  checkLimits(seq: number, ts: number): void {
    if (this.clientAccounts.size === 0) return;
    const totals = new Map<string, number>();
    for (const code of this.registry.venues.keys()) {
      const e = this.exposure(code);
      totals.set(e.asset, (totals.get(e.asset) ?? 0) + e.total);
      const over = e.total > e.limit;
      if (over === this.breached.has(code)) continue;
      if (over) this.breached.add(code);
      else this.breached.delete(code);
      this.record(seq, ts, code, over ? 'limit-breached' : 'limit-restored', 0, `exposure ${e.total} against a limit of ${e.limit} ${e.asset}`);
    }
    this.checkReserve(seq, ts, totals);
  }

  /**
   * Expected settlement exposure (SL-17): the highest total unsettled exposure of all venues, per
   * limit asset, over the last 24 hours of sequencer time (hourly peaks). When the reserve holds
   * less than that, a `reserve-below-expected` event is recorded (and `reserve-restored` after).
   */
  private checkReserve(seq: number, ts: number, totals: Map<string, number>): void {
    const hour = Math.floor(ts / 3_600_000_000);
    const account = this.reserveAccount();
    // Assets no venue limits in any more still age out, and their alert clears.
    for (const asset of [...this.peaks.keys(), ...this.reserveBelow]) if (!totals.has(asset)) totals.set(asset, 0);
    for (const [asset, total] of totals) {
      let peaks = this.peaks.get(asset);
      if (!peaks) this.peaks.set(asset, (peaks = []));
      const last = peaks[peaks.length - 1];
      if (last && last[0] === hour) last[1] = Math.max(last[1], total);
      else peaks.push([hour, total]);
      while (peaks.length > 0 && peaks[0][0] <= hour - EXPECTED_HOURS) peaks.shift();
      const expected = Math.max(...peaks.map(([, peak]) => peak));
      const index = this.ledger.assetIndex.get(asset);
      const holds = account === undefined || index === undefined ? 0 : this.ledger.balance(account, index).available;
      const below = holds < expected;
      if (below === this.reserveBelow.has(asset)) continue;
      if (below) this.reserveBelow.add(asset);
      else this.reserveBelow.delete(asset);
      this.record(seq, ts, '*', below ? 'reserve-below-expected' : 'reserve-restored', 0,
        `the reserve holds ${holds} ${asset}; expected settlement exposure (the 24-hour peak) is ${expected}`);
    }
  }

  /**
   * Compensation coverage (SL-18): the arrangements in force must cover the configured minimum per
   * asset; a lapsed policy or coverage below it records `compensation-short` (once), and
   * `compensation-restored` when it is covered again. Checked on every change and on the clock.
   */
  private checkCoverage(seq: number, ts: number): void {
    for (const { asset, coverage, minimum } of this.registry.coverage(ts)) {
      const short = coverage < minimum;
      if (short === this.coverageShort.has(asset)) continue;
      if (short) this.coverageShort.add(asset);
      else this.coverageShort.delete(asset);
      this.record(seq, ts, '*', short ? 'compensation-short' : 'compensation-restored', 0,
        `compensation arrangements in force cover ${coverage} ${asset}; the minimum is ${minimum}`);
    }
  }

  /** Whether compensation coverage is short at `ts` and no alert says so yet (the clock should run). */
  coverageDue(ts: number): boolean {
    // Coverage only rises through commands, which check it themselves: only a lapse is due.
    return this.registry.coverage(ts).some(({ asset, coverage, minimum }) => coverage < minimum && !this.coverageShort.has(asset));
  }

  /** Expected settlement exposure per limit asset: the highest hourly peak of the last 24 hours. */
  expectedExposure(asset: string): number {
    const peaks = this.peaks.get(asset);
    return peaks && peaks.length > 0 ? Math.max(...peaks.map(([, peak]) => peak)) : 0;
  }

  get active(): boolean { return this.registry.venues.size > 0; }

  /** Which venues may trade at sequencer time `ts`. */
  refresh(ts: number): void {
    this.blocked.clear();
    for (const code of this.registry.venues.keys()) {
      const why = this.registry.refusal(code, ts);
      if (why !== undefined) this.blocked.set(code, why);
    }
  }

  /** Why an account may not trade now (it is a client of a blocked venue), or undefined. */
  refusalFor(account: number): string | undefined {
    if (this.clientAccounts.size === 0) return undefined;
    const code = this.clientAccounts.get(account);
    return code === undefined ? undefined : this.blocked.get(code);
  }

  /** Notes `amount` of `asset` moving from one account to another: between custody locations it is owed. */
  moved(seq: number, from: number, to: number, asset: number, amount: number): void {
    if (this.clientAccounts.size === 0 || (!this.clientAccounts.has(from) && !this.clientAccounts.has(to))) return;
    const a = this.ledger.accounts.get(from)!;
    const b = this.ledger.accounts.get(to)!;
    const source = this.ledger.locationOf(a, asset);
    const sink = this.ledger.locationOf(b, asset);
    if (source === sink) return;
    // The units stay where they are until settlement: the location holding them owes the other.
    const key = `${source}|${sink}|${this.ledger.assets[asset].code}`;
    this.dues.set(key, (this.dues.get(key) ?? 0) + amount);
    this.owes(source, asset, amount);
    // In the ledger: the source's settlement account owes what the sink's is owed (SL-16).
    this.ledger.post(seq, Cause.Obligation, asset, this.settlementAccountOf(source), Bucket.Available, this.settlementAccountOf(sink), Bucket.Available, amount);
  }

  /** The platform's settlement account (made with the first venue). */
  private platformSettlement = 0;

  /** The settlement account of a custody location: the platform's, or its venue's. */
  settlementAccountOf(location: string): number {
    if (location === PLATFORM_CUSTODY) return this.platformSettlement;
    const venue = this.registry.venueByCustody(location);
    if (venue) return venue.settlementAccount!;
    throw new Error(`no settlement account for custody location ${location}`);
  }

  private owes(location: string, asset: number, amount: number): void {
    let owed = this.owedBy.get(location);
    if (!owed) this.owedBy.set(location, (owed = this.ledger.assets.map(() => 0)));
    owed[asset] += amount;
  }

  /** Gross amounts owed between custody locations, per asset. */
  custodyDues(): CustodyDue[] {
    return [...this.dues].map(([key, amount]) => {
      const [from, to, asset] = key.split('|');
      return { from, to, asset, amount };
    }).sort((x, y) => (x.from + x.to + x.asset).localeCompare(y.from + y.to + y.asset));
  }

  /** What each pair of locations owes net, per asset (the larger side owes the difference). */
  netDues(): CustodyDue[] {
    const net = new Map<string, CustodyDue>();
    for (const d of this.custodyDues()) {
      const [x, y] = d.from < d.to ? [d.from, d.to] : [d.to, d.from];
      const key = `${x}|${y}|${d.asset}`;
      const entry = net.get(key) ?? { from: x, to: y, asset: d.asset, amount: 0 };
      entry.amount += d.from === x ? d.amount : -d.amount;
      net.set(key, entry);
    }
    return [...net.values()].filter((d) => d.amount !== 0).map((d) => (d.amount > 0 ? d : { from: d.to, to: d.from, asset: d.asset, amount: -d.amount }));
  }

  /** Applies an operator command; a refusal changes nothing. */
  apply(c: AdminCommand, seq: number, ts: number): Refusal | undefined {
    let body: AdminAction;
    try {
      body = checkAction(c.body);
    } catch (e) {
      if (e instanceof AdminError) return [NodeReject.InvalidAdminCommand, e.message];
      throw e;
    }
    if (c.byVenue !== undefined && !((body.action === 'custody.attest' || body.action === 'custody.release') && body.venue === c.byVenue)) {
      return [NodeReject.InvalidAdminCommand, `venue ${c.byVenue} may only attest or release its own clients' assets`];
    }
    this.seq = seq;
    this.ts = ts;
    const refusal = this.act(body, c.operator, seq, ts);
    if (refusal) return refusal;
    // Eligibility is re-evaluated on every change (and on the clock): a venue that stops
    // qualifying is suspended, its clients' open orders cancelled.
    for (const v of this.registry.venues.values()) {
      if (v.status !== 'active') continue;
      const why = this.registry.ineligibility(v, ts);
      if (why) this.suspend(v, why, 0, seq, ts, `no longer eligible: ${INELIGIBILITY_TEXT[why]}`);
    }
    this.checkCoverage(seq, ts);
    this.refresh(ts);
    return undefined;
  }

  private record(seq: number, ts: number, venue: string, event: VenueEvent['event'], operator: number, detail: string): void {
    this.registry.record({ seq, ts, venue, event, operator, detail });
  }

  private suspend(v: Venue, reason: string, operator: number, seq: number, ts: number, detail: string): void {
    v.status = 'suspended';
    v.statusReason = reason;
    for (const account of Object.values(v.clients)) this.cancelAccount(account);
    this.record(seq, ts, v.code, 'suspended', operator, detail);
  }

  private venue(code: string): Venue | Refusal {
    return this.registry.venues.get(code) ?? [NodeReject.UnknownVenue, `no venue ${code}`];
  }

  private act(body: AdminAction, operator: number, seq: number, ts: number): Refusal | undefined {
    const registry = this.registry;
    switch (body.action) {
      case 'clock':
        this.settlement.tick(seq, ts);
        return undefined;
      case 'compensation.payout': {
        const a = registry.compensation.get(body.arrangement);
        if (!a) return [NodeReject.InvalidAdminCommand, `no compensation arrangement ${body.arrangement}`];
        const b = this.settlement.batches.get(body.batch);
        if (!b || b.state !== 'failed') return [NodeReject.InvalidAdminCommand, `${body.batch} is not a failed settlement batch`];
        if (!a.assets.includes(body.asset) && a.coverageAsset !== body.asset) return [NodeReject.InvalidAdminCommand, `arrangement ${a.id} does not cover ${body.asset}`];
        const asset = this.ledger.assetIndex.get(body.asset);
        const reserve = this.reserveAccount();
        if (asset === undefined || reserve === undefined) return [NodeReject.InvalidAdminCommand, `no reserve account or asset ${body.asset}`];
        const key = `compensation.payout:${body.id}`;
        if (this.keys.has(key)) return undefined; // idempotent by id
        // The provider pays into the reserve fund, which covered the default: a ledger event linked to the policy.
        this.ledger.post(seq, Cause.Compensation, asset, EXTERNAL_ACCOUNT, Bucket.Available, reserve, Bucket.Available, body.amount);
        this.keys.set(key, seq);
        this.record(seq, ts, '*', 'compensation-paid', operator,
          `payout ${body.id}: ${a.kind} ${a.provider}, policy ${a.policyId} (arrangement ${a.id}), paid ${body.amount} ${body.asset} into the reserve for failed batch ${body.batch}`);
        return undefined;
      }
      case 'settlement.config':
        this.settlement.config = { intradayMinutes: body.intradayMinutes, dailyCutoffHkt: body.dailyCutoffHkt, deadlineMinutes: body.deadlineMinutes };
        // Cycles count from now: nothing before the configuration is due at once, and the daily
        // clearing is the next cut-off under the (new) time, once a day.
        if (this.settlement.lastCycle === 0) this.settlement.lastCycle = ts;
        this.settlement.lastDaily = nextDailyCutoff(body.dailyCutoffHkt, ts) - 24 * 3_600_000_000;
        this.record(seq, ts, '*', 'settlement-config', operator, JSON.stringify(this.settlement.config));
        return undefined;
      case 'settlement.confirm': {
        const why = this.settlement.confirm(body.batch, body.leg, body.reference, operator, ts);
        if (why) return [NodeReject.InvalidAdminCommand, why];
        return undefined;
      }
      case 'settlement.fail': {
        const b = this.settlement.batches.get(body.batch);
        if (!b) return [NodeReject.InvalidAdminCommand, `no settlement batch ${body.batch}`];
        if (b.state !== 'pending') return [NodeReject.InvalidAdminCommand, `batch ${body.batch} is ${b.state}`];
        this.settlement.fail(b, ts, `declared failed by operator ${operator}: ${body.reason}`);
        return undefined;
      }
      case 'compensation.set': {
        const a = body.arrangement;
        if (!this.ledger.assetIndex.has(a.coverageAsset)) return [NodeReject.InvalidAdminCommand, `coverageAsset ${a.coverageAsset} is not an asset`];
        for (const asset of a.assets) if (!this.ledger.assetIndex.has(asset)) return [NodeReject.InvalidAdminCommand, `assets: ${asset} is not an asset`];
        const known = registry.compensation.has(a.id);
        registry.compensation.set(a.id, a);
        this.record(seq, ts, '*', 'compensation-set', operator, `${known ? 'changed' : 'added'} ${JSON.stringify(a)}`);
        return undefined;
      }
      case 'compensation.minimum':
        if (!this.ledger.assetIndex.has(body.asset)) return [NodeReject.InvalidAdminCommand, `asset ${body.asset} is not an asset`];
        registry.coverageMinimum.set(body.asset, body.amount);
        this.record(seq, ts, '*', 'compensation-set', operator, `minimum coverage ${body.amount} ${body.asset}`);
        return undefined;
      case 'jurisdiction.set': {
        const known = registry.jurisdictions.has(body.jurisdiction.code);
        registry.jurisdictions.set(body.jurisdiction.code, body.jurisdiction);
        for (const v of registry.venues.values()) {
          if (v.jurisdiction === body.jurisdiction.code) {
            this.record(seq, ts, v.code, 'updated', operator, `jurisdiction ${body.jurisdiction.code} ${known ? 'reassessed' : 'added'}: ${JSON.stringify(body.jurisdiction)}`);
          }
        }
        return undefined;
      }
      case 'venue.add': {
        const input = body.venue;
        if (registry.venues.has(input.code)) return [NodeReject.InvalidAdminCommand, `venue ${input.code} exists`];
        const clash = this.compIdClash(input.senderCompId, input.code);
        if (clash) return clash;
        if (!this.ledger.fees.has(input.feeTier)) return [NodeReject.InvalidAdminCommand, `feeTier ${input.feeTier} is not a fee tier`];
        if (!this.ledger.assetIndex.has(input.unsettledLimitAsset)) return [NodeReject.InvalidAdminCommand, `unsettledLimitAsset ${input.unsettledLimitAsset} is not an asset`];
        const sharing = [...registry.venues.values()].find((x) => x.custody === input.custody);
        if (sharing) return [NodeReject.InvalidAdminCommand, `custody location ${input.custody} is venue ${sharing.code}'s: each venue has its own`];
        const short = this.reserveShort(input.unsettledLimitAsset, this.limitsIn(input.unsettledLimitAsset) + input.unsettledLimit, 0);
        if (short) return [NodeReject.ReserveShort, short];
        const participant = this.nextId++;
        this.ledger.addParticipant({ id: participant, name: input.name, professionalInvestor: false, affiliatedMarketMaker: false, homeVenue: input.code });
        // Its settlement account on the platform (SL-16): it never trades; its balances carry what
        // the venue's custody owes (negative) or is owed (positive), per asset.
        const settlementAccount = this.nextId++;
        this.ledger.addAccount({
          id: settlementAccount, participant, kind: AccountKind.Venue, feeTier: input.feeTier, custody: [PLATFORM_CUSTODY], instruments: [],
          ordersOpenMax: 0, orderNotionalMax: 0, venue: input.code,
        });
        this.ledger.mayGoNegative.add(settlementAccount);
        if (this.platformSettlement === 0) {
          // The platform custody's own settlement account, the other side of every venue's.
          this.platformSettlement = this.nextId++;
          const owner = [...this.ledger.accounts.values()].find((a) => a.kind === AccountKind.Fees)!.participant;
          this.ledger.addAccount({
            id: this.platformSettlement, participant: owner, kind: AccountKind.Venue, feeTier: input.feeTier, custody: [PLATFORM_CUSTODY], instruments: [],
            ordersOpenMax: 0, orderNotionalMax: 0,
          });
          this.ledger.mayGoNegative.add(this.platformSettlement);
        }
        const venue: Venue = { ...input, status: 'active', statusReason: '', participant, clients: {}, settlementAccount };
        registry.venues.set(venue.code, venue);
        registry.byCompId.set(venue.senderCompId, venue.code);
        this.record(seq, ts, venue.code, 'added', operator, JSON.stringify(input));
        return undefined;
      }
      case 'venue.update': {
        const v = this.venue(body.code);
        if (Array.isArray(v)) return v;
        if (body.changes.senderCompId !== undefined) {
          const clash = this.compIdClash(body.changes.senderCompId, v.code);
          if (clash) return clash;
        }
        if (body.changes.feeTier !== undefined && !this.ledger.fees.has(body.changes.feeTier)) {
          return [NodeReject.InvalidAdminCommand, `feeTier ${body.changes.feeTier} is not a fee tier`];
        }
        if (body.changes.unsettledLimitAsset !== undefined && !this.ledger.assetIndex.has(body.changes.unsettledLimitAsset)) {
          return [NodeReject.InvalidAdminCommand, `unsettledLimitAsset ${body.changes.unsettledLimitAsset} is not an asset`];
        }
        const sharing = body.changes.custody === undefined ? undefined : [...registry.venues.values()].find((x) => x !== v && x.custody === body.changes.custody);
        if (sharing) return [NodeReject.InvalidAdminCommand, `custody location ${body.changes.custody} is venue ${sharing.code}'s: each venue has its own`];
        if (body.changes.custody !== undefined && body.changes.custody !== v.custody && Object.keys(v.clients).length > 0) {
          return [NodeReject.InvalidAdminCommand, `venue ${v.code} has clients: its custody location cannot change`];
        }
        // The reserve covers the limits as they would be after the change (SL-17).
        const limitAsset = body.changes.unsettledLimitAsset ?? v.unsettledLimitAsset;
        const limit = body.changes.unsettledLimit ?? v.unsettledLimit;
        const before = this.limitsIn(limitAsset);
        const after = before - (v.unsettledLimitAsset === limitAsset ? v.unsettledLimit : 0) + limit;
        // Only a change that raises the limits in an asset needs more reserve.
        const short = after > before ? this.reserveShort(limitAsset, after, 0) : undefined;
        if (short) return [NodeReject.ReserveShort, short];
        registry.byCompId.delete(v.senderCompId);
        Object.assign(v, body.changes);
        registry.byCompId.set(v.senderCompId, v.code);
        for (const account of Object.values(v.clients)) {
          const a = this.ledger.accounts.get(account)!;
          a.feeTier = v.feeTier;
          a.ordersOpenMax = v.clientOrdersMax;
        }
        this.record(seq, ts, v.code, 'updated', operator, JSON.stringify(body.changes));
        return undefined;
      }
      case 'venue.suspend': {
        const v = this.venue(body.code);
        if (Array.isArray(v)) return v;
        if (v.status === 'suspended') return [NodeReject.InvalidAdminCommand, `venue ${v.code} is already suspended: ${v.statusReason}`];
        this.suspend(v, body.reason, operator, seq, ts, `suspended by operator: ${body.reason}`);
        return undefined;
      }
      case 'venue.reinstate': {
        const v = this.venue(body.code);
        if (Array.isArray(v)) return v;
        if (v.status === 'active') return [NodeReject.InvalidAdminCommand, `venue ${v.code} is active`];
        const why = registry.ineligibility(v, ts);
        if (why) return [NodeReject.VenueNotEligible, `venue ${v.code} cannot be reinstated: ${why}: ${INELIGIBILITY_TEXT[why]}`];
        v.status = 'active';
        v.statusReason = '';
        this.record(seq, ts, v.code, 'reinstated', operator, 'reinstated by operator');
        return undefined;
      }
      case 'venue.client.add': {
        const v = this.venue(body.venue);
        if (Array.isArray(v)) return v;
        if (VenueRegistry.clientAccount(v, body.client) !== undefined) return [NodeReject.InvalidAdminCommand, `client ${body.client} of ${v.code} exists (account ${v.clients[body.client]})`];
        const id = this.nextId++;
        this.watchHolds();
        this.ledger.addAccount(this.clientAccount(v, id, body.client));
        // An own property whatever the id (even "__proto__"): ids are the venue's text.
        Object.defineProperty(v.clients, body.client, { value: id, enumerable: true, writable: true, configurable: true });
        this.clientAccounts.set(id, v.code);
        this.record(seq, ts, v.code, 'client-added', operator, `client ${body.client} is account ${id}`);
        return undefined;
      }
      case 'custody.attest':
      case 'custody.release': {
        const v = this.venue(body.venue);
        if (Array.isArray(v)) return v;
        const account = VenueRegistry.clientAccount(v, body.client);
        if (account === undefined) return [NodeReject.UnknownVenueClient, `${v.code} has no client ${body.client}`];
        const asset = this.ledger.assetIndex.get(body.asset);
        if (asset === undefined) return [NodeReject.UnknownAsset, `no asset ${body.asset}`];
        const key = `${body.action}:${v.code}:${body.id}`;
        if (this.keys.has(key)) return undefined; // idempotent: the same attestation again changes nothing
        if (body.action === 'custody.attest') {
          this.ledger.post(seq, Cause.Attest, asset, EXTERNAL_ACCOUNT, Bucket.Available, account, Bucket.Available, body.amount);
        } else {
          // Only available funds are released: what open orders hold never is.
          const available = this.ledger.balance(account, asset).available;
          if (available < body.amount) return [NodeReject.InsufficientFunds, `client ${body.client} has ${available} ${body.asset} available, not ${body.amount}`];
          this.ledger.post(seq, Cause.AttestRelease, asset, account, Bucket.Available, EXTERNAL_ACCOUNT, Bucket.Available, body.amount);
        }
        this.keys.set(key, seq);
        return undefined;
      }
    }
  }

  /** The sequence number of an attestation or release already applied under this id, if any. */
  appliedAs(action: 'custody.attest' | 'custody.release', venue: string, id: string): number | undefined {
    return this.keys.get(`${action}:${venue}:${id}`);
  }

  private compIdClash(compId: string, code: string): Refusal | undefined {
    const other = this.registry.byCompId.get(compId);
    return other !== undefined && other !== code ? [NodeReject.InvalidAdminCommand, `SenderCompID ${compId} is venue ${other}'s`] : undefined;
  }

  private clientAccount(v: Venue, id: number, client: string): Account {
    return {
      id, participant: v.participant, kind: AccountKind.Client, feeTier: v.feeTier, custody: [v.custody], instruments: [],
      ordersOpenMax: v.clientOrdersMax, orderNotionalMax: 0, holdsIn: v.custody, venue: v.code, venueClient: client,
    };
  }

  state(): VenuesState {
    const participants: Participant[] = [];
    const accounts: Account[] = [];
    for (const v of this.registry.venues.values()) {
      participants.push({ ...this.ledger.participants.get(v.participant)! });
      if (v.settlementAccount !== undefined) accounts.push({ ...this.ledger.accounts.get(v.settlementAccount)! });
    }
    if (this.platformSettlement !== 0) accounts.push({ ...this.ledger.accounts.get(this.platformSettlement)! });
    for (const v of this.registry.venues.values()) {
      for (const account of Object.values(v.clients)) accounts.push({ ...this.ledger.accounts.get(account)! });
    }
    return {
      registry: this.registry.state(), participants, accounts, dues: [...this.dues], nextId: this.nextId, platformSettlement: this.platformSettlement,
      prices: [...this.prices], breached: [...this.breached],
      peaks: [...this.peaks].map(([asset, list]) => [asset, list.map(([h, v]) => [h, v] as [number, number])]), reserveBelow: [...this.reserveBelow],
      coverageShort: [...this.coverageShort],
      settlement: this.settlement.state(),
    };
  }

  restoreState(state: VenuesState | undefined): void {
    if (!state) return;
    this.registry.restoreState(state.registry);
    for (const p of state.participants) this.ledger.addParticipant(p);
    for (const a of state.accounts) {
      this.ledger.addAccount(a);
      if (a.venueClient !== undefined) this.clientAccounts.set(a.id, a.venue!);
      else if (a.kind === AccountKind.Venue) this.ledger.mayGoNegative.add(a.id);
    }
    this.platformSettlement = state.platformSettlement ?? 0;
    this.dues.clear();
    for (const [k, v] of state.dues) this.dues.set(k, v);
    this.nextId = state.nextId;
    for (const [id, price] of state.prices ?? []) this.prices.set(id, price);
    for (const code of state.breached ?? []) this.breached.add(code);
    for (const [asset, list] of state.peaks ?? []) this.peaks.set(asset, list.map(([h, v]) => [h, v]));
    for (const asset of state.reserveBelow ?? []) this.reserveBelow.add(asset);
    for (const asset of state.coverageShort ?? []) this.coverageShort.add(asset);
    this.settlement.restoreState(state.settlement);
    // What is derived: owed per location from the dues, held per venue from the client balances.
    this.owedBy.clear();
    for (const [key, amount] of this.dues) {
      const [from, , code] = key.split('|');
      this.owes(from, this.ledger.assetIndex.get(code)!, amount);
    }
    // Obligations in pending batches still count (settled and failed ones are closed).
    for (const b of this.settlement.batches.values()) {
      if (b.state !== 'pending') continue;
      for (const l of b.legs) this.owes(l.from, this.ledger.assetIndex.get(l.asset)!, l.amount);
    }
    this.heldBy.clear();
    if (this.clientAccounts.size > 0) this.watchHolds();
    for (const [account] of this.clientAccounts) {
      for (let a = 0; a < this.ledger.assets.length; a++) {
        const held = this.ledger.balanceOf(balanceKey(account, a)).held;
        if (held !== 0) this.held(account, a, held);
      }
    }
  }
}

export type { Ineligibility };
