// Settlement cycles and delivery versus payment (SL-11, SL-14, SL-16): a cycle nets what each pair
// of custody locations owes into a batch; the batch settles only when every leg is confirmed, also
// across a restart between the confirmations; one not settled by its deadline fails, and its venue
// defaults while platform clients' balances stay as they were.
import { clockedChildren } from './support/clocked-child.js';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { NodeCommand } from '../src/pipeline/commands.js';
import { NodeRuntime } from '../src/pipeline/runtime.js';
import { nextDailyCutoff } from '../src/venues/settlement.js';
import { BUYER, MAKER, testConfig } from './support/node-config.js';
import { addVenue, OPERATOR, RESERVE, venueInput } from './support/venues.js';

const MINUTE = 60_000;
const cleanup: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const f of cleanup.splice(0).reverse()) await f();
});

/** A node on a clock the test moves (the sequencer's time), with venue-sg and client C1. */
async function setup() {
  const dataDir = mkdtempSync(join(tmpdir(), 'junction-settle-'));
  const clock = { now: Date.parse('2027-03-01T01:30:00Z') };
  let node = await NodeRuntime.open({ dataDir, config: testConfig(), clockMs: () => clock.now });
  const accounts = await addVenue(node, venueInput('venue-sg', 'VSG'), { C1: { QUOTE: 1_000_000, BASE: 100 } });
  await node.submit({ type: 'deposit', key: 'm', account: MAKER, asset: 'BASE', amount: 1_000 });
  await node.submit({ type: 'deposit', key: 'mq', account: MAKER, asset: 'QUOTE', amount: 1_000_000 });
  const admin = async (body: unknown) => node.submit({ type: 'admin', operator: OPERATOR, body } as NodeCommand);
  const clockTick = () => node.submit({ type: 'admin', operator: 0, body: { action: 'clock' } });
  const reopen = async () => {
    await node.stop();
    node = await NodeRuntime.open({ dataDir, clockMs: () => clock.now });
  };
  cleanup.push(() => node.close());
  return { get node() { return node; }, clock, accounts, admin, clockTick, reopen };
}

