// AFMM changes take effect at the command that approves them (AFMM-3, AFMM-4): a trade is flagged
// by the designation in force when its command was applied, even when an approval later in the
// same batch changes it — in the trade records, on the site and on the wire — and a revoked rate
// preference stops at once for the sessions already logged on, not at their next logon.
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { JunctionClient, SessionRejectError } from '../src/client/client.js';
import { newApiKeyPair } from '../src/gateway/ws/auth.js';
import { KeyStore } from '../src/gateway/ws/key-store.js';
import { GatewayServer } from '../src/gateway/ws/server.js';
import type { NodeCommand, Outcome } from '../src/pipeline/commands.js';
import { NodeRuntime } from '../src/pipeline/runtime.js';
import * as sbe from '../src/protocol/codec.js';
import { ALICE, CAROL, DAVE, SPOT, perpConfig } from './support/perps.js';

const DAVE_PARTICIPANT = 6;
const CAROL_PARTICIPANT = 5;
const DAVE_KEY = 3;
const ALICE_KEY = 1;
const OP_A = 900;
const OP_B = 901;

let node: NodeRuntime;
let gateway: GatewayServer;
let url: string;
let base: string;
const pems = new Map<number, string>();
const clients: JunctionClient[] = [];

const admin = (body: object, operator: number): NodeCommand => ({ type: 'admin', operator, body: body as never });
async function ok(c: NodeCommand): Promise<Outcome> {
  const o = await node.submit(c);
  expect(o.ok, `${JSON.stringify(c)}: ${o.text}`).toBe(true);
  return o;
}
async function approved(body: object): Promise<void> {
  const p = await ok(admin(body, OP_A));
  await ok(admin({ action: 'afmm.approve', change: p.seq }, OP_B));
}

beforeAll(async () => {
  node = await NodeRuntime.open({ dataDir: mkdtempSync(join(tmpdir(), 'junction-review-flags-')), config: perpConfig() });
  const keyStore = new KeyStore(node.store);
  const pair = newApiKeyPair();
  pems.set(DAVE_KEY, pair.privateKeyPem);
  await keyStore.putApiKey({ keyId: DAVE_KEY, account: DAVE, publicKey: pair.publicKey, permission: 'trade' });
  const alicePair = newApiKeyPair();
  pems.set(ALICE_KEY, alicePair.privateKeyPem);
  await keyStore.putApiKey({ keyId: ALICE_KEY, account: ALICE, publicKey: alicePair.publicKey, permission: 'trade' });
  for (const [account, asset, amount] of [[ALICE, 'QUOTE', 10_000_000], [CAROL, 'BASE', 1_000], [DAVE, 'BASE', 1_000], [DAVE, 'QUOTE', 10_000_000]] as const) {
    await ok({ type: 'deposit', key: `d-${account}-${asset}`, account, asset, amount });
  }
  await approved({ action: 'afmm.designate', participant: DAVE_PARTICIPANT, officer: 'Officer' });
  await node.drain();
  // A tight gateway rate (10 a second, burst 10); the AFMM's disclosed entry gives it 1,000.
  // The buckets' clock stands still, so the counts of refused orders are exact on any host.
  const frozenMs = Date.now();
  gateway = new GatewayServer(node, { site: {}, limits: { perKeyPerSecond: 10, perConnectionPerSecond: 10, burst: 10 }, rateClock: () => frozenMs });
  const port = await gateway.listen(0);
  url = gateway.url(port);
  base = `http://127.0.0.1:${port}`;
});

afterAll(async () => {
  for (const c of clients) c.close();
  gateway?.close();
  await node?.close();
});

