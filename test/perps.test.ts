// Perpetual contracts, part 1: products and refused configurations, who may trade, collateral,
// cross margin with orders reserving it, reduce-only, spot holds and withdrawals against margin.
import { describe, expect, it } from 'vitest';
import { NodeRuntime } from '../src/pipeline/runtime.js';
import { NodeReject } from '../src/risk/reasons.js';
import { changedProduct, checkProduct } from '../src/perps/config.js';
import { mulDiv } from '../src/ledger/fees.js';
import { rulebook } from '../src/venues/rulebook.js';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ALICE, BOB, CAROL, DAVE, HOUR, PERP, PRODUCT, PerpHarness, SOURCES as SOURCE_KEYS, SPOT, T0, assessments, perpConfig } from './support/perps.js';
import { mulberry32Below } from './support/command-stream.js';

/** A harness with the three sources at 10,000, the professionals assessed, ALICE and CAROL funded. */
function ready(): PerpHarness {
  const h = new PerpHarness();
  h.run(assessments());
  h.prices([10_000, 10_000, 10_000]);
  h.deposit(ALICE, 100_000);
  h.deposit(CAROL, 1_000_000);
  return h;
}

describe('perpetual products', () => {
  it('[PERP-1] [PERP-5] refuses configurations whose margins or funding could not be run safely, naming the fault', () => {
    const bad: [Record<string, unknown>, RegExp][] = [
      [{ tiers: [{ notionalMax: 1_000, imBps: 500, mmBps: 500, maxLeverage: 20 }] }, /initial margin \(500 bps\) must be above maintenance margin \(500 bps\)/],
      [{ tiers: [{ notionalMax: 1_000, imBps: 400, mmBps: 500, maxLeverage: 20 }] }, /must be above maintenance/],
      [{ tiers: [{ notionalMax: 1_000, imBps: 1_000, mmBps: 500, maxLeverage: 10 }, { notionalMax: 900, imBps: 2_000, mmBps: 1_000, maxLeverage: 5 }] }, /not monotonic: tiers\[1\]\.notionalMax must be above 1000/],
      [{ tiers: [{ notionalMax: 1_000, imBps: 2_000, mmBps: 1_000, maxLeverage: 5 }, { notionalMax: 2_000, imBps: 1_000, mmBps: 500, maxLeverage: 10 }] }, /not monotonic: tiers\[1\] margins/],
      [{ tiers: [{ notionalMax: 1_000, imBps: 1_000, mmBps: 500, maxLeverage: 20 }] }, /maxLeverage 20 is more than 1000 bps of initial margin allows \(10\)/],
      [{ fundingIntervalMin: 2_880 }, /funding must happen at least daily/],
      [{ fundingIntervalMin: 7 }, /must divide a day/],
      [{ minSources: 5 }, /4 price sources, fewer than minSources 5/],
      [{ minSources: 2 }, /minSources must be a whole number from 3/],
      [{ fundingCapE8: 500, interestE8: 1_000 }, /fundingCapE8 500 must not be below the interest term 1000/],
    ];
    for (const [change, message] of bad) {
      expect(() => checkProduct({ ...PRODUCT, ...change }), JSON.stringify(change)).toThrow(message);
      expect(() => changedProduct(PRODUCT, change), JSON.stringify(change)).toThrow(message);
    }
    // A node refuses to start on one, and an operator's change to one is refused with the same words.
    expect(() => NodeRuntime.build(perpConfig({ perps: { ...perpConfig().perps!, products: [{ ...PRODUCT, fundingIntervalMin: 2_880 }] } })))
      .toThrow(/perps configuration: fundingIntervalMin 2880: funding must happen at least daily/);
    const h = ready();
    const [o] = h.run([{ type: 'admin', operator: 900, body: { action: 'perp.set', instrument: PERP, changes: { tiers: [{ notionalMax: 10, imBps: 100, mmBps: 200, maxLeverage: 1 }] } } }]);
    expect([o.ok, o.reasonName, o.text]).toEqual([false, 'InvalidAdminCommand', 'tiers[0]: initial margin (100 bps) must be above maintenance margin (200 bps)']);
    const [p] = h.run([{ type: 'admin', operator: 900, body: { action: 'perp.set', instrument: PERP, changes: { fundingIntervalMin: 480 } } }]);
    expect(p.ok).toBe(true);
    expect(h.perps.marketView(PERP).fundingIntervalMin).toBe(480);
  });
});

