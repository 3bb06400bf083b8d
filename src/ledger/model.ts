// The ledger's vocabulary: assets and where they are held, participants, accounts, postings.
// Every amount is an integer count of an asset's smallest ledger unit (a JS safe integer).

/** Where an asset's units sit: the platform's custodian, or an affiliated venue's (by venue code). */
export const PLATFORM_CUSTODY = 'platform';

export interface Asset {
  code: string;
  /** Decimal places of one ledger unit (8: one unit of BTC is 1e-8 BTC). */
  scale: number;
  /** Custody location holding this asset's units for the platform's clients. */
  custody: string;
}

export interface Participant {
  id: number;
  name: string;
  professionalInvestor: boolean;
  affiliatedMarketMaker: boolean;
  /** Venue code of an affiliated overseas venue's participant, else null (the platform's own). */
  homeVenue: string | null;
}

export const enum AccountKind { Client = 1, Venue = 2, Reserve = 3, Insurance = 4, Fees = 5, House = 6, Clearing = 7 }
export const ACCOUNT_KIND_NAMES: Readonly<Record<number, string>> = {
  1: 'client', 2: 'venue', 3: 'reserve', 4: 'insurance', 5: 'fees', 6: 'house', 7: 'clearing',
};
/** Kinds whose accounts may place orders. */
export const TRADING_KINDS: ReadonlySet<number> = new Set([AccountKind.Client, AccountKind.Venue, AccountKind.House]);

export interface Account {
  id: number;
  participant: number;
  kind: AccountKind;
  feeTier: number;
  /** Custody locations whose assets count as this account's pre-funding. */
  custody: string[];
  /** Instruments the account may trade; empty means every instrument. */
  instruments: number[];
  ordersOpenMax: number;
  /** Largest order notional in quote units; 0 means no limit beyond what is funded. */
  orderNotionalMax: number;
  /**
   * The custody location holding every balance of this account, when it is not each asset's own
   * (a venue client's assets all sit in its venue's custody).
   */
  holdsIn?: string;
  /** A venue client's venue code and its id at the venue (FIX Account(1)). */
  venue?: string;
  venueClient?: string;
}

/** The world outside the ledger: deposits come from it and withdrawals go to it. */
export const EXTERNAL_ACCOUNT = 0;

/** Each account holds every asset in two buckets. */
export const enum Bucket { Available = 0, Held = 1 }

export const enum Cause { Deposit = 1, Withdrawal = 2, Hold = 3, Release = 4, Fill = 5, Fee = 6, Rebate = 7, Attest = 8, AttestRelease = 9, Compensation = 10, Obligation = 11, Settlement = 12, RealizedPnl = 13, Funding = 14, FundingResidual = 15, LiquidationFee = 16, InsuranceCover = 17, CollateralTaken = 18 }
export const CAUSE_NAMES: Readonly<Record<number, string>> = {
  1: 'deposit', 2: 'withdrawal', 3: 'hold', 4: 'release', 5: 'fill', 6: 'fee', 7: 'rebate',
  8: 'custody-attestation', 9: 'custody-release', 10: 'compensation', 11: 'obligation', 12: 'settlement', 13: 'realized-pnl', 14: 'funding', 15: 'funding-residual', 16: 'liquidation-fee', 17: 'insurance-cover', 18: 'collateral-taken',
};

/** One double-entry posting: `amount` of `asset` moves from the debit side to the credit side. */
export interface Posting {
  id: number;
  /** Node sequence of the command that caused it. */
  seq: number;
  cause: Cause;
  asset: number;
  debitAccount: number;
  debitBucket: Bucket;
  creditAccount: number;
  creditBucket: Bucket;
  amount: number;
}

export interface Balance { available: number; held: number }

/** What an instrument trades, for the ledger: its base and quote assets and how notional is formed. */
export interface InstrumentTerms {
  id: number;
  symbol: string;
  base: number;
  quote: number;
  /**
   * notional (quote units) = price × qty / 10^baseScale, computed exactly as
   * (price / priceDivisor) × (qty / qtyDivisor): the instrument's tick and lot are chosen so both
   * divisions are exact (checked when the instrument is configured).
   */
  priceDivisor: number;
  qtyDivisor: number;
  /** The instrument's lot size: an order of qty can fill at most qty / lotSize times. */
  lotSize: number;
  /** A perpetual contract: fills change positions and move no base asset; orders hold no funds (margin does). */
  perp?: boolean;
}
