// Affiliated market makers on the wire (AFMM-1..5), end to end: the real node and gateway on
// loopback, operators designating an AFMM over the operator channel and from the command line (four
// eyes: one proposes, another approves), the audit trail, the public disclosure, and then the AFMM
// logged on and listening to everything it can while other clients, the house and a liquidation
// trade around it: every message it receives must be public or its own (the information barrier,
// policy.ts), its trades are flagged on the public tape, it never trades with the house, and its
// disclosed rate-limit preference is the one its sessions get.
import { until } from './support/until.js';
import { runCli } from './support/cli.js';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import WebSocket from 'ws';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { JunctionClient, type PerpReportBody } from '../src/client/client.js';
import { newApiKeyPair, signLogon } from '../src/gateway/ws/auth.js';
import type { Session } from '../src/gateway/ws/connection.js';
import { KeyStore, type Permission } from '../src/gateway/ws/key-store.js';
import { Policy } from '../src/gateway/ws/policy.js';
import { GatewayServer } from '../src/gateway/ws/server.js';
import { NodeRuntime } from '../src/pipeline/runtime.js';
import * as sbe from '../src/protocol/codec.js';
import { ALICE, BOB, CAROL, DAVE, PERP, SOURCES, SPOT, assessments, perpConfig } from './support/perps.js';


const HOUSE = 2;
/** DAVE's participant: the one designated an AFMM. */
const DAVE_PARTICIPANT = 6;
const OP_A = 900;
const OP_B = 901;
const ALICE_KEY = 1;
const CAROL_KEY = 2;
const DAVE_KEY = 3;
const DAVE_READ_KEY = 4;
/** An operator key set up for DAVE's account: once DAVE is an AFMM it may not operate the node. */
const OP_DAVE = 902;
const KEYS: [keyId: number, account: number, permission: Permission][] = [
  [OP_A, 0, 'operator'], [OP_B, 0, 'operator'], [OP_DAVE, DAVE, 'operator'], [ALICE_KEY, ALICE, 'trade'], [CAROL_KEY, CAROL, 'trade'], [DAVE_KEY, DAVE, 'trade'], [DAVE_READ_KEY, DAVE, 'read'],
];
const OFFICER = 'Jane Chan, Responsible Officer (SFC CE AAA123)';

let clockMs = Date.parse('2026-11-30T08:10:00Z');
let sourceTick = 0;
let node: NodeRuntime;
let gateway: GatewayServer;
let url: string;
const pems = new Map<number, string>();
const keyFiles = new Map<number, string>();
const clients: JunctionClient[] = [];


const run = runCli;

/** The command line with a key's file. */
const cli = (keyId: number, args: string[]) => run([...args, '--url', url, '--key-file', keyFiles.get(keyId)!]);

async function connect(keyId: number): Promise<JunctionClient> {
  const c = await JunctionClient.connect({ url, keyId, privateKeyPem: pems.get(keyId)!, reconnect: false });
  clients.push(c);
  return c;
}

/**
 * A raw websocket session that records every message it is sent, in order; logged on (with a key,
 * declaring schema version 2) or not. It sends what a client built on the schema sends.
 */
class Raw {
  readonly got: sbe.Decoded[] = [];
  /** The header of each message, as sent (blockLength, version), by position in `got`. */
  readonly headers: { blockLength: number; version: number }[] = [];
  closed: number | undefined;
  private readonly v = new DataView(new ArrayBuffer(1 << 16));

  private constructor(readonly ws: WebSocket) {
    ws.on('message', (data: Buffer) => {
      const frame = new Uint8Array(data);
      const view = new DataView(frame.buffer, frame.byteOffset, frame.byteLength);
      for (let at = 0; at < frame.byteLength;) {
        const end = sbe.messageEnd(view, at, frame.byteLength);
        this.headers.push({ blockLength: view.getUint16(at, true), version: view.getUint16(at + 6, true) });
        this.got.push(sbe.decodeFrame(frame.slice(at, end)));
        at = end;
      }
    });
    ws.on('close', (code) => (this.closed = code));
  }

  static async open(address: string, keyId?: number): Promise<Raw> {
    const raw = new Raw(new WebSocket(address));
    await new Promise((r) => raw.ws.once('open', r));
    if (keyId === undefined) return raw;
    const timestampNs = BigInt(Date.now()) * 1_000_000n;
    const nonce = Math.floor(Math.random() * 2 ** 48);
    raw.send((v) => sbe.encodeLogon(v, 0, {
      keyId, timestampNs, nonce, heartbeatMs: 60_000, cancelOnDisconnect: sbe.BooleanType.False, signature: signLogon(pems.get(keyId)!, keyId, timestampNs, nonce), schemaVersion: 2,
    }));
    await until(() => raw.got.some((d) => d.type === 'LogonAck'), 'the LogonAck');
    return raw;
  }

