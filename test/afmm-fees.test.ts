// An AFMM's fee preference (AFMM-4) applies only where it charges less than the account's own tier:
// orders hold for their own tier's fee, and an operator may change that tier after the preference
// was approved (venue.update on a venue's client accounts). A fill then never charges more than the
// hold covers — the node does not stop on it.
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { NodeRuntime } from '../src/pipeline/runtime.js';
import { FEES, SELLER, testConfig } from './support/node-config.js';
import { addVenue, admin, adminOk, venueInput } from './support/venues.js';

const FEE_TIERS = [{ id: 0, makerBps: 10, takerBps: 20 }, { id: 1, makerBps: -5, takerBps: 20 }, { id: 2, makerBps: 0, takerBps: 5 }];
let node: NodeRuntime;

beforeAll(async () => {
  node = await NodeRuntime.open({ dataDir: mkdtempSync(join(tmpdir(), 'junction-afmm-fees-')), config: testConfig({ feeTiers: FEE_TIERS }) });
});

afterAll(async () => {
  await node?.close();
});

describe('an AFMM fee preference against the account\'s own tier', () => {
  it('[AFMM-4] [SL-10] once the own tier is lowered below the preference, a fill charges the own tier (what the order held for); the node carries on', async () => {
    const { c1 } = await addVenue(node, venueInput('venue-sg', 'SG1', { feeTier: 0 }), { c1: { QUOTE: 1_000_000 } });
    const participant = node.pipeline.venues.registry.venues.get('venue-sg')!.participant;
    const fourEyes = async (body: object) => {
      const p = await admin(node, body as never, 900);
      expect(p.ok, p.text).toBe(true);
      const a = await admin(node, { action: 'afmm.approve', change: p.seq } as never, 901);
      expect(a.ok, a.text).toBe(true);
    };
    await fourEyes({ action: 'afmm.designate', participant, officer: 'Officer' });
    // Tier 0 (taker 20 bps) for the AFMM: the same as its accounts' own tier 0, so allowed.
    await fourEyes({ action: 'afmm.entry.set', participant, entry: { id: 'fee', kind: 'fee', feeTier: 0, riskText: 'r' } });
    // The venue moves to tier 2 (taker 5 bps): its client's orders now hold for 5 bps.
    await adminOk(node, { action: 'venue.update', code: 'venue-sg', changes: { feeTier: 2 } } as never);
    expect([node.ledger.accounts.get(c1)!.feeTier, node.pipeline.afmm.feeTier(c1)]).toEqual([2, 0]);
    expect((await node.submit({ type: 'deposit', key: 'seller-base', account: SELLER, asset: 'BASE', amount: 100 })).ok).toBe(true);
    expect((await node.submit({ type: 'order', account: SELLER, instrument: 1, side: 1, orderType: 0, tif: 0, price: 1_000, qty: 10 })).ok).toBe(true);
    const quote = node.ledger.assetIndex.get('QUOTE')!;
    const feesBefore = node.ledger.balance(FEES, quote).available;
    const before = node.ledger.balance(c1, quote).available;
    // A notional of 10,000: the own tier's 5 bps (5), not the preference's 20 bps (20); the seller
    // (tier 0, maker 10 bps) pays 10.
    const buy = await node.submit({ type: 'order', account: c1, instrument: 1, side: 0, orderType: 0, tif: 1, price: 1_000, qty: 10 });
    expect(buy.ok, `${buy.reasonName} ${buy.text}`).toBe(true);
    expect(node.ledger.balance(c1, quote)).toEqual({ available: before - 10_000 - 5, held: 0 });
    expect(node.ledger.balance(FEES, quote).available - feesBefore).toBe(5 + 10);
    node.checkInvariants();
    // And the node still takes orders.
    expect((await node.submit({ type: 'order', account: c1, instrument: 1, side: 0, orderType: 0, tif: 0, price: 990, qty: 1 })).ok).toBe(true);
  });
});
