// Review: stage 3 reserves the fund's room per plan for the plan's whole size at its deepest limit
// (liquidation.ts, the `room -=` in run()), before knowing what fills: the first plan takes all the
// room, the next gets no order, and goes to ADL while the fund still holds most of its money and the
// book has the bids.
import { describe, expect, it } from 'vitest';
import { ALICE, BOB, CAROL, DAVE, INSURANCE, PerpHarness, assessments, perpConfig } from './support/perps.js';

const SPECS = perpConfig().instruments.map((l) => l.spec);

describe('review: insurance-stage room reserved, not used', () => {
  it('two positions 10 under bankruptcy each: the fund (1,000) pays both (200), nobody is deleveraged', () => {
    const h = new PerpHarness();
    h.run(assessments([2, 3, 5, 6]));
    h.prices([10_000, 10_000, 10_000]);
    h.ok({ type: 'admin', operator: 900, body: { action: 'perp.set', instrument: 5, changes: { liquidationImpactBps: 1_000 } } });
    for (const a of [ALICE, BOB]) h.deposit(a, 10_000);
    h.deposit(CAROL, 1_000_000);
    h.deposit(DAVE, 1_000_000);
    h.deposit(INSURANCE, 1_000);
    h.order(CAROL, 1, 10_000, 20);
    for (const a of [ALICE, BOB]) expect(h.order(a, 0, 10_000, 10).ok).toBe(true);
    h.order(DAVE, 0, 8_990, 20); // bids 10 under both bankruptcy prices (9,000)
    h.ts += 1_000_000;
    h.prices([9_400, 9_400, 9_400]);
    const steps = h.perps.waterfall.steps.filter((s) => s.stage !== 'cancel').map((s) => [s.stage, s.account, s.qty, s.price, s.amount]);
    console.log(JSON.stringify(steps), 'fund', h.balance(INSURANCE));
    h.pipeline.checkInvariants(SPECS);
    expect(steps.filter((s) => s[0] === 'adl')).toEqual([]);
    expect(h.balance(INSURANCE)).toBe(1_000 - 200);
    expect(h.perps.accountView(CAROL).positions[0].size).toBe(-20);
  });
});