describe('settlement', () => {
  it('[SL-11] [SL-14] [SL-16] a cycle nets obligations into a batch; it settles only when both legs are confirmed, across a restart between them', async () => {
    const s = await setup();
    expect((await s.admin({ action: 'settlement.config', intradayMinutes: 60, dailyCutoffHkt: '17:00', deadlineMinutes: 30 })).ok).toBe(true);
    // C1 (venue custody) buys 4 BASE from a platform maker at 1,000: the venue's custody owes
    // 4,000 + 8 (its taker fee) QUOTE; platform custody owes it 4 BASE.
    await s.node.submit({ type: 'order', account: MAKER, instrument: 1, side: 1, orderType: 0, tif: 0, price: 1_000, qty: 4 });
    await s.node.submit({ type: 'order', account: s.accounts.C1, instrument: 1, side: 0, orderType: 0, tif: 1, price: 1_000, qty: 4 });
    const buyerBase = s.node.ledger.balance(s.accounts.C1, 1).available;
    expect(s.node.pipeline.venues.exposure('venue-sg').owed).toBe(4_008);
    // The next intraday cycle (on the hour): one batch, a leg each way.
    s.clock.now = Date.parse('2027-03-01T02:00:01Z');
    await s.clockTick();
    const batches = [...s.node.pipeline.venues.settlement.batches.values()];
    expect(batches.map((b) => [b.cycle, b.state, b.locations, b.legs.map((l) => [l.from, l.to, l.asset, l.amount])])).toEqual([
      ['intraday', 'pending', ['platform', 'venue-sg-custody'], [['platform', 'venue-sg-custody', 'BASE', 4], ['venue-sg-custody', 'platform', 'QUOTE', 4_008]]],
    ]);
    const id = batches[0].id;
    // Still owed while pending.
    expect(s.node.pipeline.venues.exposure('venue-sg').owed).toBe(4_008);
    expect((await s.admin({ action: 'settlement.confirm', batch: id, leg: 1, reference: 'SG-CUST-77' })).ok).toBe(true);
    // Down between the two confirmations: back up, the batch is as it was (one leg confirmed, nothing posted).
    await s.reopen();
    const again = s.node.pipeline.venues.settlement.batches.get(id)!;
    expect([again.state, again.legs.map((l) => l.confirmation?.reference ?? null)]).toEqual(['pending', [null, 'SG-CUST-77']]);
    // Nothing posted for settlement yet: the venue's settlement account still owes 4,008 QUOTE and is owed 4 BASE.
    const sa = s.node.pipeline.venues.registry.venues.get('venue-sg')!.settlementAccount!;
    expect([s.node.ledger.balance(sa, 0).available, s.node.ledger.balance(sa, 1).available]).toEqual([-4_008, 4]);
    expect(s.node.pipeline.venues.exposure('venue-sg').owed).toBe(4_008);
    const twice = await s.admin({ action: 'settlement.confirm', batch: id, leg: 1, reference: 'again' });
    expect([twice.ok, twice.text]).toEqual([false, `leg 1 of ${id} is confirmed already (SG-CUST-77)`]);
    expect((await s.admin({ action: 'settlement.confirm', batch: id, leg: 0, reference: 'PLAT-CUST-12' })).ok).toBe(true);
    expect(s.node.pipeline.venues.settlement.batches.get(id)!.state).toBe('settled');
    expect(s.node.pipeline.venues.exposure('venue-sg').owed).toBe(0);
    // Both legs were posted together in the ledger: the settlement accounts are back to zero.
    const venueSa = s.node.pipeline.venues.registry.venues.get('venue-sg')!.settlementAccount!;
    const platformSa = s.node.pipeline.venues.settlementAccountOf('platform');
    for (const account of [venueSa, platformSa]) for (const asset of [0, 1]) expect(s.node.ledger.balance(account, asset).available).toBe(0);
    // Clients' balances never moved for settlement: the trade was final for them at trade time.
    expect(s.node.ledger.balance(s.accounts.C1, 1).available).toBe(buyerBase);
    expect(s.node.pipeline.venues.registry.events.at(-1)).toMatchObject({ event: 'settlement-settled' });
  });

  it('[SL-14] [SL-16] [SL-17] a batch not settled by its deadline fails: the venue defaults, a claim is recorded, platform clients keep their balances', async () => {
    const s = await setup();
    await s.admin({ action: 'settlement.config', intradayMinutes: 60, dailyCutoffHkt: '17:00', deadlineMinutes: 30 });
    await s.node.submit({ type: 'deposit', key: 'b', account: BUYER, asset: 'QUOTE', amount: 100_000 });
    // The venue's client sells 5 BASE to a platform buyer, and rests another order.
    await s.node.submit({ type: 'order', account: BUYER, instrument: 1, side: 0, orderType: 0, tif: 0, price: 1_000, qty: 5 });
    await s.node.submit({ type: 'order', account: s.accounts.C1, instrument: 1, side: 1, orderType: 0, tif: 1, price: 1_000, qty: 5 });
    const resting = await s.node.submit({ type: 'order', account: s.accounts.C1, instrument: 1, side: 0, orderType: 0, tif: 0, price: 900, qty: 1 });
    const buyer = { ...s.node.ledger.balance(BUYER, 1) };
    const reserveBefore = s.node.ledger.balance(RESERVE, 0).available;
    s.clock.now = Date.parse('2027-03-01T02:00:01Z');
    await s.clockTick();
    const [batch] = [...s.node.pipeline.venues.settlement.batches.values()];
    // Only the platform's leg is confirmed; the deadline passes.
    const platformLeg = batch.legs.findIndex((l) => l.from === 'platform');
    await s.admin({ action: 'settlement.confirm', batch: batch.id, leg: platformLeg, reference: 'PLAT-1' });
    const settlementAccount = s.node.pipeline.venues.registry.venues.get('venue-sg')!.settlementAccount!;
    const saBefore = s.node.ledger.balance(settlementAccount, 0).available;
    // In the ledger the venue's settlement account carries its position per asset: it owes 5 BASE.
    expect(s.node.ledger.balance(settlementAccount, 1).available).toBe(-5);
    s.clock.now = Date.parse('2027-03-01T02:31:00Z');
    await s.clockTick();
    const v = s.node.pipeline.venues.registry.venues.get('venue-sg')!;
    expect(s.node.pipeline.venues.settlement.batches.get(batch.id)!.state).toBe('failed');
    // A confirmation past the deadline is too late; the batch's obligations became a claim.
    const late = await s.admin({ action: 'settlement.confirm', batch: batch.id, leg: 1 - platformLeg, reference: 'late' });
    expect([late.ok, late.text]).toEqual([false, `batch ${batch.id} is failed`]);
    expect(s.node.pipeline.venues.exposure('venue-sg').owed).toBe(0);
    expect([v.status, v.statusReason]).toEqual(['suspended', `SettlementDefault: batch ${batch.id} failed (the deadline passed)`]);
    expect(s.node.pipeline.orders.has(resting.orderId!)).toBe(false);
    // The reserve fund covers the 5 BASE the venue failed to deliver (worth 5,000 QUOTE at the
    // reference price) into the venue's settlement account: a compensation posting naming it all.
    expect(s.node.pipeline.venues.settlement.claims).toEqual([{ batch: batch.id, venue: 'venue-sg', asset: 'BASE', amount: 5, ts: Date.parse('2027-03-01T02:31:00Z') * 1000, reservePaid: 5_000 }]);
    expect(s.node.ledger.balance(RESERVE, 0).available).toBe(reserveBefore - 5_000);
    expect(s.node.ledger.balance(v.settlementAccount!, 0).available).toBe(saBefore + 5_000);
    // The claim stays in the ledger: the venue's settlement account still owes the 5 BASE.
    expect(s.node.ledger.balance(v.settlementAccount!, 1).available).toBe(-5);
    expect(s.node.pipeline.venues.registry.events.find((e) => e.event === 'compensation-paid')!.detail)
      .toBe(`batch ${batch.id}: venue venue-sg failed to deliver 5 BASE (worth 5000 QUOTE); the reserve paid 5000 QUOTE into settlement account ${v.settlementAccount}`);
    // The platform client keeps the 5 BASE it bought: the venue's failure is the platform's to bear.
    expect(s.node.ledger.balance(BUYER, 1)).toEqual(buyer);
    s.node.checkInvariants();
    // The insurer pays out on the claim: into the reserve fund, a ledger event linked to its policy.
    await s.admin({ action: 'compensation.set', arrangement: { id: 'pol-1', kind: 'insurer', provider: 'Example Mutual', policyId: 'EM-7', assets: ['BASE', 'QUOTE'], coverage: 1_000_000, coverageAsset: 'QUOTE', expires: '2099-12-31' } });
    const payout = { action: 'compensation.payout', id: 'po-1', arrangement: 'pol-1', asset: 'QUOTE', amount: 5_000, batch: batch.id };
    expect((await s.admin(payout)).ok).toBe(true);
    expect((await s.admin(payout)).ok).toBe(true); // the same payout again changes nothing
    expect(s.node.ledger.balance(RESERVE, 0).available).toBe(reserveBefore);
    expect(s.node.pipeline.venues.registry.events.at(-1)!.detail).toBe(`payout po-1: insurer Example Mutual, policy EM-7 (arrangement pol-1), paid 5000 QUOTE into the reserve for failed batch ${batch.id}`);
    const wrong = await s.admin({ ...payout, id: 'po-2', batch: 'S1-1' });
    expect([wrong.ok, wrong.text]).toEqual([false, 'S1-1 is not a failed settlement batch']);
    s.node.checkInvariants();
  });

  it('[SL-14] daily clearing happens at the cut-off (HKT) even without intraday cycles', async () => {
    const s = await setup();
    await s.admin({ action: 'settlement.config', intradayMinutes: 0, dailyCutoffHkt: '17:00', deadlineMinutes: 60 });
    await s.node.submit({ type: 'order', account: MAKER, instrument: 1, side: 1, orderType: 0, tif: 0, price: 1_000, qty: 2 });
    await s.node.submit({ type: 'order', account: s.accounts.C1, instrument: 1, side: 0, orderType: 0, tif: 1, price: 1_000, qty: 2 });
    // 17:00 HKT is 09:00 UTC. An hour before it: nothing runs.
    const cutoff = nextDailyCutoff('17:00', Date.parse('2027-03-01T01:30:00Z') * 1000);
    expect(cutoff).toBe(Date.parse('2027-03-01T09:00:00Z') * 1000);
    s.clock.now = Date.parse('2027-03-01T08:00:00Z');
    await s.clockTick();
    expect(s.node.pipeline.venues.settlement.batches.size).toBe(0);
    s.clock.now = Date.parse('2027-03-01T09:00:00Z');
    await s.clockTick();
    expect([...s.node.pipeline.venues.settlement.batches.values()].map((b) => [b.cycle, b.legs.length])).toEqual([['daily', 2]]);
    expect(s.node.pipeline.venues.settlement.nextCycle()).toBe(Date.parse('2027-03-02T09:00:00Z') * 1000);
  });
});

