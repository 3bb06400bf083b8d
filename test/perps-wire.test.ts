// The insurance fund (PERP-8) and post-event reports with ADL ranks (PERP-9) on the wire, end to end:
// the real node and gateway on loopback, SDK sessions of four accounts with positions and one
// without, a version-1 session, a public subscriber, and the `junction` command line. A batch in
// which an operator's withdrawal takes the fund to below its floor and a mark move then liquidates
// and auto-deleverages (the stage-4 scenario of perps-liquidation.test.ts): the depletion notice (the
// withdrawal's, said before the waterfall) and the waterfall's report must reach every holder once,
// the public channel once, and nobody else.
import { until } from './support/until.js';
import { runCli } from './support/cli.js';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { JunctionClient, type PerpAccountFigures, type PerpReportBody } from '../src/client/client.js';
import { newApiKeyPair } from '../src/gateway/ws/auth.js';
import { KeyStore, type Permission } from '../src/gateway/ws/key-store.js';
import { adlQuintiles } from '../src/gateway/ws/market-data.js';
import { encodePerpReport, PERP_REPORT_BODY_BYTES_MAX, publishedReport } from '../src/gateway/ws/perp-events.js';
import type { PostEventReport } from '../src/perps/liquidation.js';
import { WireTime } from '../src/protocol/time.js';
import { GatewayServer } from '../src/gateway/ws/server.js';
import { AccountKind, PLATFORM_CUSTODY } from '../src/ledger/model.js';
import { NodeRuntime } from '../src/pipeline/runtime.js';
import { NodeMetrics } from '../src/ops/metrics.js';
import * as sbe from '../src/protocol/codec.js';
import { ALICE, BOB, CAROL, DAVE, INSURANCE, PERP, PERPS, SOURCES, assessments, perpConfig } from './support/perps.js';
import { loggedOn, type WsSession } from './support/ws-session.js';


/** An account with no position (participant 3's second account). */
const EVE = 25;
const KEYS: [keyId: number, account: number, permission: Permission][] = [
  [1, ALICE, 'trade'], [2, CAROL, 'trade'], [3, DAVE, 'trade'], [4, BOB, 'trade'], [5, EVE, 'trade'], [6, ALICE, 'read'],
];
const KEY_OF = new Map(KEYS.map(([keyId, account, permission]) => [`${account}/${permission}`, keyId]));
/** The insurance fund counts as depleted at or below this. */
const FLOOR = 1_000;

/** The node's clock: 2026-11-30 08:10:00 UTC, moved only by the tests. */
let clockMs = Date.parse('2026-11-30T08:10:00Z');
let sourceTick = 0;

let node: NodeRuntime;
let gateway: GatewayServer;
let url: string;
const pems = new Map<number, string>();
/** Each account's version-2 session (its trade key), and what each heard. */
const sessions = new Map<number, JunctionClient>();
const heard = new Map<number, { notices: sbe.PerpNotice[]; reports: [sbe.PerpReport, PerpReportBody][]; figures: PerpAccountFigures[] }>();
/** ALICE's read key, logged on as a version-1 client. */
let v1: WsSession;
/** A public subscriber of the perpetual, without a logon. */
let watcher: JunctionClient;
const markets: sbe.PerpMarket[] = [];
const publicNotices: sbe.PerpNotice[] = [];
const publicReports: [sbe.PerpReport, PerpReportBody][] = [];


/** Every source prices the index at `price`, in one batch. */
async function prices(price: number): Promise<void> {
  const outcomes = await Promise.all(SOURCES.map((source) => node.submit({ type: 'price', source, underlying: 'BASE', price, sourceTs: clockMs * 1000 + ++sourceTick })));
  for (const o of outcomes) expect(o.ok, o.text).toBe(true);
}

async function order(account: number, side: number, price: number, qty: number): Promise<void> {
  const o = await node.submit({ type: 'order', account, instrument: PERP, side, orderType: 0, tif: 0, price, qty });
  expect(o.ok, o.text).toBe(true);
}

/** The ADL distribution the node's own ranks give: per side, how many positions in quintiles 1..5. */
function nodeDistribution(): { longs: number[]; shorts: number[] } {
  const perps = node.pipeline.perps;
  const out = { longs: [0, 0, 0, 0, 0], shorts: [0, 0, 0, 0, 0] };
  for (const [account, rank] of perps.adlRanks(PERP)) {
    const size = perps.accounts.get(account)!.positions.get(PERP)!.size;
    (size > 0 ? out.longs : out.shorts)[rank - 1]++;
  }
  return out;
}