describe('who may trade perpetuals', () => {
  it('[PERP-2] a participant who is not a professional investor, or lacks a valid passing assessment, is refused by name', () => {
    const h = new PerpHarness();
    h.prices([10_000, 10_000, 10_000]);
    for (const a of [ALICE, BOB]) h.deposit(a, 100_000);
    // BOB is not a professional investor; ALICE is flagged but not yet assessed.
    let o = h.order(BOB, 0, 10_000, 1);
    expect([o.reasonName, o.text]).toEqual(['NotProfessionalInvestor', 'participant 3 is not a professional investor']);
    o = h.order(ALICE, 0, 10_000, 1);
    expect([o.reasonName, o.text]).toEqual(['NotProfessionalInvestor', 'participant 2 has no suitability assessment on record']);
    // A failed assessment clears the flag; a passing one lets the participant trade until it lapses.
    h.ok({ type: 'admin', operator: 901, body: { action: 'investor.assess', participant: 2, professional: true, assessor: 'desk', assessedOn: '2026-11-01', expires: '2027-01-31', result: 'fail' } });
    o = h.order(ALICE, 0, 10_000, 1);
    expect(o.text).toBe("participant 2's suitability assessment of 2026-11-01 by desk did not pass");
    h.ok({ type: 'admin', operator: 901, body: { action: 'investor.assess', participant: 2, professional: true, assessor: 'desk', assessedOn: '2026-11-02', expires: '2026-11-30', result: 'pass' } });
    o = h.order(ALICE, 0, 10_000, 1);
    expect([o.reasonName, o.text]).toEqual([undefined, undefined]);
    expect(h.perps.assessments.get(2)).toMatchObject({ assessor: 'desk', result: 'pass', expires: '2026-11-30', operator: 901, recordedAt: T0 });
    // The assessment is valid to the end of its last day, and not a microsecond longer.
    const end = Date.parse('2026-12-01T00:00:00Z') * 1000;
    h.ts = end - 1;
    h.prices([10_000, 10_000, 10_000]);
    expect(h.order(ALICE, 0, 10_000, 1).ok).toBe(true);
    h.ts = end;
    h.prices([10_000, 10_000, 10_000]);
    o = h.order(ALICE, 0, 10_000, 1);
    expect([o.reasonName, o.text]).toEqual(['NotProfessionalInvestor', "participant 2's suitability assessment expired on 2026-11-30"]);
    // BOB's spot trading is untouched.
    h.deposit(BOB, 10, 'BASE');
    expect(h.order(BOB, 1, 10_000, 1, { instrument: SPOT }).ok).toBe(true);
    // An assessment names a real participant, a day, a result.
    const [bad] = h.run([{ type: 'admin', operator: 901, body: { action: 'investor.assess', participant: 2, professional: true, assessor: 'desk', assessedOn: '2026-11-31', expires: '2027-01-31', result: 'pass' } }]);
    expect(bad.text).toBe('assessedOn: 2026-11-31 is not a date');
    const [unknown] = h.run([{ type: 'admin', operator: 901, body: { action: 'investor.assess', participant: 77, professional: true, assessor: 'desk', assessedOn: '2026-11-01', expires: '2027-01-31', result: 'pass' } }]);
    expect(unknown.text).toBe('no participant 77');
  });
});

