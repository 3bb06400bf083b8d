// The demo configuration `npm start` creates in a new data folder: two spot instruments and two
// perpetual contracts, the platform's own accounts, a market maker and a client, a professional
// client for the perpetuals, with fee tiers.
// Amounts are integer ledger units: USD and USDR in micro-dollars (scale 6), BTC and ETH in 1e-8.
// Prices are quote units per one whole base unit, so BTC-USD at 95,000.00 is 95_000_000_000.
import { AccountKind, PLATFORM_CUSTODY } from './ledger/model.js';
import type { MarginTier, PerpProduct, PerpsConfig } from './perps/config.js';
import type { NodeConfig } from './pipeline/runtime.js';

/** USD amounts in ledger units (scale 6). */
const usd = (dollars: number) => dollars * 1_000_000;

/** The demo price sources: three API keys (permission price-source), each a source of both indexes. */
export const DEMO_PRICE_SOURCES = [
  { id: 'demo-src-1', keyId: 201 },
  { id: 'demo-src-2', keyId: 202 },
  { id: 'demo-src-3', keyId: 203 },
];

/** The perpetuals' account of the demo market maker (participant 2), apart from its spot account 10. */
export const DEMO_PERP_MAKER = 13;
/** The demo professional client's account (participant 4), which trades the perpetuals. */
export const DEMO_PRO_CLIENT = 12;
/** The perpetuals' clearing account: realized PnL and funding pass through it. */
export const DEMO_CLEARING = 5;

/** Margin tiers by notional: the larger the position, the more margin each dollar of it needs. */
const tier = (upToUsd: number, imBps: number, mmBps: number, maxLeverage: number): MarginTier => ({ notionalMax: usd(upToUsd), imBps, mmBps, maxLeverage });

/**
 * Hourly funding capped at 0.75% an interval, interest 0.0125% an interval, the premium's pull
 * clamped at 0.05%; impact prices for 10,000 USD a side; sources older than 10 s or more than 3%
 * from the others' median excluded, at least 3 usable; the basis averaged over 30 minutes; the
 * mark moves at most 10% a minute.
 */
const PERP_TERMS = {
  fundingIntervalMin: 60, fundingCapE8: 750_000, interestE8: 1_250, premiumClampE8: 50_000, impactNotional: usd(10_000),
  sources: DEMO_PRICE_SOURCES, staleMs: 10_000, outlierBps: 300, minSources: 3, basisMinutes: 30, markBandBps: 1_000, markWindowMs: 60_000,
} satisfies Partial<PerpProduct>;

export const DEMO_PERPS: PerpsConfig = {
  products: [
    {
      instrument: 3, symbol: 'BTC-PERP', underlying: 'BTC', ...PERP_TERMS,
      tiers: [tier(250_000, 200, 100, 50), tier(1_000_000, 500, 250, 20), tier(10_000_000, 1_000, 500, 10)],
      // The platform's own BTC-USD book is a fourth source (its last trade).
      bookInstrument: 1,
    },
    {
      instrument: 4, symbol: 'ETH-PERP', underlying: 'ETH', ...PERP_TERMS,
      tiers: [tier(100_000, 200, 100, 50), tier(500_000, 500, 250, 20), tier(5_000_000, 1_000, 500, 10)],
    },
  ],
  collateral: [
    { asset: 'USD', kind: 'fiat', haircutBps: 0, status: 'active' },
    { asset: 'USDR', kind: 'stablecoin', haircutBps: 200, status: 'active' },
  ],
  settlementAsset: 'USD', clearingAccount: DEMO_CLEARING, residualAccount: 4,
};

