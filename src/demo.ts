// The demo instruments `npm start` loads when no configuration is given.
// Prices are integer ticks of the quote currency's minor unit, quantities integer lots of the base
// asset's smallest unit, so nothing in the node is ever a floating-point amount.
import type { InstrumentSpec } from './core/index.js';

export interface InstrumentListing {
  symbol: string;
  base: string;
  quote: string;
  /** Decimal places of one price unit (2: a price of 9_500_000 is 95,000.00). */
  priceDecimals: number;
  /** Decimal places of one quantity unit (8: a quantity of 10_000 is 0.0001). */
  qtyDecimals: number;
  spec: InstrumentSpec;
}

export const DEMO_INSTRUMENTS: readonly InstrumentListing[] = [
  {
    symbol: 'BTC-USD', base: 'BTC', quote: 'USD', priceDecimals: 2, qtyDecimals: 8,
    spec: { id: 1, tickSize: 1, lotSize: 10_000, minQty: 10_000, maxQty: 10_000_000_000, refPrice: 9_500_000, bandBps: 500 },
  },
  {
    symbol: 'ETH-USD', base: 'ETH', quote: 'USD', priceDecimals: 2, qtyDecimals: 8,
    spec: { id: 2, tickSize: 1, lotSize: 100_000, minQty: 100_000, maxQty: 100_000_000_000, refPrice: 350_000, bandBps: 500 },
  },
  {
    symbol: 'SOL-USD', base: 'SOL', quote: 'USD', priceDecimals: 3, qtyDecimals: 6,
    spec: { id: 3, tickSize: 10, lotSize: 1_000, minQty: 10_000, maxQty: 1_000_000_000_000, refPrice: 180_000, bandBps: 800 },
  },
];