describe('collateral and margin', () => {
  it('[PERP-4] only received allow-listed collateral counts, at par less its haircut; anything else never does', () => {
    const h = new PerpHarness();
    h.run(assessments());
    h.prices([10_000, 10_000, 10_000]);
    // JUNK is not on the allow-list: however much, it covers nothing.
    h.deposit(ALICE, 1_000_000_000, 'JUNK');
    expect(h.perps.collateralValue(ALICE)).toBe(0);
    let o = h.order(ALICE, 0, 10_000, 1);
    expect([o.reasonName, o.text]).toEqual(['InsufficientMargin', 'initial margin 1000 would exceed equity 0 by 1000']);
    // STABLE counts at 98% (a 200 bps haircut), rounded down.
    h.deposit(ALICE, 10_001, 'STABLE');
    expect(h.perps.collateralValue(ALICE)).toBe(9_800);
    expect(h.order(ALICE, 0, 10_000, 9).ok).toBe(true); // IM 9,000 ≤ 9,800
    o = h.order(ALICE, 0, 10_000, 1); // worst 10 → IM 10,000 > 9,800
    expect([o.reasonName, o.text]).toEqual(['InsufficientMargin', 'initial margin 10000 would exceed equity 9800 by 200']);
    // A suspended asset stops counting at once: open orders stay, new ones are refused.
    h.ok({ type: 'admin', operator: 900, body: { action: 'collateral.set', entry: { asset: 'STABLE', kind: 'stablecoin', haircutBps: 200, status: 'suspended' } } });
    expect(h.perps.collateralValue(ALICE)).toBe(0);
    expect(h.order(ALICE, 0, 9_000, 1).reasonName).toBe('InsufficientMargin');
    // Only fiat, regulated stablecoins and tokenized deposits may be listed at all.
    const [bad] = h.run([{ type: 'admin', operator: 900, body: { action: 'collateral.set', entry: { asset: 'JUNK', kind: 'token' as 'fiat', haircutBps: 0, status: 'active' } } }]);
    expect(bad.text).toMatch(/^kind must be one of fiat, stablecoin, tokenized-deposit/);
    expect(h.perps.collateralValue(ALICE)).toBe(0);
  });

  it('[PERP-5] cross margin: positions and open orders take initial margin from the tier of the resulting notional; figures exact', () => {
    const h = ready();
    expect(h.order(CAROL, 1, 10_000, 10).ok).toBe(true);
    expect(h.order(ALICE, 0, 10_000, 10).ok).toBe(true);
    let v = h.perps.accountView(ALICE);
    expect(v).toMatchObject({ collateral: 100_000, equity: 100_000, initialMargin: 10_000, maintenanceMargin: 5_000, available: 90_000, marginRatioBps: 500 });
    expect(v.positions).toEqual([expect.objectContaining({ size: 10, entryPrice: 10_000, mark: 10_000, notional: 100_000, unrealizedPnl: 0, initialMargin: 10_000, maintenanceMargin: 5_000 })]);
    // An open buy of 80 reserves margin on the worst case (90 long: IM 90,000).
    expect(h.order(ALICE, 0, 9_000, 80).ok).toBe(true);
    expect(h.perps.accountView(ALICE)).toMatchObject({ initialMargin: 90_000, available: 10_000 });
    // 11 more would reach 101 long: 1,010,000 notional is the second tier (20%): refused.
    let o = h.order(ALICE, 0, 9_000, 11);
    expect([o.reasonName, o.text]).toEqual(['InsufficientMargin', 'initial margin 202000 would exceed equity 100000 by 102000']);
    // A sell that only reduces the worst case passes whatever the margin.
    expect(h.order(ALICE, 1, 11_000, 10).ok).toBe(true);
    // An order past the last tier is refused as a position limit.
    h.deposit(ALICE, 10_000_000);
    o = h.order(ALICE, 0, 9_000, 500);
    expect([o.reasonName, o.text]).toEqual(['PositionLimit', "the position could pass BASE-PERP's largest margin tier (5000000)"]);
    // A buy above the mark counts what it would lose at once: 1,000 of initial margin and the 500 above the mark.
    h.deposit(DAVE, 1_500);
    expect(h.order(DAVE, 0, 10_500, 1).ok).toBe(true);
    expect(h.perps.accountView(DAVE)).toMatchObject({ initialMargin: 1_500, available: 0 });
    expect(h.order(DAVE, 0, 9_000, 1).reasonName).toBe('InsufficientMargin');
    // The mark moves: uPnL and equity follow; amounts against the client by less than one unit.
    h.prices([9_001, 9_001, 9_001]);
    v = h.perps.accountView(ALICE);
    const mark = h.perps.marketView(PERP).mark;
    expect(v.positions[0].unrealizedPnl).toBe(10 * mark - 100_000);
    expect(v.equity).toBe(10_100_000 + 10 * mark - 100_000);
    expect(v.maintenanceMargin).toBe(Math.ceil(10 * mark * 0.05));
    // Every account's figures agree with a replay of the journal.
    const replayed = h.replay();
    expect(replayed.perps.accountView(ALICE)).toEqual(h.perps.accountView(ALICE));
    expect(replayed.perps.marketView(PERP)).toEqual(h.perps.marketView(PERP));
    h.pipeline.checkInvariants(perpConfig().instruments.map((l) => l.spec));
  });

  it('[PERP-5] realized PnL is paid through the clearing account; a loss beyond the settlement balance is owed and repaid from the next gain', () => {
    const h = ready();
    h.deposit(DAVE, 50_000, 'STABLE'); // DAVE's collateral is all STABLE: it has no QUOTE to pay a loss with
    h.order(CAROL, 1, 10_000, 4);
    h.order(DAVE, 0, 10_000, 4); // DAVE takes: fee tier 1, 5 bps of 40,000 = 20 owed
    expect(h.perps.accountView(DAVE).owed).toBe(20);
    h.order(CAROL, 0, 9_000, 4);
    h.order(DAVE, 1, 9_000, 4); // DAVE closes 4,000 down and pays 18 more in fees
    expect(h.perps.accountView(DAVE)).toMatchObject({ owed: 4_038, positions: [] });
    // With nothing open he still owes: his collateral may not leave while it is needed to cover that.
    h.deposit(DAVE, 5, 'QUOTE');
    const [w] = h.run([{ type: 'withdraw', key: 'dave-w', account: DAVE, asset: 'STABLE', amount: 50_000 }]);
    expect([w.reasonName, w.text]).toEqual(['InsufficientMargin', 'it would leave -4033 of initial margin uncovered (equity would be -4033, initial margin 0)']);
    expect(h.run([{ type: 'withdraw', key: 'dave-w2', account: DAVE, asset: 'STABLE', amount: 40_000 }])[0].ok).toBe(true);
    expect(h.perps.accountView(CAROL).positions).toEqual([]);
    expect(h.balance(CAROL)).toBe(1_000_000 + 4_000 - 2 * 0);
    // Clearing paid CAROL's gain and DAVE's fees for him; it is owed exactly that.
    expect(h.balance(4)).toBe(-4_038);
    expect(h.balance(1)).toBe(38);
    // DAVE wins it back: the gain repays what he owes before anything reaches his balance.
    h.deposit(DAVE, 100, 'QUOTE');
    h.order(CAROL, 1, 9_000, 5);
    h.order(DAVE, 0, 9_000, 5);
    h.order(CAROL, 0, 10_000, 5);
    h.order(DAVE, 1, 10_000, 5);
    expect(h.perps.accountView(DAVE).owed).toBe(0);
    h.pipeline.checkInvariants(perpConfig().instruments.map((l) => l.spec));
  });

  it('[PERP-5] a spot hold or withdrawal that would leave a position\'s initial margin uncovered is refused; one that would not passes', () => {
    const h = ready();
    h.order(CAROL, 1, 10_000, 5);
    h.order(ALICE, 0, 10_000, 5); // IM 5,000 of 100,000
    const [w] = h.run([{ type: 'withdraw', key: 'w1', account: ALICE, asset: 'QUOTE', amount: 95_001 }]);
    expect([w.reasonName, w.text]).toEqual(['InsufficientMargin', 'it would leave -1 of initial margin uncovered (equity would be 4999, initial margin 5000)']);
    expect(h.run([{ type: 'withdraw', key: 'w2', account: ALICE, asset: 'QUOTE', amount: 94_000 }])[0].ok).toBe(true);
    // 6,000 left: a spot buy holding 5,101 (its price and a unit per possible fill) would leave 899 against 5,000 of initial margin.
    const spot = h.order(ALICE, 0, 5_100, 1, { instrument: SPOT });
    expect([spot.reasonName, spot.text]).toEqual(['InsufficientMargin', 'it would leave -4101 of initial margin uncovered (equity would be 899, initial margin 5000)']);
    expect(h.run([{ type: 'withdraw', key: 'w3', account: ALICE, asset: 'QUOTE', amount: 1_000 }])[0].ok).toBe(true);
  });

  it('[PERP-5] reduce-only: refused when it would not reduce, trimmed to the position, cancelled when a fill leaves nothing to reduce', () => {
    const h = ready();
    let o = h.order(ALICE, 1, 11_000, 1, { reduceOnly: true });
    expect([o.reasonName, o.text]).toEqual(['ReduceOnly', 'a reduce-only sell would not reduce the position (0)']);
    h.order(CAROL, 1, 10_000, 5);
    h.order(ALICE, 0, 10_000, 5);
    // Trimmed: 8 asked, 5 to reduce.
    o = h.order(ALICE, 1, 11_000, 8, { reduceOnly: true });
    expect(o.ok).toBe(true);
    expect(h.pipeline.orders.get(o.orderId!)!.remaining).toBe(5);
    o = h.order(ALICE, 1, 11_500, 1, { reduceOnly: true });
    expect([o.reasonName, o.text]).toEqual(['ReduceOnly', 'the position (5) is already covered by open reduce-only orders (5)']);
    expect(h.order(ALICE, 0, 9_000, 1, { reduceOnly: true }).reasonName).toBe('ReduceOnly');
    // The position closes by another order: the reduce-only sell is cancelled in the same batch.
    const ro = [...h.pipeline.orders.values()].find((x) => x.reduceOnly)!.id;
    h.order(CAROL, 0, 9_500, 5);
    const [close] = h.run([{ type: 'order', account: ALICE, instrument: PERP, side: 1, orderType: 0, tif: 1, price: 9_500, qty: 5 }]);
    expect(close.ok).toBe(true);
    expect(h.pipeline.orders.has(ro)).toBe(false);
    expect(close.events.some((e) => e.kind === 4 && e.orderId === ro)).toBe(true);
    // Reduce-only is for perpetuals.
    expect(h.order(ALICE, 1, 10_000, 1, { instrument: SPOT, reduceOnly: true })).toMatchObject({ reasonName: 'ReduceOnly', text: 'reduce-only is for perpetual contracts' });
    h.pipeline.checkInvariants(perpConfig().instruments.map((l) => l.spec));
    void HOUR;
  });
});