const distributionOf = (m: sbe.PerpMarket) => ({
  longs: [m.adlLongs1, m.adlLongs2, m.adlLongs3, m.adlLongs4, m.adlLongs5], shorts: [m.adlShorts1, m.adlShorts2, m.adlShorts3, m.adlShorts4, m.adlShorts5],
});

const run = runCli;

beforeAll(async () => {
  const config = perpConfig({ perps: { ...PERPS, insuranceFloor: FLOOR } });
  config.accounts.push({ ...config.accounts.find((a) => a.id === BOB)!, id: EVE, kind: AccountKind.Client, custody: [PLATFORM_CUSTODY] });
  node = await NodeRuntime.open({ dataDir: mkdtempSync(join(tmpdir(), 'junction-perps-wire-')), config, clockMs: () => clockMs });
  const keyStore = new KeyStore(node.store);
  for (const [keyId, account, permission] of KEYS) {
    const pair = newApiKeyPair();
    pems.set(keyId, pair.privateKeyPem);
    await keyStore.putApiKey({ keyId, account, publicKey: pair.publicKey, permission });
  }
  for (const c of assessments([2, 3, 5, 6])) await node.submit(c);
  await node.submit({ type: 'deposit', key: 'bob', account: BOB, asset: 'QUOTE', amount: 4_000 });
  for (const a of [ALICE, CAROL, DAVE]) await node.submit({ type: 'deposit', key: `d${a}`, account: a, asset: 'QUOTE', amount: 1_000_000 });
  await prices(10_000);
  await node.drain();
  metrics.observe(node);
  gateway = new GatewayServer(node);
  url = gateway.url(await gateway.listen(0));
  for (const account of [ALICE, CAROL, DAVE, BOB, EVE]) {
    const keyId = KEY_OF.get(`${account}/trade`)!;
    const c = await JunctionClient.connect({ url, keyId, privateKeyPem: pems.get(keyId)!, reconnect: false });
    const h = { notices: [] as sbe.PerpNotice[], reports: [] as [sbe.PerpReport, PerpReportBody][], figures: c.perpAccount ? [c.perpAccount] : [] };
    c.on('perpNotice', (n) => h.notices.push(n));
    c.on('perpReport', (r, body) => h.reports.push([r, body]));
    c.on('perpAccount', (a, positions) => h.figures.push({ account: a, positions }));
    sessions.set(account, c);
    heard.set(account, h);
  }
  const readKey = KEY_OF.get(`${ALICE}/read`)!;
  v1 = await loggedOn(url, readKey, pems.get(readKey)!);
  watcher = await JunctionClient.subscribeOnly(url);
  watcher.on('perpMarket', (m) => markets.push(m));
  watcher.on('perpNotice', (n) => publicNotices.push(n));
  watcher.on('perpReport', (r, body) => publicReports.push([r, body]));
  await watcher.subscribePerp(PERP);
});

afterAll(async () => {
  for (const c of [...sessions.values(), watcher]) c?.close();
  v1?.ws.close();
  gateway?.close();
  await node?.close();
});

/** The node's metrics (the liquidation steps are counted from the waterfall). */
const metrics = new NodeMetrics();

describe('the insurance fund on the wire', () => {
  it('[PERP-8] PerpMarket carries the insurance fund\'s level, republished when it changes though the mark does not', async () => {
    expect(markets.at(-1)).toMatchObject({ instrument: PERP, mark: 10_000, insuranceFund: 0, insuranceDepleted: sbe.BooleanType.False });
    const before = markets.length;
    clockMs += 1_000;
    expect((await node.submit({ type: 'deposit', key: 'fund', account: INSURANCE, asset: 'QUOTE', amount: 1_700 })).ok).toBe(true);
    const m = await until(() => markets.length > before && markets.at(-1), 'the PerpMarket of the new fund level');
    expect(node.pipeline.perps.fundLevel()).toBe(1_700);
    expect(m).toMatchObject({ mark: 10_000, insuranceFund: 1_700, insuranceDepleted: sbe.BooleanType.False, asOfNs: BigInt(clockMs) * 1_000_000n });
    expect(markets.length).toBe(before + 1);
  });
});

