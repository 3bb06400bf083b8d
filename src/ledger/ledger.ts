// The double-entry ledger, in memory. Every balance change is a posting between two
// (account, bucket) sides; the store (store.ts) makes each batch of postings durable.
// Impossible states (a bucket going negative, a non-integer amount) throw: the node stops rather
// than trading on a broken ledger.
import {
  Bucket, Cause, EXTERNAL_ACCOUNT,
  type Account, type Asset, type Balance, type InstrumentTerms, type Participant,
} from './model.js';
import { FeeSchedule } from './fees.js';
import { PostingLog } from './postings.js';

export const ASSETS_MAX = 4096;

export interface LedgerConfig {
  assets: Asset[];
  participants: Participant[];
  accounts: Account[];
  feeTiers: ConstructorParameters<typeof FeeSchedule>[0];
  instruments: InstrumentTerms[];
}

/** The state a snapshot carries (configuration is stored separately). */
export interface LedgerState {
  balances: [number, number, number][]; // [key, available, held]
  inflow: number[];
  nextPostingId: number;
}

const ZERO_BALANCE: Readonly<Balance> = Object.freeze({ available: 0, held: 0 });

export function balanceKey(account: number, asset: number): number {
  return account * ASSETS_MAX + asset;
}

export class Ledger {
  readonly assets: Asset[];
  readonly assetIndex = new Map<string, number>();
  readonly accounts = new Map<number, Account>();
  readonly participants = new Map<number, Participant>();
  readonly instruments = new Map<number, InstrumentTerms>();
  readonly fees: FeeSchedule;
  private readonly balances = new Map<number, Balance>();
  /** Per asset: deposits minus withdrawals, what all balances together must add up to. */
  private readonly inflow: number[];
  private nextPostingId = 1;
  /** Postings since the store last took them (one batch). */
  readonly pending = new PostingLog();
  /**
   * Told every change of an account's held bucket (the venues' unsettled exposure counts their
   * clients' holds); unset, it costs one test per posting.
   */
  onHeld: ((account: number, asset: number, delta: number) => void) | undefined;
  /**
   * Settlement accounts (SL-16): their available balance carries what a custody location is owed
   * (positive) or owes (negative), so it may go below zero. Every other account's may not.
   */
  readonly mayGoNegative = new Set<number>();

  constructor(config: LedgerConfig) {
    if (config.assets.length > ASSETS_MAX) throw new Error(`at most ${ASSETS_MAX} assets`);
    this.assets = config.assets.map((a) => ({ ...a }));
    this.assets.forEach((a, i) => {
      if (this.assetIndex.has(a.code)) throw new Error(`asset ${a.code} listed twice`);
      this.assetIndex.set(a.code, i);
    });
    for (const p of config.participants) this.participants.set(p.id, { ...p });
    for (const a of config.accounts) {
      if (a.id === EXTERNAL_ACCOUNT || this.accounts.has(a.id)) throw new Error(`account id ${a.id} is reserved or repeated`);
      if (!this.participants.has(a.participant)) throw new Error(`account ${a.id}: unknown participant ${a.participant}`);
      this.accounts.set(a.id, { ...a, custody: [...a.custody], instruments: [...a.instruments] });
    }
    this.fees = new FeeSchedule(config.feeTiers);
    for (const a of this.accounts.values()) this.fees.tier(a.feeTier);
    for (const t of config.instruments) {
      if (!this.assets[t.base] || !this.assets[t.quote]) throw new Error(`instrument ${t.symbol}: unknown asset`);
      if (t.priceDivisor * t.qtyDivisor !== 10 ** this.assets[t.base].scale) {
        throw new Error(`instrument ${t.symbol}: priceDivisor × qtyDivisor must be 10^${this.assets[t.base].scale}`);
      }
      this.instruments.set(t.id, { ...t });
    }
    this.inflow = this.assets.map(() => 0);
  }

  /** Adds a participant after start (a venue's, made by a sequenced command). */
  addParticipant(p: Participant): void {
    if (this.participants.has(p.id)) throw new Error(`participant ${p.id} exists`);
    this.participants.set(p.id, { ...p });
  }

  /** Adds an account after start (a venue client's, made by a sequenced command). */
  addAccount(a: Account): void {
    if (a.id === EXTERNAL_ACCOUNT || this.accounts.has(a.id)) throw new Error(`account id ${a.id} is reserved or repeated`);
    if (!this.participants.has(a.participant)) throw new Error(`account ${a.id}: unknown participant ${a.participant}`);
    this.fees.tier(a.feeTier);
    this.accounts.set(a.id, { ...a, custody: [...a.custody], instruments: [...a.instruments] });
  }

  /** The custody location holding an account's balance of an asset. */
  locationOf(account: Account, asset: number): string {
    return account.holdsIn ?? this.assets[asset].custody;
  }

