// The site's plain-language risk disclosure for perpetual contracts, shown beside the rulebook's
// perpetuals sections (which state the rules and parameters exactly). Words only: every figure it
// refers to is on the perpetuals page, as the node runs it.

export interface Disclosure { title: string; paragraphs: string[] }

export const PERPETUALS_RISK_DISCLOSURE: readonly Disclosure[] = [
  {
    title: 'Who may trade',
    paragraphs: [
      'Perpetual contracts are offered to professional investors only, after a suitability assessment recorded by the platform. They are complex products: you can lose all the margin you post, quickly.',
    ],
  },
  {
    title: 'Leverage',
    paragraphs: [
      'A perpetual lets you hold a position worth many times the margin you post. Leverage multiplies losses exactly as it multiplies gains: at 20x, a 5% move against you takes all of your initial margin. Larger positions need more margin per dollar (the margin tiers), so the leverage available falls as a position grows.',
      'Margin is counted across all your perpetual positions (cross margin) and only in allow-listed collateral, less its haircut. Collateral that has not fully arrived does not count.',
    ],
  },
  {
    title: 'Mark price and index',
    paragraphs: [
      'Your profit and loss, your margin and liquidation are measured at the mark price, not at the last trade. The mark is the median of three inputs built on an index of several independent price sources; stale or outlying sources are left out, and a circuit breaker limits how far the mark moves in a short window. When too few sources are usable the index is degraded and no position may open or grow. The mark can still differ from prices you see elsewhere.',
    ],
  },
  {
    title: 'Funding',
    paragraphs: [
      'A perpetual has no expiry. To keep its price near the index, positions pay or receive funding at each funding time: when the rate is positive longs pay shorts, when negative shorts pay longs. The rate follows the premium of the book over the index and is capped; the predicted rate is published all along, but the rate applied may differ from it. Funding is paid from your margin and can, over time, cost more than a price move.',
    ],
  },
  {
    title: 'Liquidation',
    paragraphs: [
      'If your equity falls below your maintenance margin, your account is liquidated at once, without a margin call: your open orders are cancelled and your positions are closed — on the book, then by backstop liquidity providers, then with the insurance fund — at prices that may be far from those you expected, and a liquidation fee goes to the insurance fund. You never lose more than the margin you posted: you owe nothing beyond it.',
    ],
  },
  {
    title: 'Auto-deleveraging (ADL)',
    paragraphs: [
      'If a liquidation cannot be completed on the book, by backstop providers or with the insurance fund, profitable positions on the other side are closed against it at the bankruptcy price, highest rank first. Your position can therefore be closed while it is in profit and without your instruction. Your ADL rank (quintile 1 to 5, 5 first) is shown to you with each position, and the distribution of ranks is on the perpetuals page.',
      'The insurance fund\'s level is published live. If it is depleted, every client with an open position is told at once that ADL may follow; whenever a backstop, a depletion or ADL occurs, a post-event report is published.',
    ],
  },
  {
    title: 'Affiliated market makers',
    paragraphs: [
      'Market makers affiliated with the platform may trade on its books. Every preference one has is disclosed on the AFMM page with its risks, and every trade in which one took part is marked in the trades lists.',
    ],
  },
];
