// A batch that becomes durable carries its trade records (AFMM-3), even when the node stops on a
// later batch before the earlier one's LMDB transaction has run (a review found them dropped).
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { NodeCommand, Outcome } from '../src/pipeline/commands.js';
import { NodeRuntime } from '../src/pipeline/runtime.js';
import { ALICE, CAROL, SPOT, perpConfig } from './support/perps.js';

const spot = (account: number, side: number, price: number, qty: number): NodeCommand => ({ type: 'order', account, instrument: SPOT, side, orderType: 0, tif: 0, price, qty });

describe('trade records and a later batch\'s failure', () => {
  it('[AFMM-3] [OPS-2] the durable, acknowledged batch that traded keeps its trade records when the next batch breaks an invariant', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'junction-trades-failure-'));
    let node = await NodeRuntime.open({ dataDir, config: perpConfig() });
    for (const [account, asset, amount] of [[CAROL, 'BASE', 100], [ALICE, 'QUOTE', 10_000_000]] as const) {
      expect((await node.submit({ type: 'deposit', key: `d-${account}-${asset}`, account, asset, amount })).ok).toBe(true);
    }
    expect((await node.submit(spot(CAROL, 1, 10_000, 2))).ok).toBe(true);
    let armed = false;
    node.pipeline.testFault = () => {
      if (armed) throw new Error('injected: an invariant broke in the next batch');
    };
    let next: Promise<Outcome> | undefined;
    node.attach({
      applied: (b) => {
        if (armed || !b.outcomes.some((o) => o.fills() > 0)) return;
        // Right after the trading batch is applied: the next batch arrives and breaks.
        armed = true;
        next = node.submit(spot(ALICE, 0, 9_000, 1));
        next.catch(() => undefined);
      },
    });
    const fill = await node.submit(spot(ALICE, 0, 10_000, 2)).then((o) => o, (e: Error) => e);
    await next?.catch(() => undefined);
    const acknowledged = !(fill instanceof Error) && fill.ok;
    await node.close().catch(() => undefined);

    node = await NodeRuntime.open({ dataDir });
    const filledQty = node.ledger.balance(ALICE, node.ledger.assetIndex.get('BASE')!).available;
    const records = node.trades.latest(SPOT, 10);
    await node.close();
    // Whether or not it was acknowledged: if the batch is durable (ALICE holds its BASE), its trade is recorded.
    expect({ acknowledged, filledQty, recorded: records.length }).toEqual({ acknowledged, filledQty, recorded: filledQty > 0 ? 1 : 0 });
    expect(filledQty, 'the scenario made the trading batch durable').toBe(2);
  });
});