describe('ADL ranks and the distribution', () => {
  it('[PERP-9] each position\'s ADL rank arrives in its PerpPositionUpdate, and the product\'s distribution in PerpMarket, as the node ranks them', async () => {
    // CAROL short 3 from 10,400 and ALICE long 3; DAVE short 4 from 10,000 and BOB long 4 on 4,000 (IM 4,000).
    await order(CAROL, 1, 10_400, 3);
    await order(ALICE, 0, 10_400, 3);
    await order(DAVE, 1, 10_000, 4);
    await order(BOB, 0, 10_000, 4);
    const ranks = node.pipeline.perps.adlRanks(PERP);
    // In profit at the mark (10,000) only CAROL: first of the shorts; BOB (even) ranks above ALICE (a loss).
    expect([ranks.get(CAROL), ranks.get(DAVE), ranks.get(BOB), ranks.get(ALICE)]).toEqual([5, 3, 5, 3]);
    for (const account of [ALICE, CAROL, DAVE, BOB]) {
      // A round trip: what the batches sent this session is in by its answer.
      await sessions.get(account)!.balances();
      const latest = heard.get(account)!.figures.at(-1)!;
      // ALICE's rank moved from 5 (the only long) to 3 when BOB's order made a second long: her
      // figures are sent again though nothing of hers changed.
      expect(latest.positions.map((p) => [p.size !== 0, p.adlRank]), `account ${account}`).toEqual([[true, ranks.get(account)]]);
      expect(latest.positions[0].adlRank).toBe(node.pipeline.perps.accountView(account).positions[0].adlRank);
    }
    expect(heard.get(ALICE)!.figures.map((f) => f.positions.map((p) => p.adlRank))).toEqual([[], [5], [3]]);
    // Two positions a side: quintiles 5 and 3 (the i-th of n is in 5 − ⌊5i ÷ n⌋).
    const m = await until(() => markets.find((x) => x.adlLongs5 === 1 && x.adlShorts3 === 1), 'the distribution');
    expect(distributionOf(m)).toEqual({ longs: [0, 0, 1, 0, 1], shorts: [0, 0, 1, 0, 1] });
    expect(distributionOf(m)).toEqual(nodeDistribution());
    expect(m.openInterest).toBe(7);
  });

  it('[PERP-9] the distribution is the node\'s ranking for any count of positions', () => {
    for (let n = 0; n <= 40; n++) {
      const q = [0, 0, 0, 0, 0];
      for (let i = 0; i < n; i++) q[5 - Math.floor((i * 5) / n) - 1]++;
      expect(adlQuintiles(n), `n = ${n}`).toEqual(q);
    }
  });
});

