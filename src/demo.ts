// The demo configuration `npm start` creates in a new data folder: two spot instruments, the
// platform's own accounts, a market maker and a client, with fee tiers.
// Amounts are integer ledger units: USD in micro-dollars (scale 6), BTC and ETH in 1e-8.
// Prices are quote units per one whole base unit, so BTC-USD at 95,000.00 is 95_000_000_000.
import { AccountKind, PLATFORM_CUSTODY } from './ledger/model.js';
import type { NodeConfig } from './pipeline/runtime.js';

export const DEMO_CONFIG: NodeConfig = {
  ordersMax: 1 << 20,
  assets: [
    { code: 'USD', scale: 6, custody: PLATFORM_CUSTODY },
    { code: 'BTC', scale: 8, custody: PLATFORM_CUSTODY },
    { code: 'ETH', scale: 8, custody: PLATFORM_CUSTODY },
  ],
  participants: [
    { id: 1, name: 'Junction platform', professionalInvestor: true, affiliatedMarketMaker: false, homeVenue: null },
    { id: 2, name: 'Demo Market Maker', professionalInvestor: true, affiliatedMarketMaker: false, homeVenue: null },
    { id: 3, name: 'Demo Client', professionalInvestor: false, affiliatedMarketMaker: false, homeVenue: null },
  ],
  accounts: [
    { id: 1, participant: 1, kind: AccountKind.Fees, feeTier: 0, custody: [PLATFORM_CUSTODY], instruments: [], ordersOpenMax: 0, orderNotionalMax: 0 },
    { id: 2, participant: 1, kind: AccountKind.House, feeTier: 0, custody: [PLATFORM_CUSTODY], instruments: [], ordersOpenMax: 1000, orderNotionalMax: 0 },
    { id: 3, participant: 1, kind: AccountKind.Reserve, feeTier: 0, custody: [PLATFORM_CUSTODY], instruments: [], ordersOpenMax: 0, orderNotionalMax: 0 },
    { id: 4, participant: 1, kind: AccountKind.Insurance, feeTier: 0, custody: [PLATFORM_CUSTODY], instruments: [], ordersOpenMax: 0, orderNotionalMax: 0 },
    { id: 10, participant: 2, kind: AccountKind.Client, feeTier: 1, custody: [PLATFORM_CUSTODY], instruments: [], ordersOpenMax: 10_000, orderNotionalMax: 0 },
    { id: 11, participant: 3, kind: AccountKind.Client, feeTier: 0, custody: [PLATFORM_CUSTODY], instruments: [], ordersOpenMax: 200, orderNotionalMax: 1_000_000_000_000 },
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
  ],
};

/** Deposits that fund the demo market maker and client on a new data folder. */
export const DEMO_FUNDING = [
  { account: 10, asset: 'USD', amount: 10_000_000_000_000 },
  { account: 10, asset: 'BTC', amount: 10_000_000_000 },
  { account: 10, asset: 'ETH', amount: 100_000_000_000 },
  { account: 11, asset: 'USD', amount: 100_000_000_000 },
  { account: 11, asset: 'BTC', amount: 100_000_000 },
  // The reserve fund (account 3) covers the demo venues' unsettled limits (2 × 50,000,000 USD).
  { account: 3, asset: 'USD', amount: 100_000_000_000_000 },
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
