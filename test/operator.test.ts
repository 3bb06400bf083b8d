// Operators keep the venue registry and venue clients' custody over the websocket protocol
// (AdminRequest/AdminResponse), from the CLI and the SDK, against a real node on loopback: listings
// are read at once, changes are sequenced and journaled under the operator key and answered once
// durable, and a key without the operator permission is refused by name.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawn } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { JunctionClient, SessionRejectError } from '../src/client/client.js';
import * as sbe from '../src/protocol/codec.js';
import { gatewayNode, type GatewayNode } from './support/gateway-node.js';
import { BUYER, SELLER } from './support/node-config.js';
import { adminOk, fundReserve, OPERATOR, SG, venueInput, XX } from './support/venues.js';
import { loggedOn, type WsSession } from './support/ws-session.js';

const CLI = join(__dirname, '../dist/src/cli.js');
const TRADER = 1;
const READER = 2;
const dir = mkdtempSync(join(tmpdir(), 'junction-operator-'));
const keyFile = join(dir, 'keys.json');
let env: GatewayNode;

beforeAll(async () => {
  // The operator key acts for an account like any key (it never trades for it).
  env = await gatewayNode([[OPERATOR, BUYER, 'operator'], [TRADER, BUYER, 'trade'], [READER, SELLER, 'read']]);
  // The reserve fund covers the venues' unsettled limits (SL-17): room for ten test venues.
  await fundReserve(env.node, 10 * 100_000_000, 'reserve');
  writeFileSync(keyFile, JSON.stringify([...env.pems].map(([keyId, privateKeyPem]) => ({ keyId, privateKeyPem }))));
});
afterAll(() => env.close());

interface Run { code: number | null; stdout: string; stderr: string }

/** Runs the CLI against the node, as `keyId` (the operator unless given). */
function junction(args: string[], keyId = OPERATOR): Promise<Run> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [CLI, ...args, '--url', env.url, '--key-file', keyFile, '--key-id', String(keyId)], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    child.on('exit', (code) => resolve({ code, stdout, stderr }));
  });
}

/** Each --json line of a run that succeeded. */
async function lines(args: string[]): Promise<Record<string, unknown>[]> {
  const run = await junction([...args, '--json']);
  expect(run.stderr).toBe('');
  expect(run.code).toBe(0);
  return run.stdout.trim() === '' ? [] : run.stdout.trim().split('\n').map((l) => JSON.parse(l));
}

function jsonFile(name: string, value: unknown): string {
  const file = join(dir, name);
  writeFileSync(file, JSON.stringify(value));
  return file;
}

async function venueListed(code: string): Promise<Record<string, unknown>> {
  const listed = await lines(['venue', 'list', '--venue', code]);
  expect(listed.length).toBe(1);
  return listed[0];
}

