// The liquidation waterfall (PERP-6), the insurance fund (PERP-8), ADL ranks and post-event reports
// (PERP-9): a scenario for each stage with every amount to the unit, ADL taking exactly what is left,
// and a property test over random positions and price paths.
import { describe, expect, it } from 'vitest';
import { ALICE, BOB, CAROL, DAVE, INSURANCE, PERP, PerpHarness, SOURCES, SPOT, perpConfig, trading } from './support/perps.js';
import type { NodeCommand } from '../src/pipeline/commands.js';
import { mulberry32Below } from './support/command-stream.js';

const SPECS = perpConfig().instruments.map((l) => l.spec);


/** BOB long 10 at 10,000 on 10,000 of collateral (IM 10%, MM 5%: liquidated below ~9,473.7); CAROL short 10. Fund 1,000. */
function bobLong(fund = 1_000): PerpHarness {
  const h = trading();
  h.deposit(BOB, 10_000);
  for (const a of [ALICE, CAROL, DAVE]) h.deposit(a, 1_000_000);
  if (fund > 0) h.deposit(INSURANCE, fund);
  h.order(CAROL, 1, 10_000, 10);
  expect(h.order(BOB, 0, 10_000, 10).ok).toBe(true);
  return h;
}

/** The three sources move to `price` (one second on). */
function drop(h: PerpHarness, price: number) {
  h.ts += 1_000_000;
  return h.prices([price, price, price]);
}

