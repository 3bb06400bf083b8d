// Review: ADL at a bankruptcy price beyond the mark (the defaulter's equity already negative) can take
// a safe counterparty below zero equity: it then owes the clearing account more than its collateral,
// and with no position left it is never at risk again — while the insurance fund, untouched, held 100,000.
import { describe, expect, it } from 'vitest';
import { ALICE, BOB, DAVE, INSURANCE, PerpHarness, SOURCES, assessments, perpConfig } from './support/perps.js';
import type { NodeCommand } from '../src/pipeline/commands.js';

const SPECS = perpConfig().instruments.map((l) => l.spec);

describe('review: ADL counterparty taken below zero', () => {
  it('no account ends a batch below zero equity', () => {
    const h = new PerpHarness();
    h.run(assessments([2, 3, 5, 6]));
    h.prices([10_000, 10_000, 10_000]);
    h.deposit(ALICE, 1_000_000);
    h.deposit(BOB, 10_000);
    h.deposit(DAVE, 1_500);
    h.deposit(DAVE, 30_000, 'STABLE'); // 29,400 after its 2% haircut
    h.deposit(INSURANCE, 100_000);
    // DAVE short 10 at 8,800 (ALICE long), then ALICE sells her 10 to BOB at 10,000: DAVE is the only short.
    expect(h.order(DAVE, 1, 8_800, 10).ok).toBe(true);
    expect(h.order(ALICE, 0, 8_800, 10).ok).toBe(true);
    expect(h.order(ALICE, 1, 10_000, 10).ok).toBe(true);
    expect(h.order(BOB, 0, 10_000, 10).ok).toBe(true);
    expect(h.perps.accountView(DAVE).positions[0].size).toBe(-10);
    expect(h.perps.accountView(BOB).positions[0].size).toBe(10);
    expect(h.perps.accountView(ALICE).positions).toEqual([]);
    h.ts += 1_000_000;
    // One batch: STABLE is suspended as collateral and the sources gap to 8,500.
    const cmds: NodeCommand[] = [
      { type: 'admin', operator: 900, body: { action: 'collateral.set', entry: { asset: 'STABLE', kind: 'stablecoin', haircutBps: 200, status: 'suspended' } } } as NodeCommand,
      ...SOURCES.map((source): NodeCommand => ({ type: 'price', source, underlying: 'BASE', price: 8_500, sourceTs: h.ts })),
    ];
    for (const o of h.run(cmds)) expect(o.ok).toBe(true);
    // Before the waterfall DAVE was safe at 8,500: 1,500 + 3,000 = 4,500 ≥ 4,250 of maintenance.
    const steps = h.perps.waterfall.steps.filter((s) => s.stage !== 'cancel').map((s) => [s.stage, s.account, s.qty, s.price, s.amount]);
    console.log(JSON.stringify(steps), 'fund', h.balance(INSURANCE), 'dave', JSON.stringify(h.perps.accountView(DAVE)));
    h.pipeline.checkInvariants(SPECS);
    expect(h.perps.accountView(BOB)).toMatchObject({ positions: [], owed: 0 });
    expect(h.perps.figures(DAVE).equity).toBeGreaterThanOrEqual(0);
    expect(h.perps.accountView(DAVE).owed).toBe(0);
  });
});
