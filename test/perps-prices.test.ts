// Perpetual contracts, part 1: the index from several sources, the mark with its circuit breaker,
// the premium index and funding on the sequencer's clock, and a property test over random flow.
import { describe, expect, it } from 'vitest';
import { ALICE, BOB, CAROL, DAVE, HOUR, INSURANCE, MINUTE, PERP, PerpHarness, SOURCES, SPOT, T0, assessments, perpConfig } from './support/perps.js';
import { markBounds } from '../src/perps/prices.js';
import type { NodeCommand } from '../src/pipeline/commands.js';
import { mulberry32Below } from './support/command-stream.js';

const SPECS = perpConfig().instruments.map((l) => l.spec);
const clock: NodeCommand = { type: 'admin', operator: 0, body: { action: 'clock' } };

function ready(): PerpHarness {
  const h = new PerpHarness();
  h.run(assessments());
  h.prices([10_000, 10_000, 10_000]);
  h.deposit(ALICE, 1_000_000);
  h.deposit(CAROL, 1_000_000);
  h.deposit(DAVE, 1_000_000);
  return h;
}

describe('index and mark', () => {
  it('[PERP-3] the index is the median of fresh sources within the outlier band; stale and manipulated sources are excluded; below the minimum it is degraded and positions may not grow', () => {
    const h = ready();
    expect(h.perps.marketView(PERP)).toMatchObject({ index: 10_000, degraded: false });
    // The platform's own spot book becomes a fourth source once it trades.
    h.deposit(BOB, 10, 'BASE');
    h.deposit(BOB, 100_000);
    h.order(BOB, 1, 10_010, 1, { instrument: SPOT });
    h.order(ALICE, 0, 10_010, 1, { instrument: SPOT });
    h.ts += 1_000_000;
    // One source is manipulated 15% up: an outlier, excluded; the median of the other three stands.
    h.run([{ type: 'price', source: SOURCES[0], underlying: 'BASE', price: 11_500, sourceTs: h.ts }, { type: 'price', source: SOURCES[1], underlying: 'BASE', price: 10_004, sourceTs: h.ts }]);
    let m = h.perps.marketView(PERP);
    expect(m.contributions.map((c) => [c.source, c.price, c.status])).toEqual([['src-1', 11_500, 'outlier'], ['src-2', 10_004, 'used'], ['src-3', 10_000, 'used'], ['book', 10_010, 'used']]);
    expect([m.index, m.degraded]).toEqual([10_004, false]);
    // Ten seconds on, the sources that did not update are stale: two usable, fewer than three.
    h.ts += 9_000_000;
    h.run([{ type: 'price', source: SOURCES[1], underlying: 'BASE', price: 10_006, sourceTs: h.ts }]);
    expect(h.perps.marketView(PERP).degraded).toBe(false);
    h.ts += 1_000_001;
    h.run([{ type: 'price', source: SOURCES[1], underlying: 'BASE', price: 10_008, sourceTs: h.ts }]);
    m = h.perps.marketView(PERP);
    expect(m.contributions.map((c) => c.status)).toEqual(['stale', 'used', 'stale', 'stale']);
    expect([m.index, m.degraded]).toEqual([10_008, true]);
    const o = h.order(ALICE, 0, 10_000, 1);
    expect([o.reasonName, o.text]).toEqual(['IndexDegraded', "BASE-PERP's index has fewer than 3 usable price sources: positions may not open or grow"]);
    // The sources come back: trading resumes.
    h.ts += 1;
    h.prices([10_001, 10_002, 10_003]);
    expect(h.perps.marketView(PERP)).toMatchObject({ index: 10_002, degraded: false });
    expect(h.order(ALICE, 0, 10_000, 1).ok).toBe(true);
    // Two fresh sources more than the outlier band apart (the others stale): neither is usable. The
    // index stays where it was, degraded — never the median of nothing.
    h.ts += 10_000_001;
    h.run([
      { type: 'price', source: SOURCES[0], underlying: 'BASE', price: 9_000, sourceTs: h.ts },
      { type: 'price', source: SOURCES[1], underlying: 'BASE', price: 11_000, sourceTs: h.ts },
    ]);
    m = h.perps.marketView(PERP);
    expect(m.contributions.map((c) => c.status)).toEqual(['outlier', 'outlier', 'stale', 'stale']);
    expect([m.index, m.degraded, Number.isSafeInteger(m.mark)]).toEqual([10_002, true, true]);
    h.ts += 1;
    h.prices([10_001, 10_002, 10_003]);
    expect(h.perps.marketView(PERP)).toMatchObject({ index: 10_002, degraded: false });
    // Updates are refused by name: an unknown key, an unknown index, a time far off, an old update.
    const refused = h.run([
      { type: 'price', source: 999, underlying: 'BASE', price: 10_000, sourceTs: h.ts },
      { type: 'price', source: SOURCES[0], underlying: 'NOPE', price: 10_000, sourceTs: h.ts },
      { type: 'price', source: SOURCES[0], underlying: 'BASE', price: 10_000, sourceTs: h.ts - 31_000_000 },
      { type: 'price', source: SOURCES[0], underlying: 'BASE', price: 10_000, sourceTs: h.ts },
      { type: 'price', source: SOURCES[1], underlying: 'BASE', price: -5, sourceTs: h.ts + 1 },
    ]);
    expect(refused.map((x) => [x.reasonName, x.text])).toEqual([
      ['UnknownPriceSource', 'key 999 is not a price source of the BASE index'],
      ['UnknownPriceSource', 'no perpetual product has the index "NOPE"'],
      ['StalePrice', "the source's time is -31000 ms from the node's (at most 30000 ms)"],
      ['StalePrice', `the update is not newer than the source's last (${h.ts} µs)`],
      ['InvalidPrice', 'price -5 must be a positive whole number of quote units'],
    ]);
  });

  it('[PERP-3] the mark is the median of index-plus-funding-basis, index-plus-moving-basis and the last trade; a circuit breaker bounds its move within a window', () => {
    const h = ready();
    // A book 10 and 30 above the index: impact bid 10,010, impact ask 10,030.
    h.order(CAROL, 0, 10_010, 10);
    h.order(CAROL, 1, 10_030, 10);
    h.order(ALICE, 0, 10_030, 5);
    for (let k = 1; k <= 3; k++) {
      h.run([clock], T0 + k * MINUTE);
      h.prices([10_000, 10_000, 10_000]);
    }
    const m = h.perps.marketView(PERP);
    // Three samples of a basis of +20 (impact mid 10,020): the moving basis input is 10,020.
    expect(m.inputs).toMatchObject({ index: 10_000, movingBasis: 10_020, lastTrade: 10_030 });
    expect(m.predictedRateE8).toBe(50_000); // premium 0.1%: average 100,000 + clamp(1,000 − 100,000, ±50,000)
    expect(m.inputs.fundingBasis).toBe(10_000 + Math.floor((10_000 * 50_000 * (57 / 60)) / 1e8));
    expect(m.mark).toBe(10_020);
    // Every source jumps 50%: the mark may move at most 20% from where it stood when the window began.
    h.ts = T0 + 3 * MINUTE + 30_000_000;
    h.prices([15_000, 15_000, 15_000]);
    const j = h.perps.marketView(PERP);
    expect(j.markBand).toEqual(markBounds(10_020, 2_000));
    expect([j.mark, j.clamped]).toEqual([12_024, true]);
    // In the next window it moves on from there, within a band around 12,024. The minute's sample saw the
    // book 4,980 below the index: the moving basis is 15,000 + (20 + 20 + 20 − 4,980) ÷ 4 = 13,770, the median.
    h.ts = T0 + 4 * MINUTE;
    h.prices([15_000, 15_000, 15_000]);
    const k = h.perps.marketView(PERP);
    expect(k.markBand).toEqual(markBounds(12_024, 2_000));
    expect(k.inputs).toMatchObject({ index: 15_000, movingBasis: 13_770, lastTrade: 10_030 });
    expect([k.mark, k.clamped]).toEqual([13_770, false]);
  });
});

