// A small node configuration for the ledger tests: one instrument with whole-unit prices so the
// arithmetic in the assertions is plain. BASE has scale 0, QUOTE scale 0: notional = price × qty.
import { AccountKind, PLATFORM_CUSTODY } from '../../src/ledger/model.js';
import type { NodeConfig } from '../../src/pipeline/runtime.js';

export const BUYER = 20;
export const SELLER = 21;
export const MAKER = 22; // rebate tier
export const VENUE_CLIENT = 23; // counts only the venue's custody
export const FEES = 1;

export function testConfig(overrides: Partial<NodeConfig> = {}): NodeConfig {
  return {
    ordersMax: 4096,
    assets: [
      { code: 'QUOTE', scale: 0, custody: PLATFORM_CUSTODY },
      { code: 'BASE', scale: 0, custody: PLATFORM_CUSTODY },
      { code: 'VBASE', scale: 0, custody: 'venue-sg' },
    ],
    participants: [
      { id: 1, name: 'platform', professionalInvestor: true, affiliatedMarketMaker: false, homeVenue: null },
      { id: 2, name: 'alice', professionalInvestor: true, affiliatedMarketMaker: false, homeVenue: null },
      { id: 3, name: 'bob', professionalInvestor: false, affiliatedMarketMaker: false, homeVenue: null },
      { id: 4, name: 'venue client', professionalInvestor: false, affiliatedMarketMaker: false, homeVenue: 'venue-sg' },
    ],
    accounts: [
      { id: FEES, participant: 1, kind: AccountKind.Fees, feeTier: 0, custody: [PLATFORM_CUSTODY], instruments: [], ordersOpenMax: 0, orderNotionalMax: 0 },
      { id: 2, participant: 1, kind: AccountKind.Reserve, feeTier: 0, custody: [PLATFORM_CUSTODY], instruments: [], ordersOpenMax: 0, orderNotionalMax: 0 },
      { id: BUYER, participant: 2, kind: AccountKind.Client, feeTier: 0, custody: [PLATFORM_CUSTODY], instruments: [], ordersOpenMax: 3, orderNotionalMax: 1_000_000 },
      { id: SELLER, participant: 3, kind: AccountKind.Client, feeTier: 0, custody: [PLATFORM_CUSTODY], instruments: [1], ordersOpenMax: 1_000, orderNotionalMax: 0 },
      { id: MAKER, participant: 3, kind: AccountKind.Client, feeTier: 1, custody: [PLATFORM_CUSTODY], instruments: [], ordersOpenMax: 100, orderNotionalMax: 0 },
      { id: VENUE_CLIENT, participant: 4, kind: AccountKind.Client, feeTier: 0, custody: ['venue-sg'], instruments: [], ordersOpenMax: 100, orderNotionalMax: 0 },
    ],
    feeTiers: [
      { id: 0, makerBps: 10, takerBps: 20 },
      { id: 1, makerBps: -5, takerBps: 20 },
    ],
    instruments: [
      { symbol: 'BASE-QUOTE', base: 'BASE', quote: 'QUOTE', spec: { id: 1, tickSize: 1, lotSize: 1, minQty: 1, maxQty: 1_000_000, refPrice: 1_000, bandBps: 5_000 } },
      { symbol: 'VBASE-QUOTE', base: 'VBASE', quote: 'QUOTE', spec: { id: 2, tickSize: 1, lotSize: 1, minQty: 1, maxQty: 1_000_000, refPrice: 1_000, bandBps: 5_000 } },
    ],
    ...overrides,
  };
}
