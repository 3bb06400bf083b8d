// Perp positions across SIGKILLs (PERP-1): funding falls due on the sequencer's clock and is applied
// exactly once, whether the node is killed after it or while commands stream in, and a snapshot
// restores the perps' state so that what follows is what would have followed.
import { describe, expect, it } from 'vitest';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { NodeRuntime } from '../src/pipeline/runtime.js';
import { clockedChildren } from './support/clocked-child.js';
import type { NodeCommand } from '../src/pipeline/commands.js';
import { ALICE, BOB, CAROL, DAVE, HOUR, INSURANCE, PERP, PerpHarness, SOURCES, T0, assessments, perpConfig } from './support/perps.js';

const __dirname = dirname(fileURLToPath(import.meta.url));
const CHILD = join(__dirname, '../dist/test/support/perp-child.js');

interface State {
  funding: { ts: number; paid: number; received: number; residual: number }[]; balances: number[]; alice: { positions: { size: number; funding: number }[] };
  bob: { positions: unknown[]; equity: number; owed: number }; carol: { positions: { size: number }[] }; carolBalance: number; reports: string[][];
}

/** Perps nodes in child processes on one data folder, each on the clock the test sets. */
const processes = (dataDir: string) => clockedChildren<State>(CHILD, dataDir);

