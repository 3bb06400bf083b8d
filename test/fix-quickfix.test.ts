// Interop with a FIX engine the project did not write: a QuickFIX/C++ initiator (Debian's
// libquickfix-dev, validating every message against its FIX 4.4 data dictionary) trades through
// the bridge against a market maker on the websocket gateway (SL-7, SL-8, SL-10, OPS-1).
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { JunctionClient } from '../src/client/client.js';
import { newApiKeyPair } from '../src/gateway/ws/auth.js';
import { KeyStore } from '../src/gateway/ws/key-store.js';
import { GatewayServer } from '../src/gateway/ws/server.js';
import * as sbe from '../src/protocol/codec.js';
import { fixBridge, type Bridge } from './support/fix-bridge.js';
import { MAKER } from './support/node-config.js';
import { QuickfixPeer, type FixEvent } from './support/quickfix-peer.js';
import { adminOk } from './support/venues.js';

let b: Bridge;
let ws: GatewayServer;
let maker: JunctionClient;
let peer: QuickfixPeer;

beforeAll(async () => {
  b = await fixBridge();
  const pair = newApiKeyPair();
  await new KeyStore(b.node.store).putApiKey({ keyId: 1, account: MAKER, publicKey: pair.publicKey, permission: 'trade' });
  ws = new GatewayServer(b.node);
  const url = `ws://127.0.0.1:${await ws.listen(0)}/ws`;
  maker = await JunctionClient.connect({ url, keyId: 1, privateKeyPem: pair.privateKeyPem, reconnect: false });
  peer = await QuickfixPeer.start({
    host: '127.0.0.1', port: b.port, sender: 'VSG', target: 'JUNCTION', keyPem: b.venue.privateKeyPem,
    storeDir: mkdtempSync(join(tmpdir(), 'qf-store-')), heartbeatS: 5,
  });
});

afterAll(async () => {
  await peer?.stop();
  maker?.close();
  ws?.close();
  await b?.close();
});

const report = (clOrdId: string, execType: string) => (e: FixEvent) =>
  e.event === 'app' && e.msgType === '8' && e.fields?.['11'] === clOrdId && e.fields?.['150'] === execType;

describe('QuickFIX/C++ against the bridge', () => {
  it('[SL-7] [SL-8] [SL-10] [OPS-1] logs on, trades two venue clients against a websocket maker, replaces, resends after a drop, and is refused once suspended', async () => {
    peer.send('connect');
    await peer.waitFor((e) => e.event === 'logon');
    // The maker offers 10 at 1000 over the websocket protocol.
    const offer = await maker.place({ instrument: 1, side: sbe.Side.Sell, price: 1_000, qty: 10, clOrdId: 1 });
    expect(offer.execType).toBe(sbe.ExecType.New);
    peer.send('order o1 C1 BASE-QUOTE buy 4 1000');
    peer.send('order o2 C2 BASE-QUOTE buy 3 1000');
    const f1 = await peer.waitFor(report('o1', 'F'));
    const f2 = await peer.waitFor(report('o2', 'F'));
    expect(f1.fields).toMatchObject({ 1: 'C1', 32: '4', 31: '1000', 39: '2', 14: '4', 151: '0' });
    expect(f2.fields).toMatchObject({ 1: 'C2', 32: '3', 31: '1000', 39: '2', 14: '3', 151: '0' });
    // QuickFIX found nothing to reject in what it received (it would answer with a Reject(3)).
    expect(peer.events.filter((e) => e.event === 'out' && String(e.raw).includes('\x0135=3\x01'))).toEqual([]);
    const open = await maker.openOrders();
    expect(open.map((o) => [o.clOrdId, o.leavesQty])).toEqual([[1, 3]]);
    expect(b.node.ledger.balance(b.accounts.C1, 1).available).toBe(104);
    expect(b.node.ledger.balance(b.accounts.C2, 1).available).toBe(53);
    const c2Quote = b.node.ledger.balance(b.accounts.C2, 0).available;

    // The venue earmarks more of a client's assets (a custody attestation over FIX).
    peer.send('raw 35=AY|902=qf-att-1|903=0|895=0|1=C2|15=QUOTE|53=1000|60=20260101-00:00:00');
    const earmarked = await peer.waitFor((e) => e.event === 'app' && e.msgType === 'AZ' && e.fields?.['902'] === 'qf-att-1');
    expect(earmarked.fields).toMatchObject({ 905: '1' });
    expect(b.node.ledger.balance(b.accounts.C2, 0).available).toBe(c2Quote + 1000);

    // Cancel/replace.
    peer.send('order o3 C1 BASE-QUOTE buy 2 900');
    await peer.waitFor(report('o3', '0'));
    peer.send('replace o4 o3 C1 BASE-QUOTE buy 5 950');
    const replaced = await peer.waitFor(report('o4', '5'));
    expect(replaced.fields).toMatchObject({ 41: 'o3', 38: '5', 44: '950', 151: '5', 39: '0' });

    // A drop mid-stream: while the venue is away, the maker fills its order. The reports wait in
    // the store; after the reconnect QuickFIX asks for the gap and gets them with PossDupFlag=Y.
    peer.send('drop');
    await peer.waitFor((e) => e.event === 'logout');
    const hit = await maker.place({ instrument: 1, side: sbe.Side.Sell, price: 950, qty: 5, clOrdId: 2, timeInForce: sbe.TimeInForce.IOC });
    expect(hit.execType).toBe(sbe.ExecType.New);
    await b.node.drain();
    expect(b.node.ledger.balance(b.accounts.C1, 1).available).toBe(109);
    peer.send('connect');
    await peer.waitFor((e) => e.event === 'logon');
    const resent = await peer.waitFor(report('o4', 'F'));
    expect(resent.possDup).toBe(true);
    expect(resent.fields).toMatchObject({ 1: 'C1', 32: '5', 31: '950', 39: '2', 14: '5' });
    expect(resent.header?.['122']).toBeDefined();

    // Suspended: the session is logged out with the reason, and the next logon is refused.
    await adminOk(b.node, { action: 'venue.suspend', code: 'venue-sg', reason: 'settlement default' });
    const out = await peer.waitFor((e) => e.event === 'logout');
    expect(out.text).toBe('venue venue-sg suspended: settlement default');
    peer.send('connect');
    const refused = await peer.waitFor((e) => e.event === 'logout');
    expect(refused.text).toBe('venue venue-sg may not trade: settlement default');
    // Through it all QuickFIX, validating against its FIX 4.4 dictionary, refused nothing we sent
    // (it answers a message it finds wrong with a Reject(3)).
    const sent = peer.events.filter((e) => e.event === 'out').map((e) => String(e.raw));
    expect(sent.some((raw) => raw.includes('\x0135=D\x01'))).toBe(true);
    expect(sent.filter((raw) => raw.includes('\x0135=3\x01'))).toEqual([]);
    b.node.checkInvariants();
  });
});