  balance(account: number, asset: number): Balance {
    const key = balanceKey(account, asset);
    let b = this.balances.get(key);
    if (!b) {
      b = { available: 0, held: 0 };
      this.balances.set(key, b);
    }
    return b;
  }

  /** The balance under a balanceKey (zero when it was never touched); read only. */
  balanceOf(key: number): Readonly<Balance> {
    return this.balances.get(key) ?? ZERO_BALANCE;
  }

  /** Quote units of `qty` at `price`, exact; NaN when it is not a safe integer. */
  notional(terms: InstrumentTerms, price: number, qty: number): number {
    const n = (price / terms.priceDivisor) * (qty / terms.qtyDivisor);
    return Number.isSafeInteger(n) ? n : NaN;
  }

  /** Records one posting and applies it. Every caller has checked the debit side can pay. */
  post(seq: number, cause: Cause, asset: number, debitAccount: number, debitBucket: Bucket,
    creditAccount: number, creditBucket: Bucket, amount: number): void {
    if (!Number.isSafeInteger(amount) || amount <= 0) throw new Error(`posting amount ${amount} is not a positive integer`);
    if (debitAccount !== EXTERNAL_ACCOUNT) {
      const from = this.balance(debitAccount, asset);
      if (debitBucket === Bucket.Available) {
        if (from.available < amount && !this.mayGoNegative.has(debitAccount)) throw new Error(`posting would take account ${debitAccount} available ${this.assets[asset].code} negative`);
        from.available -= amount;
      } else {
        if (from.held < amount) throw new Error(`posting would take account ${debitAccount} held ${this.assets[asset].code} negative`);
        from.held -= amount;
      }
    } else {
      this.inflow[asset] += amount;
    }
    if (creditAccount !== EXTERNAL_ACCOUNT) {
      const to = this.balance(creditAccount, asset);
      if (creditBucket === Bucket.Available) to.available += amount;
      else to.held += amount;
    } else {
      this.inflow[asset] -= amount;
    }
    this.pending.append(this.nextPostingId++, seq, cause, asset, debitAccount, debitBucket, creditAccount, creditBucket, amount);
    if (this.onHeld !== undefined) {
      if (debitBucket === Bucket.Held && debitAccount !== EXTERNAL_ACCOUNT) this.onHeld(debitAccount, asset, -amount);
      if (creditBucket === Bucket.Held && creditAccount !== EXTERNAL_ACCOUNT) this.onHeld(creditAccount, asset, amount);
    }
  }

  hold(seq: number, account: number, asset: number, amount: number): void {
    if (amount > 0) this.post(seq, Cause.Hold, asset, account, Bucket.Available, account, Bucket.Held, amount);
  }

  release(seq: number, account: number, asset: number, amount: number): void {
    if (amount > 0) this.post(seq, Cause.Release, asset, account, Bucket.Held, account, Bucket.Available, amount);
  }

  /** Takes the postings of the batch so far (encoded), for the store to commit. */
  takePending(): Buffer {
    return this.pending.take();
  }

  inflowOf(asset: number): number { return this.inflow[asset]; }

  /**
   * Conservation and hold invariants. `heldByOrders` maps balanceKey → what open orders still hold.
   * Throws on the first violation, naming it.
   */
  checkInvariants(heldByOrders: Map<number, number>): void {
    const totals = this.assets.map(() => 0);
    for (const [key, b] of this.balances) {
      const asset = key % ASSETS_MAX;
      if ((b.available < 0 && !this.mayGoNegative.has(Math.floor(key / ASSETS_MAX))) || b.held < 0) throw new Error(`negative balance at account ${Math.floor(key / ASSETS_MAX)} ${this.assets[asset].code}`);
      totals[asset] += b.available + b.held;
      const expected = heldByOrders.get(key) ?? 0;
      if (b.held !== expected) {
        throw new Error(`account ${Math.floor(key / ASSETS_MAX)} holds ${b.held} ${this.assets[asset].code} but its open orders need ${expected}`);
      }
    }
    for (const [key, amount] of heldByOrders) {
      if (amount !== 0 && !this.balances.has(key)) throw new Error(`open orders hold ${amount} in an account with no balance`);
    }
    totals.forEach((total, asset) => {
      if (total !== this.inflow[asset]) {
        throw new Error(`${this.assets[asset].code}: balances add up to ${total} but deposits minus withdrawals is ${this.inflow[asset]}`);
      }
    });
  }

  state(): LedgerState {
    return {
      balances: [...this.balances].filter(([, b]) => b.available !== 0 || b.held !== 0).map(([k, b]) => [k, b.available, b.held]),
      inflow: [...this.inflow],
      nextPostingId: this.nextPostingId,
    };
  }

  restoreState(state: LedgerState): void {
    this.balances.clear();
    for (const [key, available, held] of state.balances) this.balances.set(key, { available, held });
    state.inflow.forEach((v, i) => (this.inflow[i] = v));
    this.nextPostingId = state.nextPostingId;
    this.pending.take();
  }
}