describe('the liquidation waterfall', () => {
  it('[PERP-6] stage 1, the book: closed never past bankruptcy; the gain over it pays the insurance fund its fee, the rest stays the account\'s', () => {
    const h = bobLong();
    h.order(CAROL, 0, 9_300, 10); // a bid above bankruptcy (9,000)
    drop(h, 9_400); // equity 4,000 < maintenance 4,700
    const steps = h.perps.waterfall.steps;
    expect(steps.map((s) => [s.stage, s.account, s.qty, s.price, s.amount])).toEqual([
      ['cancel', BOB, 0, 0, 0],
      ['book', BOB, 10, 9_300, 93_000],
      // 10 × (9,300 − 9,000) = 3,000 over bankruptcy; the fee is 50 bps of 93,000.
      ['book', BOB, 0, 0, 465],
    ]);
    expect(h.perps.accountView(BOB)).toMatchObject({ positions: [], equity: 3_000 - 465, owed: 0 });
    expect(h.balance(INSURANCE)).toBe(1_000 + 465);
    expect(h.perps.reports).toEqual([]); // the book was enough: no post-event report
    // Every step is kept with its batch's sequence and time.
    expect(h.perps.liquidationLog.map((x) => [x.stage, x.seq, x.ts])).toEqual(steps.map((x) => [x.stage, h.seq, h.ts]));
    h.pipeline.checkInvariants(SPECS);
  });

  it('[PERP-6] [PERP-9] stage 2, backstop providers take what the book did not at the bankruptcy price, within capacity and margin; a report follows', () => {
    const h = bobLong();
    h.ok({ type: 'admin', operator: 900, body: { action: 'backstop.set', backstop: { account: DAVE, capacity: 1_000_000, status: 'active' } } });
    const [house] = h.run([{ type: 'admin', operator: 900, body: { action: 'backstop.set', backstop: { account: 2, capacity: 1, status: 'active' } } }]);
    expect(house.text).toBe('account 2 is not a client account: only clients may be backstop providers');
    drop(h, 9_400);
    expect(h.perps.waterfall.steps.filter((s) => s.stage !== 'cancel').map((s) => [s.stage, s.qty, s.price])).toEqual([['backstop', 10, 9_000]]);
    expect(h.perps.accountView(BOB)).toMatchObject({ positions: [], equity: 0, owed: 0 });
    expect(h.perps.accountView(DAVE).positions).toEqual([expect.objectContaining({ size: 10, entryPrice: 9_000 })]);
    expect(h.perps.backstops.get(DAVE)!.capacity).toBe(1_000_000 - 90_000);
    const [report] = h.perps.reports;
    expect(report).toMatchObject({
      triggers: ['backstop'], fundBefore: 1_000, fundAfter: 1_000,
      liquidated: [{ instrument: PERP, side: 'long', size: 10, bankruptcyPrice: 9_000 }],
      timeline: [{ stage: 'backstop', instrument: PERP, qty: 10, price: 9_000, amount: 0 }],
      products: [expect.objectContaining({ symbol: 'BASE-PERP', mark: 9_400, index: 9_400 })],
    });
    expect(JSON.stringify(report)).not.toContain(`"account"`);
    // What it did to each account involved, for its owner alone (PERP-10): worked out for those asked about.
    expect(h.perps.waterfall.noticesFor((a) => a === BOB || a === DAVE, h.seq, h.ts).map((n) => [n.account, n.kind, n.text])).toEqual([
      [BOB, 'liquidated', `your BASE-PERP long was liquidated: 10 at 9000 taken by backstop providers at its bankruptcy price (post-event report PER-${h.seq})`],
      [DAVE, 'backstop', `as a backstop provider you took over 10 at 9000 of a liquidated BASE-PERP long (its bankruptcy price) (post-event report PER-${h.seq})`],
    ]);
    expect(h.perps.waterfall.noticesFor((a) => a === ALICE, h.seq, h.ts)).toEqual([]);
    h.pipeline.checkInvariants(SPECS);
  });

  it('[PERP-6] a backstop provider takes no more than its position limit allows (the largest tier, at the mark); the rest goes on down the waterfall', () => {
    const h = bobLong();
    drop(h, 9_480); // BOB still safe: 4,800 ≥ 4,740
    for (const a of [ALICE, DAVE]) h.deposit(a, 500_000);
    // DAVE long 527 at 9,480: 4,995,960 of the 5,000,000 the largest tier allows.
    h.order(ALICE, 1, 9_480, 527);
    expect(h.order(DAVE, 0, 9_480, 527).ok).toBe(true);
    h.ok({ type: 'admin', operator: 900, body: { action: 'backstop.set', backstop: { account: DAVE, capacity: 10_000_000, status: 'active' } } });
    drop(h, 9_400);
    // At 9,400 the limit is 531 (5,000,000 ÷ 9,400): DAVE takes 4 of BOB's 10, ADL the other 6.
    const steps = h.perps.waterfall.steps.filter((s) => s.stage !== 'cancel');
    expect(steps.filter((s) => s.stage === 'backstop').map((s) => [s.qty, s.price])).toEqual([[4, 9_000]]);
    expect(steps.filter((s) => s.stage === 'adl').reduce((n, s) => n + s.qty, 0)).toBe(6);
    expect(h.perps.accountView(DAVE).positions[0].size).toBe(531);
    expect(h.perps.figures(DAVE).limitExceeded).toBe(false);
    expect(h.perps.accountView(BOB)).toMatchObject({ positions: [], equity: 0, owed: 0 });
    h.pipeline.checkInvariants(SPECS);
  });

  it('[PERP-6] [PERP-8] stage 3, the insurance fund pays fills past bankruptcy as far as it can; depleted, it is announced', () => {
    const h = bobLong();
    h.ok({ type: 'admin', operator: 900, body: { action: 'perp.set', instrument: PERP, changes: { liquidationImpactBps: 1_000 } } });
    h.order(CAROL, 0, 8_900, 10); // only a bid below bankruptcy
    drop(h, 9_400);
    expect(h.perps.waterfall.steps.filter((s) => s.stage !== 'cancel').map((s) => [s.stage, s.qty, s.price, s.amount])).toEqual([
      ['insurance', 10, 8_900, 89_000],
      ['insurance', 0, 0, 1_000], // 10 × (9,000 − 8,900): the fund pays it
    ]);
    expect(h.perps.accountView(BOB)).toMatchObject({ positions: [], equity: 0, owed: 0 });
    expect(h.balance(INSURANCE)).toBe(0);
    expect(h.perps.notices).toEqual([expect.objectContaining({ kind: 'insurance-depleted', fund: 0, text: 'the insurance fund is depleted (0): positions may be auto-deleveraged' })]);
    expect(h.perps.reports[0]).toMatchObject({ triggers: ['insurance-depletion'], fundBefore: 1_000, fundAfter: 0 });
    // Topped up by an operator, it is restored in that batch; emptied again by a withdrawal, depleted:
    // each said at once, not at the next liquidation.
    h.deposit(INSURANCE, 5_000);
    expect(h.perps.waterfall.notices).toEqual([{ seq: h.seq, ts: h.ts, kind: 'insurance-restored', fund: 5_000, text: 'the insurance fund is restored (5000)' }]);
    expect(h.run([{ type: 'withdraw', key: 'fund-out', account: INSURANCE, asset: 'QUOTE', amount: 5_000 }])[0].ok).toBe(true);
    expect(h.perps.waterfall.notices).toEqual([{ seq: h.seq, ts: h.ts, kind: 'insurance-depleted', fund: 0, text: 'the insurance fund is depleted (0): positions may be auto-deleveraged' }]);
    expect(h.perps.notices.map((n) => n.kind)).toEqual(['insurance-depleted', 'insurance-restored', 'insurance-depleted']);
    h.pipeline.checkInvariants(SPECS);
  });

  it('[PERP-6] [PERP-9] stage 4, auto-deleveraging closes exactly what is left at the bankruptcy price, highest rank first; nobody else is touched', () => {
    const h = trading();
    h.deposit(BOB, 4_000);
    for (const a of [ALICE, CAROL, DAVE]) h.deposit(a, 1_000_000);
    // CAROL short 3 from 10,400 (more profit per unit), DAVE short 4 from 10,000; ALICE long 3 on BOB's side.
    h.order(CAROL, 1, 10_400, 3);
    h.order(ALICE, 0, 10_400, 3);
    h.order(DAVE, 1, 10_000, 4);
    h.order(BOB, 0, 10_000, 4); // BOB long 4 on 4,000: IM 4,000
    const ranks = h.perps.adlRanks(PERP);
    drop(h, 9_100); // BOB: 4,000 − 3,600 = 400 < 1,820: bankruptcy 9,000
    expect(ranks.get(CAROL)).toBe(5);
    const steps = h.perps.waterfall.steps.filter((s) => s.stage === 'adl');
    expect(steps.map((s) => [s.qty, s.price])).toEqual([[3, 9_000], [1, 9_000]]);
    expect(h.perps.accountView(CAROL).positions).toEqual([]);
    expect(h.perps.accountView(DAVE).positions[0].size).toBe(-3);
    expect(h.perps.accountView(ALICE).positions[0].size).toBe(3);
    expect(h.perps.accountView(BOB)).toMatchObject({ positions: [], equity: 0, owed: 0 });
    expect(h.perps.reports[0].triggers).toContain('adl');
    h.pipeline.checkInvariants(SPECS);
  });

  it('[PERP-9] every open position carries its ADL quintile; the house never holds one', () => {
    const h = bobLong();
    const v = h.perps.accountView(CAROL);
    expect(v.positions[0].adlRank).toBeGreaterThanOrEqual(1);
    expect(v.positions[0].adlRank).toBeLessThanOrEqual(5);
    expect(h.perps.accounts.get(2)).toBeUndefined();
  });

  it('[PERP-6] [PERP-8] property: random positions and price paths; after every batch no account is below zero equity, every account at risk was taken through the waterfall, money is conserved and the house holds nothing', () => {
    let liquidations = 0;
    const stages = new Set<string>();
    for (let seed = 1; seed <= 10; seed++) {
      const rnd = mulberry32Below(seed * 104729);
      const h = trading();
      const traders = [ALICE, BOB, CAROL, DAVE];
      for (const a of traders) h.deposit(a, 5_000 + rnd(60_000));
      const fund = rnd(3) * 5_000;
      if (fund > 0) h.deposit(INSURANCE, fund);
      if (rnd(2) === 0) h.ok({ type: 'admin', operator: 900, body: { action: 'backstop.set', backstop: { account: DAVE, capacity: rnd(300_000), status: 'active' } } });
      let px = 10_000;
      if (seed % 2 === 0) h.ok({ type: 'admin', operator: 900, body: { action: 'perp.set', instrument: PERP, changes: { liquidationImpactBps: 1_000 } } });
      for (let b = 0; b < 150; b++) {
        h.ts += 1_000_000 + rnd(30_000_000);
        px = Math.max(5_000, Math.min(15_000, px + rnd(601) - 300 + (rnd(12) === 0 ? (rnd(2) ? 1_200 : -1_200) : 0)));
        const commands: NodeCommand[] = SOURCES.map((source) => ({ type: 'price', source, underlying: 'BASE', price: px, sourceTs: h.ts }));
        for (let k = 0, n = 1 + rnd(5); k < n; k++) {
          const account = traders[rnd(4)];
          commands.push({ type: 'order', account, instrument: PERP, side: rnd(2), orderType: 0, tif: rnd(3) === 0 ? 1 : 0, price: px + rnd(401) - 200, qty: 1 + rnd(50) });
        }
        if (rnd(10) === 0) commands.push({ type: 'deposit', key: `top-${seed}-${b}`, account: traders[rnd(4)], asset: 'QUOTE', amount: rnd(50_000) + 1 });
        h.run(commands);
        liquidations += h.perps.waterfall.steps.filter((s) => s.stage === 'cancel').length;
        for (const s of h.perps.waterfall.steps) stages.add(s.stage);
        h.pipeline.checkInvariants(SPECS);
        for (const a of traders) {
          const f = h.perps.figures(a);
          expect(f.equity, `seed ${seed} batch ${b}: account ${a}'s equity`).toBeGreaterThanOrEqual(0);
          if (f.mm > 0) expect(f.equity >= f.mm || h.perps.atRisk.has(a), `seed ${seed} batch ${b}: ${a} below maintenance but not at risk`).toBe(true);
        }
        expect(h.perps.atRisk.size, `seed ${seed} batch ${b}: everyone at risk was liquidated`).toBe(0);
        expect(h.perps.accounts.get(2)?.positions.size ?? 0).toBe(0);
      }
      const replayed = h.replay();
      expect(replayed.ledger.state()).toEqual(h.pipeline.ledger.state());
      expect(replayed.perps.state()).toEqual(h.perps.state());
    }
    expect(liquidations, 'the paths liquidated accounts').toBeGreaterThanOrEqual(15);
    expect([...stages].filter((x) => ['adl', 'backstop', 'book', 'cancel'].includes(x)).sort(), 'the stages ran').toEqual(['adl', 'backstop', 'book', 'cancel']);
  });
});

