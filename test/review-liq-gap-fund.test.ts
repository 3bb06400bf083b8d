// Review: an account whose equity is already negative (a gap) with a funded insurance fund and an empty
// book: ADL counterparties absorb the deficit at a bankruptcy price worse than the mark; the fund pays nothing.
import { describe, expect, it } from 'vitest';
import { ALICE, BOB, CAROL, DAVE, INSURANCE, PerpHarness, assessments, perpConfig } from './support/perps.js';

const SPECS = perpConfig().instruments.map((l) => l.spec);

describe('review: gap past bankruptcy, funded insurance fund, no book', () => {
  it('the insurance fund (stage c) pays the deficit before ADL (stage d) takes anything from the counterparty', () => {
    const h = new PerpHarness();
    h.run(assessments([2, 3, 5, 6]));
    h.prices([10_000, 10_000, 10_000]);
    h.deposit(BOB, 10_000);
    for (const a of [ALICE, CAROL, DAVE]) h.deposit(a, 1_000_000);
    h.deposit(INSURANCE, 100_000);
    h.order(CAROL, 1, 10_000, 10);
    expect(h.order(BOB, 0, 10_000, 10).ok).toBe(true);
    h.ts += 1_000_000;
    h.prices([8_500, 8_500, 8_500]); // one move: BOB's equity 10,000 − 15,000 = −5,000
    expect(h.perps.products.get(5)!.mark).toBe(8_500);
    const steps = h.perps.waterfall.steps.filter((s) => s.stage !== 'cancel').map((s) => [s.stage, s.account, s.qty, s.price, s.amount]);
    console.log(JSON.stringify(steps), 'fund', h.balance(INSURANCE), 'carol', h.perps.accountView(CAROL));
    h.pipeline.checkInvariants(SPECS);
    expect(h.perps.accountView(BOB)).toMatchObject({ positions: [], owed: 0 });
    // CAROL, short 10 from 10,000, at the 8,500 mark had 15,000 of profit; deleveraged she should not
    // lose the defaulter's 5,000 while the fund holds 100,000.
    const carolEquity = h.perps.accountView(CAROL).equity;
    expect(carolEquity).toBe(1_000_000 + 15_000);
    expect(h.balance(INSURANCE)).toBe(100_000 - 5_000);
  });
});
