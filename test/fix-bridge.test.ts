// The FIX 4.4 bridge against the test client: logon, orders from venue clients filling against a
// platform market maker, cancel/replace, reports only for the venue's own clients.
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { FixGateway } from '../src/gateway/fix/gateway.js';
import { NodeRuntime } from '../src/pipeline/runtime.js';
import { FixTestClient, fieldsOf } from './support/fix-client.js';
import { MAKER, testConfig } from './support/node-config.js';
import { addVenue, venueInput, type TestVenue } from './support/venues.js';

const cleanup: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const f of cleanup.splice(0).reverse()) await f();
});

async function bridge(): Promise<{ node: NodeRuntime; fix: FixGateway; port: number; venue: TestVenue; accounts: Record<string, number> }> {
  const node = await NodeRuntime.open({ dataDir: mkdtempSync(join(tmpdir(), 'junction-fix-')), config: testConfig() });
  const venue = venueInput('venue-sg', 'VSG');
  const accounts = await addVenue(node, venue, { C1: { QUOTE: 1_000_000, BASE: 100 }, C2: { QUOTE: 500_000 } });
  await node.submit({ type: 'deposit', key: 'm', account: MAKER, asset: 'BASE', amount: 1_000 });
  await node.submit({ type: 'deposit', key: 'mq', account: MAKER, asset: 'QUOTE', amount: 1_000_000 });
  const fix = new FixGateway(node);
  const port = await fix.listen(0);
  cleanup.push(async () => {
    await fix.close();
    await node.close();
  });
  return { node, fix, port, venue, accounts };
}

describe('FIX bridge', () => {
  it('[SL-8] [SL-10] [OPS-1] a venue logs on and its client buys from a platform maker; reports are durable and its own', async () => {
    const { node, port, venue, accounts } = await bridge();
    const maker = await node.submit({ type: 'order', account: MAKER, instrument: 1, side: 1, orderType: 0, tif: 0, price: 1_000, qty: 10 });
    expect(maker.ok).toBe(true);
    const c = await FixTestClient.connect(port, 'VSG', venue.privateKeyPem);
    cleanup.push(() => c.close());
    c.logon();
    const ack = await c.waitFor((m) => m.msgType === 'A');
    expect(fieldsOf(ack)[108]).toBe('30');
    c.send('D', `11=o1|1=C1|55=BASE-QUOTE|54=1|38=4|40=2|44=1000|59=1|60=${'20260101-00:00:00.000'}`);
    const fill = await c.waitFor((m) => m.msgType === '8' && m.get(150) === 'F');
    const f = fieldsOf(fill);
    expect(f[11]).toBe('o1');
    expect(f[1]).toBe('C1');
    expect(f[32]).toBe('4');
    expect(f[31]).toBe('1000');
    expect(f[39]).toBe('2');
    expect(f[14]).toBe('4');
    expect(f[151]).toBe('0');
    // The venue client's balances moved on our book; the platform and venue custody owe each other.
    expect(node.ledger.balance(accounts.C1, 1).available).toBe(104);
    const dues = node.pipeline.venues.custodyDues();
    expect(dues).toEqual(expect.arrayContaining([
      { from: 'platform', to: 'venue-sg-custody', asset: 'BASE', amount: 4 },
      // The notional and the taker fee (20 bps) the venue client paid to the platform's fee account.
      { from: 'venue-sg-custody', to: 'platform', asset: 'QUOTE', amount: 4_008 },
    ]));
    // Nothing of the maker (a platform client) reached the venue.
    for (const m of c.received) expect(m.get(1) === undefined || m.get(1) === 'C1').toBe(true);
  });
});
