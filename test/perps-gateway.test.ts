// Perpetuals on the wire, end to end: the real node and gateway on loopback, the SDK and raw
// websocket sessions, the `junction` command line. Price sources push signed prices (PERP-3); each
// account hears only its own perpetual figures, exactly as the node holds them (PERP-7); the public
// PerpMarket carries every source's part in the index and the funding figures (PERP-10, PERP-11);
// a non-professional's perpetual order is refused by name (PERP-2). The node runs on a clock the
// test sets, so every index, mark, age and funding payment is exact.
import { until } from './support/until.js';
import { runCli } from './support/cli.js';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { JunctionClient, SessionRejectError, type PerpAccountFigures } from '../src/client/client.js';
import { newApiKeyPair, signPrice } from '../src/gateway/ws/auth.js';
import { KeyStore, type Permission } from '../src/gateway/ws/key-store.js';
import { GatewayServer } from '../src/gateway/ws/server.js';
import type { AccountView } from '../src/perps/perps.js';
import { NodeRuntime } from '../src/pipeline/runtime.js';
import * as sbe from '../src/protocol/codec.js';
import { describeReason } from '../src/protocol/reasons.js';
import { ALICE, BOB, CAROL, PERP, SPOT, assessments, perpConfig } from './support/perps.js';
import { loggedOn } from './support/ws-session.js';

const NODE_JS = join(__dirname, '../dist/src/node.js');

/** The node's clock: 2026-11-30 08:10:00 UTC, moved only by the tests. */
const T0_MS = Date.parse('2026-11-30T08:10:00Z');
let clockMs = T0_MS;
const HOUR_MS = 3_600_000;

const ALICE_KEY = 1;
const CAROL_KEY = 2;
const BOB_KEY = 3;
const ALICE_READ_KEY = 4;
/** ALICE's key for the command line (a logon takes a key over from its other session). */
const ALICE_CLI_KEY = 5;
const SOURCE_KEYS = [301, 302, 303];
/** A price-source key that no product lists among its sources. */
const ROGUE_KEY = 304;

let node: NodeRuntime;
let gateway: GatewayServer;
let url: string;
const pems = new Map<number, string>();
const clients: JunctionClient[] = [];
let sources: JunctionClient[];
let alice: JunctionClient;
let aliceRead: JunctionClient;
let carol: JunctionClient;
let bob: JunctionClient;
/** A public subscriber of the perpetual's PerpMarket and trades, without a logon. */
let watcher: JunctionClient;
const markets: sbe.PerpMarket[] = [];
const trades: sbe.Trade[] = [];
/** Every PerpAccount and PerpPosition message each session received. */
const heard = new Map<JunctionClient, { figures: PerpAccountFigures[]; messages: (sbe.PerpAccountUpdate | sbe.PerpPositionUpdate)[] }>();
/** Each source's next own time (µs): within 30 s of the node's clock, later than its last. */
let sourceTick = 0;
const sourceTsUs = () => clockMs * 1000 + ++sourceTick;


async function connect(keyId: number): Promise<JunctionClient> {
  const c = await JunctionClient.connect({ url, keyId, privateKeyPem: pems.get(keyId)!, reconnect: false });
  // The logon's figures came in the LogonAck's frame, before connect() resolved: the client holds them.
  const h = { figures: c.perpAccount ? [c.perpAccount] : [], messages: [] as (sbe.PerpAccountUpdate | sbe.PerpPositionUpdate)[] };
  heard.set(c, h);
  c.on('perpAccount', (account, positions) => h.figures.push({ account, positions }));
  c.on('perpPosition', (p) => h.messages.push(p));
  clients.push(c);
  return c;
}

/** The account figures as the wire carries them, in the node's AccountView shape. */
function asView(f: PerpAccountFigures): Omit<AccountView, 'positions'> & { positions: object[] } {
  const a = f.account;
  return {
    account: a.account, collateral: a.collateral, unrealizedPnl: a.unrealizedPnl, owed: a.owed, equity: a.equity, initialMargin: a.initialMargin,
    maintenanceMargin: a.maintenanceMargin, available: a.available, marginRatioBps: a.marginRatioBps,
    positions: f.positions.filter((p) => p.size !== 0).map(({ account: _, ...p }) => p),
  };
}

/** What the node holds for the account, without the symbol (the wire names instruments by id). */
function nodeView(account: number): object {
  const v = node.pipeline.perps.accountView(account);
  return { ...v, positions: v.positions.map(({ symbol: _, ...p }) => p) };
}

