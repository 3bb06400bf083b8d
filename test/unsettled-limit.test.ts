// The maximum unsettled limit, before the book (SL-15): a venue client's order reserves its worst
// case (what it holds, valued at the reference price); fills turn reservations into obligations;
// cancels release them; an order that would pass the venue's limit is refused by name; prices
// that move the valuation past the limit raise an alert and stop the venue's new orders.
import { describe, expect, it } from 'vitest';
import type { NodeCommand, Outcome } from '../src/pipeline/commands.js';
import { Pipeline } from '../src/pipeline/pipeline.js';
import { NodeRuntime, type NodeConfig } from '../src/pipeline/runtime.js';
import { mulberry32 } from './support/command-stream.js';
import { BUYER, MAKER, SELLER, testConfig } from './support/node-config.js';
import { OPERATOR, RESERVE, SG, venueInput } from './support/venues.js';

/** A pipeline as the runtime builds one, fed batches with the sequencer times a test chooses. */
const pipelineOf = (config: NodeConfig): Pipeline => NodeRuntime.build(config).pipeline;

/** A pipeline with venue-sg (limit 10,000 QUOTE) and its funded clients C1 and C2. */
function setup(limit = 10_000) {
  const p = pipelineOf(testConfig());
  let seq = 0;
  const batch = (...commands: NodeCommand[]): Outcome[] => {
    const out = p.apply(commands.map((command) => ({ seq: ++seq, ts: 1_000_000 + seq, command })));
    p.ledger.takePending();
    return out;
  };
  const admin = (body: unknown) => ({ type: 'admin', operator: OPERATOR, body }) as NodeCommand;
  const ok = batch(
    { type: 'deposit', key: 'reserve', account: RESERVE, asset: 'QUOTE', amount: limit },
    admin({ action: 'jurisdiction.set', jurisdiction: SG }),
    admin({ action: 'venue.add', venue: venueInput('venue-sg', 'VSG', { unsettledLimit: limit }).input }),
    admin({ action: 'venue.client.add', venue: 'venue-sg', client: 'C1' }),
    admin({ action: 'venue.client.add', venue: 'venue-sg', client: 'C2' }),
    admin({ action: 'custody.attest', venue: 'venue-sg', client: 'C1', asset: 'QUOTE', amount: 1_000_000, id: 'q1' }),
    admin({ action: 'custody.attest', venue: 'venue-sg', client: 'C1', asset: 'BASE', amount: 1_000, id: 'b1' }),
    admin({ action: 'custody.attest', venue: 'venue-sg', client: 'C2', asset: 'QUOTE', amount: 1_000_000, id: 'q2' }),
    admin({ action: 'custody.attest', venue: 'venue-sg', client: 'C2', asset: 'BASE', amount: 1_000, id: 'b2' }),
    { type: 'deposit', key: 'b', account: BUYER, asset: 'QUOTE', amount: 1_000_000 },
    { type: 'deposit', key: 's', account: SELLER, asset: 'BASE', amount: 1_000 },
    { type: 'deposit', key: 'mq', account: MAKER, asset: 'QUOTE', amount: 1_000_000 },
    { type: 'deposit', key: 'mb', account: MAKER, asset: 'BASE', amount: 1_000 },
  );
  expect(ok.every((o) => o.ok)).toBe(true);
  const clients = p.venues.registry.venues.get('venue-sg')!.clients;
  return { p, batch, c1: clients.C1, c2: clients.C2 };
}

const order = (account: number, side: number, price: number, qty: number, tif = 0): NodeCommand =>
  ({ type: 'order', account, instrument: 1, side, orderType: 0, tif, price, qty });