describe('the waterfall under review', () => {
  const admin = (body: Record<string, unknown>, operator = 900): NodeCommand => ({ type: 'admin', operator, body: body as never });

  it('[PERP-6] [PERP-7] an account a mark move leaves safe but past its tier boundary is re-indexed: the next move liquidates it', () => {
    const h = trading();
    h.deposit(ALICE, 1_000_000);
    h.deposit(CAROL, 153_450);
    h.order(ALICE, 0, 10_000, 99);
    expect(h.order(CAROL, 1, 10_000, 99).ok).toBe(true); // short 990,000: the first tier
    drop(h, 10_200); // 1,009,800 of notional: the second tier (MM 10%): 133,650 against 100,980, safe
    expect(h.perps.waterfall.steps).toEqual([]);
    drop(h, 10_600); // 94,050 against 104,940
    expect(h.perps.waterfall.steps.filter((s) => s.account === CAROL).map((s) => s.stage)).toContain('cancel');
    expect(h.perps.accountView(CAROL).positions).toEqual([]);
    h.pipeline.checkInvariants(SPECS);
  });

  it('[PERP-6] a liquidation order the core refuses (outside the price band) does not refuse the batch\'s last command; the next stage takes the position', () => {
    const config = perpConfig();
    config.instruments = config.instruments.map((l) => (l.spec.id === PERP ? { ...l, spec: { ...l.spec, bandBps: 300 } } : l));
    const h = trading(config);
    h.deposit(BOB, 10_000);
    for (const a of [ALICE, CAROL]) h.deposit(a, 1_000_000);
    h.order(CAROL, 1, 10_000, 10);
    h.order(BOB, 0, 10_000, 10);
    h.order(CAROL, 0, 9_700, 10);
    h.ts += 1_000_000;
    const outcomes = h.run([...SOURCES.map((source): NodeCommand => ({ type: 'price', source, underlying: 'BASE', price: 9_400, sourceTs: h.ts })),
      { type: 'order', account: ALICE, instrument: PERP, side: 1, orderType: 0, tif: 0, price: 10_200, qty: 1 }]);
    const last = outcomes[outcomes.length - 1];
    expect([last.ok, last.reasonName]).toEqual([true, undefined]);
    expect(h.pipeline.orders.has(last.orderId!)).toBe(true);
    expect(h.perps.accountView(BOB)).toMatchObject({ positions: [], owed: 0 });
  });

  it('[PERP-6] a liquidation fill pays no trading fee: closed at its bankruptcy price, the account ends at zero and owes nothing', () => {
    const h = trading();
    h.ok(admin({ action: 'perp.set', instrument: PERP, changes: { liquidationImpactBps: 1_000 } }));
    h.deposit(DAVE, 10_050);
    h.deposit(CAROL, 1_000_000);
    h.order(CAROL, 1, 10_000, 10);
    h.order(DAVE, 0, 10_000, 10); // DAVE (5 bps taker) long 10 on 10,000 once his 50 of fee is paid
    h.order(CAROL, 0, 9_000, 20);
    drop(h, 9_400); // equity 4,000 against 4,700: bankruptcy 9,000, where CAROL bids
    expect(h.perps.waterfall.steps.filter((x) => x.account === DAVE).map((x) => [x.stage, x.qty, x.price])).toEqual([['cancel', 0, 0], ['book', 10, 9_000]]);
    expect(h.perps.accountView(DAVE)).toMatchObject({ positions: [], owed: 0, equity: 0 });
    h.pipeline.checkInvariants(SPECS);
  });

  it('[PERP-6] [AFMM-5] the house never holds a perp position; an AFMM\'s resting orders are cancelled when it is designated, so none can meet the house', () => {
    const h = bobLong();
    const house = h.order(2, 0, 9_000, 1);
    expect([house.reasonName, house.text]).toEqual(['AccountCannotTrade', 'perpetual contracts are for client accounts']);
    h.deposit(CAROL, 10, 'BASE');
    const resting = h.order(CAROL, 1, 10_000, 5, { instrument: SPOT });
    const [p] = h.run([admin({ action: 'afmm.designate', participant: 5, officer: 'Officer' })]);
    h.ok(admin({ action: 'afmm.approve', change: p.seq }, 901));
    expect(h.pipeline.orders.has(resting.orderId!)).toBe(false);
    // Designated again (a new officer): it already was an AFMM, and what it placed since stays.
    const since = h.order(CAROL, 1, 10_001, 1, { instrument: SPOT });
    const [again] = h.run([admin({ action: 'afmm.designate', participant: 5, officer: 'New Officer' })]);
    h.ok(admin({ action: 'afmm.approve', change: again.seq }, 901));
    expect(h.pipeline.afmm.disclosures().find((d) => d.participant === 5)?.officer).toBe('New Officer');
    expect(h.pipeline.orders.has(since.orderId!)).toBe(true);
  });

  it('[PERP-5] [PERP-6] a reduce-only order left with nothing to reduce by deleveraging is cancelled in the same batch', () => {
    const h = trading();
    h.deposit(BOB, 4_000);
    h.deposit(CAROL, 1_000_000);
    h.order(CAROL, 1, 10_000, 4);
    h.order(BOB, 0, 10_000, 4);
    const ro = h.order(CAROL, 0, 8_000, 4, { reduceOnly: true });
    expect(ro.ok).toBe(true);
    drop(h, 9_100); // BOB liquidated: ADL against CAROL's short, the only one
    expect(h.perps.accountView(CAROL).positions).toEqual([]);
    expect(h.pipeline.orders.has(ro.orderId!)).toBe(false);
  });
});