  send(encode: (v: DataView) => number): void {
    this.ws.send(new Uint8Array(this.v.buffer, 0, encode(this.v)));
  }

  of<T extends sbe.Decoded['type']>(type: T): Extract<sbe.Decoded, { type: T }>['message'][] {
    return this.got.filter((d) => d.type === type).map((d) => d.message) as never;
  }
}

async function prices(price: number): Promise<void> {
  const outcomes = await Promise.all(SOURCES.map((source) => node.submit({ type: 'price', source, underlying: 'BASE', price, sourceTs: clockMs * 1000 + ++sourceTick })));
  for (const o of outcomes) expect(o.ok, o.text).toBe(true);
}

async function nodeOrder(account: number, instrument: number, side: number, price: number, qty: number): Promise<number> {
  const o = await node.submit({ type: 'order', account, instrument, side, orderType: 0, tif: 0, price, qty });
  expect(o.ok, o.text).toBe(true);
  return o.orderId!;
}

beforeAll(async () => {
  node = await NodeRuntime.open({ dataDir: mkdtempSync(join(tmpdir(), 'junction-afmm-')), config: perpConfig(), clockMs: () => clockMs });
  const keyStore = new KeyStore(node.store);
  const dir = mkdtempSync(join(tmpdir(), 'junction-afmm-keys-'));
  for (const [keyId, account, permission] of KEYS) {
    const pair = newApiKeyPair();
    pems.set(keyId, pair.privateKeyPem);
    // The two operators are two people (four eyes, AFMM-5).
    const person = keyId === OP_A ? 'Ann Operator' : keyId === OP_B ? 'Ben Operator' : undefined;
    await keyStore.putApiKey({ keyId, account, publicKey: pair.publicKey, permission, ...(person ? { person } : {}) });
    const file = join(dir, `${keyId}.json`);
    writeFileSync(file, JSON.stringify([{ keyId, privateKeyPem: pair.privateKeyPem }]));
    keyFiles.set(keyId, file);
  }
  for (const c of assessments([2, 3, 5, 6])) await node.submit(c);
  for (const [account, asset, amount] of [
    [ALICE, 'QUOTE', 1_000_000], [CAROL, 'QUOTE', 1_000_000], [DAVE, 'QUOTE', 1_000_000], [BOB, 'QUOTE', 4_000],
    [ALICE, 'BASE', 100], [DAVE, 'BASE', 100], [HOUSE, 'BASE', 100],
  ] as const) {
    expect((await node.submit({ type: 'deposit', key: `d-${account}-${asset}`, account, asset, amount })).ok).toBe(true);
  }
  await prices(10_000);
  await node.drain();
  gateway = new GatewayServer(node);
  url = gateway.url(await gateway.listen(0));
});

afterAll(async () => {
  for (const c of clients) c.close();
  gateway?.close();
  await node?.close();
});