describe('margin holes closed', () => {
  const specs = perpConfig().instruments.map((l) => l.spec);
  it('[PERP-5] a deep resting buy does not hide a marketable one: each order\'s own loss at the mark is charged in full', () => {
    const h = ready();
    h.order(CAROL, 1, 15_000, 1);
    h.deposit(DAVE, 2_100);
    expect(h.order(DAVE, 0, 5_000, 1).ok).toBe(true);
    const o = h.order(DAVE, 0, 15_000, 1, { tif: 1 });
    // IM 1,000 of the worst case (2 long at 10,000) + 5,000 above the mark, against 2,100.
    expect([o.reasonName, o.text]).toEqual(['InsufficientMargin', 'initial margin 7000 would exceed equity 2100 by 4900']);
  });

  it('[PERP-5] a spot amend that would uncover margin is refused like a new spot order', () => {
    const h = ready();
    h.order(CAROL, 1, 10_000, 90);
    h.order(ALICE, 0, 10_000, 90); // IM 90,000 of 100,000
    const spot = h.order(ALICE, 0, 5_000, 1, { instrument: SPOT });
    expect(spot.ok).toBe(true);
    const [a] = h.run([{ type: 'amend', account: ALICE, instrument: SPOT, orderId: spot.orderId!, price: 10_000, qty: 9 }]);
    expect(a.reasonName).toBe('InsufficientMargin');
  });

  it('[PERP-5] an admitted amend reserves its margin at once: a later order in the same batch is checked against it', () => {
    const h = ready();
    const first = h.order(ALICE, 0, 9_000, 10);
    const [amend, next] = h.run([
      { type: 'amend', account: ALICE, instrument: PERP, orderId: first.orderId!, price: 9_000, qty: 90 },
      { type: 'order', account: ALICE, instrument: PERP, side: 0, orderType: 0, tif: 0, price: 9_000, qty: 90 },
    ]);
    expect([amend.ok, next.reasonName]).toEqual([true, 'InsufficientMargin']);
    expect(h.perps.accountView(ALICE)).toMatchObject({ initialMargin: 90_000 });
    // A refused amend gives its reservation back.
    const [bad] = h.run([{ type: 'amend', account: ALICE, instrument: PERP, orderId: first.orderId!, price: 9_001, qty: 95, ifRemaining: 3 }]);
    expect(bad.reasonName).toBe('OrderChanged');
    expect(h.perps.accountView(ALICE).initialMargin).toBe(90_000);
    h.pipeline.checkInvariants(specs);
  });

  it('[PERP-5] reduce-only orders count in the worst case, so with ordinary orders of their side they cannot carry a position past zero unmargined', () => {
    const h = ready();
    h.order(CAROL, 1, 10_000, 10);
    h.order(ALICE, 0, 10_000, 10);
    h.run([{ type: 'withdraw', key: 'aw', account: ALICE, asset: 'QUOTE', amount: 79_500 }]); // equity 20,500
    expect(h.order(ALICE, 1, 10_000, 20, { tif: 0 }).ok).toBe(true); // worst: 10 short — IM 10,000
    const ro = h.order(ALICE, 1, 10_000, 10, { reduceOnly: true }); // worst: 20 short — IM 20,000 ≤ 20,500
    expect(ro.ok).toBe(true);
    const more = h.order(ALICE, 1, 10_000, 1, { tif: 0 }); // 21 short: 21,000 > 20,500
    expect(more.reasonName).toBe('InsufficientMargin');
  });

  it('[PERP-2] [PERP-5] [PERP-6] a snapshot keeps who may trade and who is at risk: a restored node liquidates exactly as the live one', () => {
    const h = ready();
    h.ok({ type: 'admin', operator: 900, body: { action: 'investor.assess', participant: 3, professional: true, assessor: 'desk', assessedOn: '2026-11-01', expires: '2027-01-31', result: 'pass' } });
    h.deposit(BOB, 100_000);
    h.order(CAROL, 1, 10_000, 10);
    h.order(BOB, 0, 10_000, 10);
    h.run([{ type: 'withdraw', key: 'bw', account: BOB, asset: 'QUOTE', amount: 90_000 }]); // equity 10,000 against MM 5,000
    const snapshot = { batch: h.journal.length, lastSeq: h.seq, core: h.pipeline.core.snapshot(), ledger: h.pipeline.ledger.state(), extra: structuredClone(h.pipeline.state()) };
    const restored = NodeRuntime.build(perpConfig(), snapshot).pipeline;
    // The mark falls to 9,400: equity 4,000 against maintenance 4,700 — BOB is liquidated in that batch, on both.
    const batch = SOURCE_KEYS.map((source, i) => ({ seq: h.seq + 1 + i, ts: h.ts + 1, command: { type: 'price' as const, source, underlying: 'BASE', price: 9_400, sourceTs: h.ts + 1 } }));
    h.pipeline.apply(batch.map((b) => ({ ...b, command: { ...b.command } })));
    restored.apply(batch.map((b) => ({ ...b, command: { ...b.command } })));
    expect(h.perps.waterfall.steps.map((x) => x.stage)).toContain('adl');
    expect(restored.perps.waterfall.steps).toEqual(h.perps.waterfall.steps);
    expect(restored.ledger.takePending().equals(h.pipeline.ledger.takePending())).toBe(true);
    expect([h.perps.accountView(BOB).positions, restored.perps.accountView(BOB).positions]).toEqual([[], []]);
    expect(restored.perps.state()).toEqual(h.perps.state());
  });
});

