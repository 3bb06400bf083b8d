// How perpetual contracts work on the platform, as the node runs them (PERP-1..5, 10): the rules in
// words with their formulas, and every parameter in force, published with the rulebook. The words
// describe the code in this folder; the parameters are read from the state it runs on.
import type { Perps } from './perps.js';
import { SOURCE_SKEW_US } from './perps.js';

export interface PerpsSection { id: string; title: string; rules: string[]; parameters: unknown }

/** The default-management rules of perpetuals (PERP-6, 8, 9): triggers, parameters and order, as data. */
export function defaultManagementSection(perps: Perps): PerpsSection {
  return {
    id: 'perpetuals-default-management', title: 'Perpetual contracts: default management',
    rules: [
      'Trigger: an account whose equity (collateral + unrealized PnL at mark − what it owes) falls below its maintenance margin is liquidated in the same batch that brought it there, in this order, each step a sequenced event with its prices and quantities:',
      '0. Its open orders are cancelled; if that alone restores maintenance, it stops there.',
      '1. The order book: an immediate-or-cancel order per position, never past its bankruptcy price (where the account\'s equity would be zero, shared among its positions by notional) nor further than liquidationImpactBps from the mark. What fills gain over bankruptcy pays the insurance fund up to liquidationFeeBps of their notional; the rest stays the account\'s.',
      '2. Backstop liquidity providers (registered client accounts with committed capacity, whose participant passes the professional-investor gate at the time, on a product whose index stands) take what is left at the bankruptcy price, pro rata by capacity, then what rounding or a provider\'s limits left to the others in account order, each only as far as its capacity, its own initial margin and its position limit (the largest margin tier) allow.',
      '3. The insurance fund: the book again, past the bankruptcy price as far as the fund\'s room above its floor can pay the difference (and within the impact bound); the fund pays it. Then the fund pays what the account\'s equity is still below zero at the mark, so that what is left closes no worse than the mark.',
      '4. Auto-deleveraging: what is still left closes against opposite positions at the bankruptcy price — ranked by profit (as a share of entry) × effective leverage (notional ÷ equity), in quintile buckets, the highest first, pro rata by size within a bucket — exactly the quantity left, never more.',
      '5. What a closed-out account still owes in the settlement asset is settled from its other allow-listed collateral, which the insurance fund takes at its haircut value as far as the fund reaches.',
      'The liquidated account\'s equity never goes below zero and it owes nothing for the positions closed (prices are rounded for it, and the fund covers any rounding remainder); the house account never takes the other side; nobody else\'s position is touched.',
      'The insurance fund is a ledger account whose level is published in real time; at or below its floor it is depleted: every client with an open position is told on its session at once and a public notice warns that positions may be auto-deleveraged.',
      'Every open position\'s ADL rank (quintile 1–5) is published to its owner in real time, and the distribution to all. Whenever a backstop, an insurance-fund depletion or auto-deleveraging occurs, a post-event report — trigger, prices and sources, positions affected without identities, quantities, fund levels before and after, the timeline — is produced in the same batch, stored, delivered to every client with an open position and published (well within the 24 hours the rule allows).',
    ],
    parameters: {
      products: [...perps.products.values()].map((x) => ({ symbol: x.p.symbol, liquidationFeeBps: x.p.liquidationFeeBps ?? 50, liquidationImpactBps: x.p.liquidationImpactBps ?? 200 })),
      // Live figures (the fund's level, capacity left) are published with the market data, not here.
      insuranceFund: { account: perps.residual, floor: perps.waterfall.floor },
      backstopProviders: [...perps.backstops.values()].filter((b) => b.status === 'active').length,
      backstopAllocation: 'pro rata by committed capacity, in account order for the lots rounding leaves',
      adlRanking: 'profit ÷ |entry cost| × |notional| ÷ equity; quintiles per product and side; 5 is deleveraged first',
    },
  };
}

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