describe('funding', () => {
  it('[PERP-1] the premium is sampled every minute; at the funding time longs pay shorts notional × rate, payers rounded up, receivers down, the residual to the insurance fund; replay reproduces it', () => {
    const h = ready();
    h.order(CAROL, 0, 10_010, 10);
    h.order(CAROL, 1, 10_030, 10);
    h.order(ALICE, 0, 10_030, 5); // ALICE long 5, CAROL short 5
    const before = { alice: h.balance(ALICE), carol: h.balance(CAROL), insurance: h.balance(INSURANCE) };
    for (let k = 1; k <= 60; k++) {
      h.run([clock], T0 + k * MINUTE);
      h.prices([10_000, 10_000, 10_000]);
    }
    const [record] = h.perps.fundingHistory(PERP);
    // 60 samples of +0.1%: rate 0.05% (the clamp), on 5 × 10,020 = 50,100: 25.05.
    expect(record).toEqual({ ts: T0 + HOUR, rateE8: 50_000, mark: 10_020, index: 10_000, paid: 26, received: 25, residual: 1, positions: 2 });
    expect(h.balance(ALICE)).toBe(before.alice - 26);
    expect(h.balance(CAROL)).toBe(before.carol + 25);
    expect(h.balance(INSURANCE)).toBe(before.insurance + 1);
    expect(h.perps.accountView(ALICE).positions[0].funding).toBe(-26);
    expect(h.perps.marketView(PERP)).toMatchObject({ lastRateE8: 50_000, nextFundingUs: T0 + 2 * HOUR });
    // Once: the next batches in the same interval pay nothing more.
    h.run([clock], T0 + HOUR + 30 * MINUTE);
    expect(h.perps.fundingHistory(PERP)).toHaveLength(1);
    const replayed = h.replay();
    expect(replayed.ledger.state()).toEqual(h.pipeline.ledger.state());
    expect(replayed.perps.fundingHistory(PERP)).toEqual(h.perps.fundingHistory(PERP));
    h.pipeline.checkInvariants(SPECS);
  });

  it('[PERP-1] [PERP-5] property: random flow, prices and time, several commands on one order per batch; funding is zero-sum with its residual, clearing balances every open position, replay is exact', () => {
    for (let seed = 1; seed <= 6; seed++) {
      // mulberry32: a 32-bit generator whose arithmetic stays exact in doubles.
      const rnd = mulberry32Below(seed * 7919);
      const h = ready();
      h.deposit(DAVE, 300_000, 'STABLE');
      let px = 10_000;
      let fills = 0;
      const traders = [ALICE, CAROL, DAVE];
      for (let b = 0; b < 150; b++) {
        h.ts += rnd(4) * MINUTE + rnd(10_000_000);
        px = Math.max(7_000, Math.min(13_000, px + rnd(301) - 150));
        const commands: NodeCommand[] = SOURCES.map((source, i) => ({ type: 'price', source, underlying: 'BASE', price: px + rnd(21) - 10 + i, sourceTs: h.ts }));
        const open = [...h.pipeline.orders.values()];
        for (let k = 0, n = 1 + rnd(6); k < n; k++) {
          const account = traders[rnd(3)];
          const mine = open.filter((o) => o.account === account && o.instrument === PERP);
          const pick = mine.length > 0 ? mine[rnd(mine.length)] : undefined;
          const what = rnd(10);
          if (what < 5 || !pick) {
            commands.push({ type: 'order', account, instrument: PERP, side: rnd(2), orderType: 0, tif: rnd(4) === 0 ? 1 : 0, price: px + rnd(201) - 100, qty: 1 + rnd(20), ...(rnd(6) === 0 ? { reduceOnly: true } : {}) });
          } else if (what < 7) {
            // Several on the same order in one batch: amend it, then cancel or amend it again.
            commands.push({ type: 'amend', account, instrument: PERP, orderId: pick.id, price: pick.limit + rnd(21) - 10, qty: 1 + rnd(20) });
            commands.push(rnd(2) === 0 ? { type: 'cancel', account, instrument: PERP, orderId: pick.id } : { type: 'amend', account, instrument: PERP, orderId: pick.id, price: pick.limit, qty: 1 + rnd(5) });
          } else if (what < 8) {
            commands.push({ type: 'cancel', account, instrument: PERP, orderId: pick.id });
          } else {
            commands.push({ type: 'withdraw', key: `w-${seed}-${b}-${k}`, account, asset: 'QUOTE', amount: 1 + rnd(50_000) });
          }
        }
        const outcomes = h.run(commands);
        fills += outcomes.reduce((n, o) => n + o.fills(), 0);
        expect(outcomes.slice(0, 3).map((o) => o.reasonName), `seed ${seed} batch ${b}: the sources' prices`).toEqual([undefined, undefined, undefined]);
        h.pipeline.checkInvariants(SPECS);
      }
      const history = h.perps.fundingHistory(PERP);
      expect(history.length, `seed ${seed}`).toBeGreaterThan(2);
      let residual = 0;
      for (const r of history) {
        expect(r.paid - r.received, `seed ${seed} funding at ${r.ts}`).toBe(r.residual);
        expect(r.residual).toBeLessThanOrEqual(r.positions);
        residual += r.residual;
      }
      expect(h.balance(INSURANCE)).toBe(residual);
      expect(fills, `seed ${seed}: the flow traded`).toBeGreaterThan(20);
      const replayed = h.replay();
      expect(replayed.ledger.state()).toEqual(h.pipeline.ledger.state());
      for (const a of traders) expect(replayed.perps.accountView(a)).toEqual(h.perps.accountView(a));
    }
  });
});
