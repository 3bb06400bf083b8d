// The FIX 4.4 bridge's application side against the test peer: venue clients' orders filling
// against platform orders, cancel/replace, mass cancel, market data, suspension, and what a venue
// may see (SL-7, SL-8, SL-10, OPS-1).
import { afterEach, describe, expect, it } from 'vitest';
import { FixTestClient, fieldsOf } from './support/fix-client.js';
import { fixBridge, type Bridge } from './support/fix-bridge.js';
import { BUYER, MAKER } from './support/node-config.js';
import { addVenue, admin, adminOk, venueInput } from './support/venues.js';

const cleanup: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const f of cleanup.splice(0).reverse()) await f();
});

async function setup(options: Parameters<typeof fixBridge>[0] = {}): Promise<Bridge> {
  const b = await fixBridge(options);
  cleanup.push(() => b.close());
  return b;
}

async function loggedOn(port: number, sender: string, pem: string): Promise<FixTestClient> {
  const c = await FixTestClient.connect(port, sender, pem);
  cleanup.push(() => c.close());
  c.logon();
  await c.waitFor((m) => m.msgType === 'A');
  return c;
}

const er = (c: FixTestClient, clOrdId: string, execType: string, from = 0) =>
  c.waitFor((m) => m.msgType === '8' && m.get(11) === clOrdId && m.get(150) === execType, { from });

