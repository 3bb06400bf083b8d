// A restart from a snapshot taken at any batch boundary, then the journal, computes exactly what the
// uninterrupted node did (CORE-4, OPS-2): outcomes, waterfall steps, notices, reports and final state —
// through the waterfall's later stages, the fund's floor and an AFMM change among fills (a review's).
import { describe, expect, it } from 'vitest';
import { NodeRuntime } from '../src/pipeline/runtime.js';
import type { Pipeline } from '../src/pipeline/pipeline.js';
import type { NodeCommand, Outcome } from '../src/pipeline/commands.js';
import { ALICE, BOB, CAROL, DAVE, INSURANCE, PERPS, PerpHarness, perpConfig, trading } from './support/perps.js';

function summary(outcomes: Outcome[]): unknown {
  return outcomes.map((o) => [o.seq, o.ok, o.reasonName, o.text ?? '', o.fills()]);
}

function fullState(p: Pipeline): string {
  return JSON.stringify({ extra: p.state(), ledger: p.ledger.state() });
}

function applyAll(p: Pipeline, batches: PerpHarness['journal']): unknown[] {
  const out: unknown[] = [];
  for (const batch of batches) {
    out.push(summary(p.apply(batch.map((b) => ({ ...b, command: structuredClone(b.command) })))));
    out.push(JSON.stringify(p.perps.active ? { notices: p.perps.waterfall.notices, steps: p.perps.waterfall.steps, reports: p.perps.waterfall.reports } : {}));
    p.ledger.takePending();
  }
  return out;
}

/** For every k: genesis → k, snapshot, restore, k → end; must equal genesis → end. */
function checkEverySnapshot(h: PerpHarness): void {
  const reference = NodeRuntime.build(h.config).pipeline;
  const refOut = applyAll(reference, h.journal);
  const refState = fullState(reference);
  for (let k = 1; k < h.journal.length; k++) {
    const p = NodeRuntime.build(h.config).pipeline;
    applyAll(p, h.journal.slice(0, k));
    const snapshot = structuredClone({ batch: k, lastSeq: 0, core: p.core.snapshot(), ledger: p.ledger.state(), extra: p.state() });
    const restored = NodeRuntime.build(h.config, snapshot).pipeline;
    const out = applyAll(restored, h.journal.slice(k));
    expect(out, `restored after batch ${k}`).toEqual(refOut.slice(2 * k));
    expect(fullState(restored), `state restored after batch ${k}`).toEqual(refState);
  }
}

describe('a restart from any snapshot, then the journal', () => {
  it('[CORE-4] [OPS-2] [PERP-6] [PERP-8] backstop, collateral settlement, fund depletion by withdrawal, top-up', () => {
    const h = trading(perpConfig({ perps: { ...PERPS, insuranceFloor: 1_000 } }));
    h.deposit(BOB, 10_300, 'STABLE');
    for (const a of [ALICE, CAROL, DAVE]) h.deposit(a, 1_000_000);
    h.deposit(INSURANCE, 50_000);
    h.order(CAROL, 1, 10_000, 10);
    h.order(BOB, 0, 10_000, 10);
    h.ok({ type: 'admin', operator: 900, body: { action: 'backstop.set', backstop: { account: DAVE, capacity: 1_000_000, status: 'active' } } });
    h.ts += 1_000_000;
    h.prices([9_400, 9_400, 9_400]);
    h.run([{ type: 'withdraw', key: 'w1', account: INSURANCE, asset: 'QUOTE', amount: h.balance(INSURANCE) - 500 }]);
    h.deposit(INSURANCE, 10_000);
    h.run([{ type: 'withdraw', key: 'w2', account: INSURANCE, asset: 'QUOTE', amount: 9_600 }]);
    checkEverySnapshot(h);
  });

  it('[CORE-4] [OPS-2] [PERP-6] a gap past bankruptcy, the fund paying at the mark, ADL', () => {
    const h = trading();
    h.deposit(BOB, 10_000);
    for (const a of [ALICE, CAROL, DAVE]) h.deposit(a, 1_000_000);
    h.deposit(INSURANCE, 100_000);
    h.order(CAROL, 1, 10_000, 10);
    h.order(BOB, 0, 10_000, 10);
    h.ts += 1_000_000;
    h.prices([8_500, 8_500, 8_500]);
    h.ts += 1_000_000;
    h.prices([8_400, 8_400, 8_400]);
    checkEverySnapshot(h);
  });

  it('[CORE-4] [OPS-2] [AFMM-3] [AFMM-4] an AFMM designation and fee preference in one batch with fills', () => {
    const h = trading();
    for (const [a, asset, n] of [[CAROL, 'BASE', 100], [DAVE, 'QUOTE', 10_000_000], [ALICE, 'QUOTE', 10_000_000]] as const) h.deposit(a, n, asset);
    const p = h.ok({ type: 'admin', operator: 900, body: { action: 'afmm.designate', participant: 6, officer: 'x' } } as NodeCommand);
    h.run([
      { type: 'order', account: CAROL, instrument: 1, side: 1, orderType: 0, tif: 0, price: 10_000, qty: 5 },
      { type: 'order', account: DAVE, instrument: 1, side: 0, orderType: 0, tif: 0, price: 10_000, qty: 2 },
      { type: 'admin', operator: 901, body: { action: 'afmm.approve', change: p.seq } } as NodeCommand,
      { type: 'order', account: DAVE, instrument: 1, side: 0, orderType: 0, tif: 0, price: 10_000, qty: 2 },
    ]);
    checkEverySnapshot(h);
  });
});