describe('settlement statements', () => {
  it('[SL-11] [SL-14] a venue\'s statement lists its legs per cycle, as CSV and JSON', async () => {
    const { spawn } = await import('node:child_process');
    const { writeFileSync } = await import('node:fs');
    const { GatewayServer } = await import('../src/gateway/ws/server.js');
    const { KeyStore } = await import('../src/gateway/ws/key-store.js');
    const { newApiKeyPair } = await import('../src/gateway/ws/auth.js');
    const s = await setup();
    await s.admin({ action: 'settlement.config', intradayMinutes: 60, dailyCutoffHkt: '17:00', deadlineMinutes: 30 });
    await s.node.submit({ type: 'order', account: MAKER, instrument: 1, side: 1, orderType: 0, tif: 0, price: 1_000, qty: 4 });
    await s.node.submit({ type: 'order', account: s.accounts.C1, instrument: 1, side: 0, orderType: 0, tif: 1, price: 1_000, qty: 4 });
    s.clock.now = Date.parse('2027-03-01T02:00:01Z');
    await s.clockTick();
    const [batch] = [...s.node.pipeline.venues.settlement.batches.values()];
    await s.admin({ action: 'settlement.confirm', batch: batch.id, leg: 1, reference: 'SG-CUST-77' });
    const pair = newApiKeyPair();
    await new KeyStore(s.node.store).putApiKey({ keyId: 55, account: 0, publicKey: pair.publicKey, permission: 'operator' });
    const server = new GatewayServer(s.node);
    cleanup.push(async () => server.close());
    const url = `ws://127.0.0.1:${await server.listen(0)}/ws`;
    const keyFile = join(mkdtempSync(join(tmpdir(), 'junction-stmt-')), 'key.json');
    writeFileSync(keyFile, JSON.stringify([{ keyId: 55, privateKeyPem: pair.privateKeyPem }]));
    // The CLI runs as a child process; the node answers it from this one (so: not spawnSync).
    const cli = (...args: string[]) => new Promise<{ status: number | null; stdout: string; stderr: string }>((resolve) => {
      const child = spawn(process.execPath, [join(__dirname, '../dist/src/cli.js'), 'settlement', 'statement', '--venue', 'venue-sg', ...args, '--url', url, '--key-file', keyFile]);
      let stdout = '';
      let stderr = '';
      child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
      child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
      child.on('exit', (status) => resolve({ status, stdout, stderr }));
    });
    const csv = await cli('--csv');
    expect(csv.status, csv.stderr).toBe(0);
    expect(csv.stdout.trim().split('\n')).toEqual([
      'cycle,cycleAt,batch,state,leg,direction,counterparty,asset,amount,confirmation',
      `intraday,2027-03-01T02:00:01.000Z,${batch.id},pending,0,receives,platform,BASE,4,`,
      `intraday,2027-03-01T02:00:01.000Z,${batch.id},pending,1,delivers,platform,QUOTE,4008,SG-CUST-77`,
    ]);
    const json = JSON.parse((await cli('--json')).stdout) as { venue: string; legs: unknown[]; claims: unknown[] };
    expect([json.venue, json.legs.length, json.claims]).toEqual(['venue-sg', 2, []]);
  });
});