describe('FIX bridge', () => {
  it('[SL-8] [SL-10] [OPS-1] a venue client buys from a platform maker: reports once durable, balances as on our own book, custody dues recorded', async () => {
    const { node, port, venue, accounts } = await setup();
    const maker = await node.submit({ type: 'order', account: MAKER, instrument: 1, side: 1, orderType: 0, tif: 0, price: 1_000, qty: 10 });
    expect(maker.ok).toBe(true);
    const c = await loggedOn(port, 'VSG', venue.privateKeyPem);
    c.send('D', '11=o1|1=C1|55=BASE-QUOTE|54=1|38=4|40=2|44=1000|59=1|60=20260101-00:00:00.000');
    const news = fieldsOf(await er(c, 'o1', '0'));
    expect(news).toMatchObject({ 39: '0', 1: 'C1', 38: '4', 44: '1000', 151: '4', 14: '0' });
    const f = fieldsOf(await er(c, 'o1', 'F'));
    expect(f).toMatchObject({ 1: 'C1', 32: '4', 31: '1000', 39: '2', 14: '4', 151: '0', 6: '1000', 37: news[37] });
    // Balances move on our book: 4 BASE in, 4,000 QUOTE and the 20 bps taker fee (8) out.
    expect(node.ledger.balance(accounts.C1, 1)).toEqual({ available: 104, held: 0 });
    expect(node.ledger.balance(accounts.C1, 0)).toEqual({ available: 1_000_000 - 4_008, held: 0 });
    // ...but no asset left its custodian: each location owes the other until settlement.
    expect(node.pipeline.venues.custodyDues()).toEqual([
      { from: 'platform', to: 'venue-sg-custody', asset: 'BASE', amount: 4 },
      { from: 'venue-sg-custody', to: 'platform', asset: 'QUOTE', amount: 4_008 },
    ]);
    node.checkInvariants();
  });

  it('[SL-10] a venue client\'s order is fully pre-funded from its own attested assets, never another client\'s or the platform\'s', async () => {
    const { node, port, venue, accounts } = await setup();
    const c = await loggedOn(port, 'VSG', venue.privateKeyPem);
    // C2 holds 500,000 QUOTE: an order needing more is refused, though C1 and the platform hold plenty.
    c.send('D', '11=big|1=C2|55=BASE-QUOTE|54=1|38=600|40=2|44=1000');
    const r = fieldsOf(await er(c, 'big', '8'));
    expect(r).toMatchObject({ 39: '8', 103: '3', 58: 'InsufficientFunds', 1: 'C2' });
    // An unknown client is refused by name, before the book.
    c.send('D', '11=who|1=C9|55=BASE-QUOTE|54=1|38=1|40=2|44=1000');
    expect(fieldsOf(await er(c, 'who', '8'))).toMatchObject({ 103: '15', 58: 'UnknownVenueClient: venue-sg has no client C9' });
    // A resting buy holds exactly its notional and worst fee in the client's own balance.
    c.send('D', '11=rest|1=C2|55=BASE-QUOTE|54=1|38=100|40=2|44=900');
    await er(c, 'rest', '0');
    expect(node.ledger.balance(accounts.C2, 0)).toEqual({ available: 500_000 - 90_180 - 100, held: 90_180 + 100 });
    expect(node.ledger.balance(accounts.C1, 0)).toEqual({ available: 1_000_000, held: 0 });
    // A release only takes what is available.
    const refused = await admin(node, { action: 'custody.release', venue: 'venue-sg', client: 'C2', asset: 'QUOTE', amount: 500_000, id: 'rel-1' });
    expect([refused.ok, refused.reasonName, refused.text]).toEqual([false, 'InsufficientFunds', 'client C2 has 409720 QUOTE available, not 500000']);
    await adminOk(node, { action: 'custody.release', venue: 'venue-sg', client: 'C2', asset: 'QUOTE', amount: 9_720, id: 'rel-2' });
    // Attestations are idempotent by id: the same one again changes nothing.
    await adminOk(node, { action: 'custody.release', venue: 'venue-sg', client: 'C2', asset: 'QUOTE', amount: 9_720, id: 'rel-2' });
    expect(node.ledger.balance(accounts.C2, 0).available).toBe(400_000);
    node.checkInvariants();
  });

  it('[SL-8] [SL-10] the venue earmarks and releases its clients\' assets over FIX (CollateralAssignment), idempotent by id', async () => {
    const { node, port, venue, accounts } = await setup();
    const c = await loggedOn(port, 'VSG', venue.privateKeyPem);
    const answer = (id: string, from: number) => c.waitFor((m) => m.msgType === 'AZ' && m.get(902) === id, { from });
    c.send('AY', '902=att-1|903=0|895=0|1=C2|15=QUOTE|53=2500|60=20260101-00:00:00');
    expect(fieldsOf(await answer('att-1', 0))).toMatchObject({ 905: '1' });
    expect(node.ledger.balance(accounts.C2, 0).available).toBe(502_500);
    // The same attestation again changes nothing.
    let from = c.received.length;
    c.send('AY', '902=att-1|903=0|895=0|1=C2|15=QUOTE|53=2500|60=20260101-00:00:00');
    expect(fieldsOf(await answer('att-1', from))).toMatchObject({ 905: '1' });
    expect(node.ledger.balance(accounts.C2, 0).available).toBe(502_500);
    // A release takes only what is available; unknown clients and assets are refused by name.
    from = c.received.length;
    c.send('AY', '902=rel-1|903=3|895=0|1=C2|15=QUOTE|53=600000|60=20260101-00:00:00');
    expect(fieldsOf(await answer('rel-1', from))).toMatchObject({ 905: '3', 58: 'InsufficientFunds: client C2 has 502500 QUOTE available, not 600000' });
    c.send('AY', '902=att-2|903=0|895=0|1=C9|15=QUOTE|53=1|60=20260101-00:00:00');
    expect(fieldsOf(await answer('att-2', from))).toMatchObject({ 905: '3', 58: 'UnknownVenueClient: venue-sg has no client C9' });
    c.send('AY', '902=att-3|903=0|895=0|1=C2|15=GOLD|53=1|60=20260101-00:00:00');
    expect(fieldsOf(await answer('att-3', from))).toMatchObject({ 905: '3', 58: 'UnknownAsset: no asset GOLD' });
    c.send('AY', '902=rel-2|903=3|895=0|1=C2|15=QUOTE|53=2500|60=20260101-00:00:00');
    expect(fieldsOf(await answer('rel-2', from))).toMatchObject({ 905: '1' });
    expect(node.ledger.balance(accounts.C2, 0).available).toBe(500_000);
    node.checkInvariants();
  });

  it('[OPS-1] cancel/replace: replace keeps the order (new ClOrdID), fills count toward OrderQty, cancel ends it; unknown and duplicate ids refused', async () => {
    const { node, port, venue } = await setup();
    const c = await loggedOn(port, 'VSG', venue.privateKeyPem);
    c.send('D', '11=a1|1=C1|55=BASE-QUOTE|54=2|38=10|40=2|44=1100');
    const orderId = (await er(c, 'a1', '0')).get(37);
    // A platform buyer takes 3.
    await node.submit({ type: 'deposit', key: 'bq', account: BUYER, asset: 'QUOTE', amount: 100_000 });
    const take = await node.submit({ type: 'order', account: BUYER, instrument: 1, side: 0, orderType: 0, tif: 1, price: 1_100, qty: 3 });
    expect(take.ok).toBe(true);
    expect(fieldsOf(await er(c, 'a1', 'F'))).toMatchObject({ 39: '1', 14: '3', 151: '7' });
    // Replace: OrderQty is the total (12), so 9 are left; the price moves.
    c.send('G', '11=a2|41=a1|1=C1|55=BASE-QUOTE|54=2|38=12|40=2|44=1200');
    expect(fieldsOf(await er(c, 'a2', '5'))).toMatchObject({ 41: 'a1', 37: orderId, 38: '12', 44: '1200', 14: '3', 151: '9', 39: '1' });
    // The old ClOrdID no longer names an open order; a duplicate ClOrdID is refused.
    c.send('F', '11=a3|41=a1|1=C1|55=BASE-QUOTE|54=2');
    expect(fieldsOf(await c.waitFor((m) => m.msgType === '9' && m.get(11) === 'a3'))).toMatchObject({ 102: '1', 434: '1' });
    c.send('F', '11=a2|41=a2|1=C1|55=BASE-QUOTE|54=2');
    expect(fieldsOf(await c.waitFor((m) => m.msgType === '9' && m.get(11) === 'a2'))).toMatchObject({ 102: '6', 434: '1' });
    // A replace below what has filled is refused.
    c.send('G', '11=a4|41=a2|1=C1|55=BASE-QUOTE|54=2|38=3|40=2|44=1200');
    expect(fieldsOf(await c.waitFor((m) => m.msgType === '9' && m.get(11) === 'a4'))).toMatchObject({ 434: '2', 39: '1' });
    c.send('F', '11=a5|41=a2|1=C1|55=BASE-QUOTE|54=2');
    expect(fieldsOf(await er(c, 'a5', '4'))).toMatchObject({ 41: 'a2', 39: '4', 151: '0', 14: '3' });
    expect(node.pipeline.orders.size).toBe(0);
    // A cancel and replace of an order still being sequenced follow it.
    c.send('D', '11=b1|1=C1|55=BASE-QUOTE|54=2|38=5|40=2|44=1300');
    c.send('G', '11=b2|41=b1|1=C1|55=BASE-QUOTE|54=2|38=6|40=2|44=1300');
    c.send('F', '11=b3|41=b2|1=C1|55=BASE-QUOTE|54=2');
    expect(fieldsOf(await er(c, 'b3', '4'))).toMatchObject({ 41: 'b2', 38: '6' });
    expect(node.pipeline.orders.size).toBe(0);
    node.checkInvariants();
  });

  it('[OPS-1] a cancel that follows an order still being sequenced is answered in sequence with the order\'s reports; a PossDup repeat is ignored', async () => {
    const { port, venue } = await setup();
    const c = await loggedOn(port, 'VSG', venue.privateKeyPem);
    // An IOC with nothing to meet is done in its own batch; the cancel naming it comes too late.
    c.sendTogether([['D', '11=f1|1=C1|55=BASE-QUOTE|54=1|38=1|40=2|44=900|59=3'], ['F', '11=f2|41=f1|1=C1|55=BASE-QUOTE|54=1']]);
    const reject = await c.waitFor((m) => m.msgType === '9' && m.get(11) === 'f2');
    expect(fieldsOf(reject)).toMatchObject({ 41: 'f1', 102: '0', 39: '4', 434: '1' });
    // Every message came in order, without a gap.
    expect(c.received.map((m) => m.seq)).toEqual(c.received.map((_, i) => i + 1));
    // The venue resends f1 as a possible duplicate: it was processed, nothing more is said.
    const before = c.received.length;
    c.send('D', '11=f1|1=C1|55=BASE-QUOTE|54=1|38=1|40=2|44=900|59=3', { header: `43=Y\x01122=${'20260101-00:00:00.000'}\x01` });
    c.send('1', '112=after');
    await c.waitFor((m) => m.msgType === '0' && m.get(112) === 'after', { from: before });
    expect(c.received.slice(before).map((m) => m.msgType)).toEqual(['0']);
  });

  it('[OPS-1] a mass cancel cancels the venue\'s orders only, one report each, then the summary', async () => {
    const { node, port, venue } = await setup();
    const c = await loggedOn(port, 'VSG', venue.privateKeyPem);
    const maker = await node.submit({ type: 'order', account: MAKER, instrument: 1, side: 1, orderType: 0, tif: 0, price: 1_400, qty: 1 });
    c.send('D', '11=m1|1=C1|55=BASE-QUOTE|54=1|38=1|40=2|44=800');
    c.send('D', '11=m2|1=C2|55=BASE-QUOTE|54=2|38=1|40=2|44=1300');
    await er(c, 'm2', '0');
    c.send('q', '11=mc|530=7');
    const report = fieldsOf(await c.waitFor((m) => m.msgType === 'r'));
    expect(report).toMatchObject({ 11: 'mc', 530: '7', 531: '7', 533: '2' });
    expect(c.ofType('8').filter((m) => m.get(150) === '4').map((m) => m.get(11)).sort()).toEqual(['m1', 'm2']);
    // The platform maker's order rests on.
    expect([...node.pipeline.orders.keys()]).toEqual([maker.orderId]);
  });

  it('[OPS-1] market data: a snapshot of the shared book, then incrementals and trades, without identities', async () => {
    const { node, port, venue } = await setup();
    await node.submit({ type: 'order', account: MAKER, instrument: 1, side: 1, orderType: 0, tif: 0, price: 1_010, qty: 5 });
    const c = await loggedOn(port, 'VSG', venue.privateKeyPem);
    c.send('V', '262=md1|263=1|264=0|265=1|267=3|269=0|269=1|269=2|146=1|55=BASE-QUOTE');
    const w = await c.waitFor((m) => m.msgType === 'W');
    expect(w.tags.map((t, i) => `${t}=${w.values[i]}`).slice(w.tags.indexOf(262))).toEqual(['262=md1', '55=BASE-QUOTE', '268=1', '269=1', '270=1010', '271=5', '346=1']);
    await node.submit({ type: 'order', account: MAKER, instrument: 1, side: 0, orderType: 0, tif: 0, price: 990, qty: 2 });
    const x = await c.waitFor((m) => m.msgType === 'X');
    expect(x.tags.map((t, i) => `${t}=${x.values[i]}`).slice(x.tags.indexOf(262))).toEqual(['262=md1', '268=1', '279=1', '269=0', '55=BASE-QUOTE', '270=990', '271=2']);
    const from = c.received.length;
    c.send('D', '11=t1|1=C1|55=BASE-QUOTE|54=1|38=1|40=2|44=1010');
    const trade = await c.waitFor((m) => m.msgType === 'X' && m.values.includes('2') && m.get(269) !== undefined && m.tags.some((t, i) => t === 269 && m.values[i] === '2'), { from });
    const entries = trade.tags.map((t, i) => `${t}=${trade.values[i]}`).slice(trade.tags.indexOf(268));
    expect(entries).toContain('271=4');
    expect(entries.join('|')).toContain('279=0|269=2|55=BASE-QUOTE|270=1010|271=1');
    // No party, account or order identity in market data.
    for (const m of [...c.ofType('W'), ...c.ofType('X')]) for (const t of [1, 37, 448, 11]) expect(m.has(t)).toBe(false);
  });

  it('[SL-7] an operator suspension cancels the venue\'s resting orders, logs its session out with the reason, and refuses its logons', async () => {
    const { node, port, venue } = await setup({ venue: { cancelOnDisconnect: false } });
    const c = await loggedOn(port, 'VSG', venue.privateKeyPem);
    c.send('D', '11=s1|1=C1|55=BASE-QUOTE|54=1|38=2|40=2|44=900');
    await er(c, 's1', '0');
    await adminOk(node, { action: 'venue.suspend', code: 'venue-sg', reason: 'licence under review' });
    expect(fieldsOf(await er(c, 's1', '4'))).toMatchObject({ 39: '4', 58: 'mass cancel' });
    const logout = await c.waitFor((m) => m.msgType === '5');
    expect(logout.get(58)).toBe('venue venue-sg suspended: licence under review');
    await c.waitClosed();
    expect(node.pipeline.orders.size).toBe(0);
    const events = node.pipeline.venues.registry.events.filter((e) => e.venue === 'venue-sg').map((e) => [e.event, e.operator]);
    expect(events.at(-1)).toEqual(['suspended', 900]);
    const again = await FixTestClient.connect(port, 'VSG', venue.privateKeyPem);
    cleanup.push(() => again.close());
    again.logon();
    expect((await again.waitFor((m) => m.msgType === '5')).get(58)).toBe('venue venue-sg may not trade: licence under review');
    // Orders entered any other way are refused too, by name.
    const account = node.pipeline.venues.registry.venues.get('venue-sg')!.clients.C1;
    const o = await node.submit({ type: 'order', account, instrument: 1, side: 0, orderType: 0, tif: 0, price: 900, qty: 1 });
    expect([o.ok, o.reasonName, o.text]).toEqual([false, 'VenueNotEligible', 'licence under review']);
  });

  it('[SL-7] a licence that expires or a jurisdiction reassessed as not consistent suspends the venue at once', async () => {
    const { node, port, venue } = await setup();
    const c = await loggedOn(port, 'VSG', venue.privateKeyPem);
    c.send('D', '11=e1|1=C1|55=BASE-QUOTE|54=1|38=2|40=2|44=900');
    await er(c, 'e1', '0');
    await adminOk(node, { action: 'venue.update', code: 'venue-sg', changes: { licenceExpires: '2020-01-31' } });
    expect((await c.waitFor((m) => m.msgType === '5')).get(58)).toBe('venue venue-sg suspended: LicenceExpired');
    expect(node.pipeline.orders.size).toBe(0);
    const reinstate = await admin(node, { action: 'venue.reinstate', code: 'venue-sg' });
    expect([reinstate.ok, reinstate.reasonName]).toEqual([false, 'VenueNotEligible']);
    expect(reinstate.text).toBe('venue venue-sg cannot be reinstated: LicenceExpired: the venue\'s licence has expired');
    await adminOk(node, { action: 'venue.update', code: 'venue-sg', changes: { licenceExpires: '2099-01-31' } });
    await adminOk(node, { action: 'venue.reinstate', code: 'venue-sg' });
    await adminOk(node, { action: 'jurisdiction.set', jurisdiction: { code: 'SG', name: 'Singapore', fatf: 'member', fatfConsistent: true, ioscoConsistent: false, assessedOn: '2026-11-01', source: 'IOSCO review' } });
    expect(node.pipeline.venues.registry.venues.get('venue-sg')!.statusReason).toBe('JurisdictionNotIoscoConsistent');
  });

  it('[OPS-1] cancel-on-disconnect (a venue setting): a dropped session\'s orders are cancelled, and the reports wait for its return', async () => {
    const { node, port, venue } = await setup({ venue: { cancelOnDisconnect: true } });
    let c = await loggedOn(port, 'VSG', venue.privateKeyPem);
    c.send('D', '11=d1|1=C1|55=BASE-QUOTE|54=1|38=2|40=2|44=900');
    c.send('D', '11=d2|1=C2|55=BASE-QUOTE|54=2|38=1|40=2|44=1200');
    await er(c, 'd2', '0');
    expect(node.pipeline.orders.size).toBe(2);
    const nextOut = c.nextOut;
    c.close();
    for (const end = Date.now() + 15_000; node.pipeline.orders.size > 0 && Date.now() < end;) await new Promise((r) => setTimeout(r, 20));
    expect(node.pipeline.orders.size).toBe(0);
    c = await FixTestClient.connect(port, 'VSG', venue.privateKeyPem);
    cleanup.push(() => c.close());
    c.nextOut = nextOut;
    c.logon();
    await c.waitFor((m) => m.msgType === 'A');
    c.send('2', '7=1|16=0');
    const cancels = await Promise.all(['d1', 'd2'].map((id) => c.waitFor((m) => m.msgType === '8' && m.get(11) === id && m.get(150) === '4')));
    expect(cancels.map((m) => [m.get(43), m.get(58)])).toEqual([['Y', 'mass cancel'], ['Y', 'mass cancel']]);
  });

  it('[SL-8] cross-border data: a venue receives only its own clients\' reports, never our clients\' or another venue\'s identities or accounts', async () => {
    const b = await setup();
    const other = venueInput('venue-jp', 'VJP', { jurisdiction: 'SG' });
    const otherAccounts = await addVenue(b.node, other, { J1: { QUOTE: 1_000_000, BASE: 100 } });
    const sg = await loggedOn(b.port, 'VSG', b.venue.privateKeyPem);
    const jp = await loggedOn(b.port, 'VJP', other.privateKeyPem);
    // A platform maker, a venue-sg client and a venue-jp client all trade with one another.
    await b.node.submit({ type: 'order', account: MAKER, instrument: 1, side: 1, orderType: 0, tif: 0, price: 1_000, qty: 3 });
    sg.send('D', '11=x1|1=C1|55=BASE-QUOTE|54=2|38=3|40=2|44=1000');
    await er(sg, 'x1', '0');
    jp.send('D', '11=y1|1=J1|55=BASE-QUOTE|54=1|38=6|40=2|44=1000');
    await jp.waitFor((m) => m.msgType === '8' && m.get(11) === 'y1' && m.get(39) === '2');
    await sg.waitFor((m) => m.msgType === '8' && m.get(11) === 'x1' && m.get(39) === '2');
    const leaks = (c: FixTestClient, foreign: string[]) => c.received.flatMap((m) => m.values.filter((v) => foreign.includes(v)));
    expect(leaks(sg, ['J1', 'y1', String(MAKER), String(otherAccounts.J1), 'VJP', 'venue-jp'])).toEqual([]);
    expect(leaks(jp, ['C1', 'x1', String(MAKER), String(b.accounts.C1), 'VSG', 'venue-sg'])).toEqual([]);
    for (const m of [...sg.received, ...jp.received]) expect(m.get(1) === undefined || ['C1', 'J1'].includes(m.get(1)!)).toBe(true);
    // Two venues' custody locations owe each other for what their clients traded.
    expect(b.node.pipeline.venues.netDues()).toEqual(expect.arrayContaining([
      { from: 'venue-sg-custody', to: 'venue-jp-custody', asset: 'BASE', amount: 3 },
    ]));
  });
});

