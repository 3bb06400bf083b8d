// The venue side of the node state (SL-7, SL-8, SL-10): eligibility on sequencer time, replay and
// snapshots of the registry, and a property test of custody across mixed platform and venue flow.
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { NodeCommand, Outcome } from '../src/pipeline/commands.js';
import type { SequencedCommand } from '../src/pipeline/journal.js';
import { Pipeline } from '../src/pipeline/pipeline.js';
import { NodeRuntime, type NodeConfig } from '../src/pipeline/runtime.js';
import { licenceEndUs } from '../src/venues/registry.js';
import { mulberry32 } from './support/command-stream.js';
import { BUYER, MAKER, SELLER, testConfig } from './support/node-config.js';
import { fundReserve, OPERATOR, RESERVE, SG, venueInput } from './support/venues.js';

const cleanup: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const f of cleanup.splice(0).reverse()) await f();
});

/** A pipeline as the runtime builds one, fed batches with the sequencer times a test chooses. */
const pipelineOf = (config: NodeConfig): Pipeline => NodeRuntime.build(config).pipeline;

class Sequencer {
  seq = 0;
  readonly journal: SequencedCommand[][] = [];
  constructor(readonly pipeline: Pipeline) {}
  batch(ts: number, ...commands: NodeCommand[]): Outcome[] {
    const batch = commands.map((command) => ({ seq: ++this.seq, ts, command }));
    this.journal.push(batch.map((b) => ({ ...b })));
    const outcomes = this.pipeline.apply(batch);
    this.pipeline.ledger.takePending();
    return outcomes;
  }
}