describe('the maximum unsettled limit', () => {
  it('[SL-15] [SL-16] an order reserves its worst case; past the limit it is refused by name; cancels release, fills turn reservations into obligations', () => {
    const { p, batch, c1 } = setup();
    // A buy of 5 at 1,000 holds 5,015 QUOTE (notional, the 20 bps worst fee, a unit per lot): its worst case.
    const [first] = batch(order(c1, 0, 1_000, 5));
    expect(first.ok).toBe(true);
    expect(p.venues.exposure('venue-sg')).toEqual({ owed: 0, reserved: 5_015, total: 5_015, limit: 10_000, asset: 'QUOTE' });
    const [second] = batch(order(c1, 0, 1_000, 5));
    expect([second.ok, second.reasonName, second.text]).toEqual([false, 'UnsettledLimit', 'exposure 5015 + this order\'s 5015 would pass venue venue-sg\'s limit of 10000 QUOTE']);
    // Nothing was held for the refused order.
    expect(p.ledger.balance(c1, 0).held).toBe(5_015);
    // A cancel releases the reservation.
    batch({ type: 'cancel', account: c1, instrument: 1, orderId: first.orderId! });
    expect(p.venues.exposure('venue-sg').total).toBe(0);
    // A fill against a platform seller turns it into an obligation: 5,000 and the 20 bps taker fee.
    batch(order(SELLER, 1, 1_000, 5));
    const [take] = batch(order(c1, 0, 1_000, 5, 1));
    expect(take.ok).toBe(true);
    expect(p.venues.exposure('venue-sg')).toEqual({ owed: 5_010, reserved: 0, total: 5_010, limit: 10_000, asset: 'QUOTE' });
    // A sell's worst case: its quantity at the higher of its limit and the reference price (the last
    // trade, 1,000), and its largest fee (20 bps): 5 × 1,000 + 10 passes the 4,990 left.
    const [sell] = batch(order(c1, 1, 1_000, 5));
    expect([sell.reasonName, sell.text]).toEqual(['UnsettledLimit', 'exposure 5010 + this order\'s 5010 would pass venue venue-sg\'s limit of 10000 QUOTE']);
    // A sell priced above the reference is counted at its own price: 4 × 1,250 + 10 (at the
    // reference it would be 4,008 and fit).
    const [high] = batch(order(c1, 1, 1_250, 4));
    expect([high.reasonName, high.text]).toEqual(['UnsettledLimit', 'exposure 5010 + this order\'s 5010 would pass venue venue-sg\'s limit of 10000 QUOTE']);
    const [small] = batch(order(c1, 1, 1_000, 4));
    expect(small.ok).toBe(true);
    // While it rests the exposure counts what it holds (4 BASE, 4,000) and the fee still to come (8).
    expect(p.venues.exposure('venue-sg')).toMatchObject({ owed: 5_010, reserved: 4_008, total: 9_018 });
    // An amend that would hold more obeys the limit too.
    const [up] = batch({ type: 'amend', account: c1, instrument: 1, orderId: small.orderId!, price: 1_000, qty: 5 });
    expect(up.reasonName).toBe('UnsettledLimit');
  });

  it('[SL-15] a limit in the base asset values quote holds through the instrument, rounded against the venue', () => {
    const { p, batch, c1 } = setup();
    batch({ type: 'deposit', key: 'rb', account: RESERVE, asset: 'BASE', amount: 10 },
      { type: 'admin', operator: OPERATOR, body: { action: 'venue.update', code: 'venue-sg', changes: { unsettledLimit: 10, unsettledLimitAsset: 'BASE' } } } as NodeCommand);
    // A buy of 5 at 1,000 holds 5,015 QUOTE: 5.015 BASE at the reference price, counted as 6.
    const [first] = batch(order(c1, 0, 1_000, 5));
    expect(first.ok).toBe(true);
    expect(p.venues.exposure('venue-sg')).toMatchObject({ reserved: 6, total: 6, limit: 10, asset: 'BASE' });
    const [second] = batch(order(c1, 0, 1_000, 5));
    expect([second.reasonName, second.text]).toEqual(['UnsettledLimit', 'exposure 6 + this order\'s 6 would pass venue venue-sg\'s limit of 10 BASE']);
  });

  it('[SL-15] [SL-17] prices that move the valuation past the limit raise an alert and stop the venue\'s new orders until they come back', () => {
    const { p, batch, c1 } = setup();
    // The venue sells 8 BASE to a platform buyer at 1,000: it owes 8 BASE (8,000 at 1,000) and the
    // 20 bps taker fee (16 QUOTE).
    batch(order(BUYER, 0, 1_000, 8));
    batch(order(c1, 1, 1_000, 8, 1));
    expect(p.venues.exposure('venue-sg')).toMatchObject({ owed: 8_016, total: 8_016 });
    // Platform clients trade at 1,300: the 8 BASE owed are worth 10,400 now.
    batch(order(MAKER, 1, 1_300, 1), order(SELLER, 1, 1_300, 1));
    batch(order(BUYER, 0, 1_300, 1, 1));
    expect(p.venues.exposure('venue-sg')).toMatchObject({ owed: 10_416, total: 10_416 });
    // Two alerts: the venue is past its limit, and the reserve (10,000) is below the expected
    // settlement exposure (SL-17: the 24-hour peak of all venues' exposure).
    expect(p.venues.registry.events.slice(-2)).toMatchObject([
      { venue: 'venue-sg', event: 'limit-breached', operator: 0, detail: 'exposure 10416 against a limit of 10000 QUOTE' },
      { venue: '*', event: 'reserve-below-expected', operator: 0, detail: 'the reserve holds 10000 QUOTE; expected settlement exposure (the 24-hour peak) is 10416' },
    ]);
    const [refused] = batch(order(c1, 0, 900, 1));
    expect(refused.reasonName).toBe('UnsettledLimit');
    // Back at 1,000: the venue's alert clears and orders are taken again.
    batch(order(BUYER, 0, 1_000, 1), order(SELLER, 1, 1_000, 1));
    expect(p.venues.registry.events.at(-1)).toMatchObject({ event: 'limit-restored' });
    const [taken] = batch(order(c1, 0, 900, 1));
    expect(taken.ok).toBe(true);
    // The reserve's alert stays until it holds the peak: topped up, it clears.
    expect(p.venues.expectedExposure('QUOTE')).toBe(10_416);
    batch({ type: 'deposit', key: 'top-up', account: RESERVE, asset: 'QUOTE', amount: 416 });
    expect(p.venues.registry.events.at(-1)).toMatchObject({ venue: '*', event: 'reserve-restored' });
  });

  it('[SL-15] property: random venue and platform flow at moving prices, several commands on one order per batch', () => {
    const { p, batch, c1, c2 } = setup(20_000);
    const random = mulberry32(15);
    const rand = (n: number) => Math.floor(random() * n);
    const traders = [BUYER, SELLER, MAKER, c1, c2];
    const venueAccounts = new Set([c1, c2]);
    const open: { account: number; orderId: number }[] = [];
    let breaches = 0;
    let refusals = 0;
    for (let round = 0; round < 1_500; round++) {
      const before = p.venues.exposure('venue-sg');
      const pricesBefore = JSON.stringify(p.venues.state().prices);
      const commands: NodeCommand[] = [];
      for (let i = 1 + rand(8); i > 0; i--) {
        const r = random();
        if (r < 0.6 || open.length === 0) {
          const account = traders[rand(traders.length)];
          const side = account === BUYER ? 0 : account === SELLER ? 1 : rand(2);
          // Mostly around 1,000; now and then a jump that moves the reference price.
          const price = random() < 0.9 ? 990 + rand(21) : 800 + rand(600);
          commands.push(order(account, side, price, 1 + rand(6), rand(4) === 0 ? 1 : 0));
        } else {
          const o = open[rand(open.length)];
          commands.push(r < 0.8
            ? { type: 'amend', account: o.account, instrument: 1, orderId: o.orderId, price: 990 + rand(21), qty: 1 + rand(8) }
            : { type: 'cancel', account: o.account, instrument: 1, orderId: o.orderId });
        }
      }
      const outcomes = batch(...commands);
      const after = p.venues.exposure('venue-sg');
      const pricesMoved = JSON.stringify(p.venues.state().prices) !== pricesBefore;
      // Without a price move, exposure within the limit stays within it.
      if (!pricesMoved && before.total <= before.limit) expect(after.total, `round ${round}`).toBeLessThanOrEqual(after.limit);
      // Past the limit, the alert is up; and a venue past it at the start takes no new order (prices unmoved).
      if (after.total > after.limit) {
        breaches++;
        expect(p.venues.state().breached).toContain('venue-sg');
      }
      commands.forEach((c, i) => {
        if (c.type !== 'order' || !venueAccounts.has(c.account)) return;
        if (outcomes[i].reasonName === 'UnsettledLimit') refusals++;
        if (!pricesMoved && before.total > before.limit) expect(outcomes[i].ok, `round ${round}: a venue order taken while past the limit`).toBe(false);
      });
      for (const o of outcomes) if (o.ok && o.orderId && p.orders.has(o.orderId)) open.push({ account: p.orders.get(o.orderId)!.account, orderId: o.orderId });
      for (let i = open.length - 1; i >= 0; i--) if (!p.orders.has(open[i].orderId)) open.splice(i, 1);
      p.checkInvariants(testConfig().instruments.map((l) => l.spec));
    }
    // The flow did reach the limit and move past it.
    expect(refusals).toBeGreaterThan(20);
    expect(breaches).toBeGreaterThan(0);
  });
});