describe('FIX over TLS', () => {
  it('[OPS-1] the bridge serves FIX over TLS (node:tls) with the node\'s certificate', async () => {
    const { mkdtempSync, readFileSync } = await import('node:fs');
    const { join } = await import('node:path');
    const { tmpdir } = await import('node:os');
    const { spawnSync } = await import('node:child_process');
    const { FixGateway } = await import('../src/gateway/fix/gateway.js');
    const dir = mkdtempSync(join(tmpdir(), 'junction-fixtls-'));
    const key = join(dir, 'key.pem');
    const cert = join(dir, 'cert.pem');
    const made = spawnSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-days', '1',
      '-subj', '/CN=127.0.0.1', '-addext', 'subjectAltName=IP:127.0.0.1', '-keyout', key, '-out', cert], { encoding: 'utf8' });
    expect(made.status, made.stderr).toBe(0);
    const b = await setup();
    const tls = new FixGateway(b.node, { tls: { certFile: cert, keyFile: key } });
    cleanup.push(() => tls.close());
    const port = await tls.listen(0);
    const c = await FixTestClient.connect(port, 'VSG', b.venue.privateKeyPem, 'JUNCTION', { ca: readFileSync(cert) });
    cleanup.push(() => c.close());
    c.logon();
    await c.waitFor((m) => m.msgType === 'A');
    c.send('D', '11=t1|1=C1|55=BASE-QUOTE|54=1|38=1|40=2|44=900');
    expect((await er(c, 't1', '0')).get(39)).toBe('0');
  });
});