describe('the operator channel from the command line', () => {
  it('[SL-7] [OPS-1] an operator adds a jurisdiction and a venue through the CLI, listed eligible; a non-operator key is refused', async () => {
    const set = await junction(['jurisdiction', 'set', '--code', 'SG', '--name', 'Singapore', '--fatf', 'member', '--fatf-consistent', 'yes',
      '--iosco-consistent', 'yes', '--assessed-on', '2026-06-30', '--source', 'FATF MER follow-up 2026', '--json']);
    expect([set.code, set.stderr]).toEqual([0, '']);
    expect(JSON.parse(set.stdout)).toEqual({ ok: true, action: 'jurisdiction.set', seq: expect.any(Number) });
    const sg = venueInput('venue-sg', 'SGX1');
    const added = await junction(['venue', 'add', '--file', jsonFile('venue-sg.json', sg.input)]);
    expect(added.code).toBe(0);
    expect(added.stdout).toMatch(/^applied: venue\.add venue-sg \(seq \d+\)\n$/);

    const listed = await venueListed('venue-sg');
    expect(listed).toEqual({
      ...sg.input, status: 'active', statusReason: '', participant: expect.any(Number), settlementAccount: expect.any(Number), eligible: true, ineligibility: null, clientCount: 0,
      exposure: { owed: 0, reserved: 0, total: 0, limit: 100_000_000, asset: 'QUOTE' },
    });
    // The venue's public key is shown; nothing private is (the node holds none).
    expect(Object.keys(listed).filter((k) => /private|secret/i.test(k))).toEqual([]);
    expect(await lines(['jurisdiction', 'list'])).toEqual([{
      code: 'SG', name: 'Singapore', fatf: 'member', fatfConsistent: true, ioscoConsistent: true, assessedOn: '2026-06-30',
      source: 'FATF MER follow-up 2026', venues: ['venue-sg'],
    }]);
    // Applied by the node, journaled under the operator key.
    const registry = env.node.pipeline.venues.registry;
    expect(registry.venues.get('venue-sg')?.status).toBe('active');
    expect(registry.events.filter((e) => e.venue === 'venue-sg').map((e) => [e.event, e.operator])).toEqual([['added', OPERATOR]]);

    const table = (await junction(['venue', 'list'])).stdout.split('\n');
    expect(table[0].split(/\s+/)).toEqual(['code', 'name', 'jurisdiction', 'status', 'reason', 'eligible', 'ineligibility', 'licence', 'expires', 'custody', 'clients', 'exposure']);
    expect(table[1].split(/\s{2,}/)).toEqual(['venue-sg', 'venue-sg exchange', 'SG', 'active', '-', 'yes', '-', 'LIC-venue-sg', '2099-12-31', 'venue-sg-custody', '0', '0 / 100000000 QUOTE']);

    // A trading key and a read-only key may not administer: refused by the gateway, nothing changes.
    const trader = await junction(['venue', 'list'], TRADER);
    expect([trader.code, trader.stdout, trader.stderr.trim()]).toEqual([1, '',
      'junction venue: refused: OperatorOnly (217): only an operator API key may send this [templateId: needs an operator key; this key\'s permission is trade]']);
    const reader = await junction(['venue', 'suspend', '--venue', 'venue-sg', '--reason', 'not mine to say'], READER);
    expect([reader.code, reader.stderr.trim()]).toEqual([1,
      'junction venue: refused: OperatorOnly (217): only an operator API key may send this [templateId: needs an operator key; this key\'s permission is read]']);
    expect(registry.venues.get('venue-sg')?.status).toBe('active');
  });

  it('[SL-7] a venue whose jurisdiction is not FATF is added suspended; it cannot be reinstated; a suspension names its reason and its operator', async () => {
    await adminOk(env.node, { action: 'jurisdiction.set', jurisdiction: SG });
    expect((await junction(['jurisdiction', 'set', '--file', jsonFile('xx.json', XX)])).stdout).toMatch(/^applied: jurisdiction\.set XX \(seq \d+\)\n$/);
    const xx = venueInput('venue-xx', 'XXX1', { jurisdiction: 'XX' });
    expect((await junction(['venue', 'add', '--file', jsonFile('venue-xx.json', xx.input)])).code).toBe(0);
    expect(await venueListed('venue-xx')).toMatchObject({ status: 'suspended', statusReason: 'JurisdictionNotFatf', eligible: false, ineligibility: 'JurisdictionNotFatf' });

    const reinstate = await junction(['venue', 'reinstate', '--venue', 'venue-xx', '--json']);
    expect(reinstate.code).toBe(1);
    expect(JSON.parse(reinstate.stdout)).toEqual({
      ok: false, reason: 'VenueNotEligible', code: 116,
      text: 'venue venue-xx cannot be reinstated: JurisdictionNotFatf: the jurisdiction is neither a FATF member nor a member of a FATF-style regional body',
    });
    const human = await junction(['venue', 'reinstate', '--venue', 'venue-xx']);
    expect([human.code, human.stdout.trim()]).toEqual([1, 'refused: VenueNotEligible: venue venue-xx cannot be reinstated: JurisdictionNotFatf: the jurisdiction is neither a FATF member nor a member of a FATF-style regional body']);

    const hk = venueInput('venue-hk', 'HKX1');
    expect((await junction(['venue', 'add', '--file', jsonFile('venue-hk.json', hk.input)])).code).toBe(0);
    expect((await junction(['venue', 'suspend', '--venue', 'venue-hk', '--reason', 'licence review'])).stdout).toMatch(/^applied: venue\.suspend venue-hk \(seq \d+\)\n$/);
    // Suspended by the operator, though it still qualifies.
    expect(await venueListed('venue-hk')).toMatchObject({ status: 'suspended', statusReason: 'licence review', eligible: true, ineligibility: null });
    const again = await junction(['venue', 'suspend', '--venue', 'venue-hk', '--reason', 'twice', '--json']);
    expect([again.code, JSON.parse(again.stdout)]).toEqual([1, { ok: false, reason: 'InvalidAdminCommand', code: 117, text: 'venue venue-hk is already suspended: licence review' }]);
    expect((await junction(['venue', 'reinstate', '--venue', 'venue-hk'])).code).toBe(0);
    expect(await venueListed('venue-hk')).toMatchObject({ status: 'active', statusReason: '', eligible: true });

    // The audit trail: who did what (0 is the registry itself, suspending what stopped qualifying).
    const events = (venue: string) => lines(['venue', 'events', '--venue', venue]);
    expect((await events('venue-hk')).map((e) => [e.event, e.operator, e.detail])).toEqual([
      ['added', OPERATOR, JSON.stringify(hk.input)],
      ['suspended', OPERATOR, 'suspended by operator: licence review'],
      ['reinstated', OPERATOR, 'reinstated by operator'],
    ]);
    expect((await events('venue-xx')).map((e) => [e.event, e.operator])).toEqual([['added', OPERATOR], ['suspended', 0]]);
    const latest = await lines(['venue', 'events', '--venue', 'venue-hk', '--count', '1']);
    expect(latest.map((e) => e.event)).toEqual(['reinstated']);
    const table = (await junction(['venue', 'events', '--venue', 'venue-xx'])).stdout.split('\n');
    expect(table[0].split(/\s+/)).toEqual(['seq', 'time', 'venue', 'event', 'operator', 'detail']);
    expect(table[2]).toMatch(/^\d+\s+\d{4}-\d\d-\d\dT[\d:.]+Z\s+venue-xx\s+suspended\s+node\s+no longer eligible: the jurisdiction is neither/);
  });

  it('[SL-8] [SL-10] an operator adds a venue client, attests its assets and releases them; a release beyond what is available is refused', async () => {
    await adminOk(env.node, { action: 'jurisdiction.set', jurisdiction: SG });
    await adminOk(env.node, { action: 'venue.add', venue: venueInput('venue-c', 'CCX1').input });
    expect((await junction(['venue', 'client-add', '--venue', 'venue-c', '--client', 'C1'])).stdout).toMatch(/^applied: venue\.client\.add venue-c C1 \(seq \d+\)\n$/);
    const attest = ['venue', 'attest', '--venue', 'venue-c', '--client', 'C1', '--asset', 'QUOTE', '--amount', '5000', '--id', 'att-1'];
    expect((await junction(attest)).stdout).toMatch(/^applied: custody\.attest 5000 QUOTE for C1 of venue-c \(seq \d+\)\n$/);
    const account = env.node.pipeline.venues.registry.venues.get('venue-c')!.clients.C1;
    const quote = env.node.ledger.assetIndex.get('QUOTE')!;
    expect(await lines(['venue', 'clients', '--venue', 'venue-c'])).toEqual([{ client: 'C1', account, balances: [{ asset: 'QUOTE', available: 5000, held: 0 }] }]);

    const release = (amount: string, id: string) => junction(['venue', 'release', '--venue', 'venue-c', '--client', 'C1', '--asset', 'QUOTE', '--amount', amount, '--id', id, '--json']);
    const tooMuch = await release('6000', 'rel-1');
    expect([tooMuch.code, JSON.parse(tooMuch.stdout)]).toEqual([1, { ok: false, reason: 'InsufficientFunds', code: 105, text: 'client C1 has 5000 QUOTE available, not 6000' }]);
    expect(env.node.ledger.balance(account, quote).available).toBe(5000);
    expect((await release('2000', 'rel-2')).code).toBe(0);
    // The same attestation again changes nothing.
    expect((await junction(attest)).code).toBe(0);
    expect(env.node.ledger.balance(account, quote)).toMatchObject({ available: 3000, held: 0 });
    const table = (await junction(['venue', 'clients', '--venue', 'venue-c'])).stdout.split('\n');
    expect(table.slice(0, 2).map((l) => l.split(/\s+/))).toEqual([['client', 'account', 'asset', 'available', 'held'], ['C1', String(account), 'QUOTE', '3000', '0']]);
    const unknown = await junction(['venue', 'attest', '--venue', 'venue-c', '--client', 'C9', '--asset', 'QUOTE', '--amount', '1', '--id', 'att-9']);
    expect([unknown.code, unknown.stdout.trim()]).toEqual([1, 'refused: UnknownVenueClient: venue-c has no client C9']);

    // Changes: values as JSON when they parse; an unknown field is refused before it is sequenced.
    expect((await junction(['venue', 'update', '--venue', 'venue-c', '--set', 'feeTier=1', '--set', 'regulator=MAS Singapore'])).code).toBe(0);
    expect(await venueListed('venue-c')).toMatchObject({ feeTier: 1, regulator: 'MAS Singapore', clientCount: 1 });
    expect(env.node.ledger.accounts.get(account)!.feeTier).toBe(1);
    const sequenced = env.node.lastSequence;
    const colour = await junction(['venue', 'update', '--venue', 'venue-c', '--set', 'colour=red']);
    expect([colour.code, colour.stdout.trim()]).toEqual([1, 'refused: InvalidAdminCommand: unknown venue field colour']);
    expect(env.node.lastSequence).toBe(sequenced);

    // No fills across custody locations yet: nothing is owed.
    expect(await lines(['venue', 'dues'])).toEqual([]);
    expect((await junction(['venue', 'dues'])).stdout).toBe('gross: what each custody location owes another\n(none)\n\nnet: per pair of locations, the larger side owing the difference\n(none)\n');
  });

  it('[SL-15] [SL-17] [SL-18] settlement status shows exposure against limits and the reserve; compensation arrangements are set and listed, short coverage alerted', async () => {
    const [status] = await lines(['settlement', 'status']);
    const s = status as { venues: { venue: string; limit: number; total: number }[]; reserve: { asset: string; holds: number; limits: number }[] };
    expect(s.venues.length).toBeGreaterThan(0);
    for (const v of s.venues) expect([v.limit, v.total]).toEqual([100_000_000, 0]);
    expect(s.reserve).toEqual([{ asset: 'QUOTE', account: 2, holds: 10 * 100_000_000, limits: 100_000_000 * s.venues.length, expectedExposure: 0 }]);
    expect((await junction(['compensation', 'minimum', '--asset', 'QUOTE', '--amount', '5000000'])).code).toBe(0);
    const policy = { id: 'pol-x', kind: 'scheme', provider: 'Investor Compensation Fund', policyId: 'ICF-7', assets: ['QUOTE'], coverage: 4_000_000, coverageAsset: 'QUOTE', expires: '2099-01-31' };
    expect((await junction(['compensation', 'set', '--file', jsonFile('pol.json', policy)])).code).toBe(0);
    expect(await lines(['compensation', 'list'])).toEqual([{ ...policy }]);
    // 4,000,000 covered against a minimum of 5,000,000: short when the minimum was set, still short after the policy.
    const events = (await lines(['venue', 'events'])).filter((e) => e.venue === '*').map((e) => [e.event, e.operator]);
    expect(events).toEqual([['compensation-set', OPERATOR], ['compensation-short', 0], ['compensation-set', OPERATOR]]);
    const [after] = await lines(['settlement', 'status']);
    expect((after as { compensation: { coverage: unknown[] } }).compensation.coverage).toEqual([{ asset: 'QUOTE', coverage: 4_000_000, minimum: 5_000_000 }]);
    const bad = await junction(['compensation', 'set', '--file', jsonFile('bad.json', { ...policy, kind: 'bank' })]);
    expect([bad.code, bad.stdout.trim()]).toEqual([1, 'refused: InvalidAdminCommand: kind must be insurer or scheme']);
  });

  it('[SL-11] [SL-14] settlement cycles are configured, and batches listed, confirmed and failed through the CLI', async () => {
    const config = await junction(['settlement', 'config', '--intraday-minutes', '60', '--daily-cutoff', '17:00', '--deadline-minutes', '30']);
    expect([config.code, config.stdout.trim()]).toEqual([0, expect.stringMatching(/^applied: settlement.config cycles \(seq \d+\)$/)]);
    const [status] = await lines(['settlement', 'status']);
    expect((status as { cycles: { config: unknown } }).cycles.config).toEqual({ intradayMinutes: 60, dailyCutoffHkt: '17:00', deadlineMinutes: 30 });
    expect(await lines(['settlement', 'batches'])).toEqual([]);
    const missing = await junction(['settlement', 'confirm', '--batch', 'S1-1', '--leg', '0', '--reference', 'x']);
    expect([missing.code, missing.stdout.trim()]).toEqual([1, 'refused: InvalidAdminCommand: no settlement batch S1-1']);
    const bad = await junction(['settlement', 'config', '--intraday-minutes', '60', '--daily-cutoff', '25:00', '--deadline-minutes', '30']);
    expect([bad.code, bad.stdout.trim()]).toEqual([1, 'refused: InvalidAdminCommand: dailyCutoffHkt must be a time HH:MM (Hong Kong), got "25:00"']);
  });

  it('[SL-9] the rulebook is published from the parameters the node enforces; any key reads it; a change of a limit is a new version', async () => {
    const text = await junction(['rulebook'], TRADER);
    expect(text.code).toBe(0);
    expect(text.stdout).toMatch(/^# Rulebook of the shared order book — version [0-9a-f]{12} \(as of sequence \d+\)\n/);
    for (const title of ['Parties, roles and liabilities', 'Pre-funding and custody', 'Instructions', 'Execution', 'Settlement', 'Default management']) {
      expect(text.stdout).toContain(`. ${title}\n`);
    }
    const [before] = await lines(['rulebook']);
    const book = before as { version: string; sections: { id: string; parameters?: { reserve?: { expectedExposureHours: number }; venues?: { code: string; unsettledLimit: number }[] } }[] };
    expect(book.sections.map((s) => s.id)).toEqual(['parties', 'pre-funding', 'instructions', 'execution', 'settlement', 'default-management']);
    expect(book.sections.find((s) => s.id === 'settlement')!.parameters!.reserve!.expectedExposureHours).toBe(24);
    const sg = book.sections.find((s) => s.id === 'parties')!.parameters!.venues!.find((v) => v.code === 'venue-sg')!;
    expect(sg.unsettledLimit).toBe(100_000_000);
    // The limit the node enforces changes: so does the rulebook, under a new version.
    expect((await junction(['venue', 'update', '--venue', 'venue-sg', '--set', 'unsettledLimit=90000000'])).code).toBe(0);
    const [after] = await lines(['rulebook']);
    const next = after as typeof book;
    expect(next.version).not.toBe(book.version);
    expect(next.sections.find((s) => s.id === 'parties')!.parameters!.venues!.find((v) => v.code === 'venue-sg')!.unsettledLimit).toBe(90_000_000);
    // Other operator queries stay the operators'.
    const trader = await junction(['settlement', 'status'], TRADER);
    expect(trader.code).toBe(1);
  });

  it('[OPS-1] says what is wrong with a command before anything is sent', async () => {
    const noVenue = await junction(['venue', 'suspend', '--reason', 'x']);
    expect([noVenue.code, noVenue.stderr.split('\n')[0]]).toEqual([2, 'junction venue: --venue is required (the venue\'s code)']);
    const what = await junction(['venue', 'frob']);
    expect(what.stderr.split('\n')[0]).toBe('junction venue: unknown venue action frob: list, add, update, suspend, reinstate, events, clients, client-add, attest, release, dues');
    const both = await junction(['jurisdiction', 'set', '--file', 'j.json', '--code', 'SG']);
    expect([both.code, both.stderr.split('\n')[0]]).toEqual([2, 'junction jurisdiction: give --file or the flags, not both (--code)']);
    const yes = await junction(['jurisdiction', 'set', '--code', 'SG', '--name', 'S', '--fatf', 'member', '--fatf-consistent', 'maybe']);
    expect(yes.stderr.split('\n')[0]).toBe('junction jurisdiction: --fatf-consistent must be yes or no, got maybe');
    const missing = await junction(['venue', 'add', '--file', join(dir, 'nowhere.json')]);
    expect([missing.code, missing.stderr.trim()]).toEqual([1, `junction venue: cannot read the venue from ${join(dir, 'nowhere.json')}: no such file`]);
    const help = await junction(['venue', '--help']);
    expect(help.stdout.split('\n')[0]).toBe('usage: junction venue list [--venue CODE]');
  });
});

describe('AdminRequest over the protocol', () => {
  it('[OPS-1] [SL-7] the SDK lists and acts; a refused request is answered with the reason and text; a non-operator key gets a SessionReject', async () => {
    const operator = await JunctionClient.connect({ url: env.url, keyId: OPERATOR, privateKeyPem: env.pems.get(OPERATOR)!, reconnect: false });
    try {
      expect(operator.logonAck?.readOnly).toBe(sbe.BooleanType.True);
      const set = await operator.admin({ action: 'jurisdiction.set', jurisdiction: { ...SG, name: 'Republic of Singapore' } });
      expect(set).toEqual({ ok: true, reason: 0, body: { seq: env.node.lastSequence } });
      expect((await operator.admin({ query: 'jurisdictions' })).body.jurisdictions.find((j: { code: string }) => j.code === 'SG').name).toBe('Republic of Singapore');
      expect(await operator.admin({ action: 'clock' })).toEqual({
        ok: false, reason: sbe.RejectReason.InvalidAdminCommand, body: { reasonName: 'InvalidAdminCommand', text: 'clock is the node\'s own action, not an operator\'s' },
      });
      expect(await operator.admin({ query: 'venue-clients', venue: 'venue-nowhere' })).toEqual({
        ok: false, reason: sbe.RejectReason.UnknownVenue, body: { reasonName: 'UnknownVenue', text: 'no venue venue-nowhere' },
      });
      expect((await operator.admin({ query: 'orders' })).body.text).toBe('unknown query "orders": one of venues, jurisdictions, venue-events, custody-dues, venue-clients, settlement, audit, trades, rulebook, perp-reports, afmm');
      expect((await operator.admin({ query: 'venues', colour: 'red' })).body.text).toBe('query venues takes only venue, not colour');
      expect((await operator.admin({ hello: 1 })).body.text).toBe('it names neither a query nor an action: an AdminRequest body is a JSON object: {"query": "venues", ...} or {"action": "venue.add", ...}');
    } finally {
      operator.close();
    }
    const trader = await JunctionClient.connect({ url: env.url, keyId: TRADER, privateKeyPem: env.pems.get(TRADER)!, reconnect: false });
    try {
      const refused = await trader.admin({ query: 'venues' }).catch((e) => e);
      expect(refused).toBeInstanceOf(SessionRejectError);
      expect((refused as SessionRejectError).reject).toMatchObject({
        refTemplateId: sbe.TemplateId.AdminRequest, reason: sbe.RejectReason.OperatorOnly, text: 'needs an operator key; this key\'s permission is trade',
      });
    } finally {
      trader.close();
    }
  });

  it('[OPS-1] a body that is not JSON is answered with why, and the connection stays; an operator key may not trade', async () => {
    const s = await loggedOn(env.url, OPERATOR, env.pems.get(OPERATOR)!);
    const send = (encode: (v: DataView) => number) => {
      const v = new DataView(new ArrayBuffer(4096));
      s.ws.send(new Uint8Array(v.buffer, 0, encode(v)));
    };
    send((v) => sbe.encodeAdminRequest(v, 0, { reqId: 41, body: '{"query": venues}' }));
    send((v) => sbe.encodeAdminRequest(v, 0, { reqId: 42, body: '[1, 2]' }));
    send((v) => sbe.encodeAdminRequest(v, 0, { reqId: 43, body: '{"query": "custody-dues"}' }));
    send((v) => sbe.encodeNewOrder(v, 0, {
      clOrdId: 44, instrument: 1, side: sbe.Side.Buy, ordType: sbe.OrdType.Limit, timeInForce: sbe.TimeInForce.GTC, stpMode: sbe.StpMode.None, price: 1_000, qty: 1,
    }));
    const answers = await responses(s, 3);
    expect(answers[0]).toEqual({
      reqId: 41, ok: sbe.BooleanType.False, reason: sbe.RejectReason.InvalidAdminCommand,
      body: { reasonName: 'InvalidAdminCommand', text: expect.stringMatching(/^the body is not JSON \(Unexpected token .*\); an AdminRequest body is a JSON object/) },
    });
    expect(answers[1].body.text).toBe('an AdminRequest body is a JSON object: {"query": "venues", ...} or {"action": "venue.add", ...}');
    expect(answers[2]).toEqual({ reqId: 43, ok: sbe.BooleanType.True, reason: sbe.RejectReason.None, body: { gross: [], net: [] } });
    const reject = s.got.find((d) => d.type === 'SessionReject')?.message;
    expect(reject).toMatchObject({ reason: sbe.RejectReason.OperatorKey, refTemplateId: sbe.TemplateId.NewOrder, refClOrdId: 44, text: 'an operator API key may not trade' });
    expect(s.closed).toBeUndefined();
    s.ws.close();
  });

  it('[OPS-1] [AFMM-2] an operator key asking for open orders or balances is refused naming why, not left waiting (it is never sent an account\'s data)', async () => {
    const operator = await JunctionClient.connect({ url: env.url, keyId: OPERATOR, privateKeyPem: env.pems.get(OPERATOR)!, reconnect: false });
    try {
      for (const [ask, template] of [[() => operator.openOrders(), sbe.TemplateId.OpenOrdersRequest], [() => operator.balances(), sbe.TemplateId.BalancesRequest]] as const) {
        const refused = await ask().then(() => undefined, (e: unknown) => e);
        expect(refused).toBeInstanceOf(SessionRejectError);
        expect((refused as SessionRejectError).reject).toMatchObject({
          reason: sbe.RejectReason.OperatorKey, refTemplateId: template, refClOrdId: expect.any(Number), field: 'templateId',
          text: 'an operator key gets no account\'s orders or balances',
        });
      }
    } finally {
      operator.close();
    }
  });

  it('[OPS-1] AdminRequests are rate-limited like other requests, refused naming the request', async () => {
    const limited = await gatewayNode([[OPERATOR, BUYER, 'operator']], 1, { limits: { perKeyPerSecond: 1, perConnectionPerSecond: 100, burst: 2 } });
    try {
      const s = await loggedOn(limited.url, OPERATOR, limited.pems.get(OPERATOR)!);
      const v = new DataView(new ArrayBuffer(4096));
      let at = 0;
      for (const reqId of [1, 2, 3]) at += sbe.encodeAdminRequest(v, at, { reqId, body: '{"query": "venues"}' });
      s.ws.send(new Uint8Array(v.buffer, 0, at));
      expect((await responses(s, 2)).map((r) => [r.reqId, r.ok, r.body])).toEqual([[1, 1, { venues: [] }], [2, 1, { venues: [] }]]);
      expect(s.got.find((d) => d.type === 'SessionReject')?.message).toMatchObject({ reason: sbe.RejectReason.RateLimited, refTemplateId: sbe.TemplateId.AdminRequest, refClOrdId: 3 });
      s.ws.close();
    } finally {
      await limited.close();
    }
  });
});

/** The first `count` AdminResponses a session received, their bodies parsed. */
async function responses(s: WsSession, count: number) {
  const got = () => s.got.filter((d) => d.type === 'AdminResponse').map((d) => d.message as sbe.AdminResponse);
  for (const end = Date.now() + 15_000; got().length < count && Date.now() < end;) await new Promise((r) => setTimeout(r, 10));
  return got().slice(0, count).map((m) => ({ ...m, body: JSON.parse(m.body) }));
}