describe('the reserve fund', () => {
  it('[SL-17] the reserve covers the sum of the venues\' limits: a venue, a raised limit or a withdrawal that would leave it short is refused', () => {
    const { p, batch } = setup(10_000);
    // The reserve holds 10,000 QUOTE: exactly venue-sg's limit.
    const second = venueInput('venue-jp', 'VJP', { unsettledLimit: 5_000 }).input;
    const [refused] = batch({ type: 'admin', operator: OPERATOR, body: { action: 'venue.add', venue: second } });
    expect([refused.ok, refused.reasonName, refused.text]).toEqual([false, 'ReserveShort', 'the reserve would hold 10000 QUOTE but the venues\' unsettled limits add up to 15000']);
    const [raise] = batch({ type: 'admin', operator: OPERATOR, body: { action: 'venue.update', code: 'venue-sg', changes: { unsettledLimit: 10_001 } } });
    expect([raise.reasonName, raise.text]).toEqual(['ReserveShort', 'the reserve would hold 10000 QUOTE but the venues\' unsettled limits add up to 10001']);
    const [withdraw] = batch({ type: 'withdraw', key: 'w1', account: RESERVE, asset: 'QUOTE', amount: 1 });
    expect([withdraw.reasonName, withdraw.text]).toEqual(['ReserveShort', 'the reserve would hold 9999 QUOTE but the venues\' unsettled limits add up to 10000']);
    // Funded further, the same venue is added, and what is beyond the limits may be withdrawn.
    batch({ type: 'deposit', key: 'more', account: RESERVE, asset: 'QUOTE', amount: 6_000 });
    expect(batch({ type: 'admin', operator: OPERATOR, body: { action: 'venue.add', venue: second } })[0].ok).toBe(true);
    expect(batch({ type: 'withdraw', key: 'w2', account: RESERVE, asset: 'QUOTE', amount: 1_000 })[0].ok).toBe(true);
    expect(batch({ type: 'withdraw', key: 'w3', account: RESERVE, asset: 'QUOTE', amount: 1 })[0].reasonName).toBe('ReserveShort');
    // Lowering a limit frees reserve.
    expect(batch({ type: 'admin', operator: OPERATOR, body: { action: 'venue.update', code: 'venue-jp', changes: { unsettledLimit: 1_000 } } })[0].ok).toBe(true);
    expect(batch({ type: 'withdraw', key: 'w4', account: RESERVE, asset: 'QUOTE', amount: 4_000 })[0].ok).toBe(true);
    expect(p.ledger.balance(RESERVE, 0).available).toBe(11_000);
  });
});