describe('an attacker with a venue\'s FIX session', () => {
  it('[SL-10] [SL-15] [OPS-1] replaces and cancels one order in one write while a websocket key crosses it: each request answered once, holds, exposure and settlement accounts exact', async () => {
    const { JunctionClient } = await import('../src/client/client.js');
    const { newApiKeyPair } = await import('../src/gateway/ws/auth.js');
    const { KeyStore } = await import('../src/gateway/ws/key-store.js');
    const { GatewayServer } = await import('../src/gateway/ws/server.js');
    const sbe = await import('../src/protocol/codec.js');
    const { mulberry32 } = await import('./support/command-stream.js');
    const b = await setup();
    const pair = newApiKeyPair();
    await new KeyStore(b.node.store).putApiKey({ keyId: 1, account: MAKER, publicKey: pair.publicKey, permission: 'trade' });
    const ws = new GatewayServer(b.node);
    cleanup.push(() => ws.close());
    const maker = await JunctionClient.connect({ url: `ws://127.0.0.1:${await ws.listen(0)}/ws`, keyId: 1, privateKeyPem: pair.privateKeyPem, reconnect: false });
    cleanup.push(() => maker.close());
    const c = await loggedOn(b.port, 'VSG', b.venue.privateKeyPem);
    const random = mulberry32(31);
    const rand = (n: number) => Math.floor(random() * n);
    let makerId = 1;
    for (let round = 0; round < 40; round++) {
      const price = 980 + rand(30);
      c.send('D', `11=r${round}a|1=C1|55=BASE-QUOTE|54=1|38=${2 + rand(6)}|40=2|44=${price}`);
      await er(c, `r${round}a`, '0');
      const from = c.received.length;
      // The platform maker hits the order from its websocket connection at the same moment...
      const hit = maker.place({ instrument: 1, side: sbe.Side.Sell, price: price - 5, qty: 1 + rand(4), clOrdId: makerId++, timeInForce: sbe.TimeInForce.IOC });
      // ...as one write brings two replaces (up, then another price) and a cancel, chained on it.
      c.sendTogether([
        ['G', `11=r${round}b|41=r${round}a|1=C1|55=BASE-QUOTE|54=1|38=${4 + rand(6)}|40=2|44=${price}`],
        ['G', `11=r${round}c|41=r${round}b|1=C1|55=BASE-QUOTE|54=1|38=${1 + rand(9)}|40=2|44=${price + rand(5)}`],
        ['F', `11=r${round}d|41=r${round}c|1=C1|55=BASE-QUOTE|54=1`],
      ]);
      // Each request gets exactly one final answer: replaced or refused, cancelled or refused.
      for (const [id, done] of [[`r${round}b`, '5'], [`r${round}c`, '5'], [`r${round}d`, '4']] as const) {
        await c.waitFor((m) => m.get(11) === id && (m.msgType === '9' || (m.msgType === '8' && m.get(150) === done)), { from });
      }
      await hit;
      await b.node.drain();
      for (const id of [`r${round}b`, `r${round}c`, `r${round}d`]) {
        const answers = c.received.slice(from).filter((m) => m.get(11) === id && (m.msgType === '9' || ['5', '4', '8'].includes(m.get(150) ?? '')));
        expect(answers.length, `${id}: ${answers.map((m) => m.msgType + (m.get(150) ?? ''))}`).toBe(1);
      }
      // Nothing of the venue's rests; the ledger, its limit accounting and its settlement accounts agree.
      expect([...b.node.pipeline.orders.values()].filter((o) => o.account === b.accounts.C1)).toEqual([]);
      b.node.checkInvariants();
      expect(b.node.pipeline.venues.exposure('venue-sg').reserved).toBe(b.node.ledger.balance(b.accounts.C1, 0).held);
      const venueSa = b.node.pipeline.venues.registry.venues.get('venue-sg')!.settlementAccount!;
      const owed = b.node.pipeline.venues.custodyDues().filter((d) => d.from === 'venue-sg-custody' && d.asset === 'QUOTE').reduce((s, d) => s + d.amount, 0);
      const owedTo = b.node.pipeline.venues.custodyDues().filter((d) => d.to === 'venue-sg-custody' && d.asset === 'QUOTE').reduce((s, d) => s + d.amount, 0);
      expect(b.node.ledger.balance(venueSa, 0).available).toBe(owedTo - owed);
    }
    // The flow did fill the venue's orders from the other connection, and some requests met a changed order.
    expect(c.ofType('8').filter((m) => m.get(150) === 'F').length).toBeGreaterThan(5);
  });
});