describe('designation over the operator channel and the command line', () => {
  it('[AFMM-1] [AFMM-5] one operator proposes, another approves; the same operator cannot; a preference that cannot exist is refused by name; the disclosure is public and the audit the operators\'', async () => {
    const proposed = await cli(OP_A, ['afmm', 'designate', '--participant', String(DAVE_PARTICIPANT), '--officer', OFFICER, '--json']);
    expect([proposed.code, proposed.stderr]).toEqual([0, '']);
    const { change, seq } = JSON.parse(proposed.stdout.trim());
    expect(JSON.parse(proposed.stdout.trim())).toEqual({ ok: true, action: 'afmm.designate', seq: change, change });
    expect(seq).toBe(node.pipeline.afmm.audit[0].seq);
    expect(node.pipeline.afmm.isAfmm(DAVE)).toBe(false);
    // Not by the key that proposed it.
    const self = await cli(OP_A, ['afmm', 'approve', '--change', String(change)]);
    expect([self.code, self.stdout.trim()]).toEqual([1, `refused: InvalidAdminCommand: change ${change} was proposed by operator ${OP_A}: a different operator must approve it`]);
    const approved = await cli(OP_B, ['afmm', 'approve', '--change', String(change)]);
    expect([approved.code, approved.stdout.trim()]).toEqual([0, `applied: afmm.approve change ${change} (seq ${node.lastSequence})`]);
    expect(node.pipeline.afmm.isAfmm(DAVE)).toBe(true);
    // Only a fee tier or a rate limit can be configured: anything else is refused by name.
    const latency = await cli(OP_B, ['afmm', 'entry', '--participant', String(DAVE_PARTICIPANT), '--id', 'fast', '--kind', 'latency', '--risk-text', 'x']);
    expect([latency.code, latency.stdout.trim()]).toEqual([1, "refused: InvalidAdminCommand: entry.kind latency cannot be configured: every participant's orders take the same path to the same sequencer"]);
    const bare = await cli(OP_B, ['afmm', 'entry', '--participant', String(DAVE_PARTICIPANT), '--id', 'fee', '--kind', 'fee', '--risk-text', 'r']);
    expect([bare.code, bare.stderr]).toEqual([2, 'junction afmm: --fee-tier is required for a fee entry\n' + usageOf('afmm')]);
    // A proposal in words names its change id and how to approve it; a second operator may reject it.
    const revoke = await cli(OP_B, ['afmm', 'revoke', '--participant', String(DAVE_PARTICIPANT), '--reason', 'affiliation ended']);
    const revokeChange = node.lastSequence;
    expect([revoke.code, revoke.stdout.trim()]).toEqual([0,
      `proposed: afmm.revoke participant ${DAVE_PARTICIPANT} as change ${revokeChange} (seq ${revokeChange}); another operator approves it: junction afmm approve --change ${revokeChange}`]);
    const rejected = await cli(OP_A, ['afmm', 'reject', '--change', String(revokeChange), '--reason', 'not yet: notice period']);
    expect(rejected.code).toBe(0);
    expect(node.pipeline.afmm.isAfmm(DAVE)).toBe(true);

    // The disclosure: any key.
    const list = await cli(ALICE_KEY, ['afmm', 'list']);
    expect([list.code, list.stderr]).toEqual([0, '']);
    const since = new Date(Math.floor(node.pipeline.afmm.records.get(DAVE_PARTICIPANT)!.since / 1000)).toISOString();
    expect(list.stdout.split('\n').slice(0, 2)).toEqual([
      `participant ${DAVE_PARTICIPANT} (dave): affiliated market maker since ${since}; responsible officer ${OFFICER}`, '  no preferences',
    ]);
    const listJson = await cli(ALICE_KEY, ['afmm', 'list', '--json']);
    expect(JSON.parse(listJson.stdout.trim())).toEqual(node.pipeline.afmm.disclosures()[0]);

    // The audit: operators only, every step with who and when.
    const audit = await cli(OP_B, ['audit', '--json']);
    expect(audit.code).toBe(0);
    const trail = JSON.parse(audit.stdout.trim());
    expect(trail).toEqual({ audit: JSON.parse(JSON.stringify(node.pipeline.afmm.audit)), total: 4, pending: [] });
    // Each step names the operator key and the person who holds it (the gateway carries it into the command).
    expect(trail.audit.map((a: { change: number; event: string; operator: number; person: string; what: { action: string } }) => [a.change, a.event, a.operator, a.person, a.what.action])).toEqual([
      [change, 'proposed', OP_A, 'Ann Operator', 'afmm.designate'], [change, 'approved', OP_B, 'Ben Operator', 'afmm.designate'],
      [revokeChange, 'proposed', OP_B, 'Ben Operator', 'afmm.revoke'], [revokeChange, 'rejected', OP_A, 'Ann Operator', 'afmm.revoke'],
    ]);
    const conflicted = await cli(OP_DAVE, ['audit']);
    expect([conflicted.code, conflicted.stderr.trim()]).toEqual([1,
      `junction audit: refused: OperatorOnly (217): only an operator API key may send this [templateId: acts for account ${DAVE} of an AFMM: may not operate the node]`]);
    const auditHuman = await cli(OP_B, ['audit']);
    expect(auditHuman.stdout.split('\n')[0].split(/\s+/)).toEqual(['change', 'seq', 'at', 'event', 'operator', 'what', 'detail']);
    expect(auditHuman.stdout).toContain(`designate participant ${DAVE_PARTICIPANT} (officer ${OFFICER})`);
    expect(auditHuman.stdout).toContain(`${OP_B} (Ben Operator)`);
    const notOperator = await cli(ALICE_KEY, ['audit']);
    expect([notOperator.code, notOperator.stderr.trim()]).toEqual([1,
      "junction audit: refused: OperatorOnly (217): only an operator API key may send this [templateId: needs an operator key; this key's permission is trade]"]);
  });

  it('[AFMM-1] the operator channel takes the perpetuals\' and the AFMM actions, checked before they are journaled, and names every action it knows', async () => {
    const op = await connect(OP_A);
    const assess = await op.admin({ action: 'investor.assess', participant: 3, professional: true, assessor: 'desk', assessedOn: '2026-11-01', expires: '2027-12-31', result: 'pass' });
    expect(assess).toEqual({ ok: true, reason: 0, body: { seq: node.lastSequence } });
    expect(node.pipeline.perps.assessments.get(3)).toMatchObject({ assessor: 'desk', operator: OP_A });
    const before = node.lastSequence;
    expect(await op.admin({ action: 'backstop.set', backstop: { account: CAROL, capacity: 5, status: 'sometimes' } })).toEqual({
      ok: false, reason: sbe.RejectReason.InvalidAdminCommand, body: { reasonName: 'InvalidAdminCommand', text: 'status must be active or suspended' },
    });
    expect(await op.admin({ action: 'afmm.approve', change: 0 })).toMatchObject({ ok: false, body: { text: 'change must be a whole number from 1 to 9007199254740991' } });
    expect(node.lastSequence).toBe(before);
    const unknown = await op.admin({ action: 'format.disk' });
    expect(unknown.body.text).toBe('unknown action "format.disk": one of jurisdiction.set, venue.add, venue.update, venue.suspend, venue.reinstate, venue.client.add, ' +
      'custody.attest, custody.release, compensation.set, compensation.minimum, compensation.payout, settlement.config, settlement.confirm, settlement.fail, ' +
      'investor.assess, collateral.set, perp.set, backstop.set, afmm.designate, afmm.revoke, afmm.entry.set, afmm.entry.remove, afmm.approve, afmm.reject');
  });

});

