// A broken invariant never reaches the disk (issue 8, part 2): the invariants a batch touches are
// checked before it is committed; a batch that would break one is never written, nothing of it is
// acknowledged, the node stops with the reason, and the folder restarts at the last good batch.
import { describe, expect, it } from 'vitest';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { NodeRuntime } from '../src/pipeline/runtime.js';
import type { NodeCommand } from '../src/pipeline/commands.js';
import { BUYER, SELLER, testConfig } from './support/node-config.js';

const BASE = 1;
const QUOTE = 0;
const sell = (price: number, qty: number): NodeCommand => ({ type: 'order', account: SELLER, instrument: 1, side: 1, orderType: 0, tif: 0, price, qty });

async function funded(dataDir: string): Promise<NodeRuntime> {
  const node = await NodeRuntime.open({ dataDir, config: testConfig() });
  await node.submit({ type: 'deposit', key: 's', account: SELLER, asset: 'BASE', amount: 1_000 });
  await node.submit({ type: 'deposit', key: 'b', account: BUYER, asset: 'QUOTE', amount: 1_000_000 });
  await node.submit(sell(1_000, 100));
  await node.submit(sell(1_010, 100));
  return node;
}

describe('a batch that would break an invariant', () => {
  const faults: [string, (n: NodeRuntime, seq: number) => void, RegExp][] = [
    // What the amend defect did: a release the open orders do not account for (no bucket goes negative).
    ['a stray release', (n, seq) => n.ledger.release(seq, SELLER, BASE, 40), /account 21 holds 260 BASE but its open orders need 300/],
    ['a stray hold', (n, seq) => n.ledger.hold(seq, BUYER, QUOTE, 7), /account 20 holds 7 QUOTE but its open orders need 0/],
    ['an order whose hold drifted from its quantity', (n) => { n.pipeline.orders.get(n.lastSequence)!.remaining -= 1; }, /order \d+ holds \d+ but needs \d+/],
  ];
  for (const [what, fault, reason] of faults) {
    it(`[OPS-2] [SL-10] ${what}: never written, never acknowledged, the node stops naming it, the folder recovers to the last good batch`, async () => {
      const dataDir = mkdtempSync(join(tmpdir(), 'junction-guard-'));
      const node = await funded(dataDir);
      const good = { ledger: node.ledger.state(), orders: node.pipeline.state(), lastSeq: node.lastSequence };
      const failures: Error[] = [];
      node.attach({ failed: (e) => failures.push(e) });
      let faulted = false;
      node.pipeline.testFault = () => {
        if (faulted) return;
        faulted = true;
        fault(node, node.lastSequence);
      };
      const outcome = node.submit(sell(1_020, 100)).then(() => 'acknowledged', (e: Error) => e.message);
      expect(await outcome).toMatch(reason);
      expect(await outcome).toMatch(/^node stopped: /);
      expect(failures.map((e) => e.message)).toEqual([await outcome]);
      // Nothing more is taken.
      await expect(node.submit(sell(1_030, 1))).rejects.toThrow(/node stopped/);
      await node.stop();

      const reopened = await NodeRuntime.open({ dataDir });
      expect(reopened.lastSequence).toBe(good.lastSeq);
      expect(reopened.ledger.state()).toEqual(good.ledger);
      expect(reopened.pipeline.state()).toEqual(good.orders);
      reopened.checkInvariants();
      // And it trades on.
      const next = await reopened.submit(sell(1_020, 100));
      expect(next.ok).toBe(true);
      expect(reopened.ledger.balance(SELLER, BASE)).toEqual({ available: 700, held: 300 });
      await reopened.close();
    });
  }

  it('[OPS-2] batches before the one at fault are sound: they land and are acknowledged; the one at fault never is', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'junction-guard-'));
    const node = await funded(dataDir);
    const earlier = node.submit(sell(1_020, 100));
    await new Promise((r) => setImmediate(r)); // the earlier batch is applied and committing
    node.pipeline.testFault = (p) => p.ledger.release(node.lastSequence, SELLER, BASE, 1);
    const atFault = node.submit(sell(1_030, 100)).then(() => 'acknowledged', (e: Error) => e.message);
    expect((await earlier).ok).toBe(true);
    expect(await atFault).toBe('node stopped: account 21 holds 399 BASE but its open orders need 400');
    const seq = (await earlier).seq;
    await node.stop();
    const reopened = await NodeRuntime.open({ dataDir });
    expect(reopened.lastSequence).toBe(seq);
    expect(reopened.ledger.balance(SELLER, BASE)).toEqual({ available: 700, held: 300 });
    await reopened.close();
  });
});
