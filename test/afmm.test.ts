// Affiliated market makers (AFMM-1..5) in the node state: designation with its officer, changes that
// take effect only when a second operator approves them (the audit trail), preferences only through
// disclosed entries, and the core never matching an AFMM with the house.
import { describe, expect, it } from 'vitest';
import { NodeRuntime } from '../src/pipeline/runtime.js';
import type { NodeCommand } from '../src/pipeline/commands.js';
import { ALICE, CAROL, DAVE, FEES, PerpHarness, SPOT, perpConfig } from './support/perps.js';

const HOUSE = 2;
const admin = (operator: number, body: Record<string, unknown>): NodeCommand => ({ type: 'admin', operator, body: body as never });

/** DAVE (participant 6) designated an AFMM by operator 900, approved by 901. */
function withAfmm(): PerpHarness {
  const h = new PerpHarness();
  const [proposed] = h.run([admin(900, { action: 'afmm.designate', participant: 6, officer: 'Jane Chan, Responsible Officer (SFC CE AAA123)' })]);
  expect(proposed.text).toBe(`change ${proposed.seq} proposed: it takes effect when another operator approves it (afmm.approve)`);
  h.ok(admin(901, { action: 'afmm.approve', change: proposed.seq }));
  return h;
}

describe('affiliated market makers', () => {
  it('[AFMM-1] [AFMM-5] a designation names the responsible officer and takes effect only when a second operator approves it; every step is audited', () => {
    const h = new PerpHarness();
    const [p] = h.run([admin(900, { action: 'afmm.designate', participant: 6, officer: 'Jane Chan' })]);
    expect(h.pipeline.afmm.isAfmm(DAVE)).toBe(false);
    const [self] = h.run([admin(900, { action: 'afmm.approve', change: p.seq })]);
    expect([self.reasonName, self.text]).toEqual(['InvalidAdminCommand', `change ${p.seq} was proposed by operator 900: a different operator must approve it`]);
    const [none] = h.run([admin(901, { action: 'afmm.approve', change: 12345 })]);
    expect(none.text).toBe('no pending AFMM change 12345');
    const [node] = h.run([admin(0, { action: 'afmm.designate', participant: 6, officer: 'x' })]);
    expect(node.text).toBe('an AFMM change needs an operator key that can be named in the audit');
    h.ok(admin(901, { action: 'afmm.approve', change: p.seq }));
    expect(h.pipeline.afmm.isAfmm(DAVE)).toBe(true);
    expect(h.pipeline.afmm.isAfmm(ALICE)).toBe(false);
    // Revoked the same way; a rejected proposal changes nothing.
    const [r] = h.run([admin(901, { action: 'afmm.revoke', participant: 6, reason: 'affiliation ended' })]);
    h.ok(admin(900, { action: 'afmm.reject', change: r.seq, reason: 'not yet: notice period' }));
    expect(h.pipeline.afmm.isAfmm(DAVE)).toBe(true);
    expect(h.pipeline.afmm.audit.map((a) => [a.change, a.event, a.operator, a.what.action, a.detail])).toEqual([
      [p.seq, 'proposed', 900, 'afmm.designate', undefined],
      [p.seq, 'approved', 901, 'afmm.designate', undefined],
      [r.seq, 'proposed', 901, 'afmm.revoke', undefined],
      [r.seq, 'rejected', 900, 'afmm.revoke', 'not yet: notice period'],
    ]);
    expect(h.pipeline.afmm.audit[1].ts).toBe(h.ts);
    // A snapshot keeps the designation, what is pending and the audit; replay agrees.
    const snapshot = { batch: h.journal.length, lastSeq: h.seq, core: h.pipeline.core.snapshot(), ledger: h.pipeline.ledger.state(), extra: structuredClone(h.pipeline.state()) };
    const restored = NodeRuntime.build(perpConfig(), snapshot).pipeline;
    expect(restored.afmm.state()).toEqual(h.pipeline.afmm.state());
    expect(h.replay().afmm.state()).toEqual(h.pipeline.afmm.state());
  });

  it('[AFMM-5] four eyes are two people: a second key of the proposer\'s own person cannot approve or reject; another person\'s can, and the audit names both', () => {
    const h = new PerpHarness();
    const withPerson = (operator: number, person: string, body: Record<string, unknown>): NodeCommand => ({ type: 'admin', operator, person, body: body as never });
    const [p] = h.run([withPerson(900, 'Jane Chan', { action: 'afmm.designate', participant: 6, officer: 'Jane Chan' })]);
    // The same person under another spelling (case, spacing) is the same person.
    for (const [action, spelling] of [['afmm.approve', 'Jane Chan'], ['afmm.reject', 'Jane Chan'], ['afmm.approve', '  jane   CHAN ']] as const) {
      const [same] = h.run([withPerson(901, spelling, { action, change: p.seq, ...(action === 'afmm.reject' ? { reason: 'no' } : {}) })]);
      expect([same.reasonName, same.text]).toEqual(['InvalidAdminCommand', `change ${p.seq} was proposed by Jane Chan (operator 900): operator 901 is the same person; a different person must ${action === 'afmm.approve' ? 'approve' : 'reject'} it`]);
    }
    expect(h.pipeline.afmm.isAfmm(DAVE)).toBe(false);
    h.ok(withPerson(902, 'Lee Wong', { action: 'afmm.approve', change: p.seq }));
    expect(h.pipeline.afmm.isAfmm(DAVE)).toBe(true);
    expect(h.pipeline.afmm.audit.map((a) => [a.event, a.operator, a.person])).toEqual([['proposed', 900, 'Jane Chan'], ['approved', 902, 'Lee Wong']]);
    // The person travels in the journaled command: replay and a snapshot agree.
    expect(h.replay().afmm.state()).toEqual(h.pipeline.afmm.state());
  });

  it('[AFMM-4] a fill is charged under the preference in force when its command was applied: an approval later in the same batch does not reach back', () => {
    // DAVE (own tier 1: taker 5 bps) is an AFMM with a fee preference of tier 0 (taker 0 bps).
    const h = withAfmm();
    h.ok(admin(900, { action: 'afmm.entry.set', participant: 6, entry: { id: 'fee', kind: 'fee', feeTier: 0, riskText: 'cheaper taking' } }));
    h.ok(admin(901, { action: 'afmm.approve', change: h.seq }));
    h.deposit(CAROL, 10, 'BASE');
    h.deposit(DAVE, 1_000_000);
    const [revoke] = h.run([admin(901, { action: 'afmm.revoke', participant: 6, reason: 'affiliation ended' })]);
    const before = h.balance(FEES);
    // One batch: DAVE takes 2 (as an AFMM: no fee), the revocation is approved, DAVE takes 2 more (5 bps of 20,000: 10).
    const outcomes = h.run([
      { type: 'order', account: CAROL, instrument: SPOT, side: 1, orderType: 0, tif: 0, price: 10_000, qty: 5 },
      { type: 'order', account: DAVE, instrument: SPOT, side: 0, orderType: 0, tif: 1, price: 10_000, qty: 2 },
      admin(900, { action: 'afmm.approve', change: revoke.seq }),
      { type: 'order', account: DAVE, instrument: SPOT, side: 0, orderType: 0, tif: 1, price: 10_000, qty: 2 },
    ]);
    expect(outcomes.map((o) => [o.ok, o.fills()])).toEqual([[true, 0], [true, 1], [true, 0], [true, 1]]);
    expect(h.pipeline.afmm.isAfmm(DAVE)).toBe(false);
    expect(h.balance(FEES) - before).toBe(10);
    expect(h.replay().ledger.balance(FEES, h.pipeline.ledger.assetIndex.get('QUOTE')!).available).toBe(h.balance(FEES));
  });

  it('[AFMM-5] the core never matches an AFMM with the house: the crossing order is cancelled as a self-trade would be; anyone else trades', () => {
    const h = withAfmm();
    h.deposit(HOUSE, 100, 'BASE');
    h.deposit(DAVE, 1_000_000);
    h.deposit(CAROL, 1_000_000);
    const ask = h.order(HOUSE, 1, 10_000, 5, { instrument: SPOT });
    expect(ask.ok).toBe(true);
    const buy = h.order(DAVE, 0, 10_000, 5, { instrument: SPOT });
    expect(buy.fills()).toBe(0);
    expect(buy.events.map((e) => [e.kind, e.orderId === buy.orderId])).toEqual([[1, true], [4, true]]); // accepted, cancelled (STP)
    expect(h.pipeline.orders.get(ask.orderId!)!.remaining).toBe(5);
    const other = h.order(CAROL, 0, 10_000, 5, { instrument: SPOT });
    expect(other.fills()).toBe(1);
  });

  it('[AFMM-2] [AFMM-4] preferences only through explicit entries with their risk text, disclosed; nothing else can be configured', () => {
    const h = withAfmm();
    const propose = (entry: Record<string, unknown>) => h.run([admin(900, { action: 'afmm.entry.set', participant: 6, entry })])[0];
    for (const [kind, why] of [
      ['latency', "every participant's orders take the same path to the same sequencer"],
      ['order-type', 'every participant has the same order types'],
      ['pre-trade-transparency', 'every participant sees the same public book and nothing more'],
    ]) {
      expect(propose({ id: 'x', kind, riskText: 'r' }).text).toBe(`entry.kind ${kind} cannot be configured: ${why}`);
    }
    expect(propose({ id: 'fee', kind: 'fee', feeTier: 0 }).text).toBe('entry.riskText must be a non-empty text of at most 1000 characters');
    // Tier 0 (0 bps) is cheaper than DAVE's own tier 1 (5 bps taker): allowed once approved.
    const p = propose({ id: 'maker-fee', kind: 'fee', feeTier: 0, riskText: 'The AFMM pays no trading fee: it may quote tighter than others can afford to.' });
    h.ok(admin(902, { action: 'afmm.approve', change: p.seq }));
    expect(h.pipeline.afmm.disclosures()).toEqual([{
      participant: 6, name: 'dave', officer: 'Jane Chan, Responsible Officer (SFC CE AAA123)', since: expect.any(Number),
      entries: [{ id: 'maker-fee', kind: 'fee', feeTier: 0, riskText: 'The AFMM pays no trading fee: it may quote tighter than others can afford to.' }],
    }]);
    // The fee it pays follows the entry: taking 5 at 10,000 costs nothing (its own tier would charge 25).
    h.deposit(DAVE, 1_000_000);
    h.deposit(CAROL, 10, 'BASE');
    h.order(CAROL, 1, 10_000, 5, { instrument: SPOT });
    const before = h.balance(1);
    expect(h.order(DAVE, 0, 10_000, 5, { instrument: SPOT }).fills()).toBe(1);
    expect(h.balance(1) - before).toBe(0);
    // A rate-limit entry is disclosed too; the gateway reads it.
    const rl = propose({ id: 'rate', kind: 'rate-limit', ordersPerSecond: 5_000, riskText: 'Its orders may arrive faster than others are allowed to send them.' });
    h.ok(admin(901, { action: 'afmm.approve', change: rl.seq }));
    expect(h.pipeline.afmm.ordersPerSecond(DAVE)).toBe(5_000);
    expect(h.pipeline.afmm.ordersPerSecond(ALICE)).toBeUndefined();
  });

  it('[AFMM-4] a fee preference may only charge less than the account\'s own tier (its orders hold for that tier\'s largest fee)', () => {
    const h = new PerpHarness();
    const [p] = h.run([admin(900, { action: 'afmm.designate', participant: 2, officer: 'Officer' })]);
    h.ok(admin(901, { action: 'afmm.approve', change: p.seq }));
    const [e] = h.run([admin(900, { action: 'afmm.entry.set', participant: 2, entry: { id: 'f', kind: 'fee', feeTier: 1, riskText: 'r' } })]);
    expect(e.text).toBe("fee tier 1 charges more than account 20's own tier 0: a preference may only charge less");
  });
});