/** The usage lines a usage error prints after its message. */
function usageOf(command: string): string {
  return `usage: junction ${command} list\n       junction afmm designate --participant N --officer TEXT\n       junction afmm revoke --participant N --reason TEXT\n` +
    '       junction afmm entry --participant N --id ID --kind fee --fee-tier T --risk-text TEXT\n' +
    '       junction afmm entry --participant N --id ID --kind rate-limit --orders-per-second R --risk-text TEXT\n' +
    '       junction afmm entry --participant N --id ID --remove\n       junction afmm approve --change N\n       junction afmm reject --change N --reason TEXT\n';
}

describe('the information barrier', () => {
  it('[AFMM-2] the policy: public data to anyone; a key\'s stream, an account\'s data, operator data only to theirs; never operator data to an AFMM\'s session', () => {
    const stats = { policyDrops: 0 };
    const policy = new Policy((account) => account === DAVE, stats);
    const session = (keyId: number, account: number, permission: Permission) => ({ key: { keyId }, account, permission } as unknown as Session);
    const dave = session(DAVE_KEY, DAVE, 'trade');
    const operator = session(OP_A, 0, 'operator');
    const T = sbe.TemplateId;
    const cases: [Session | undefined, number, Parameters<Policy['refusal']>[2], string | undefined][] = [
      [undefined, T.Trade, undefined, undefined],
      [dave, T.PerpReport, { audience: 'public' }, undefined],
      [dave, T.ExecutionReport, { audience: 'key', keyId: DAVE_KEY }, undefined],
      [dave, T.ExecutionReport, { audience: 'key', keyId: ALICE_KEY }, `key ${ALICE_KEY}'s ExecutionReport to key ${DAVE_KEY} (trade, account ${DAVE})`],
      [dave, T.Balances, { audience: 'account', account: ALICE }, `account ${ALICE}'s Balances to key ${DAVE_KEY} (trade, account ${DAVE})`],
      [session(OP_A, DAVE, 'operator'), T.PerpAccountUpdate, { audience: 'account', account: DAVE }, `account ${DAVE}'s PerpAccountUpdate to key ${OP_A} (operator, account ${DAVE})`],
      [dave, T.AdminResponse, { audience: 'operator' }, `operator data (AdminResponse) to key ${DAVE_KEY} (trade, account ${DAVE})`],
      [operator, T.AdminResponse, { audience: 'operator' }, undefined],
      // An operator key acting for an AFMM's account (none should) gets no operator data either.
      [session(OP_B, DAVE, 'operator'), T.AdminResponse, { audience: 'operator' }, `operator data (AdminResponse) to a session of an affiliated market maker's account ${DAVE}`],
      [dave, T.AdminResponse, undefined, 'AdminResponse must say whom it is for (public or own or operator)'],
      [dave, T.Trade, { audience: 'key', keyId: DAVE_KEY }, 'Trade is never key data'],
      [undefined, T.ExecutionReport, { audience: 'key', keyId: DAVE_KEY }, `key ${DAVE_KEY}'s ExecutionReport to a connection without a logon`],
      [dave, T.NewOrder, undefined, `template ${T.NewOrder} is not a message the gateway sends`],
    ];
    for (const [to, template, release, why] of cases) expect(policy.refusal(to, template, release), `${template} ${JSON.stringify(release)}`).toBe(why);
    expect(policy.allows(dave, T.Balances, { audience: 'account', account: ALICE })).toBe(false);
    expect(stats.policyDrops).toBe(1);
  });

  it('[AFMM-2] [AFMM-3] [AFMM-5] an AFMM listening to everything it may while others, the house and a liquidation trade gets only public data and its own; its trades are flagged on the tape; it never trades with the house', async () => {
    const dave = await Raw.open(url, DAVE_KEY);
    const v1Tape = await Raw.open(url);
    const tape = await JunctionClient.subscribeOnly(url);
    clients.push(tape);
    const trades: sbe.Trade[] = [];
    const reports: [sbe.PerpReport, PerpReportBody][] = [];
    tape.on('trade', (t) => trades.push(t));
    tape.on('perpReport', (r, body) => reports.push([r, body]));
    await tape.subscribeTrades(SPOT);
    await tape.subscribePerp(0);
    v1Tape.send((v) => sbe.encodeSubscribe(v, 0, { instrument: SPOT, channel: sbe.Channel.Trades }, 1));
    // Every public channel, and every query and request a participant's key may make.
    const requests = new Set<number>();
    let reqId = 500;
    const ask = (body: object) => {
      requests.add(++reqId);
      dave.send((v) => sbe.encodeAdminRequest(v, 0, { reqId, body: JSON.stringify(body) }));
    };
    dave.send((v) => sbe.encodeSubscribe(v, 0, { instrument: 0, channel: sbe.Channel.Book, schemaVersion: 2 }));
    for (const instrument of [SPOT, PERP]) {
      for (const channel of [sbe.Channel.Book, sbe.Channel.Trades]) dave.send((v) => sbe.encodeSubscribe(v, 0, { instrument, channel, schemaVersion: 2 }));
    }
    dave.send((v) => sbe.encodeSubscribe(v, 0, { instrument: 0, channel: sbe.Channel.Perp, schemaVersion: 2 }));
    const everyQuery = () => {
      for (const query of ['venues', 'jurisdictions', 'venue-events', 'custody-dues', 'settlement', 'audit', 'rulebook', 'perp-reports', 'afmm']) ask({ query });
      ask({ query: 'venue-clients', venue: 'venue-sg' });
      ask({ action: 'afmm.approve', change: 1 });
      dave.send((v) => sbe.encodeOpenOrdersRequest(v, 0, { reqId: ++reqId }));
      requests.add(reqId);
      dave.send((v) => sbe.encodeBalancesRequest(v, 0, { reqId: ++reqId }));
      requests.add(reqId);
      dave.send((v) => sbe.encodeReplayRequest(v, 0, { fromOutSeq: 1 }));
    };
    everyQuery();
    const sent = new Set<number>();
    const place = (clOrdId: number, instrument: number, side: number, price: number, qty: number, tif: number = sbe.TimeInForce.GTC) => {
      sent.add(clOrdId);
      dave.send((v) => sbe.encodeNewOrder(v, 0, { clOrdId, instrument, side: side as sbe.Side, ordType: sbe.OrdType.Limit, timeInForce: tif as sbe.TimeInForce, stpMode: sbe.StpMode.None, price, qty }));
    };
    const reportOf = (clOrdId: number, execType: sbe.ExecType) => until(() => dave.of('ExecutionReport').find((r) => r.clOrdId === clOrdId && r.execType === execType), `report ${clOrdId}`);
    const alice = await connect(ALICE_KEY);
    const carol = await connect(CAROL_KEY);

    // The AFMM quotes both sides; ALICE lifts its ask (the AFMM the maker).
    place(101, SPOT, sbe.Side.Sell, 10_010, 5);
    place(102, SPOT, sbe.Side.Buy, 9_990, 5);
    await reportOf(102, sbe.ExecType.New);
    await alice.place({ instrument: SPOT, side: sbe.Side.Buy, price: 10_010, qty: 2, timeInForce: sbe.TimeInForce.IOC });
    // It hits CAROL's bid (the AFMM the taker).
    await carol.place({ instrument: SPOT, side: sbe.Side.Buy, price: 9_995, qty: 3 });
    place(103, SPOT, sbe.Side.Sell, 9_995, 3, sbe.TimeInForce.IOC);
    await reportOf(103, sbe.ExecType.Fill);
    // Others trade with each other, and with the house.
    await alice.place({ instrument: SPOT, side: sbe.Side.Sell, price: 10_005, qty: 1 });
    await carol.place({ instrument: SPOT, side: sbe.Side.Buy, price: 10_005, qty: 1 });
    await nodeOrder(HOUSE, SPOT, sbe.Side.Sell, 10_008, 2);
    await carol.place({ instrument: SPOT, side: sbe.Side.Buy, price: 10_008, qty: 2, timeInForce: sbe.TimeInForce.IOC });
    // The house's ask crossed by the AFMM: never matched (AFMM-5), the AFMM's order cancelled as a self-trade would be.
    const houseAsk = await nodeOrder(HOUSE, SPOT, sbe.Side.Sell, 10_009, 2);
    place(104, SPOT, sbe.Side.Buy, 10_009, 2);
    const stp = await reportOf(104, sbe.ExecType.Cancelled);
    expect([stp.cancelReason, stp.leavesQty, stp.lastQty]).toEqual([sbe.CancelReason.SelfTrade, 0, 0]);
    expect(node.pipeline.orders.get(houseAsk)!.remaining).toBe(2);

    // Perpetuals: the AFMM short 4 against BOB's long 4, CAROL short 3 against ALICE; then BOB is
    // liquidated and auto-deleveraged against CAROL and the AFMM (the fund is empty: depleted).
    clockMs += 20_000;
    await prices(10_000);
    await nodeOrder(CAROL, PERP, sbe.Side.Sell, 10_400, 3);
    await nodeOrder(ALICE, PERP, sbe.Side.Buy, 10_400, 3);
    place(105, PERP, sbe.Side.Sell, 10_000, 4);
    await reportOf(105, sbe.ExecType.New);
    await nodeOrder(BOB, PERP, sbe.Side.Buy, 10_000, 4);
    clockMs += 1_000;
    await prices(9_100);
    expect(node.pipeline.perps.reports.map((r) => r.triggers)).toEqual([['insurance-depletion', 'adl']]);
    await until(() => reports.length === 1 && dave.of('PerpReport').length === 2, 'the report, public and to the AFMM (a holder)');
    // Everything again after the events, then a round trip: all of it is in.
    everyQuery();
    const last = reqId;
    await until(() => dave.of('Balances').some((b) => b.reqId === last) && dave.of('ReplayComplete').length === 2, 'the answers');
    await until(() => v1Tape.of('Trade').length === 4 && trades.length === 4, 'the tapes');

    // Each message the AFMM received: public, or its own.
    const orders = new Set(dave.of('ExecutionReport').map((r) => r.orderId));
    const publicReports = reports.map(([r]) => r);
    const seen = new Map<string, number>();
    for (const d of dave.got) {
      seen.set(d.type, (seen.get(d.type) ?? 0) + 1);
      const m = d.message as never as Record<string, unknown>;
      switch (d.type) {
        case 'InstrumentList': case 'BookSnapshot': case 'BookUpdate': case 'Trade': case 'SubscribeAck': case 'PerpMarket': case 'PerpNotice':
          break; // public: no identities in them
        case 'PerpReport':
          expect(publicReports, 'a report as published').toContainEqual(d.message);
          expect(d.message.body).not.toContain('"account"');
          break;
        case 'LogonAck':
          expect(m.account).toBe(DAVE);
          break;
        case 'ExecutionReport':
          expect(sent.has(d.message.clOrdId), `report of clOrdId ${d.message.clOrdId}`).toBe(true);
          break;
        case 'OpenOrders':
          expect(requests.has(d.message.reqId)).toBe(true);
          for (const o of d.message.orders) expect(orders.has(o.orderId) && sent.has(o.clOrdId), `open order ${o.orderId}`).toBe(true);
          break;
        case 'Balances':
          expect(requests.has(d.message.reqId)).toBe(true);
          expect(d.message.balances).toEqual(expect.arrayContaining([expect.objectContaining({ asset: 'QUOTE' })]));
          break;
        case 'PerpAccountUpdate': case 'PerpPositionUpdate':
          expect(m.account).toBe(DAVE);
          break;
        case 'AdminResponse':
          expect(requests.has(d.message.reqId)).toBe(true);
          break;
        case 'SessionReject':
          expect([requests.has(d.message.refClOrdId), d.message.reason]).toEqual([true, sbe.RejectReason.OperatorOnly]);
          break;
        case 'ReplayComplete': case 'Heartbeat':
          break;
        default:
          throw new Error(`the AFMM received a ${d.type}`);
      }
    }
    // Its balances are its own, as the node holds them.
    const balances = dave.of('Balances').at(-1)!.balances;
    const ledger = node.ledger;
    expect(balances.find((b) => b.asset === 'QUOTE')!.available).toBe(ledger.balance(DAVE, ledger.assetIndex.get('QUOTE')!).available);
    // The public queries answered, the operators' refused (the action too): each asked twice.
    const answers = dave.of('AdminResponse').map((a) => JSON.parse(a.body));
    expect(answers.length).toBe(6);
    expect(dave.of('SessionReject').length).toBe(16);
    expect(answers.filter((a) => 'text' in a && 'version' in a).length).toBe(2); // the rulebook
    expect(answers.filter((a) => 'afmms' in a).map((a) => a.afmms)).toEqual([node.pipeline.afmm.disclosures(), node.pipeline.afmm.disclosures()]);
    expect(answers.filter((a) => 'reports' in a).map((a) => a.reports.length)).toEqual([0, 1]);
    // It heard of the liquidation only through the public report and notice, and of its own position.
    // The public channel's and its own as a holder, and what ADL did to its own position (to it alone).
    expect(seen.get('PerpNotice')).toBe(3);
    expect(dave.of('PerpNotice').filter((n) => n.kind === sbe.PerpNoticeKind.Deleveraged).map((n) => n.text)).toEqual([expect.stringMatching(/^your BASE-PERP short was auto-deleveraged: 1 at 9000 closed at a liquidated position's bankruptcy price \(post-event report PER-\d+\)$/)]);
    expect(dave.of('PerpPositionUpdate').at(-1)).toMatchObject({ account: DAVE, instrument: PERP, size: -3 });
    expect(gateway.stats.policyDrops).toBe(0);

    // AFMM-3: the tape says which party was an AFMM; a version-1 subscriber gets the version-1 layout.
    expect(trades.map((t) => [t.price, t.qty, t.afmm])).toEqual([
      [10_010, 2, sbe.AfmmSide.Maker], [9_995, 3, sbe.AfmmSide.Taker], [10_005, 1, sbe.AfmmSide.None], [10_008, 2, sbe.AfmmSide.None],
    ]);
    expect(dave.of('Trade').filter((t) => t.instrument === SPOT)).toEqual(trades);
    const v1Trades = v1Tape.got.map((d, i) => [d, v1Tape.headers[i]] as const).filter(([d]) => d.type === 'Trade');
    expect(v1Trades.map(([, h]) => h)).toEqual(Array(4).fill({ blockLength: sbe.TRADE_BLOCK_LENGTH - 1, version: 1 }));
    expect(v1Trades.map(([d]) => d.message)).toEqual(trades.map((t) => ({ ...t, afmm: sbe.AfmmSide.None })));
    dave.ws.close();
    v1Tape.ws.close();
  });
});

describe('the AFMM\'s disclosed rate limit', () => {
  it('[AFMM-4] an approved rate-limit entry is the order rate of the AFMM\'s sessions, disclosed at logon and in the public list; everyone else keeps the gateway\'s', async () => {
    const a = await connect(OP_A);
    const b = await connect(OP_B);
    const proposed = await a.admin({ action: 'afmm.entry.set', participant: DAVE_PARTICIPANT, entry: { id: 'mm-rate', kind: 'rate-limit', ordersPerSecond: 10, riskText: 'The AFMM may send five times the orders others may: it can refresh quotes faster.' } });
    expect(proposed).toEqual({ ok: true, reason: 0, body: { seq: proposed.body.change, change: proposed.body.change, text: `change ${proposed.body.change} proposed: it takes effect when another operator approves it (afmm.approve)` } });
    expect((await b.admin({ action: 'afmm.approve', change: proposed.body.change })).ok).toBe(true);
    expect(node.pipeline.afmm.ordersPerSecond(DAVE)).toBe(10);
    // A gateway whose limit is 2 orders/s with a burst of 4 (two seconds' worth).
    await node.drain();
    const slow = new GatewayServer(node, { limits: { perKeyPerSecond: 2, perConnectionPerSecond: 2, burst: 4 } });
    try {
      const address = slow.url(await slow.listen(0));
      const dave = await Raw.open(address, DAVE_KEY);
      const alice = await Raw.open(address, ALICE_KEY);
      expect([dave.of('LogonAck')[0].ordersPerSecond, alice.of('LogonAck')[0].ordersPerSecond]).toEqual([10, 2]);
      // 30 orders at once from each: the AFMM's burst is the same two seconds' worth of its rate (20).
      for (const [raw, base] of [[dave, 1_000], [alice, 2_000]] as const) {
        raw.send((v) => sbe.encodeBatchNewOrders(v, 0, {
          orders: Array.from({ length: 30 }, (_, i) => ({
            clOrdId: base + i, instrument: SPOT, side: sbe.Side.Buy, ordType: sbe.OrdType.Limit, timeInForce: sbe.TimeInForce.GTC, stpMode: sbe.StpMode.None, price: 9_000, qty: 1,
          })),
        }));
      }
      await until(() => dave.of('ExecutionReport').length + dave.of('SessionReject').length === 30, "the AFMM's answers");
      await until(() => alice.of('ExecutionReport').length + alice.of('SessionReject').length === 30, "ALICE's answers");
      expect([dave.of('ExecutionReport').length, dave.of('SessionReject').length]).toEqual([20, 10]);
      expect([alice.of('ExecutionReport').length, alice.of('SessionReject').length]).toEqual([4, 26]);
      expect(dave.of('SessionReject')[0]).toMatchObject({ reason: sbe.RejectReason.RateLimited, refClOrdId: 1_020, text: expect.stringMatching(/^per-key limit 10 orders\/s; next in \d+ ms$/) });
      expect(alice.of('SessionReject')[0]).toMatchObject({ reason: sbe.RejectReason.RateLimited, refClOrdId: 2_004, text: expect.stringMatching(/^per-key limit 2 orders\/s; next in \d+ ms$/) });
      dave.ws.close();
      alice.ws.close();
    } finally {
      slow.close();
    }
    // Disclosed to everyone with its risk; audited.
    const list = await cli(CAROL_KEY, ['afmm', 'list']);
    expect(list.stdout.split('\n')[1]).toBe('  mm-rate: 10 orders/s. Risk: The AFMM may send five times the orders others may: it can refresh quotes faster.');
    const trail = await a.admin({ query: 'audit', last: 2 });
    expect(trail.body.audit.map((r: { event: string; operator: number; what: { action: string } }) => [r.event, r.operator, r.what.action])).toEqual([
      ['proposed', OP_A, 'afmm.entry.set'], ['approved', OP_B, 'afmm.entry.set'],
    ]);
    expect(trail.body.total).toBe(6);
  });
});

// Last in the file: it changes the perpetuals' settings the tests above rely on.
describe('the perpetuals\' operator actions', () => {
  it('[PERP-2] [PERP-4] [PERP-6] [OPS-1] the perpetuals\' operator actions from the command line: an assessment, a collateral entry, a backstop provider, a product change; bad input named', async () => {
    const ok = async (args: string[], what: string) => {
      const r = await cli(OP_A, args);
      expect([r.code, r.stderr], args.join(' ')).toEqual([0, '']);
      expect(r.stdout.trim()).toBe(`applied: ${what} (seq ${node.lastSequence})`);
    };
    await ok(['perps', 'assess', '--participant', '3', '--professional', 'no', '--assessor', 'compliance desk', '--assessed-on', '2026-11-02', '--expires', '2027-11-02', '--result', 'fail'], 'investor.assess of participant 3');
    expect(node.pipeline.perps.assessments.get(3)).toMatchObject({ professional: false, result: 'fail', assessor: 'compliance desk', operator: OP_A });
    await ok(['perps', 'collateral', '--asset', 'STABLE', '--kind', 'stablecoin', '--haircut-bps', '300', '--status', 'active'], 'collateral.set for STABLE');
    expect(node.pipeline.perps.collateral.get('STABLE')).toEqual({ asset: 'STABLE', kind: 'stablecoin', haircutBps: 300, status: 'active' });
    await ok(['perps', 'backstop', '--account', String(CAROL), '--capacity', '25000', '--status', 'active'], `backstop.set for account ${CAROL}`);
    expect(node.pipeline.perps.backstops.get(CAROL)).toEqual({ account: CAROL, capacity: 25_000, status: 'active' });
    await ok(['perps', 'set', '--instrument', 'BASE-PERP', '--set', 'liquidationImpactBps=300'], 'perp.set on BASE-PERP');
    expect(node.pipeline.perps.products.get(PERP)!.p.liquidationImpactBps).toBe(300);
    // Refused by name: by the command line before anything is sent, or by the node.
    const before = node.lastSequence;
    const badResult = await cli(OP_A, ['perps', 'assess', '--participant', '3', '--professional', 'yes', '--assessor', 'x', '--assessed-on', '2026-11-02', '--expires', '2027-11-02', '--result', 'maybe']);
    expect([badResult.code, badResult.stderr.split('\n')[0]]).toEqual([2, 'junction perps: --result must be pass or fail, got maybe']);
    const junk = await cli(OP_A, ['perps', 'collateral', '--asset', 'JUNK', '--kind', 'equity', '--haircut-bps', '0', '--status', 'active']);
    expect([junk.code, junk.stderr.split('\n')[0]]).toEqual([2, 'junction perps: --kind must be fiat, stablecoin or tokenized-deposit, got equity']);
    const loose = await cli(OP_A, ['perps', 'set', '--instrument', 'BASE-PERP', '--set', 'tiers=[]']);
    expect([loose.code, loose.stdout.trim()]).toEqual([1, expect.stringMatching(/^refused: InvalidAdminCommand: /)]);
    const trader = await cli(ALICE_KEY, ['perps', 'backstop', '--account', String(CAROL), '--capacity', '1', '--status', 'active']);
    expect([trader.code, trader.stderr.trim()]).toEqual([1, "junction perps: refused: OperatorOnly (217): only an operator API key may send this [templateId: needs an operator key; this key's permission is trade]"]);
    // Only the node's refusal was sequenced (the command line's and the gateway's send nothing).
    expect(node.lastSequence).toBe(before + 1);
  });
});
