// How perpetual contracts work on the platform, as the node runs them (PERP-1..5, 10): the rules in
// words with their formulas, and every parameter in force, published with the rulebook. The words
// describe the code in this folder; the parameters are read from the state it runs on.
import type { Perps } from './perps.js';
import { SOURCE_SKEW_US } from './perps.js';

export interface PerpsSection { id: string; title: string; rules: string[]; parameters: unknown }

export function perpsSection(perps: Perps): PerpsSection {
  return {
    id: 'perpetuals', title: 'Perpetual contracts',
    rules: [
      'Linear perpetual contracts, margined and settled in the settlement asset, without expiry. Only professional investors (as their latest suitability assessment records, else as configured) with an assessment on record that passed and has not lapsed (valid to the end of its expiry day) may open or grow a position (PERP-2); anyone may reduce one. Assessments are operator commands, sequenced and audited.',
      'Collateral is the received (confirmed, available) balance of allow-listed assets only — fiat, regulated stablecoins, tokenized deposits — each valued at par in the settlement asset less its haircut, rounded down. Anything else never counts (PERP-4).',
      'Cross margin per account. Notional = |size| × mark ÷ unit, rounded up. A position\'s initial and maintenance margins are its notional times the rates of the tier its notional falls in, rounded up. Open orders reserve initial margin on the worst case per product — the larger of |position + open buys| and |position − open sells|, at the mark — plus what buys above the mark (sells below it) would lose at once — a new order\'s own loss in full when it is checked, resting orders\' netted per side. Reduce-only orders count in the worst case too (beside ordinary orders of their side they could pass zero). Equity = collateral + unrealized PnL at mark − what the account owes the clearing account. Available = equity − initial margin. A position may open or grow only with available ≥ 0 after the order, on a sound index, within the last tier (PERP-5). Every rounding is against the client by less than one unit.',
      'Realized PnL, funding and fees move in the settlement asset through the clearing account; what an account cannot pay from its available settlement balance (its other collateral covers it) the clearing account pays and the account owes, repaid first from its next receipts. Always: clearing balance + Σ owed + Σ entry cost of open positions = 0.',
      `Index (PERP-3): each source is a registered key that pushes signed prices; an update more than ${SOURCE_SKEW_US / 1_000_000} s from the node's clock, or not newer than the source's last, is refused. At each step the sources older than staleMs are excluded, then those more than outlierBps from the median of the fresh ones; the index is the median of the rest (no one source can carry it). The platform's own spot book (its last trade) is one source at most. Below minSources usable the index is degraded: positions may not open or grow, and the state is published.`,
      'Mark (PERP-3): the median of (1) index × (1 + predicted funding rate × time to the next funding ÷ interval), (2) index + the moving average of the basis (impact mid − index) over the last basisMinutes minute samples (the index itself before any sample), (3) the last trade. A circuit breaker keeps the mark within markBandBps of where it stood when its window (markWindowMs) began; when it binds, the mark is published as clamped.',
      'Impact bid and ask: the average price of filling impactNotional against each side of the book; the premium = (max(0, impact bid − index) − max(0, index − impact ask)) ÷ index, sampled every minute on the sequencer\'s clock (0 when a side is too thin).',
      'Funding (PERP-1): the rate per interval = average premium + clamp(interest − average premium, ±premiumClamp), capped at ±fundingCap, rounded toward zero. At each funding time (multiples of the interval since midnight UTC) every position pays or receives notional at mark × rate: longs pay shorts when positive, shorts pay longs when negative; payers\' notional and payment round up, receivers\' down, and the residual goes to the insurance fund, so funding is zero-sum. The predicted rate is published all along. A funding time that passed while the node was down is applied once, at its time, with the samples taken.',
      'Re-margining (PERP-7): after every mark change, the accounts whose safe interval the mark left (an index by liquidation price and by the next tier\'s boundary, where maintenance jumps), those whose positions or balances changed since it was built, and those holding several products are checked exactly; equity below maintenance margin puts an account at risk (the liquidation waterfall acts on it).',
    ],
    parameters: {
      products: [...perps.products.values()].map((x) => x.p),
      collateral: [...perps.collateral.values()],
      clearingAccount: perps.clearing,
    },
  };
}