const latestOf = (c: JunctionClient) => heard.get(c)!.figures.at(-1);

async function price(source: number, value: number): Promise<sbe.PriceUpdateAck> {
  return sources[SOURCE_KEYS.indexOf(source)].submitPrice({ underlying: 'BASE', price: value, sourceTsUs: sourceTsUs() });
}

const run = runCli;

beforeAll(async () => {
  node = await NodeRuntime.open({ dataDir: mkdtempSync(join(tmpdir(), 'junction-perps-gw-')), config: perpConfig(), clockMs: () => clockMs });
  const keyStore = new KeyStore(node.store);
  const keys: [number, number, Permission][] = [
    [ALICE_KEY, ALICE, 'trade'], [CAROL_KEY, CAROL, 'trade'], [BOB_KEY, BOB, 'trade'], [ALICE_READ_KEY, ALICE, 'read'], [ALICE_CLI_KEY, ALICE, 'read'],
    ...SOURCE_KEYS.map((k): [number, number, Permission] => [k, 0, 'price-source']), [ROGUE_KEY, 0, 'price-source'],
  ];
  for (const [keyId, account, permission] of keys) {
    const pair = newApiKeyPair();
    pems.set(keyId, pair.privateKeyPem);
    await keyStore.putApiKey({ keyId, account, publicKey: pair.publicKey, permission });
  }
  for (const [account, amount] of [[ALICE, 100_000], [CAROL, 1_000_000], [BOB, 100_000]]) {
    await node.submit({ type: 'deposit', key: `d${account}`, account, asset: 'QUOTE', amount });
  }
  for (const c of assessments()) await node.submit(c);
  await node.drain();
  gateway = new GatewayServer(node);
  url = gateway.url(await gateway.listen(0));
  sources = await Promise.all(SOURCE_KEYS.map(connect));
  [alice, aliceRead, carol, bob] = await Promise.all([ALICE_KEY, ALICE_READ_KEY, CAROL_KEY, BOB_KEY].map(connect));
  watcher = await JunctionClient.subscribeOnly(url);
  watcher.on('perpMarket', (m) => markets.push(m));
  watcher.on('trade', (t) => trades.push(t));
  await watcher.subscribePerp(PERP);
  await watcher.subscribeTrades(PERP);
});

afterAll(async () => {
  for (const c of [...clients, watcher]) c?.close();
  gateway?.close();
  await node?.close();
});