export const DEMO_CONFIG: NodeConfig = {
  ordersMax: 1 << 20,
  assets: [
    { code: 'USD', scale: 6, custody: PLATFORM_CUSTODY },
    { code: 'BTC', scale: 8, custody: PLATFORM_CUSTODY },
    { code: 'ETH', scale: 8, custody: PLATFORM_CUSTODY },
    // A demo regulated USD stablecoin, allow-listed as perpetuals' collateral.
    { code: 'USDR', scale: 6, custody: PLATFORM_CUSTODY },
  ],
  participants: [
    { id: 1, name: 'Junction platform', professionalInvestor: true, affiliatedMarketMaker: false, homeVenue: null },
    { id: 2, name: 'Demo Market Maker', professionalInvestor: true, affiliatedMarketMaker: false, homeVenue: null },
    { id: 3, name: 'Demo Client', professionalInvestor: false, affiliatedMarketMaker: false, homeVenue: null },
    { id: 4, name: 'Demo Professional Client', professionalInvestor: true, affiliatedMarketMaker: false, homeVenue: null },
  ],
  accounts: [
    { id: 1, participant: 1, kind: AccountKind.Fees, feeTier: 0, custody: [PLATFORM_CUSTODY], instruments: [], ordersOpenMax: 0, orderNotionalMax: 0 },
    { id: 2, participant: 1, kind: AccountKind.House, feeTier: 0, custody: [PLATFORM_CUSTODY], instruments: [], ordersOpenMax: 1000, orderNotionalMax: 0 },
    { id: 3, participant: 1, kind: AccountKind.Reserve, feeTier: 0, custody: [PLATFORM_CUSTODY], instruments: [], ordersOpenMax: 0, orderNotionalMax: 0 },
    { id: 4, participant: 1, kind: AccountKind.Insurance, feeTier: 0, custody: [PLATFORM_CUSTODY], instruments: [], ordersOpenMax: 0, orderNotionalMax: 0 },
    { id: 10, participant: 2, kind: AccountKind.Client, feeTier: 1, custody: [PLATFORM_CUSTODY], instruments: [], ordersOpenMax: 10_000, orderNotionalMax: 0 },
    { id: 11, participant: 3, kind: AccountKind.Client, feeTier: 0, custody: [PLATFORM_CUSTODY], instruments: [], ordersOpenMax: 200, orderNotionalMax: 1_000_000_000_000 },
    { id: DEMO_CLEARING, participant: 1, kind: AccountKind.Clearing, feeTier: 0, custody: [PLATFORM_CUSTODY], instruments: [], ordersOpenMax: 0, orderNotionalMax: 0 },
    { id: DEMO_PRO_CLIENT, participant: 4, kind: AccountKind.Client, feeTier: 0, custody: [PLATFORM_CUSTODY], instruments: [], ordersOpenMax: 200, orderNotionalMax: 0 },
    { id: DEMO_PERP_MAKER, participant: 2, kind: AccountKind.Client, feeTier: 1, custody: [PLATFORM_CUSTODY], instruments: [3, 4], ordersOpenMax: 10_000, orderNotionalMax: 0 },
  ],
  feeTiers: [
    { id: 0, makerBps: 2, takerBps: 5 },
    { id: 1, makerBps: -1, takerBps: 3 },
  ],
  instruments: [
    {
      symbol: 'BTC-USD', base: 'BTC', quote: 'USD',
      spec: { id: 1, tickSize: 10_000, lotSize: 10_000, minQty: 10_000, maxQty: 10_000_000_000, refPrice: 95_000_000_000, bandBps: 500 },
    },
    {
      symbol: 'ETH-USD', base: 'ETH', quote: 'USD',
      spec: { id: 2, tickSize: 10_000, lotSize: 100_000, minQty: 100_000, maxQty: 100_000_000_000, refPrice: 3_500_000_000, bandBps: 500 },
    },
    // Perpetuals, settled in USD: ticks of 0.1 USD (BTC) and 0.01 USD (ETH), lots of 0.0001 BTC and 0.001 ETH.
    {
      symbol: 'BTC-PERP', base: 'BTC', quote: 'USD',
      spec: { id: 3, tickSize: 100_000, lotSize: 10_000, minQty: 10_000, maxQty: 10_000_000_000, refPrice: 95_000_000_000, bandBps: 500 },
    },
    {
      symbol: 'ETH-PERP', base: 'ETH', quote: 'USD',
      spec: { id: 4, tickSize: 10_000, lotSize: 100_000, minQty: 100_000, maxQty: 100_000_000_000, refPrice: 3_500_000_000, bandBps: 500 },
    },
  ],
  perps: DEMO_PERPS,
};

/**
 * The suitability assessments the demo operator records at first start (investor.assess): the
 * market maker and the professional client pass; the demo client (participant 3) is not a
 * professional investor and has none, so its perpetual orders are refused by name.
 */
export function demoAssessments(today: string, expires: string): { action: 'investor.assess'; participant: number; professional: boolean; assessor: string; assessedOn: string; expires: string; result: 'pass' }[] {
  return [2, 4].map((participant) => ({
    action: 'investor.assess', participant, professional: true, assessor: 'Demo compliance desk', assessedOn: today, expires, result: 'pass',
  }));
}