describe('AFMM flags are the designation at the fill, not at the end of its batch', () => {
  it('[AFMM-3] [OPS-3] a fill by the AFMM in the same batch as, and before, the approval of its revocation is an AFMM trade in the records, on the site and on the wire', async () => {
    const tape = await JunctionClient.subscribeOnly(url);
    clients.push(tape);
    const published: sbe.Trade[] = [];
    tape.on('trade', (t) => published.push(t));
    await tape.subscribeTrades(SPOT);

    // The AFMM rests an ask; a revocation is proposed.
    await ok({ type: 'order', account: DAVE, instrument: SPOT, side: 1, orderType: 0, tif: 0, price: 10_000, qty: 1 });
    const revoke = await ok(admin({ action: 'afmm.revoke', participant: DAVE_PARTICIPANT, reason: 'affiliation ended' }, OP_A));
    expect(node.pipeline.afmm.isAfmm(DAVE)).toBe(true);
    // In one turn (one batch): ALICE lifts the AFMM's ask, then the second operator approves the revocation.
    const [fill, approval] = await Promise.all([
      node.submit({ type: 'order', account: ALICE, instrument: SPOT, side: 0, orderType: 0, tif: 1, price: 10_000, qty: 1 }),
      node.submit(admin({ action: 'afmm.approve', change: revoke.seq }, OP_B)),
    ]);
    expect([fill.ok, approval.ok]).toEqual([true, true]);
    expect(approval.seq).toBe(fill.seq + 1);
    expect(node.pipeline.afmm.isAfmm(DAVE)).toBe(false);
    await node.drain();

    // The AFMM was the maker when the trade was executed.
    const [record] = node.trades.latest(SPOT, 1);
    expect(record.maker.account).toBe(DAVE);
    const site = (await (await fetch(`${base}/api/v1/markets/BASE-QUOTE/trades?limit=1`)).json()) as { trades: { afmm: { maker: boolean } }[] };
    const deadline = Date.now() + 5_000;
    while (published.length === 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    const seen = {
      record: record.maker.afmm,
      site: site.trades[0]?.afmm.maker,
      wire: published[0]?.afmm === sbe.AfmmSide.Maker,
    };
    expect(seen, 'the trade executed by an AFMM is identified in post-trade data').toEqual({ record: true, site: true, wire: true });
  });

  it('[AFMM-3] a fill by a participant in the same batch as, and before, the approval of its designation is not an AFMM trade', async () => {
    await ok({ type: 'order', account: CAROL, instrument: SPOT, side: 1, orderType: 0, tif: 0, price: 10_001, qty: 1 });
    const designate = await ok(admin({ action: 'afmm.designate', participant: CAROL_PARTICIPANT, officer: 'Officer C' }, OP_A));
    const [fill, approval] = await Promise.all([
      node.submit({ type: 'order', account: ALICE, instrument: SPOT, side: 0, orderType: 0, tif: 1, price: 10_001, qty: 1 }),
      node.submit(admin({ action: 'afmm.approve', change: designate.seq }, OP_B)),
    ]);
    expect([fill.ok, approval.ok, approval.seq - fill.seq]).toEqual([true, true, 1]);
    await node.drain();
    const [record] = node.trades.latest(SPOT, 1);
    expect(record.maker.account).toBe(CAROL);
    expect(record.maker.afmm, 'CAROL was not an AFMM when it traded').toBe(false);
  });
});

const burst = async (c: JunctionClient) => {
  const results = await Promise.allSettled(Array.from({ length: 40 }, (_, i) => c.place({ instrument: SPOT, side: sbe.Side.Buy, price: 1_000 + i, qty: 1 })));
  return results.filter((r) => r.status === 'rejected' && r.reason instanceof SessionRejectError && r.reason.reject.reason === sbe.RejectReason.RateLimited).length;
};

describe('an AFMM\'s rate-limit preference after revocation', () => {
  it('[AFMM-4] a participant without a preference sending 40 orders at once is held to the burst of 10', async () => {
    const alice = await JunctionClient.connect({ url, keyId: ALICE_KEY, privateKeyPem: pems.get(ALICE_KEY)!, reconnect: false });
    clients.push(alice);
    expect(await burst(alice)).toBe(30);
  });

  it('[AFMM-4] a session logged on while the rate entry was in force has its rate while it is, and everyone\'s at once when it is revoked', async () => {
    await approved({ action: 'afmm.designate', participant: DAVE_PARTICIPANT, officer: 'Officer' });
    await approved({ action: 'afmm.entry.set', participant: DAVE_PARTICIPANT, entry: { id: 'rate', kind: 'rate-limit', ordersPerSecond: 1_000, riskText: 'more orders' } });
    const dave = await JunctionClient.connect({ url, keyId: DAVE_KEY, privateKeyPem: pems.get(DAVE_KEY)!, reconnect: false });
    clients.push(dave);
    expect(dave.logonAck!.ordersPerSecond).toBe(1_000);
    expect(await burst(dave)).toBe(0); // its burst is 1,000
    await approved({ action: 'afmm.revoke', participant: DAVE_PARTICIPANT, reason: 'affiliation ended' });
    await node.drain();
    expect(node.pipeline.afmm.isAfmm(DAVE)).toBe(false);
    const disclosed = (await (await fetch(`${base}/api/v1/afmm`)).json()) as { affiliatedMarketMakers: { participant: number }[] };
    expect(disclosed.affiliatedMarketMakers.map((a) => a.participant)).not.toContain(DAVE_PARTICIPANT);
    // 40 orders at once on the same session: held to everyone's burst of 10 now.
    expect(await burst(dave)).toBe(30);
  });
});
