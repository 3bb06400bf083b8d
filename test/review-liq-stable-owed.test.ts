// Review: an account margined with non-settlement collateral (STABLE) ends its liquidation owing the
// clearing account the whole loss; the STABLE is never converted or taken, so the platform carries the
// credit exposure (PERP-6), and a later haircut or suspension leaves it below zero with nothing to act on it.
import { describe, expect, it } from 'vitest';
import { ALICE, BOB, CAROL, DAVE, PerpHarness, assessments, perpConfig } from './support/perps.js';

const SPECS = perpConfig().instruments.map((l) => l.spec);

describe('review: liquidated account with stablecoin collateral', () => {
  it('owes nothing after its liquidation', () => {
    const h = new PerpHarness();
    h.run(assessments([2, 3, 5, 6]));
    h.prices([10_000, 10_000, 10_000]);
    h.deposit(BOB, 10_300, 'STABLE'); // 10,094 after the 2% haircut
    for (const a of [ALICE, CAROL, DAVE]) h.deposit(a, 1_000_000);
    h.order(CAROL, 1, 10_000, 10);
    expect(h.order(BOB, 0, 10_000, 10).ok).toBe(true);
    h.ok({ type: 'admin', operator: 900, body: { action: 'backstop.set', backstop: { account: DAVE, capacity: 1_000_000, status: 'active' } } });
    h.ts += 1_000_000;
    h.prices([9_400, 9_400, 9_400]);
    const v = h.perps.accountView(BOB);
    console.log(JSON.stringify(h.perps.waterfall.steps), JSON.stringify(v));
    h.pipeline.checkInvariants(SPECS);
    expect(v.positions).toEqual([]);
    expect(v.equity).toBeGreaterThanOrEqual(0);
    // Then STABLE is suspended: nothing was ever collected.
    h.ok({ type: 'admin', operator: 900, body: { action: 'collateral.set', entry: { asset: 'STABLE', kind: 'stablecoin', haircutBps: 200, status: 'suspended' } } });
    console.log('after suspension', JSON.stringify(h.perps.accountView(BOB)), 'atRisk', h.perps.atRisk.has(BOB));
    expect(v.owed).toBe(0);
  });
});