describe('delivery versus payment across SIGKILL', () => {
  it('[SL-11] killed between the two confirmations, and while the second lands: never one leg without the other', async () => {
    const CHILD = join(__dirname, '../dist/test/support/settle-child.js');
    const dataDir = mkdtempSync(join(tmpdir(), 'junction-dvp-'));
    const t0 = Date.parse('2027-03-01T01:30:00Z');
    const t1 = Date.parse('2027-03-01T02:00:01Z');
    const { child, state } = clockedChildren<{ batches: { id: string; state: string; confirmed: boolean[] }[]; owed: number }>(CHILD, dataDir);
    const admin = (body: unknown, operator = OPERATOR) => ({ type: 'admin', operator, body });
    // Set up: the venue, its client, a trade that leaves obligations, and the cycles.
    const a = await child(t0);
    const venue = venueInput('venue-sg', 'VSG');
    for (const c of [
      { type: 'deposit', key: 'reserve', account: RESERVE, asset: 'QUOTE', amount: venue.input.unsettledLimit },
      admin({ action: 'jurisdiction.set', jurisdiction: { code: 'SG', name: 'Singapore', fatf: 'member', fatfConsistent: true, ioscoConsistent: true, assessedOn: '2026-06-30', source: 'test' } }),
      admin({ action: 'venue.add', venue: venue.input }),
      admin({ action: 'venue.client.add', venue: 'venue-sg', client: 'C1' }),
      admin({ action: 'custody.attest', venue: 'venue-sg', client: 'C1', asset: 'QUOTE', amount: 100_000, id: 'f' }),
      { type: 'deposit', key: 'm', account: MAKER, asset: 'BASE', amount: 100 },
      admin({ action: 'settlement.config', intradayMinutes: 60, dailyCutoffHkt: '17:00', deadlineMinutes: 30 }),
      { type: 'order', account: MAKER, instrument: 1, side: 1, orderType: 0, tif: 0, price: 1_000, qty: 4 },
    ]) expect((await a.send(c)).ok).toBe(true);
    // The venue's participant is 1,000,000, its settlement account 1,000,001, the platform's
    // settlement account 1,000,002, its first client 1,000,003.
    const c1 = 1_000_003;
    expect((await a.send({ type: 'order', account: c1, instrument: 1, side: 0, orderType: 0, tif: 1, price: 1_000, qty: 4 })).ok).toBe(true);
    await a.kill();
    // The cycle, and the venue custodian's confirmation, durable; then SIGKILL.
    const b = await child(t1);
    expect((await b.send(admin({ action: 'clock' }, 0))).ok).toBe(true);
    await b.kill();
    const afterCycle = await state(t1);
    expect(afterCycle.batches.map((x) => [x.state, x.confirmed])).toEqual([['pending', [false, false]]]);
    const id = afterCycle.batches[0].id;
    const c = await child(t1);
    expect((await c.send(admin({ action: 'settlement.confirm', batch: id, leg: 1, reference: 'SG-CUST-1' }))).ok).toBe(true);
    await c.kill();
    expect(await state(t1)).toEqual({ batches: [{ id, state: 'pending', confirmed: [false, true] }], owed: 4_008 });
    // The platform custodian's confirmation goes in and the node is killed at once: whether it
    // landed or not, the batch is whole — settled with both legs, or pending with what it had.
    const d = await child(t1);
    d.sendBlind(admin({ action: 'settlement.confirm', batch: id, leg: 0, reference: 'PLAT-1' }));
    await new Promise((r) => setTimeout(r, 5));
    await d.kill();
    const after = await state(t1);
    if (after.batches[0].state === 'settled') expect(after).toEqual({ batches: [{ id, state: 'settled', confirmed: [true, true] }], owed: 0 });
    else expect(after).toEqual({ batches: [{ id, state: 'pending', confirmed: [false, true] }], owed: 4_008 });
    // Confirmed (again, if it was lost), it settles once.
    const e = await child(t1);
    const last = await e.send(admin({ action: 'settlement.confirm', batch: id, leg: 0, reference: 'PLAT-1' }));
    expect(last.ok || last.text === `batch ${id} is settled`).toBe(true);
    await e.kill();
    expect(await state(t1)).toEqual({ batches: [{ id, state: 'settled', confirmed: [true, true] }], owed: 0 });
  });
});