/**
 * The position the demo opens once the indexes stand (so PnL and funding move from the start): the
 * professional client buys BTC-PERP and sells ETH-PERP from the market maker's perpetuals account.
 */
export const DEMO_POSITIONS = [
  { instrument: 3, clientSide: 0, qty: 50_000_000 }, // 0.5 BTC
  { instrument: 4, clientSide: 1, qty: 500_000_000 }, // 5 ETH
];

/** Deposits that fund the demo market maker and client on a new data folder. */
export const DEMO_FUNDING = [
  { account: 10, asset: 'USD', amount: 10_000_000_000_000 },
  { account: 10, asset: 'BTC', amount: 10_000_000_000 },
  { account: 10, asset: 'ETH', amount: 100_000_000_000 },
  { account: 11, asset: 'USD', amount: 100_000_000_000 },
  { account: 11, asset: 'BTC', amount: 100_000_000 },
  // The reserve fund (account 3) covers the demo venues' unsettled limits (2 × 50,000,000 USD).
  { account: 3, asset: 'USD', amount: 100_000_000_000_000 },
  // The insurance fund (account 4, PERP-8) starts with 250,000 USD: it absorbs losses past a
  // liquidated account's bankruptcy price before anyone is auto-deleveraged.
  { account: 4, asset: 'USD', amount: usd(250_000) },
  // The perpetuals' collateral: USD and the USDR stablecoin (at 98%).
  { account: DEMO_PRO_CLIENT, asset: 'USD', amount: usd(1_000_000) },
  { account: DEMO_PRO_CLIENT, asset: 'USDR', amount: usd(500_000) },
  { account: DEMO_PERP_MAKER, asset: 'USD', amount: usd(2_000_000) },
  { account: DEMO_PERP_MAKER, asset: 'USDR', amount: usd(1_000_000) },
];

/** The jurisdictions of the demo venues: one that meets the FATF and IOSCO tests, one that does not. */
export const DEMO_JURISDICTIONS = [
  {
    code: 'SG', name: 'Singapore', fatf: 'member' as const, fatfConsistent: true, ioscoConsistent: true, assessedOn: '2026-06-30',
    source: 'demo entry: FATF mutual evaluation and follow-up ratings; IOSCO crypto-asset recommendations implementation review',
  },
  {
    code: 'XA', name: 'Example Offshore Territory', fatf: 'none' as const, fatfConsistent: false, ioscoConsistent: false, assessedOn: '2026-06-30',
    source: 'demo entry: not a member of the FATF or of a FATF-style regional body',
  },
];

/** The demo venues: both affiliated and licensed; only venue-sg's jurisdiction qualifies. */
export const DEMO_VENUES = [
  {
    code: 'venue-sg', name: 'Junction Asia', legalEntity: 'Junction Asia Pte. Ltd.', group: 'Junction Group', affiliated: true,
    jurisdiction: 'SG', regulator: 'Monetary Authority of Singapore', licenceId: 'DEMO-MPI-0001', licenceExpires: '2030-12-31',
    custody: 'venue-sg-custody', senderCompId: 'VENUE-SG', targetCompId: 'JUNCTION', cancelOnDisconnect: false, clientOrdersMax: 10_000, feeTier: 0,
    unsettledLimit: 50_000_000_000_000, unsettledLimitAsset: 'USD',
    clients: ['SG-C1', 'SG-C2'],
  },
  {
    code: 'venue-xa', name: 'Junction Offshore', legalEntity: 'Junction Offshore Ltd.', group: 'Junction Group', affiliated: true,
    jurisdiction: 'XA', regulator: 'Example Offshore Authority', licenceId: 'DEMO-XA-0001', licenceExpires: '2030-12-31',
    custody: 'venue-xa-custody', senderCompId: 'VENUE-XA', targetCompId: 'JUNCTION', cancelOnDisconnect: true, clientOrdersMax: 10_000, feeTier: 0,
    unsettledLimit: 50_000_000_000_000, unsettledLimitAsset: 'USD',
    clients: ['XA-C1'],
  },
];

/** What each demo venue client is attested to hold in its venue's custody. */
export const DEMO_VENUE_FUNDING = [
  { asset: 'USD', amount: 1_000_000_000_000 },
  { asset: 'BTC', amount: 1_000_000_000 },
];