describe('venues in the node state', () => {
  it('[SL-7] a licence ends on the sequencer\'s clock: orders refused from then on, the clock command suspends and cancels; replay and snapshots agree', () => {
    const venue = venueInput('venue-sg', 'VSG', { licenceExpires: '2027-03-31' });
    const end = licenceEndUs('2027-03-31');
    expect(end).toBe(Date.parse('2027-04-01T00:00:00Z') * 1000);
    const s = new Sequencer(pipelineOf(testConfig()));
    const before = end - 10_000_000;
    const setup = s.batch(before,
      { type: 'deposit', key: 'reserve', account: RESERVE, asset: 'QUOTE', amount: venue.input.unsettledLimit },
      { type: 'admin', operator: OPERATOR, body: { action: 'jurisdiction.set', jurisdiction: SG } },
      { type: 'admin', operator: OPERATOR, body: { action: 'venue.add', venue: venue.input } },
      { type: 'admin', operator: OPERATOR, body: { action: 'venue.client.add', venue: 'venue-sg', client: 'C1' } },
      { type: 'admin', operator: OPERATOR, body: { action: 'custody.attest', venue: 'venue-sg', client: 'C1', asset: 'QUOTE', amount: 10_000, id: 'a1' } });
    expect(setup.map((o) => o.ok)).toEqual([true, true, true, true, true]);
    const c1 = s.pipeline.venues.registry.venues.get('venue-sg')!.clients.C1;
    expect(s.pipeline.venues.registry.nextExpiryUs()).toBe(end);
    const [rests] = s.batch(before, { type: 'order', account: c1, instrument: 1, side: 0, orderType: 0, tif: 0, price: 900, qty: 5 });
    expect(rests.ok).toBe(true);
    // One microsecond past the end: refused by name, though the clock command has not come yet.
    const [late] = s.batch(end, { type: 'order', account: c1, instrument: 1, side: 0, orderType: 0, tif: 0, price: 900, qty: 1 });
    expect([late.ok, late.reasonName, late.text]).toEqual([false, 'VenueNotEligible', 'LicenceExpired']);
    expect(s.pipeline.orders.has(rests.orderId!)).toBe(true);
    // The clock command suspends the venue and cancels its client's resting order.
    const [clock] = s.batch(end + 1, { type: 'admin', operator: 0, body: { action: 'clock' } });
    expect(clock.ok).toBe(true);
    expect(clock.events.map((e) => [e.kind, e.orderId])).toEqual([[4, rests.orderId]]);
    expect(s.pipeline.orders.size).toBe(0);
    expect(s.pipeline.ledger.balance(c1, 0)).toEqual({ available: 10_000, held: 0 });
    const v = s.pipeline.venues.registry.venues.get('venue-sg')!;
    expect([v.status, v.statusReason]).toEqual(['suspended', 'LicenceExpired']);
    expect(s.pipeline.venues.registry.events.at(-1)).toMatchObject({ venue: 'venue-sg', event: 'suspended', operator: 0, ts: end + 1 });
    // Replayed from the journal, a new pipeline reaches the same state...
    const replay = pipelineOf(testConfig());
    for (const batch of s.journal) replay.apply(batch);
    expect(replay.state()).toEqual(s.pipeline.state());
    expect(replay.ledger.state()).toEqual(s.pipeline.ledger.state());
    // ...and so does one restored from a snapshot of it.
    const restored = pipelineOf(testConfig());
    restored.ledger.restoreState(s.pipeline.ledger.state());
    restored.restoreState(s.pipeline.state());
    expect(restored.state()).toEqual(s.pipeline.state());
    expect(restored.ledger.accounts.get(c1)).toEqual(s.pipeline.ledger.accounts.get(c1));
  });

  it('[OPS-1] an amend that names the remaining quantity it expects is refused when a fill got there first in the batch', () => {
    const s = new Sequencer(pipelineOf(testConfig()));
    s.batch(1, { type: 'deposit', key: 'b', account: BUYER, asset: 'QUOTE', amount: 100_000 }, { type: 'deposit', key: 's', account: SELLER, asset: 'BASE', amount: 100 });
    const [rest] = s.batch(2, { type: 'order', account: SELLER, instrument: 1, side: 1, orderType: 0, tif: 0, price: 1_000, qty: 10 });
    // A replace to a total of 6 was computed with 10 left: it sets 6 only if 10 are still left.
    const [fill, amend] = s.batch(3,
      { type: 'order', account: BUYER, instrument: 1, side: 0, orderType: 0, tif: 1, price: 1_000, qty: 3 },
      { type: 'amend', account: SELLER, instrument: 1, orderId: rest.orderId!, price: 1_000, qty: 6, ifRemaining: 10 });
    expect(fill.ok).toBe(true);
    expect([amend.ok, amend.reasonName, amend.text]).toEqual([false, 'OrderChanged', 'the order has 7 left, not 10']);
    expect(s.pipeline.orders.get(rest.orderId!)!.remaining).toBe(7);
    const [again] = s.batch(4, { type: 'amend', account: SELLER, instrument: 1, orderId: rest.orderId!, price: 1_000, qty: 3, ifRemaining: 7 });
    expect(again.ok).toBe(true);
    expect(s.pipeline.orders.get(rest.orderId!)!.remaining).toBe(3);
  });

  it('[SL-7] a licence that ended while the node was down suspends the venue as soon as the node is back, cancelling its resting orders', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'junction-expiry-'));
    const lastDay = Date.parse('2027-03-31T23:59:00Z');
    let node = await NodeRuntime.open({ dataDir, config: testConfig(), clockMs: () => lastDay });
    const venue = venueInput('venue-sg', 'VSG', { licenceExpires: '2027-03-31' });
    await fundReserve(node, venue.input.unsettledLimit, 'reserve');
    for (const body of [
      { action: 'jurisdiction.set', jurisdiction: SG }, { action: 'venue.add', venue: venue.input },
      { action: 'venue.client.add', venue: 'venue-sg', client: 'C1' },
      { action: 'custody.attest', venue: 'venue-sg', client: 'C1', asset: 'QUOTE', amount: 10_000, id: 'a1' },
    ] as const) expect((await node.submit({ type: 'admin', operator: OPERATOR, body })).ok).toBe(true);
    const c1 = node.pipeline.venues.registry.venues.get('venue-sg')!.clients.C1;
    const rest = await node.submit({ type: 'order', account: c1, instrument: 1, side: 0, orderType: 0, tif: 0, price: 900, qty: 5 });
    expect(rest.ok).toBe(true);
    await node.stop();
    // Back two minutes later: the licence ended meanwhile.
    node = await NodeRuntime.open({ dataDir, clockMs: () => lastDay + 120_000 });
    cleanup.push(() => node.close());
    for (const end = Date.now() + 15_000; node.pipeline.orders.size > 0 && Date.now() < end;) await new Promise((r) => setTimeout(r, 10));
    await node.drain();
    expect(node.pipeline.orders.size).toBe(0);
    expect(node.ledger.balance(c1, 0)).toEqual({ available: 10_000, held: 0 });
    const v = node.pipeline.venues.registry.venues.get('venue-sg')!;
    expect([v.status, v.statusReason]).toEqual(['suspended', 'LicenceExpired']);
    expect(node.pipeline.venues.registry.events.at(-1)).toMatchObject({ event: 'suspended', operator: 0, ts: (lastDay + 120_000) * 1000 });
  });

  it('[SL-7] operator commands are checked field by field and refused by name, changing nothing', () => {
    const s = new Sequencer(pipelineOf(testConfig()));
    const bad = (body: unknown) => s.batch(1, { type: 'admin', operator: OPERATOR, body } as NodeCommand)[0];
    expect(bad({ action: 'venue.add', venue: { ...venueInput('Bad Code', 'X').input } }).text).toBe('code must be lower-case letters, digits and dashes (2-32), got "Bad Code"');
    expect(bad({ action: 'venue.add', venue: { ...venueInput('v-1', 'X').input, licenceExpires: '2027-02-30' } }).text).toBe('licenceExpires: 2027-02-30 is not a date');
    expect(bad({ action: 'venue.add', venue: { ...venueInput('v-1', 'X').input, custody: 'platform' } }).text).toBe('custody must be the venue\'s own custody location, not the platform\'s');
    expect(bad({ action: 'venue.add', venue: { ...venueInput('v-1', 'X').input, publicKey: 'abc' } }).text).toBe('publicKey must be an Ed25519 public key: 32 bytes in base64, got "abc"');
    expect(bad({ action: 'jurisdiction.set', jurisdiction: { ...SG, fatf: 'maybe' } }).text).toBe('fatf must be member, fsrb-member or none');
    expect(bad({ action: 'venue.suspend', code: 'nope', reason: 'x' }).reasonName).toBe('UnknownVenue');
    expect(bad({ action: 'custody.attest', venue: 'nope', client: 'C1', asset: 'QUOTE', amount: 1.5, id: 'x' }).text).toBe('amount must be a whole number from 1 to 9007199254740991');
    expect(bad({ action: 'format.disk' }).text).toMatch(/^unknown action "format.disk": one of jurisdiction.set, venue.add/);
    // Each venue has a custody location of its own (obligations and defaults are by location).
    s.batch(1, { type: 'deposit', key: 'r', account: 2, asset: 'QUOTE', amount: 1_000_000_000 });
    expect(bad({ action: 'venue.add', venue: venueInput('v-1', 'X1').input }).ok).toBe(true);
    expect(bad({ action: 'venue.add', venue: { ...venueInput('v-2', 'X2').input, custody: 'v-1-custody' } }).text).toBe('custody location v-1-custody is venue v-1\'s: each venue has its own');
    expect(s.pipeline.venues.registry.venues.size).toBe(1);
    expect(s.pipeline.venues.registry.events.map((e) => e.event)).toEqual(['added', 'suspended']); // no SG in the table here
  });

  it('[SL-8] [SL-10] property: mixed platform and venue flow, several commands on one order per batch; custody balances always reconcile', async () => {
    const node = await NodeRuntime.open({ dataDir: mkdtempSync(join(tmpdir(), 'junction-venues-')), config: testConfig() });
    cleanup.push(() => node.close());
    const random = mulberry32(2024);
    const sg = venueInput('venue-sg', 'VSG');
    const jp = venueInput('venue-jp', 'VJP');
    const ok = async (c: NodeCommand) => {
      const o = await node.submit(c);
      if (!o.ok) throw new Error(`${o.reasonName} ${o.text}`);
    };
    await ok({ type: 'admin', operator: OPERATOR, body: { action: 'jurisdiction.set', jurisdiction: SG } });
    /** Per (location, asset): what entered that custody location from outside, minus what left. */
    const inflow = new Map<string, number>();
    const add = (location: string, asset: string, amount: number) => inflow.set(`${location}|${asset}`, (inflow.get(`${location}|${asset}`) ?? 0) + amount);
    // The reserve fund covers both venues' unsettled limits (SL-17).
    await ok({ type: 'deposit', key: 'reserve', account: RESERVE, asset: 'QUOTE', amount: sg.input.unsettledLimit + jp.input.unsettledLimit });
    add('platform', 'QUOTE', sg.input.unsettledLimit + jp.input.unsettledLimit);
    for (const v of [sg, jp]) await ok({ type: 'admin', operator: OPERATOR, body: { action: 'venue.add', venue: v.input } });
    const clients: { account: number; venue: string; client: string }[] = [];
    for (const [venue, client] of [['venue-sg', 'C1'], ['venue-sg', 'C2'], ['venue-jp', 'J1']]) {
      await ok({ type: 'admin', operator: OPERATOR, body: { action: 'venue.client.add', venue, client } });
      clients.push({ account: node.pipeline.venues.registry.venues.get(venue)!.clients[client], venue, client });
    }
    let attestations = 0;
    const attest = async (venue: string, client: string, asset: string, amount: number, release = false) => {
      const o = await node.submit({ type: 'admin', operator: OPERATOR, body: { action: release ? 'custody.release' : 'custody.attest', venue, client, asset, amount, id: `p${attestations++}` } });
      if (o.ok) add(`${venue}-custody`, asset, release ? -amount : amount);
      return o;
    };
    for (const { venue, client } of clients) {
      await attest(venue, client, 'QUOTE', 2_000_000);
      await attest(venue, client, 'BASE', 2_000);
    }
    for (const [account, asset, amount] of [[BUYER, 'QUOTE', 2_000_000], [SELLER, 'BASE', 2_000], [MAKER, 'QUOTE', 2_000_000], [MAKER, 'BASE', 2_000]] as const) {
      await ok({ type: 'deposit', key: `d${account}${asset}`, account, asset, amount });
      add('platform', asset, amount);
    }
    const traders = [BUYER, SELLER, MAKER, ...clients.map((c) => c.account)];
    const open: { account: number; orderId: number }[] = [];
    for (let round = 0; round < 300; round++) {
      // One batch: new orders, and amends and cancels of open ones (often several of one order).
      const pending: Promise<Outcome>[] = [];
      const n = 2 + Math.floor(random() * 10);
      for (let i = 0; i < n; i++) {
        const r = random();
        if (r < 0.55 || open.length === 0) {
          const account = traders[Math.floor(random() * traders.length)];
          const side = account === BUYER ? 0 : account === SELLER ? 1 : random() < 0.5 ? 0 : 1;
          const instrument = account === SELLER ? 1 : 1;
          pending.push(node.submit({ type: 'order', account, instrument, side, orderType: 0, tif: random() < 0.2 ? 1 : 0, price: 950 + Math.floor(random() * 100), qty: 1 + Math.floor(random() * 20) }));
        } else {
          const o = open[Math.floor(random() * open.length)];
          if (r < 0.8) pending.push(node.submit({ type: 'amend', account: o.account, instrument: 1, orderId: o.orderId, price: 950 + Math.floor(random() * 100), qty: 1 + Math.floor(random() * 20) }));
          else pending.push(node.submit({ type: 'cancel', account: o.account, instrument: 1, orderId: o.orderId }));
        }
      }
      if (random() < 0.1) {
        const c = clients[Math.floor(random() * clients.length)];
        void attest(c.venue, c.client, random() < 0.5 ? 'QUOTE' : 'BASE', 1 + Math.floor(random() * 5_000), random() < 0.5);
      }
      const outcomes = await Promise.all(pending);
      await node.drain();
      for (const o of outcomes) if (o.ok && o.orderId && node.pipeline.orders.has(o.orderId)) open.push({ account: node.pipeline.orders.get(o.orderId)!.account, orderId: o.orderId });
      for (let i = open.length - 1; i >= 0; i--) if (!node.pipeline.orders.has(open[i].orderId)) open.splice(i, 1);
      // Custody reconciles: what accounts in a location hold on our book = what entered it, plus
      // what other locations owe it, minus what it owes them.
      const book = new Map<string, number>();
      const ledger = node.ledger;
      for (const account of ledger.accounts.values()) {
        for (const [asset, code] of [[0, 'QUOTE'], [1, 'BASE']] as const) {
          const b = ledger.balance(account.id, asset);
          const key = `${ledger.locationOf(account, asset)}|${code}`;
          book.set(key, (book.get(key) ?? 0) + b.available + b.held);
        }
      }
      const expected = new Map(inflow);
      for (const d of node.pipeline.venues.custodyDues()) {
        expected.set(`${d.to}|${d.asset}`, (expected.get(`${d.to}|${d.asset}`) ?? 0) + d.amount);
        expected.set(`${d.from}|${d.asset}`, (expected.get(`${d.from}|${d.asset}`) ?? 0) - d.amount);
      }
      for (const [key, amount] of expected) expect(book.get(key) ?? 0, `${key} after round ${round}`).toBe(amount);
      // The ledger's settlement accounts carry the same obligations (SL-16): per location and asset,
      // what it is owed minus what it owes.
      const position = new Map<string, number>();
      for (const d of node.pipeline.venues.custodyDues()) {
        position.set(`${d.to}|${d.asset}`, (position.get(`${d.to}|${d.asset}`) ?? 0) + d.amount);
        position.set(`${d.from}|${d.asset}`, (position.get(`${d.from}|${d.asset}`) ?? 0) - d.amount);
      }
      for (const location of ['platform', 'venue-sg-custody', 'venue-jp-custody']) {
        const sa = node.pipeline.venues.settlementAccountOf(location);
        for (const [asset, code] of [[0, 'QUOTE'], [1, 'BASE']] as const) {
          expect(ledger.balance(sa, asset).available, `${location} ${code} after round ${round}`).toBe(position.get(`${location}|${code}`) ?? 0);
        }
      }
      node.checkInvariants();
    }
    // The flow did cross custody locations (both ways) and between the two venues.
    const dues = node.pipeline.venues.custodyDues();
    expect(dues.some((d) => d.from === 'venue-sg-custody' && d.to === 'platform')).toBe(true);
    expect(dues.some((d) => d.from === 'platform' && d.to === 'venue-jp-custody')).toBe(true);
    expect(dues.some((d) => d.from.startsWith('venue-') && d.to.startsWith('venue-'))).toBe(true);
  });
});