describe('disclosure', () => {
  it('[PERP-3] [PERP-9] [PERP-10] the rulebook publishes how perpetuals work, and the default-management rules, with every parameter in force; an operator\'s change is a new version', async () => {
    const node = await NodeRuntime.open({ dataDir: mkdtempSync(join(tmpdir(), 'junction-perps-rules-')), config: perpConfig() });
    try {
      const before = rulebook(node);
      const section = before.sections.find((x) => x.id === 'perpetuals')!;
      expect(section.rules.some((r) => r.startsWith('Mark (PERP-3): the median of (1) index × (1 + predicted funding rate'))).toBe(true);
      expect(section.parameters).toMatchObject({ products: [{ symbol: 'BASE-PERP', fundingIntervalMin: 60, minSources: 3 }], clearingAccount: 4 });
      const defaults = before.sections.find((x) => x.id === 'perpetuals-default-management')!;
      expect(defaults.rules[0]).toMatch(/^Trigger: an account whose equity/);
      expect(defaults.parameters).toMatchObject({ products: [{ symbol: 'BASE-PERP', liquidationFeeBps: 50, liquidationImpactBps: 200 }], insuranceFund: { account: 3, floor: 0 } });
      const o = await node.submit({ type: 'admin', operator: 900, body: { action: 'perp.set', instrument: PERP, changes: { markBandBps: 1_500 } } });
      expect(o.ok).toBe(true);
      const after = rulebook(node);
      expect(after.version).not.toBe(before.version);
      expect((after.sections.find((x) => x.id === 'perpetuals')!.parameters as { products: { markBandBps: number }[] }).products[0].markBandBps).toBe(1_500);
    } finally {
      await node.close();
    }
  });
});

describe('exact arithmetic', () => {
  it('[PERP-5] a×b÷c rounded either way is exact past 2^53 (quantity × price ÷ unit), checked against BigInt', () => {
    const rnd = mulberry32Below(12345);
    let past = 0;
    for (let i = 0; i < 20_000; i++) {
      const a = rnd(2 ** 31) * (1 + rnd(10));
      const b = rnd(2 ** 31) * (1 + rnd(1_000));
      const c = [10_000, 100_000_000, 1_000_000, 7, 10 ** (1 + rnd(9))][rnd(5)];
      const p = BigInt(a) * BigInt(b);
      const down = p / BigInt(c);
      const up = down * BigInt(c) === p ? down : down + 1n;
      if (up > BigInt(Number.MAX_SAFE_INTEGER)) continue;
      if (a * b > Number.MAX_SAFE_INTEGER) past++;
      expect(mulDiv(a, b, c, false), `${a}×${b}÷${c}`).toBe(Number(down));
      expect(mulDiv(a, b, c, true), `${a}×${b}÷${c}`).toBe(Number(up));
    }
    expect(past, 'products past 2^53 checked').toBeGreaterThan(5_000);
  });
});

export { NodeReject };
