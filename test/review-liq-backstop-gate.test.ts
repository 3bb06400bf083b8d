// Review: a backstop provider whose suitability assessment no longer passes still takes positions (PERP-2).
import { describe, expect, it } from 'vitest';
import { ALICE, BOB, CAROL, DAVE, PerpHarness, assessments } from './support/perps.js';

describe('review: backstop provider gate', () => {
  it('a provider re-assessed as failing takes no position', () => {
    const h = new PerpHarness();
    h.run(assessments([2, 3, 5, 6]));
    h.prices([10_000, 10_000, 10_000]);
    h.deposit(BOB, 10_000);
    for (const a of [ALICE, CAROL, DAVE]) h.deposit(a, 1_000_000);
    h.order(CAROL, 1, 10_000, 10);
    expect(h.order(BOB, 0, 10_000, 10).ok).toBe(true);
    h.ok({ type: 'admin', operator: 900, body: { action: 'backstop.set', backstop: { account: DAVE, capacity: 1_000_000, status: 'active' } } });
    // DAVE's participant (6) fails a new assessment: it may no longer open or grow a position.
    h.ok({ type: 'admin', operator: 900, body: { action: 'investor.assess', participant: 6, professional: true, assessor: 'compliance desk', assessedOn: '2026-11-28', expires: '2027-12-31', result: 'fail' } });
    const refused = h.order(DAVE, 0, 9_000, 1);
    expect(refused.reasonName).toBe('NotProfessionalInvestor');
    h.ts += 1_000_000;
    h.prices([9_400, 9_400, 9_400]);
    console.log(JSON.stringify(h.perps.waterfall.steps));
    expect(h.perps.accountView(DAVE).positions).toEqual([]);
  });
});