describe('compensation arrangements', () => {
  it('[SL-18] arrangements are recorded; coverage below the minimum, or a policy that lapses on the sequencer\'s clock, is an alert', () => {
    const { p, batch } = setup();
    const admin = (body: unknown) => ({ type: 'admin', operator: OPERATOR, body }) as NodeCommand;
    const [minimum] = batch(admin({ action: 'compensation.minimum', asset: 'QUOTE', amount: 5_000 }));
    expect(minimum.ok).toBe(true);
    expect(p.venues.registry.events.slice(-2).map((e) => [e.event, e.detail])).toEqual([
      ['compensation-set', 'minimum coverage 5000 QUOTE'],
      ['compensation-short', 'compensation arrangements in force cover 0 QUOTE; the minimum is 5000'],
    ]);
    const policy = {
      id: 'pol-1', kind: 'insurer', provider: 'Example Mutual', policyId: 'EM-2027-001', assets: ['BASE', 'QUOTE'],
      coverage: 6_000, coverageAsset: 'QUOTE', expires: '2027-06-30',
    };
    const [set] = batch(admin({ action: 'compensation.set', arrangement: policy }));
    expect(set.ok).toBe(true);
    expect(p.venues.registry.events.at(-1)).toMatchObject({ venue: '*', event: 'compensation-restored', detail: 'compensation arrangements in force cover 6000 QUOTE; the minimum is 5000' });
    expect(p.venues.registry.compensation.get('pol-1')).toEqual(policy);
    // The policy's last day ends: the clock command that day finds the coverage short again.
    const lapsed = Date.parse('2027-07-01T00:00:00Z') * 1000;
    expect(p.venues.registry.nextExpiryUs(Date.parse('2027-01-01T00:00:00Z') * 1000)).toBe(lapsed);
    p.apply([{ seq: 1_000, ts: lapsed, command: admin({ action: 'clock' }) }]);
    expect(p.venues.registry.events.at(-1)).toMatchObject({ event: 'compensation-short', ts: lapsed, detail: 'compensation arrangements in force cover 0 QUOTE; the minimum is 5000' });
    // Malformed arrangements are refused by name.
    const bad = p.apply([{ seq: 1_001, ts: lapsed, command: admin({ action: 'compensation.set', arrangement: { ...policy, kind: 'bank' } }) }])[0];
    expect([bad.reasonName, bad.text]).toEqual(['InvalidAdminCommand', 'kind must be insurer or scheme']);
  });
});
