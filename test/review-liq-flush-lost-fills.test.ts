// Review: WaterfallOps.ioc flushes the core batch when it is full (pipeline.ts:155), but Waterfall.book
// clears its fill tally only after queueing every IOC (liquidation.ts: `this.fills.clear(); ops.flush();`):
// the fills of the IOCs that ran in that mid-loop flush are forgotten — no liquidation fee, no step,
// no reprice. With the node's BATCH_COMMANDS_MAX (4,096) that takes > 4,096 liquidated positions in one
// batch (the benchmark liquidates 46,209); here the same path with a core batch of 2.
import { describe, expect, it } from 'vitest';
import { ALICE, BOB, CAROL, DAVE, INSURANCE, PerpHarness, assessments, perpConfig } from './support/perps.js';
import { MatchingCore } from '../src/core/index.js';
import { Ledger } from '../src/ledger/ledger.js';
import { Pipeline } from '../src/pipeline/pipeline.js';
import { INSTRUMENTS_MAX, instrumentTerms } from '../src/pipeline/runtime.js';
import { checkPerpsConfig } from '../src/perps/config.js';

const SPECS = perpConfig().instruments.map((l) => l.spec);

function smallBatchHarness(batchCommandsMax: number): PerpHarness {
  const config = perpConfig();
  const h = new PerpHarness(config);
  const ledger = new Ledger({ assets: config.assets, participants: config.participants, accounts: config.accounts, feeTiers: config.feeTiers, instruments: instrumentTerms(config) });
  const core = new MatchingCore({ ordersMax: config.ordersMax, instrumentsMax: INSTRUMENTS_MAX, batchCommandsMax });
  for (const l of config.instruments) core.addInstrument(l.spec);
  const perps = checkPerpsConfig(config.perps!, {
    assets: new Set(config.assets.map((a) => a.code)), accounts: new Map(config.accounts.map((a) => [a.id, a.kind])),
    instruments: new Map(config.instruments.map((l) => [l.spec.id, { base: l.base, quote: l.quote }])),
  });
  Object.defineProperty(h, 'pipeline', { value: new Pipeline(ledger, core, SPECS, perps) });
  return h;
}

describe('review: liquidation fills lost when an IOC flushes a full core batch', () => {
  it('three accounts closed on the book each pay the liquidation fee and each fill is a step', () => {
    const h = smallBatchHarness(2);
    h.run(assessments([2, 3, 5, 6]));
    h.prices([10_000, 10_000, 10_000]);
    for (const a of [ALICE, BOB]) h.deposit(a, 10_000);
    h.deposit(DAVE, 10_050); // 50 of taker fee on the open
    h.deposit(CAROL, 1_000_000);
    h.deposit(INSURANCE, 1_000);
    h.order(CAROL, 1, 10_000, 30);
    for (const a of [ALICE, BOB, DAVE]) expect(h.order(a, 0, 10_000, 10).ok).toBe(true);
    h.order(CAROL, 0, 9_300, 30); // bids above every bankruptcy price (9,000)
    h.ts += 1_000_000;
    h.prices([9_400, 9_400, 9_400]);
    const steps = h.perps.waterfall.steps.filter((s) => s.stage !== 'cancel').map((s) => [s.stage, s.account, s.qty, s.price, s.amount]);
    console.log(JSON.stringify(steps), 'fund', h.balance(INSURANCE));
    h.pipeline.checkInvariants(SPECS);
    for (const a of [ALICE, BOB, DAVE]) expect(h.perps.accountView(a).positions).toEqual([]);
    // Each: 10 sold at 9,300 (93,000 of notional), 50 bps of it (465) to the fund.
    expect(steps.filter((s) => s[0] === 'book' && s[2] === 10).map((s) => s[1])).toEqual([ALICE, BOB, DAVE]);
    expect(h.balance(INSURANCE)).toBe(1_000 + 3 * 465);
  });
});
