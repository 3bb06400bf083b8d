// Review: the backstop stage's pro-rata rounding leaves lots to ADL while providers still have capacity and margin.
import { describe, expect, it } from 'vitest';
import { ALICE, BOB, CAROL, DAVE, PerpHarness, assessments, perpConfig } from './support/perps.js';

const SPECS = perpConfig().instruments.map((l) => l.spec);

describe('review: backstop pro rata remainder', () => {
  it('two providers with ample capacity and margin take all 3 lots; nothing goes to ADL', () => {
    const h = new PerpHarness();
    h.run(assessments([2, 3, 5, 6]));
    h.prices([10_000, 10_000, 10_000]);
    h.deposit(BOB, 3_000);
    for (const a of [ALICE, CAROL, DAVE]) h.deposit(a, 1_000_000);
    h.order(CAROL, 1, 10_000, 3);
    expect(h.order(BOB, 0, 10_000, 3).ok).toBe(true);
    for (const a of [ALICE, DAVE]) h.ok({ type: 'admin', operator: 900, body: { action: 'backstop.set', backstop: { account: a, capacity: 1_000_000, status: 'active' } } });
    h.ts += 1_000_000;
    h.prices([9_100, 9_100, 9_100]); // BOB: 3,000 − 2,700 = 300 < 1,365; bankruptcy 9,000
    const steps = h.perps.waterfall.steps.filter((s) => s.stage !== 'cancel').map((s) => [s.stage, s.qty, s.price]);
    console.log(JSON.stringify(steps));
    h.pipeline.checkInvariants(SPECS);
    // Both providers have 1,000,000 of capacity and 1,000,000 of collateral: ADL should not be needed.
    expect(steps.filter((s) => s[0] === 'adl')).toEqual([]);
    expect(steps.filter((s) => s[0] === 'backstop').reduce((n, s) => n + (s[1] as number), 0)).toBe(3);
    expect(h.perps.accountView(CAROL).positions[0]?.size).toBe(-3); // CAROL (not a provider) is not deleveraged
  });
});