describe('perps across a crash', () => {
  it('[PERP-1] [PERP-5] funding is applied exactly once across SIGKILLs: after it is durable, and while commands stream in', async () => {
    const { child, state } = processes(mkdtempSync(join(tmpdir(), 'junction-perps-')));
    const prices = (atUs: number): NodeCommand[] => SOURCES.map((source) => ({ type: 'price', source, underlying: 'BASE', price: 10_000, sourceTs: atUs }));
    const ms = (us: number) => us / 1000;
    // Positions: ALICE long 5, CAROL short 5, at 10,000.
    const a = await child(ms(T0));
    for (const c of [...assessments(), ...prices(T0),
      { type: 'deposit', key: 'a', account: ALICE, asset: 'QUOTE', amount: 100_000 }, { type: 'deposit', key: 'c', account: CAROL, asset: 'QUOTE', amount: 100_000 },
      { type: 'order', account: CAROL, instrument: PERP, side: 1, orderType: 0, tif: 0, price: 10_000, qty: 5 },
      { type: 'order', account: ALICE, instrument: PERP, side: 0, orderType: 0, tif: 0, price: 10_000, qty: 5 }] as NodeCommand[]) {
      expect((await a.send(c)).ok, JSON.stringify(c)).toBe(true);
    }
    await a.kill();
    const before = await state(ms(T0));
    expect(before.funding).toEqual([]);
    // Past the funding time: the first command's batch applies it; it is durable, then the node dies.
    const t1 = T0 + HOUR + 1_000_000;
    const b = await child(ms(t1));
    expect((await b.send(prices(t1)[0])).ok).toBe(true);
    await b.kill();
    const after = await state(ms(t1));
    expect(after.funding).toHaveLength(1);
    const paid = after.funding[0].paid;
    expect(paid).toBeGreaterThan(0);
    expect(after.balances[0]).toBe(before.balances[0] - paid);
    expect(after.balances[1] - before.balances[1] + after.balances[2] - before.balances[2]).toBe(paid);
    // Restarted at the same time and killed while commands stream in: nothing is applied twice.
    const c = await child(ms(t1 + 2_000_000));
    for (let i = 0; i < 200; i++) c.sendBlind({ type: 'order', account: DAVE, instrument: PERP, side: 0, orderType: 0, tif: 1, price: 9_000, qty: 1 });
    await c.send(prices(t1 + 2_000_000)[1]);
    for (let i = 0; i < 200; i++) c.sendBlind({ type: 'cancel', account: DAVE, instrument: PERP, orderId: 1 });
    await c.kill();
    const again = await state(ms(t1 + 3_000_000));
    expect(again.funding).toEqual(after.funding);
    expect(again.balances).toEqual(after.balances);
    // The next funding time pays once more.
    const t2 = T0 + 2 * HOUR + 5_000_000;
    const d = await child(ms(t2));
    expect((await d.send(prices(t2)[2])).ok).toBe(true);
    await d.kill();
    const next = await state(ms(t2));
    expect(next.funding.map((f) => f.ts)).toEqual([T0 + HOUR, T0 + 2 * HOUR]);
    expect(next.alice.positions[0].funding).toBe(-(next.funding[0].paid + next.funding[1].paid));
  }, 60_000);

  it('[PERP-6] a SIGKILL in the middle of a waterfall: recovery completes it exactly once', async () => {
    const { child, state } = processes(mkdtempSync(join(tmpdir(), 'junction-waterfall-')));
    const prices = (atUs: number, price: number): NodeCommand[] => SOURCES.map((source) => ({ type: 'price', source, underlying: 'BASE', price, sourceTs: atUs }));
    const a = await child(T0 / 1000);
    for (const c of [...assessments([2, 3, 5, 6]), ...prices(T0, 10_000),
      { type: 'deposit', key: 'b', account: BOB, asset: 'QUOTE', amount: 10_000 }, { type: 'deposit', key: 'c', account: CAROL, asset: 'QUOTE', amount: 100_000 },
      { type: 'deposit', key: 'i', account: INSURANCE, asset: 'QUOTE', amount: 1_000 },
      { type: 'order', account: CAROL, instrument: PERP, side: 1, orderType: 0, tif: 0, price: 10_000, qty: 10 },
      { type: 'order', account: BOB, instrument: PERP, side: 0, orderType: 0, tif: 0, price: 10_000, qty: 10 }] as NodeCommand[]) {
      expect((await a.send(c)).ok, JSON.stringify(c)).toBe(true);
    }
    await a.kill();
    // The crash: BOB falls below maintenance in the batch the node is killed in, durable or not.
    const t1 = T0 + 5_000_000;
    const b = await child(t1 / 1000);
    for (const c of prices(t1, 9_400)) b.sendBlind(c);
    await b.kill();
    // Restarted: the prices again (the sources keep pushing). The waterfall runs if it had not.
    const t2 = t1 + 1_000_000;
    const c = await child(t2 / 1000);
    for (const x of prices(t2, 9_400)) await c.send(x);
    await c.kill();
    const s = await state(t2 / 1000 + 1_000);
    // Exactly once: BOB closed at bankruptcy (9,000) against CAROL by ADL, CAROL paid her 10,000 gain once.
    expect(s.bob).toMatchObject({ positions: [], equity: 0, owed: 0 });
    expect(s.carol.positions).toEqual([]);
    expect(s.carolBalance).toBe(100_000 + 10_000);
    expect(s.reports).toEqual([['adl']]);
  }, 60_000);

  it('[PERP-1] [PERP-5] a snapshot restores positions, reservations, prices, samples and funding: the restored node goes on exactly as the original', () => {
    const h = new PerpHarness();
    h.run(assessments());
    h.prices([10_000, 10_000, 10_000]);
    for (const a of [ALICE, CAROL, DAVE]) h.deposit(a, 1_000_000);
    h.order(CAROL, 0, 10_010, 10);
    h.order(CAROL, 1, 10_030, 10);
    h.order(ALICE, 0, 10_030, 5);
    h.order(ALICE, 1, 10_500, 3, { reduceOnly: true });
    h.order(DAVE, 1, 10_600, 4);
    for (let k = 1; k <= 30; k++) h.run([{ type: 'admin', operator: 0, body: { action: 'clock' } }, ...SOURCES.map((source): NodeCommand => ({ type: 'price', source, underlying: 'BASE', price: 10_000 + k, sourceTs: T0 + k * 60_000_000 }))], T0 + k * 60_000_000);
    const snapshot = { batch: h.journal.length, lastSeq: h.seq, core: h.pipeline.core.snapshot(), ledger: h.pipeline.ledger.state(), extra: structuredClone(h.pipeline.state()) };
    const restored = NodeRuntime.build(perpConfig(), snapshot).pipeline;
    const config = perpConfig();
    expect(restored.perps.accountView(ALICE)).toEqual(h.perps.accountView(ALICE));
    expect(restored.perps.state()).toEqual(h.perps.state());
    // The same commands on both, past a funding time: the same postings, the same figures.
    let seq = h.seq;
    for (let k = 31; k <= 70; k++) {
      const ts = T0 + k * 60_000_000;
      const batch: NodeCommand[] = [{ type: 'admin', operator: 0, body: { action: 'clock' } },
        ...SOURCES.map((source): NodeCommand => ({ type: 'price', source, underlying: 'BASE', price: 10_000 - k, sourceTs: ts })),
        { type: 'order', account: DAVE, instrument: PERP, side: k % 2, orderType: 0, tif: 0, price: 10_000 + (k % 7) * 10, qty: 1 },
        { type: 'order', account: ALICE, instrument: PERP, side: (k + 1) % 2, orderType: 0, tif: 1, price: 10_000 + (k % 5) * 10, qty: 2 }];
      const stamped = batch.map((command) => ({ seq: ++seq, ts, command }));
      const x = h.pipeline.apply(stamped.map((s) => ({ ...s, command: structuredClone(s.command) })));
      const y = restored.apply(stamped.map((s) => ({ ...s, command: structuredClone(s.command) })));
      expect(y.map((o) => [o.ok, o.reasonName])).toEqual(x.map((o) => [o.ok, o.reasonName]));
      expect(restored.ledger.takePending().equals(h.pipeline.ledger.takePending())).toBe(true);
    }
    expect(h.perps.fundingHistory(PERP)).toHaveLength(1);
    expect(restored.perps.state()).toEqual(h.perps.state());
    for (const a of [ALICE, CAROL, DAVE]) expect(restored.perps.accountView(a)).toEqual(h.perps.accountView(a));
    restored.checkInvariants(config.instruments.map((l) => l.spec));
  });
});