describe('a batch that depletes the fund and auto-deleverages', () => {
  let report: PerpReportBody;

  it('[PERP-8] the depletion notice reaches every holder\'s session once and the public channel once; a session without positions and a version-1 session get none', async () => {
    clockMs += 1_000;
    // In one batch: an operator withdraws 1,000 of the fund (700 left, below its floor of 1,000),
    // and the mark moves. BOB: 4,000 − 3,600 = 400 < maintenance 1,820: bankruptcy 9,000, no bids,
    // the fund cannot pay: ADL takes CAROL's 3 (rank 5) and 1 of DAVE's.
    const withdrawn = node.submit({ type: 'withdraw', key: 'fund-out', account: INSURANCE, asset: 'QUOTE', amount: 1_000 });
    await prices(9_100);
    expect((await withdrawn).ok).toBe(true);
    const perps = node.pipeline.perps;
    expect(perps.notices).toEqual([expect.objectContaining({ kind: 'insurance-depleted', fund: 700 })]);
    expect(perps.reports.length).toBe(1);
    [report] = perps.reports;
    // The depletion is the withdrawal's, said before the waterfall: the report's trigger is ADL alone.
    expect(report.triggers).toEqual(['adl']);
    const [notice] = perps.notices;
    const expected = {
      seq: notice.seq, asOfNs: BigInt(clockMs) * 1_000_000n, kind: sbe.PerpNoticeKind.InsuranceDepleted, fund: 700,
      text: 'the insurance fund is depleted (700): positions may be auto-deleveraged',
    };
    // Holders now (ALICE, DAVE) and those whose position the batch closed (BOB liquidated, CAROL deleveraged).
    for (const account of [ALICE, DAVE, BOB, CAROL]) {
      await until(() => heard.get(account)!.notices.length > 0 && heard.get(account)!.reports.length > 0, `account ${account}'s notice and report`);
    }
    await until(() => publicNotices.length > 0 && publicReports.length > 0, 'the public notice and report');
    await until(() => markets.at(-1)!.insuranceDepleted === sbe.BooleanType.True, 'the PerpMarket after');
    // A round trip on each remaining session: anything of that batch for it has arrived by then.
    for (const c of sessions.values()) await c.balances();
    const fundNotices = (account: number) => heard.get(account)!.notices.filter((n) => n.kind === sbe.PerpNoticeKind.InsuranceDepleted);
    for (const account of [ALICE, DAVE, BOB, CAROL]) expect(fundNotices(account), `account ${account}`).toEqual([expected]);
    // And each account the waterfall touched hears, alone, what it did to its position (PERP-10).
    const own = (account: number) => heard.get(account)!.notices.filter((n) => n.kind !== sbe.PerpNoticeKind.InsuranceDepleted).map((n) => [n.kind, n.text]);
    expect(own(BOB)).toEqual([[sbe.PerpNoticeKind.Liquidated, `your BASE-PERP long was liquidated: 4 at 9000 auto-deleveraged against opposite positions at its bankruptcy price (post-event report PER-${notice.seq})`]]);
    expect(own(CAROL)).toEqual([[sbe.PerpNoticeKind.Deleveraged, `your BASE-PERP short was auto-deleveraged: 3 at 9000 closed at a liquidated position's bankruptcy price (post-event report PER-${notice.seq})`]]);
    expect(own(DAVE)).toEqual([[sbe.PerpNoticeKind.Deleveraged, `your BASE-PERP short was auto-deleveraged: 1 at 9000 closed at a liquidated position's bankruptcy price (post-event report PER-${notice.seq})`]]);
    expect(own(ALICE)).toEqual([]);
    // Never on the public channel, nor to an account it did not touch.
    expect(publicNotices.map((n) => n.kind)).toEqual([sbe.PerpNoticeKind.InsuranceDepleted]);
    // The metrics count the waterfall's steps: one account taken in, two ADL closings (CAROL's 3, DAVE's 1).
    const text = await metrics.text();
    expect(text).toContain('junction_liquidation_steps_total{stage="cancel"} 1\n');
    expect(text).toContain('junction_liquidation_steps_total{stage="adl"} 2\n');
    expect(text).toContain('junction_liquidation_steps_total{stage="backstop"} 0\n');
    expect(publicNotices).toEqual([expected]);
    expect(heard.get(EVE)!.notices).toEqual([]);
    expect(heard.get(EVE)!.reports).toEqual([]);
    expect(v1.got.map((d) => d.type).filter((t) => t.startsWith('Perp'))).toEqual([]);
    expect(v1.closed).toBeUndefined();
    // The market says it too: the fund's level, depleted, and one position a side left.
    expect(markets.at(-1)).toMatchObject({ insuranceFund: 700, insuranceDepleted: sbe.BooleanType.True, mark: 9_100, openInterest: 3 });
    expect(distributionOf(markets.at(-1)!)).toEqual({ longs: [0, 0, 0, 0, 1], shorts: [0, 0, 0, 0, 1] });
    expect(distributionOf(markets.at(-1)!)).toEqual(nodeDistribution());
  });

  it('[PERP-9] the post-event report reaches holders and public subscribers as the node keeps it; `junction perps reports --json` prints the same; any key may fetch it', async () => {
    const perps = node.pipeline.perps;
    const nodeReport = JSON.parse(JSON.stringify(report));
    expect(nodeReport).toMatchObject({
      id: `PER-${report.seq}`, fundBefore: 700, fundAfter: 700,
      liquidated: [{ instrument: PERP, side: 'long', size: 4, bankruptcyPrice: 9_000 }],
      timeline: [{ stage: 'adl', instrument: PERP, qty: 3, price: 9_000, amount: 0 }, { stage: 'adl', instrument: PERP, qty: 1, price: 9_000, amount: 0 }],
      products: [expect.objectContaining({ symbol: 'BASE-PERP', mark: 9_100, index: 9_100 })],
    });
    // No identities: no account named anywhere in it.
    expect(JSON.stringify(report)).not.toContain('"account"');
    const wire = { seq: report.seq, asOfNs: BigInt(clockMs) * 1_000_000n, id: report.id, triggers: 'adl', body: JSON.stringify(report) };
    for (const account of [ALICE, DAVE, BOB, CAROL]) {
      expect(heard.get(account)!.reports, `account ${account}`).toEqual([[wire, nodeReport]]);
    }
    expect(publicReports).toEqual([[wire, nodeReport]]);
    // The positions after: DAVE short 3 is now the only short, in quintile 5; ALICE untouched.
    const dave = heard.get(DAVE)!.figures.at(-1)!;
    expect(dave.positions).toEqual([expect.objectContaining({ size: -3, adlRank: 5 })]);
    expect(heard.get(CAROL)!.figures.at(-1)!.positions).toEqual([expect.objectContaining({ size: 0, adlRank: 0 })]);
    expect(perps.accountView(ALICE).positions[0].size).toBe(3);

    // Fetched over the protocol by a key of an account with no position.
    const eve = sessions.get(EVE)!;
    expect(await eve.perpReports()).toEqual([nodeReport]);
    expect(await eve.perpReports(report.seq)).toEqual([]);
    expect(await eve.admin({ query: 'perp-reports', since: -1 })).toEqual({
      ok: false, reason: sbe.RejectReason.InvalidAdminCommand, body: { reasonName: 'InvalidAdminCommand', text: 'since must be a whole number: a node sequence (reports after it are listed)' },
    });

    // The command line, with that key.
    const keyFile = join(mkdtempSync(join(tmpdir(), 'junction-perps-wire-keys-')), 'keys.json');
    const keyId = KEY_OF.get(`${EVE}/trade`)!;
    writeFileSync(keyFile, JSON.stringify([{ keyId, privateKeyPem: pems.get(keyId) }]));
    const json = await run(['perps', 'reports', '--url', url, '--key-file', keyFile, '--json']);
    expect([json.code, json.stderr]).toEqual([0, '']);
    expect(json.stdout.trim().split('\n').map((l) => JSON.parse(l))).toEqual([nodeReport]);
    const human = await run(['perps', 'reports', '--url', url, '--key-file', keyFile]);
    expect(human.code).toBe(0);
    expect(human.stdout).toBe(
      `${report.id} at ${new Date(clockMs).toISOString()} (sequence ${report.seq}): adl. ` +
      `Market then: BASE-PERP mark 9100, index 9100 (src-1 used, src-2 used, src-3 used, book none). Liquidated: long 4 BASE-PERP (bankruptcy price 9000). ` +
      'Steps: auto-deleveraging closed 3 at 9000; auto-deleveraging closed 1 at 9000. Insurance fund 700 before, 700 after.\n\n',
    );
    const after = await run(['perps', 'reports', '--url', url, '--key-file', keyFile, '--since', String(report.seq)]);
    expect(after.stdout).toBe(`no post-event reports after sequence ${report.seq}\n`);
  });
});