describe('price sources over the protocol', () => {
  it('[PERP-3] signed prices from three price-source keys move the index and mark; a bad signature, a key that is no source, a trade key are refused by name', async () => {
    // Before any price: the index is unpriced and degraded; the mark is the reference price.
    expect(markets[0]).toMatchObject({ instrument: PERP, index: 0, mark: 10_000, degraded: sbe.BooleanType.True });
    const acks = await Promise.all([price(301, 10_000), price(302, 10_100), price(303, 10_050)]);
    for (const ack of acks) expect(ack).toMatchObject({ ok: sbe.BooleanType.True, reason: sbe.RejectReason.None, text: '' });
    expect(acks.map((a) => a.seq).every((s) => s > 0)).toBe(true);
    // The median of the three: 10,050; the mark is the median of its inputs that exist: the funding
    // basis (10,050 + 10,050 × 0.001% × 50/60 min, rounded down: 10,050) and the moving basis (the
    // index, before any basis sample).
    let m = node.pipeline.perps.marketView(PERP);
    expect([m.index, m.mark, m.degraded]).toEqual([10_050, 10_050, false]);
    await until(() => markets.at(-1)!.index === 10_050, 'the PerpMarket of the new index');
    expect(markets.at(-1)).toMatchObject({ index: 10_050, mark: 10_050, degraded: sbe.BooleanType.False });

    // Two sources move: the median follows the middle one.
    await Promise.all([price(301, 10_200), price(302, 10_300)]);
    m = node.pipeline.perps.marketView(PERP);
    expect([m.index, m.mark]).toEqual([10_200, 10_200]);

    // A signature made with another key: refused before anything is sequenced, naming the field.
    const raw = await loggedOn(url, ROGUE_KEY, pems.get(ROGUE_KEY)!);
    const before = node.lastSequence;
    const ts = sourceTsUs();
    const forged = { reqId: 77, underlying: 'BASE', price: 20_000, sourceTsUs: ts, signature: signPrice(pems.get(301)!, ROGUE_KEY, 'BASE', 20_000, ts) };
    const v = new DataView(new ArrayBuffer(256));
    raw.ws.send(new Uint8Array(v.buffer, 0, sbe.encodePriceUpdate(v, 0, forged)));
    // A signature over other figures than those sent fails the same way.
    const altered = { ...forged, reqId: 78, signature: signPrice(pems.get(ROGUE_KEY)!, ROGUE_KEY, 'BASE', 19_999, ts) };
    raw.ws.send(new Uint8Array(v.buffer, 0, sbe.encodePriceUpdate(v, 0, altered)));
    const rejects = await until(() => {
      const r = raw.got.filter((d) => d.type === 'SessionReject').map((d) => d.message as sbe.SessionReject);
      return r.length === 2 && r;
    }, 'two SessionRejects');
    for (const [r, reqId] of [[rejects[0], 77], [rejects[1], 78]] as const) {
      expect(r).toEqual({ refTemplateId: sbe.TemplateId.PriceUpdate, reason: sbe.RejectReason.BadSignature, field: 'signature', text: "does not verify with key 304's public key", refClOrdId: reqId });
    }
    raw.ws.close();
    await until(() => raw.closed !== undefined, 'the raw session to close');
    expect(node.lastSequence).toBe(before);
    expect(node.pipeline.perps.marketView(PERP).index).toBe(10_200);

    // A price-source key that is no source of the index: sequenced, refused by the node with its reason and text.
    const rogue = await connect(ROGUE_KEY);
    const refused = await rogue.submitPrice({ underlying: 'BASE', price: 10_000, sourceTsUs: sourceTsUs() });
    expect(refused).toMatchObject({ ok: sbe.BooleanType.False, reason: sbe.RejectReason.UnknownPriceSource, text: 'key 304 is not a price source of the BASE index' });
    // An index no product has; a price that is not newer than the source's last.
    expect(await rogue.submitPrice({ underlying: 'DOGE', price: 1, sourceTsUs: sourceTsUs() })).toMatchObject({
      ok: sbe.BooleanType.False, reason: sbe.RejectReason.UnknownPriceSource, text: 'no perpetual product has the index "DOGE"',
    });
    const last = clockMs * 1000 + sourceTick;
    const stale = await sources[0].submitPrice({ underlying: 'BASE', price: 10_000, sourceTsUs: last - 100 });
    expect(stale.ok).toBe(sbe.BooleanType.False);
    expect([stale.reason, stale.text]).toEqual([sbe.RejectReason.StalePrice, expect.stringMatching(/^the update is not newer than the source's last \(\d+ µs\)$/)]);

    // A trade key may not send prices; a price-source key may not trade.
    const notSource = await alice.submitPrice({ underlying: 'BASE', price: 10_000, sourceTsUs: sourceTsUs() }).catch((e: unknown) => e);
    expect(notSource).toBeInstanceOf(SessionRejectError);
    expect((notSource as SessionRejectError).reject).toMatchObject({
      refTemplateId: sbe.TemplateId.PriceUpdate, reason: sbe.RejectReason.NotPriceSource, field: 'templateId', text: "needs a price-source key; this key's permission is trade",
    });
    expect((notSource as Error).message).toBe("refused: NotPriceSource (224): only an API key with the price-source permission may send price updates [templateId: needs a price-source key; this key's permission is trade]");
    const trading = await sources[0].place({ instrument: PERP, side: sbe.Side.Buy, price: 10_000, qty: 1 }).catch((e: unknown) => e);
    expect((trading as SessionRejectError).reject).toMatchObject({ reason: sbe.RejectReason.PriceSourceKey, text: 'a price-source API key may not trade' });
    expect(sources[0].logonAck!.readOnly).toBe(sbe.BooleanType.True);
    expect(node.pipeline.perps.marketView(PERP).index).toBe(10_200);
  });
});

describe('who may trade perpetuals, over the websocket', () => {
  it('[PERP-2] a non-professional client\'s perpetual order is refused with NotProfessionalInvestor and its text; its spot order is not', async () => {
    const r = await bob.place({ instrument: PERP, side: sbe.Side.Buy, price: 10_000, qty: 1 });
    expect([r.execType, r.rejectReason]).toEqual([sbe.ExecType.Rejected, sbe.RejectReason.NotProfessionalInvestor]);
    expect(describeReason(r.rejectReason)).toBe('NotProfessionalInvestor (124): perpetual contracts are for professional investors with a valid suitability assessment on record, and this participant has none that passes now');
    expect(sbe.RejectReasonText[r.rejectReason]).toBe('perpetual contracts are for professional investors with a valid suitability assessment on record, and this participant has none that passes now');
    expect(node.pipeline.perps.accounts.has(BOB)).toBe(false);
    // The same client may trade spot.
    const spot = await bob.place({ instrument: SPOT, side: sbe.Side.Buy, price: 9_000, qty: 1 });
    expect(spot.execType).toBe(sbe.ExecType.New);
  });
});

describe('an account\'s own perpetual figures', () => {
  it('[PERP-7] after a trade and a mark move the owner\'s sessions receive PerpAccountUpdate and PerpPositionUpdate equal to the node\'s figures; no other account does', async () => {
    // At logon every trade or read session got its account's figures: nothing open yet.
    for (const [c, account] of [[alice, ALICE], [aliceRead, ALICE], [carol, CAROL], [bob, BOB]] as const) {
      expect(heard.get(c)!.figures[0].account).toMatchObject({ account, positions: 0, asset: 'QUOTE', scale: 0, initialMargin: 0, marginRatioBps: 0 });
    }
    expect(heard.get(alice)!.figures[0].account).toMatchObject({ equity: 100_000, collateral: 100_000, available: 100_000 });
    // Price sources and operators have no account figures.
    expect(heard.get(sources[0])!.figures).toEqual([]);

    const aliceBefore = heard.get(alice)!.figures.length;
    expect((await carol.place({ instrument: PERP, side: sbe.Side.Sell, price: 10_200, qty: 10 })).execType).toBe(sbe.ExecType.New);
    const filled = await alice.place({ instrument: PERP, side: sbe.Side.Buy, price: 10_200, qty: 10, timeInForce: sbe.TimeInForce.IOC });
    expect(filled.execType).toBe(sbe.ExecType.New);
    const afterTrade = await until(() => heard.get(alice)!.figures.find((f, i) => i >= aliceBefore && f.account.positions === 1), "ALICE's figures after the fill");
    expect(asView(afterTrade)).toEqual(nodeView(ALICE));
    expect(afterTrade.positions[0]).toMatchObject({ account: ALICE, instrument: PERP, size: 10, entryPrice: 10_200, mark: 10_200, notional: 102_000, unrealizedPnl: 0 });
    // One update for the batch: the order's reservation and its fill came in one batch.
    expect(heard.get(alice)!.figures.length).toBe(aliceBefore + 1);
    // PERP-11: the perpetual's trade is public, with its time, price and size.
    await until(() => trades.length === 1, 'the public trade');
    expect(trades[0]).toMatchObject({ instrument: PERP, price: 10_200, qty: 10, aggressor: sbe.Side.Buy, execTimeNs: BigInt(clockMs) * 1_000_000n });

    // The mark moves (all three sources at 10,400): the median of the funding basis (10,400), the
    // moving basis (10,400) and the last trade (10,200) is 10,400; ALICE is 2,000 up, CAROL down.
    await Promise.all([price(301, 10_400), price(302, 10_400), price(303, 10_400)]);
    expect(node.pipeline.perps.marketView(PERP).mark).toBe(10_400);
    const moved = await until(() => {
      const f = latestOf(alice);
      return f?.positions[0]?.mark === 10_400 && f;
    }, "ALICE's figures at the new mark");
    expect(asView(moved)).toEqual(nodeView(ALICE));
    // Maintenance 5% of 104,000 over equity 102,000: 509.8 bps, rounded up.
    expect(moved.account).toMatchObject({ account: ALICE, equity: 102_000, unrealizedPnl: 2_000, initialMargin: 10_400, maintenanceMargin: 5_200, available: 91_600, marginRatioBps: 510 });
    expect(moved.positions).toEqual([expect.objectContaining({ size: 10, entryPrice: 10_200, mark: 10_400, notional: 104_000, unrealizedPnl: 2_000, initialMargin: 10_400, maintenanceMargin: 5_200 })]);
    // ALICE's read key hears the same figures; CAROL hears her own.
    const read = await until(() => latestOf(aliceRead)?.positions[0]?.mark === 10_400 && latestOf(aliceRead), "the read key's figures");
    expect(read).toEqual(moved);
    const carolMoved = await until(() => latestOf(carol)?.positions[0]?.mark === 10_400 && latestOf(carol), "CAROL's figures");
    expect(asView(carolMoved)).toEqual(nodeView(CAROL));
    expect(carolMoved.positions[0]).toMatchObject({ size: -10, unrealizedPnl: -2_000 });
    // Only the owner ever gets its own figures: every message each session heard is its account's.
    for (const [c, account] of [[alice, ALICE], [aliceRead, ALICE], [carol, CAROL], [bob, BOB]] as const) {
      const h = heard.get(c)!;
      expect(h.figures.every((f) => f.account.account === account && f.positions.every((p) => p.account === account)), `account ${account}`).toBe(true);
      expect(h.messages.every((p) => p.account === account)).toBe(true);
    }
    // BOB holds nothing: after its logon figures it heard nothing of the trade or the mark.
    expect(heard.get(bob)!.figures.map((f) => f.account.positions)).toEqual([0]);
  });

  it('[PERP-5] [OPS-1] reduce-only travels on NewOrder: trimmed to the position, refused when it would not reduce; a version-1 NewOrder (no such field) still trades', async () => {
    const ro = await alice.place({ instrument: PERP, side: sbe.Side.Sell, price: 11_000, qty: 25, reduceOnly: true });
    expect([ro.execType, ro.leavesQty]).toEqual([sbe.ExecType.New, 10]);
    expect(node.pipeline.orders.get(ro.orderId)).toMatchObject({ remaining: 10, reduceOnly: true });
    const wrongWay = await alice.place({ instrument: PERP, side: sbe.Side.Buy, price: 9_000, qty: 1, reduceOnly: true });
    expect([wrongWay.execType, wrongWay.rejectReason]).toEqual([sbe.ExecType.Rejected, sbe.RejectReason.ReduceOnly]);
    const spot = await alice.place({ instrument: SPOT, side: sbe.Side.Buy, price: 9_000, qty: 1, reduceOnly: true });
    expect([spot.execType, spot.rejectReason]).toEqual([sbe.ExecType.Rejected, sbe.RejectReason.ReduceOnly]);
    await alice.cancel(PERP, ro.clOrdId);
    // A client built on version 1 sends a 32-byte block under a version-1 header: it is not reduce-only.
    const raw = await loggedOn(url, CAROL_KEY, pems.get(CAROL_KEY)!);
    const v = new DataView(new ArrayBuffer(64));
    sbe.encodeNewOrder(v, 0, { clOrdId: 9_001, instrument: PERP, side: sbe.Side.Sell, ordType: sbe.OrdType.Limit, timeInForce: sbe.TimeInForce.GTC, stpMode: sbe.StpMode.None, price: 12_000, qty: 1 });
    v.setUint16(0, 32, true);
    v.setUint16(6, 1, true);
    raw.ws.send(new Uint8Array(v.buffer, 0, 8 + 32));
    const report = await until(() => raw.got.find((d) => d.type === 'ExecutionReport')?.message as sbe.ExecutionReport | undefined, 'the report');
    expect(report).toMatchObject({ clOrdId: 9_001, execType: sbe.ExecType.New, leavesQty: 1 });
    expect(node.pipeline.orders.get(report.orderId)!.reduceOnly).toBeUndefined();
    // Its Logon said no schema version (a version-1 client): it is sent no PerpAccountUpdate, which
    // its decoder would refuse, though CAROL holds a position and this order touched her account.
    expect(raw.got.map((d) => d.type)).toEqual(['LogonAck', 'InstrumentList', 'ExecutionReport']);
    // One frame: a reduce-only NewOrder (CAROL is short 10: a buy of 25 is trimmed to 10), then a
    // batch whose order is not reduce-only (else it would find the position covered and be refused).
    let n = sbe.encodeNewOrder(v, 0, { clOrdId: 9_002, instrument: PERP, side: sbe.Side.Buy, ordType: sbe.OrdType.Limit, timeInForce: sbe.TimeInForce.GTC, stpMode: sbe.StpMode.None, price: 9_000, qty: 25, reduceOnly: sbe.BooleanType.True });
    const both = new DataView(new ArrayBuffer(256));
    new Uint8Array(both.buffer).set(new Uint8Array(v.buffer, 0, n));
    n += sbe.encodeBatchNewOrders(both, n, { orders: [{ clOrdId: 9_003, instrument: PERP, side: sbe.Side.Buy, ordType: sbe.OrdType.Limit, timeInForce: sbe.TimeInForce.GTC, stpMode: sbe.StpMode.None, price: 8_000, qty: 1 }] });
    raw.ws.send(new Uint8Array(both.buffer, 0, n));
    const reports = await until(() => {
      const r = raw.got.filter((d) => d.type === 'ExecutionReport').map((d) => d.message as sbe.ExecutionReport);
      return r.length === 3 && r;
    }, 'both reports');
    expect(reports.slice(1).map((r) => [r.clOrdId, r.execType, r.leavesQty])).toEqual([[9_002, sbe.ExecType.New, 10], [9_003, sbe.ExecType.New, 1]]);
    expect([node.pipeline.orders.get(reports[1].orderId)!.reduceOnly, node.pipeline.orders.get(reports[2].orderId)!.reduceOnly]).toEqual([true, undefined]);
    raw.ws.close();
    carol = await connect(CAROL_KEY); // the raw logon took CAROL's key over
    await carol.massCancel(PERP);
  });
});

describe('public perpetual market data', () => {
  it('[PERP-10] [PERP-11] a subscriber receives the PerpMarket: each source\'s contribution, the mark\'s inputs and the funding figures, exact', async () => {
    // Five seconds on: source 1 moves a little, source 2 far (an outlier), source 3 says nothing.
    clockMs += 5_000;
    await Promise.all([price(301, 10_500), price(302, 12_000)]);
    // Median of the fresh 10,500 / 12,000 / 10,400 is 10,500; 12,000 is 14% from it (over 5%):
    // out. The index is the median of the two left, 10,450, degraded (2 usable, 3 needed). The mark:
    // the median of the funding basis (10,450), the moving basis (10,450) and the last trade (10,200).
    const m = await until(() => markets.find((x) => x.index === 10_450), 'the PerpMarket');
    const nextFundingNs = BigInt(Date.parse('2026-11-30T09:00:00Z')) * 1_000_000n;
    expect(m).toEqual({
      instrument: PERP, asOfNs: BigInt(clockMs) * 1_000_000n, mark: 10_450, index: 10_450, degraded: sbe.BooleanType.True, clamped: sbe.BooleanType.False,
      markBandLow: 8_000, markBandHigh: 12_000, lastFundingRateE8: 0, predictedFundingRateE8: 1_000, nextFundingNs, fundingIntervalMin: 60, openInterest: 10,
      fundingBasis: 10_450, movingBasis: 10_450, lastTrade: 10_200,
      insuranceFund: 0, insuranceDepleted: sbe.BooleanType.False,
      adlLongs1: 0, adlLongs2: 0, adlLongs3: 0, adlLongs4: 0, adlLongs5: 1, adlShorts1: 0, adlShorts2: 0, adlShorts3: 0, adlShorts4: 0, adlShorts5: 1,
      sources: [
        { source: 'src-1', price: 10_500, ageMs: 0, status: sbe.SourceStatus.Used },
        { source: 'src-2', price: 12_000, ageMs: 0, status: sbe.SourceStatus.Outlier },
        { source: 'src-3', price: 10_400, ageMs: 5_000, status: sbe.SourceStatus.Used },
        { source: 'book', price: 0, ageMs: -1, status: sbe.SourceStatus.None },
      ],
    });
    const view = node.pipeline.perps.marketView(PERP);
    expect([view.mark, view.index, view.predictedRateE8, view.nextFundingUs * 1000]).toEqual([m.mark, m.index, m.predictedFundingRateE8, Number(nextFundingNs)]);
    // A degraded index lets no position grow.
    const grow = await alice.place({ instrument: PERP, side: sbe.Side.Buy, price: 10_000, qty: 1 });
    expect(grow.rejectReason).toBe(sbe.RejectReason.IndexDegraded);

    // Past the funding time: the batch that reaches it pays funding at the mark then (10,450) and
    // 0.001% (the interest term; the book gave no premium): ALICE (long 10) pays 104,500 × 0.001%
    // rounded up, 2; CAROL receives it rounded down, 1; the insurance fund gets the 1 between.
    clockMs = Date.parse('2026-11-30T09:00:01Z');
    await price(301, 10_500);
    const funded = await until(() => markets.find((x) => x.lastFundingRateE8 === 1_000), 'the PerpMarket after funding');
    expect(funded).toMatchObject({
      lastFundingRateE8: 1_000, predictedFundingRateE8: 1_000, nextFundingNs: BigInt(Date.parse('2026-11-30T10:00:00Z')) * 1_000_000n, index: 10_500,
    });
    expect(funded.sources.map((s) => [s.source, s.status, s.ageMs])).toEqual([
      // Priced at 08:10:05 and 08:10:00: 49 min 56 s and 50 min 1 s old.
      ['src-1', sbe.SourceStatus.Used, 0], ['src-2', sbe.SourceStatus.Stale, 2_996_000], ['src-3', sbe.SourceStatus.Stale, 3_001_000], ['book', sbe.SourceStatus.None, -1],
    ]);
    expect(node.pipeline.perps.fundingHistory(PERP).at(-1)).toMatchObject({ rateE8: 1_000, mark: 10_450, paid: 2, received: 1, residual: 1, positions: 2 });
    const aliceFunded = await until(() => latestOf(alice)?.positions[0]?.funding === -2 && latestOf(alice), "ALICE's figures after funding");
    expect(asView(aliceFunded)).toEqual(nodeView(ALICE));
    const carolFunded = await until(() => latestOf(carol)?.positions[0]?.funding === 1 && latestOf(carol), "CAROL's figures after funding");
    expect(asView(carolFunded)).toEqual(nodeView(CAROL));
    // A subscriber that joins now gets the perpetual as it stands, then a SubscribeAck.
    const late = await JunctionClient.subscribeOnly(url);
    const got: sbe.PerpMarket[] = [];
    late.on('perpMarket', (x) => got.push(x));
    await late.subscribePerp(0);
    expect(got).toEqual([markets.at(-1)]);
    await expect(late.subscribePerp(SPOT)).rejects.toThrow('refused: UnknownInstrument (102): no instrument with this id [instrument: BASE-QUOTE (1) is not a perpetual contract]');
    late.close();
  });
});

describe('junction account and junction perps market', () => {
  it('[PERP-7] [PERP-10] the command line prints the same figures the node holds', async () => {
    const keyFile = join(mkdtempSync(join(tmpdir(), 'junction-perps-keys-')), 'keys.json');
    writeFileSync(keyFile, JSON.stringify([{ keyId: ALICE_CLI_KEY, privateKeyPem: pems.get(ALICE_CLI_KEY) }]));
    const json = await run(['account', '--url', url, '--key-file', keyFile, '--json', '--raw']);
    expect(json.stderr).toBe('');
    expect(json.code).toBe(0);
    const lines = json.stdout.trim().split('\n');
    expect(lines.length).toBe(1);
    const printed = JSON.parse(lines[0]);
    const v = node.pipeline.perps.accountView(ALICE);
    expect(printed).toEqual({
      account: ALICE, asOf: new Date(clockMs).toISOString(), asset: 'QUOTE', equity: v.equity, collateral: v.collateral, unrealizedPnl: v.unrealizedPnl,
      owed: v.owed, initialMargin: v.initialMargin, maintenanceMargin: v.maintenanceMargin, available: v.available, marginRatioBps: v.marginRatioBps,
      positions: v.positions.map((p) => ({
        instrument: 'BASE-PERP', size: p.size, entryPrice: p.entryPrice, mark: p.mark, notional: p.notional, unrealizedPnl: p.unrealizedPnl,
        realizedPnl: p.realizedPnl, funding: p.funding, initialMargin: p.initialMargin, maintenanceMargin: p.maintenanceMargin, liquidationPrice: p.liquidationPrice,
        adlRank: p.adlRank,
      })),
    });
    expect(printed.positions[0]).toMatchObject({ size: 10, entryPrice: 10_200, funding: -2 });
    // The human form: a table of the figures, then one of the positions.
    const human = await run(['account', '--url', url, '--key-file', keyFile]);
    expect(human.code).toBe(0);
    const out = human.stdout.split('\n');
    expect(out[0]).toBe(`account ${ALICE}, perpetuals, as of ${new Date(clockMs).toISOString()} (amounts in QUOTE)`);
    expect(out[1].split(/\s+/)).toEqual(['equity', 'collateral', 'unrealizedPnl', 'owed', 'initialMargin', 'maintenanceMargin', 'available', 'marginRatio']);
    expect(out[2].split(/\s+/).slice(0, 3)).toEqual([String(v.equity), String(v.collateral), String(v.unrealizedPnl)]);
    expect(out[4].split(/\s+/)).toEqual(['instrument', 'size', 'entry', 'mark', 'unrealizedPnl', 'realizedPnl', 'funding', 'initialMargin', 'maintenance', 'liquidation', 'adlRank']);
    expect(out[5].split(/\s+/).slice(0, 4)).toEqual(['BASE-PERP', '10', '10200', String(v.positions[0].mark)]);
    // A key that acts for no account is told so.
    writeFileSync(keyFile, JSON.stringify([{ keyId: 301, privateKeyPem: pems.get(301) }]));
    const source = await run(['account', '--url', url, '--key-file', keyFile]);
    expect([source.code, source.stderr.trim()]).toEqual([1, 'junction account: key 301 acts for no account (an operator or price-source key): give a trade or read key (--key-id)']);

    const market = await run(['perps', 'market', '--url', url, '--json', '--raw']);
    expect(market.code).toBe(0);
    const m = node.pipeline.perps.marketView(PERP);
    expect(JSON.parse(market.stdout.trim())).toMatchObject({
      instrument: 'BASE-PERP', mark: m.mark, index: m.index, degraded: m.degraded, clamped: m.clamped, markBand: m.markBand,
      inputs: { fundingBasis: m.inputs.fundingBasis, movingBasis: m.inputs.movingBasis, lastTrade: m.inputs.lastTrade },
      sources: m.contributions.map((c) => ({ source: c.source, price: c.price, ageMs: c.ageMs, status: c.status })),
      lastFundingRateE8: m.lastRateE8, predictedFundingRateE8: m.predictedRateE8, nextFunding: new Date(m.nextFundingUs / 1000).toISOString(),
      fundingIntervalMin: 60, openInterest: m.openInterest,
    });
  });
});

describe('the demo (npm start)', () => {
  let child: ChildProcess | undefined;
  afterAll(async () => {
    if (!child || child.exitCode !== null) return;
    child.kill('SIGTERM');
    await new Promise((r) => child!.once('exit', r));
  });

  it('[PERP-3] [PERP-7] [PERP-2] three simulated price sources price both indexes; the professional client holds a position; the demo client is refused', async () => {
    const data = mkdtempSync(join(tmpdir(), 'junction-perps-demo-'));
    child = spawn(process.execPath, [NODE_JS, '--data', data, '--port', '0', '--fix-port', '0'], { stdio: ['ignore', 'pipe', 'pipe'] });
    let err = '';
    child.stderr!.on('data', (c: Buffer) => (err += c.toString()));
    const ready = await new Promise<{ url: string; keys: string; instruments: string[] }>((resolve) => {
      let out = '';
      child!.stdout!.on('data', (c: Buffer) => {
        out += c.toString();
        const line = out.split('\n').find((l) => l.includes('"ready"'));
        if (line) resolve(JSON.parse(line));
      });
    });
    expect(ready.instruments).toEqual(['BTC-USD', 'ETH-USD', 'BTC-PERP', 'ETH-PERP']);
    const keys = JSON.parse(readFileSync(ready.keys, 'utf8')) as { keyId: number; account: number; permission?: string }[];
    expect(keys.filter((k) => k.permission === 'price-source').map((k) => k.keyId)).toEqual([201, 202, 203]);
    // Within seconds the sources have priced both indexes, and the demo position is open.
    let listed: { instrument: string; degraded: boolean; sources: { source: string; status: string }[]; openInterest: string }[] = [];
    for (let i = 0; i < 100; i++) {
      const r = await run(['perps', 'market', '--url', ready.url, '--json']);
      listed = r.stdout.trim().split('\n').filter(Boolean).map((l) => JSON.parse(l));
      if (listed.length === 2 && listed.every((m) => !m.degraded && m.openInterest !== '0')) break;
      await new Promise((r) => setTimeout(r, 200));
    }
    expect(listed.map((m) => [m.instrument, m.degraded, m.sources.map((s) => `${s.source}:${s.status}`)])).toEqual([
      ['BTC-PERP', false, ['demo-src-1:used', 'demo-src-2:used', 'demo-src-3:used', 'book:none']],
      ['ETH-PERP', false, ['demo-src-1:used', 'demo-src-2:used', 'demo-src-3:used']],
    ]);
    expect(listed.map((m) => m.openInterest)).toEqual(['0.5', '5']);
    const account = await run(['account', '--url', ready.url, '--key-file', ready.keys, '--key-id', '112', '--json']);
    const figures = JSON.parse(account.stdout.trim());
    expect(figures.positions.map((p: { instrument: string; size: string }) => [p.instrument, p.size])).toEqual([['BTC-PERP', '0.5'], ['ETH-PERP', '-5']]);
    // The demo client (key 2, account 11) is not a professional investor.
    const refused = await run(['order', 'place', '--url', ready.url, '--key-file', ready.keys, '--key-id', '2', '--instrument', 'BTC-PERP', '--side', 'buy',
      '--price', '90000', '--qty', '0.01', '--json']);
    expect(JSON.parse(refused.stdout.trim())).toMatchObject({ exec: 'rejected', reason: 'NotProfessionalInvestor' });
    expect(err).toBe('');
  }, 60_000);
});
