// A defaulter's other collateral (PERP-6) at a scale finer than the settlement asset's: what it owes is
// settled exactly, taking the fewest units worth it (a review found up to one settlement unit more taken).
import { describe, expect, it } from 'vitest';
import { ALICE, BOB, CAROL, DAVE, INSURANCE, perpConfig, trading } from './support/perps.js';

const SPECS = perpConfig().instruments.map((l) => l.spec);

function scaled(stableScale: number) {
  const base = perpConfig();
  return perpConfig({ assets: base.assets.map((a) => (a.code === 'STABLE' ? { ...a, scale: stableScale } : a)) });
}

describe('collateral taken at another scale', () => {
  it('[PERP-6] STABLE at scale 2 (finer than QUOTE at 0): the same 10,090 owed is settled, and no more than needed is taken', () => {
    const h = trading(scaled(2));
    h.deposit(BOB, 1_030_000, 'STABLE'); // 10,300.00 STABLE
    for (const a of [ALICE, CAROL, DAVE]) h.deposit(a, 1_000_000);
    h.deposit(INSURANCE, 50_000);
    h.order(CAROL, 1, 10_000, 10);
    expect(h.order(BOB, 0, 10_000, 10).ok).toBe(true);
    h.ok({ type: 'admin', operator: 900, body: { action: 'backstop.set', backstop: { account: DAVE, capacity: 1_000_000, status: 'active' } } });
    h.ts += 1_000_000;
    h.prices([9_400, 9_400, 9_400]);
    h.pipeline.checkInvariants(SPECS);
    const steps = h.perps.waterfall.steps.filter((s) => s.stage !== 'cancel').map((s) => [s.stage, s.qty, s.price, s.amount]);
    const taken = 1_030_000 - h.balance(BOB, 'STABLE');
    // 10,090 ÷ 0.98 = 10,295.918… STABLE: at scale 2 the fewest units worth it are 1,029,592.
    expect({ steps, owed: h.perps.accountView(BOB).owed, taken }).toEqual({ steps: [['backstop', 10, 8_991, 0], ['collateral', 0, 0, 10_090]], owed: 0, taken: 1_029_592 });
  });
});