describe('a report too large for a frame', () => {
  it('[PERP-9] lists its first positions and steps within 256 KiB and says how many there were; a report that fits goes whole', () => {
    const big: PostEventReport = {
      id: 'PER-9', seq: 9, ts: 1, triggers: ['backstop', 'adl'], products: [], fundBefore: 5, fundAfter: 5, text: 'many',
      liquidated: Array.from({ length: 20_000 }, (_, i) => ({ instrument: PERP, side: 'long' as const, size: i + 1, bankruptcyPrice: 9_000 })),
      timeline: Array.from({ length: 30_000 }, (_, i) => ({ stage: 'adl' as const, instrument: PERP, qty: i + 1, price: 9_000, amount: 0 })),
    };
    const published = publishedReport(big);
    const bytes = Buffer.byteLength(JSON.stringify(published));
    expect(bytes).toBeLessThanOrEqual(PERP_REPORT_BODY_BYTES_MAX);
    expect(published.cut).toEqual({ liquidated: 20_000, timeline: 30_000 });
    // Halved until it fits: the first entries, in order, as many of each.
    expect(published.liquidated).toEqual(big.liquidated.slice(0, published.liquidated.length));
    expect(published.timeline).toEqual(big.timeline.slice(0, published.liquidated.length));
    expect(published.liquidated.length).toBeGreaterThan(0);
    const decoded = sbe.decodeFrame(encodePerpReport(big, new WireTime()));
    expect(decoded.type).toBe('PerpReport');
    expect(JSON.parse((decoded.message as sbe.PerpReport).body)).toEqual(published);
    const small = { ...big, liquidated: big.liquidated.slice(0, 3), timeline: big.timeline.slice(0, 3) };
    expect(publishedReport(small)).toBe(small);
  });
});
