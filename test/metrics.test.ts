// Metrics and logs (src/ops/), with a real node as `npm start` runs it, on loopback: GET /metrics on
// the websocket's port answers Prometheus text whose series count exactly what was done (orders,
// refusals by reason name, session rejects, sessions by permission, a FIX logon and order, index
// prices) and read the state (venues' exposure and limits, the reserve, the insurance fund, marks
// against indexes); the text parses as the exposition format. The node's stdout is its log: JSON
// lines with level, time and msg, each naming its event.
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { JunctionClient, SessionRejectError } from '../src/client/client.js';
import * as sbe from '../src/protocol/codec.js';
import { FixTestClient } from './support/fix-client.js';

const NODE = join(__dirname, '../dist/src/node.js');

// ---- the exposition format ---------------------------------------------------------------------

interface Sample { name: string; labels: Record<string, string>; value: number }
interface Family { type: string; help: string; samples: Sample[] }

const NAME = '[a-zA-Z_:][a-zA-Z0-9_:]*';
const SAMPLE = new RegExp(`^(${NAME})(?:\\{(.*)\\})? (\\S+)(?: (-?\\d+))?$`);
const LABEL = /^([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\\n]|\\[\\"n])*)"(,|$)/;

/** A sample value as Prometheus reads it (Go's ParseFloat: NaN and Inf in any case; prom-client writes "Nan"). */
function parseValue(text: string): number {
  if (/^\+?inf$/i.test(text)) return Infinity;
  if (/^-inf$/i.test(text)) return -Infinity;
  if (/^nan$/i.test(text)) return NaN;
  if (!/^-?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/.test(text)) throw new Error(`not a sample value: ${text}`);
  return Number(text);
}

function parseLabels(text: string): Record<string, string> {
  const labels: Record<string, string> = {};
  for (let rest = text; rest.length > 0;) {
    const m = LABEL.exec(rest);
    if (!m) throw new Error(`bad label set: {${text}}`);
    if (m[1] in labels) throw new Error(`label ${m[1]} twice in {${text}}`);
    labels[m[1]] = m[2].replace(/\\n/g, '\n').replace(/\\"/g, '"').replace(/\\\\/g, '\\');
    rest = rest.slice(m[0].length);
  }
  return labels;
}

/**
 * Parses Prometheus text exposition (version 0.0.4) strictly: every sample belongs to a family
 * whose TYPE came first (a histogram's through _bucket, _sum and _count), no series twice, and
 * every histogram's buckets rise to a +Inf bucket equal to its count.
 */
function parseExposition(text: string): Map<string, Family> {
  const families = new Map<string, Family>();
  const seen = new Set<string>();
  expect(text.endsWith('\n')).toBe(true);
  for (const line of text.slice(0, -1).split('\n')) {
    if (line === '') continue;
    if (line.startsWith('#')) {
      const m = new RegExp(`^# (HELP|TYPE) (${NAME}) (.*)$`).exec(line);
      if (!m) throw new Error(`bad comment line: ${line}`);
      const family = families.get(m[2]) ?? { type: 'untyped', help: '', samples: [] };
      families.set(m[2], family);
      if (m[1] === 'HELP') family.help = m[3];
      else {
        if (!['counter', 'gauge', 'histogram', 'summary', 'untyped'].includes(m[3])) throw new Error(`bad type: ${line}`);
        if (family.samples.length > 0) throw new Error(`TYPE after samples: ${line}`);
        family.type = m[3];
      }
      continue;
    }
    const m = SAMPLE.exec(line);
    if (!m) throw new Error(`bad sample line: ${line}`);
    const [, name, labelText, valueText] = m;
    const base = families.has(name) ? name : name.replace(/_(bucket|sum|count)$/, '');
    const family = families.get(base);
    if (!family) throw new Error(`sample of an undeclared family: ${line}`);
    if (base !== name && family.type !== 'histogram' && family.type !== 'summary') throw new Error(`${name} in a ${family.type}`);
    const labels = parseLabels(labelText ?? '');
    const key = `${name}{${Object.entries(labels).sort().map(([k, v]) => `${k}=${v}`).join(',')}}`;
    if (seen.has(key)) throw new Error(`series twice: ${key}`);
    seen.add(key);
    family.samples.push({ name, labels, value: parseValue(valueText) });
  }
  for (const [name, family] of families) {
    if (family.type === 'counter') for (const s of family.samples) expect(s.value, `${name} is a counter`).toBeGreaterThanOrEqual(0);
    if (family.type !== 'histogram') continue;
    const series = new Map<string, { buckets: [number, number][]; count?: number }>();
    for (const s of family.samples) {
      const { le, ...rest } = s.labels;
      const key = JSON.stringify(Object.entries(rest).sort());
      const h = series.get(key) ?? { buckets: [] };
      series.set(key, h);
      if (s.name === `${name}_bucket`) h.buckets.push([parseValue(le), s.value]);
      else if (s.name === `${name}_count`) h.count = s.value;
    }
    for (const h of series.values()) {
      for (let i = 1; i < h.buckets.length; i++) {
        expect(h.buckets[i][0], `${name}: le rises`).toBeGreaterThan(h.buckets[i - 1][0]);
        expect(h.buckets[i][1], `${name}: buckets are cumulative`).toBeGreaterThanOrEqual(h.buckets[i - 1][1]);
      }
      expect(h.buckets.at(-1)).toEqual([Infinity, h.count]);
    }
  }
  return families;
}

/** The value of one series (undefined when absent): `family{labels}`, or a histogram's _count/_sum. */
function valueOf(families: Map<string, Family>, name: string, labels: Record<string, string> = {}): number | undefined {
  const base = families.has(name) ? name : name.replace(/_(bucket|sum|count)$/, '');
  const matches = (families.get(base)?.samples ?? []).filter((s) => s.name === name
    && Object.keys(s.labels).length === Object.keys(labels).length && Object.entries(labels).every(([k, v]) => s.labels[k] === v));
  expect(matches.length, `${name} ${JSON.stringify(labels)} at most once`).toBeLessThanOrEqual(1);
  return matches[0]?.value;
}

// ---- the node ----------------------------------------------------------------------------------

let child: ChildProcessWithoutNullStreams;
/** Every line the node wrote to stdout. */
const lines: string[] = [];
let ready: { url: string; metrics: string; keys: string; fix: string; venues: string };
let keys: { keyId: number; privateKeyPem: string }[];
const clients: JunctionClient[] = [];

/** The scrapes' bearer token (the node runs with JUNCTION_METRICS_TOKEN). */
const TOKEN = 'scrape-token-7';

async function scrape(token: string | null = TOKEN): Promise<{ status: number; type: string | null; text: string }> {
  const res = await fetch(ready.metrics, token === null ? {} : { headers: { authorization: `Bearer ${token}` } });
  return { status: res.status, type: res.headers.get('content-type'), text: await res.text() };
}

async function metrics(): Promise<Map<string, Family>> {
  const { status, text } = await scrape();
  expect(status).toBe(200);
  return parseExposition(text);
}

async function connect(keyId: number): Promise<JunctionClient> {
  const c = await JunctionClient.connect({ url: ready.url, keyId, privateKeyPem: keys.find((k) => k.keyId === keyId)!.privateKeyPem, reconnect: false });
  clients.push(c);
  return c;
}

beforeAll(async () => {
  const data = mkdtempSync(join(tmpdir(), 'junction-metrics-'));
  // Without the demo's simulated price sources: nothing is sequenced but what this test does.
  child = spawn(process.execPath, [NODE, '--data', data, '--port', '0', '--fix-port', '0', '--demo-sources', 'off'], { stdio: ['pipe', 'pipe', 'pipe'], env: { ...process.env, JUNCTION_METRICS_TOKEN: TOKEN } });
  let err = '';
  child.stderr.on('data', (c: Buffer) => (err += c.toString()));
  ready = await new Promise((resolve, reject) => {
    let buffered = '';
    child.stdout.on('data', (c: Buffer) => {
      buffered += c.toString();
      const parts = buffered.split('\n');
      buffered = parts.pop()!;
      lines.push(...parts);
      const line = parts.find((l) => l.includes('"ready"'));
      if (line) resolve(JSON.parse(line));
    });
    child.once('exit', (code) => reject(new Error(`node exited with ${code}: ${err}`)));
  });
  keys = JSON.parse(readFileSync(ready.keys, 'utf8'));
});

afterAll(async () => {
  for (const c of clients) c.close();
  if (child.exitCode === null) {
    const exited = new Promise((r) => child.once('exit', r));
    child.kill('SIGKILL');
    await exited;
  }
});

describe('GET /metrics', () => {
  it('[OPS-3] counts orders and refusals by reason name exactly, and session rejects by reason', async () => {
    const before = await metrics();
    // The demo's set-up after the metrics attached: 13 venue commands; no order yet.
    expect(valueOf(before, 'junction_commands_total', { command: 'order' })).toBe(0);
    expect(valueOf(before, 'junction_commands_total', { command: 'admin' })).toBe(13);
    expect(before.get('junction_rejects_total')!.samples).toEqual([]);

    const maker = await connect(1);
    const client = await connect(2);
    for (const clOrdId of [11, 12, 13]) {
      expect(await maker.place({ instrument: 'BTC-USD', side: sbe.Side.Buy, price: '91000', qty: '0.01', clOrdId })).toMatchObject({ execType: sbe.ExecType.New });
    }
    // Above the client's notional limit (the node's check), twice; outside the price band (the core's).
    for (let i = 0; i < 2; i++) {
      expect(await client.place({ instrument: 'BTC-USD', side: sbe.Side.Buy, price: '95000', qty: '99' })).toMatchObject({ rejectReason: sbe.RejectReason.NotionalLimit });
    }
    expect(await maker.place({ instrument: 'BTC-USD', side: sbe.Side.Buy, price: '200000', qty: '0.01' })).toMatchObject({ rejectReason: sbe.RejectReason.PriceOutOfBand });
    // A client order id in use: the gateway refuses it itself (a SessionReject), nothing is sequenced.
    const duplicate = await maker.place({ instrument: 'BTC-USD', side: sbe.Side.Buy, price: '91000', qty: '0.01', clOrdId: 11 }).catch((e: unknown) => e);
    expect(duplicate).toBeInstanceOf(SessionRejectError);

    const after = await metrics();
    expect(valueOf(after, 'junction_commands_total', { command: 'order' })).toBe(6);
    expect(after.get('junction_rejects_total')!.samples.map((s) => [s.labels, s.value])).toEqual([
      [{ command: 'order', reason: 'PriceOutOfBand' }, 1],
      [{ command: 'order', reason: 'NotionalLimit' }, 2],
    ]);
    expect(after.get('junction_ws_session_rejects_total')!.samples.map((s) => [s.labels, s.value])).toEqual([[{ reason: 'DuplicateClOrdId' }, 1]]);
    expect(valueOf(after, 'junction_open_orders')).toBe(3);
    expect(valueOf(after, 'junction_sequencer_queued_commands')).toBe(0);
    // Each order's time from its frame to its report: all six, over the websocket.
    expect(valueOf(after, 'junction_order_durable_seconds_count', { gateway: 'ws' })).toBe(6);
    expect(valueOf(after, 'junction_order_durable_seconds_sum', { gateway: 'ws' })).toBeGreaterThan(0);
    // Every command of this node was committed in a batch it counted (it started on a new folder).
    expect(valueOf(after, 'junction_batch_size_commands_sum')).toBe(valueOf(after, 'junction_last_sequence'));
    expect(valueOf(after, 'junction_commit_seconds_count')).toBe(valueOf(after, 'junction_batch_size_commands_count'));
    expect(valueOf(after, 'junction_slow_consumer_drops_total')).toBe(0);
    expect(valueOf(after, 'junction_ws_internal_errors_total')).toBe(0);
  });

  it('[OPS-1] sessions by permission, a FIX venue\'s logon and order', async () => {
    await connect(100);
    let m = await metrics();
    expect(['trade', 'read', 'operator', 'price-source'].map((permission) => valueOf(m, 'junction_ws_sessions', { permission }))).toEqual([2, 0, 1, 0]);
    expect([valueOf(m, 'junction_fix_sessions'), valueOf(m, 'junction_fix_connections')]).toEqual([0, 0]);

    const venues = JSON.parse(readFileSync(ready.venues, 'utf8')) as { venue: string; port: number; senderCompId: string; targetCompId: string; clients: string[]; privateKeyPem: string }[];
    const sg = venues.find((v) => v.venue === 'venue-sg')!;
    const fix = await FixTestClient.connect(sg.port, sg.senderCompId, sg.privateKeyPem, sg.targetCompId);
    try {
      fix.logon();
      await fix.waitFor((msg) => msg.msgType === 'A');
      fix.send('D', `11=m1|1=${sg.clients[0]}|55=BTC-USD|54=1|38=0.01|40=2|44=91000|59=1`);
      await fix.waitFor((msg) => msg.msgType === '8' && msg.get(11) === 'm1' && msg.get(150) === '0');
      m = await metrics();
      expect([valueOf(m, 'junction_fix_sessions'), valueOf(m, 'junction_fix_connections')]).toEqual([1, 1]);
      expect(valueOf(m, 'junction_fix_orders_total')).toBe(1);
      expect(valueOf(m, 'junction_fix_reports_total')).toBe(1);
      expect(valueOf(m, 'junction_commands_total', { command: 'order' })).toBe(7);
      expect(valueOf(m, 'junction_order_durable_seconds_count', { gateway: 'fix' })).toBe(1);
      // The venue's exposure now counts its client's open buy (its hold, fee included), against its limit.
      const exposure = valueOf(m, 'junction_venue_unsettled_exposure', { venue: 'venue-sg', asset: 'USD' })!;
      expect(exposure).toBeGreaterThanOrEqual(910);
      expect(exposure).toBeLessThan(911);
      expect(valueOf(m, 'junction_venue_unsettled_limit', { venue: 'venue-sg', asset: 'USD' })).toBe(50_000_000);
      expect(valueOf(m, 'junction_venue_exposure_ratio', { venue: 'venue-sg' })).toBeCloseTo(exposure / 50_000_000, 12);
    } finally {
      fix.close();
    }
  });

  it('[OPS-3] reads the venues, the reserve, the insurance fund and each perpetual\'s mark against its index', async () => {
    // Two sources are not enough for BTC's index (three are needed); the third makes it stand.
    const sources = await Promise.all([201, 202, 203].map((keyId) => connect(keyId)));
    const watcher = await connect(2);
    await watcher.subscribePerp('BTC-PERP');
    for (const [i, price] of [95_100_000_000, 95_000_000_000, 95_200_000_000].entries()) {
      expect(await sources[i].submitPrice({ underlying: 'BTC', price })).toMatchObject({ ok: sbe.BooleanType.True });
    }
    for (const end = Date.now() + 15_000; !(watcher.perpMarkets.get(3)?.index) && Date.now() < end;) await new Promise((r) => setTimeout(r, 20));
    const market = watcher.perpMarkets.get(3)!;
    expect(market.index).toBeGreaterThan(0);

    const m = await metrics();
    expect(valueOf(m, 'junction_commands_total', { command: 'price' })).toBe(3);
    expect(valueOf(m, 'junction_ws_sessions', { permission: 'price-source' })).toBe(3);
    expect(valueOf(m, 'junction_perp_index_degraded', { instrument: 'BTC-PERP' })).toBe(0);
    expect(valueOf(m, 'junction_perp_index_degraded', { instrument: 'ETH-PERP' })).toBe(1);
    // The mark may move a little after the PerpMarket was sent (its moving basis follows the clock):
    // a wrong formula (percent, index over mark) would be off by orders of magnitude more.
    expect(valueOf(m, 'junction_perp_mark_index_deviation_bps', { instrument: 'BTC-PERP' })).toBeCloseTo(((market.mark - market.index) / market.index) * 10_000, 4);
    // ETH's index does not stand: no deviation to report.
    expect(valueOf(m, 'junction_perp_mark_index_deviation_bps', { instrument: 'ETH-PERP' })).toBeUndefined();
    // The demo's reserve holds exactly the two venues' limits (50M USD each); its insurance fund 250,000 USD.
    expect(valueOf(m, 'junction_reserve_fund', { asset: 'USD' })).toBe(100_000_000);
    expect(valueOf(m, 'junction_reserve_required', { asset: 'USD' })).toBe(100_000_000);
    expect(valueOf(m, 'junction_insurance_fund', { asset: 'USD' })).toBe(250_000);
    // No liquidation yet: every waterfall stage's count is there, at 0.
    for (const stage of ['cancel', 'book', 'backstop', 'insurance', 'adl', 'cover', 'collateral']) expect(valueOf(m, 'junction_liquidation_steps_total', { stage }), stage).toBe(0);
    // venue-xa's jurisdiction is not a FATF member: suspended as it was added.
    expect([valueOf(m, 'junction_venue_trading', { venue: 'venue-sg' }), valueOf(m, 'junction_venue_trading', { venue: 'venue-xa' })]).toEqual([1, 0]);
  });

  it('[OPS-3] with JUNCTION_METRICS_TOKEN set, a scrape without the bearer token, or with another, is refused', async () => {
    for (const token of [null, 'wrong']) {
      const { status, text } = await scrape(token);
      expect([status, text]).toEqual([401, 'a bearer token is required for /metrics\n']);
    }
  });

  it('[OPS-3] is Prometheus text exposition, every series named junction_*, with units in the names', async () => {
    const { status, type, text } = await scrape();
    expect([status, type]).toEqual([200, 'text/plain; version=0.0.4; charset=utf-8']);
    const families = parseExposition(text);
    for (const name of families.keys()) expect(name).toMatch(/^junction_/);
    for (const [name, f] of families) if (f.type === 'counter') expect(name).toMatch(/_total$/);
    for (const name of ['junction_commit_seconds', 'junction_order_durable_seconds', 'junction_batch_size_commands']) {
      expect(families.get(name)!.type).toBe('histogram');
    }
    // The process's own figures too: CPU, memory, the event loop's lag.
    expect(families.get('junction_process_cpu_seconds_total')!.type).toBe('counter');
    expect(families.get('junction_nodejs_eventloop_lag_seconds')!.type).toBe('gauge');
  });
});

describe('the node\'s log', () => {
  it('[OPS-2] stdout is JSON lines with level, time and msg, each naming its event: start, venue changes, ready, stopped', async () => {
    const exited = new Promise<number | null>((r) => child.once('exit', r));
    child.kill('SIGTERM');
    expect(await exited).toBe(0);
    const log = lines.map((l) => JSON.parse(l) as { level: string; time: string; msg: string; event: string; pid: number });
    for (const entry of log) {
      expect(['trace', 'debug', 'info', 'warn', 'error', 'fatal']).toContain(entry.level);
      expect(new Date(entry.time).toISOString()).toBe(entry.time);
      expect(typeof entry.msg).toBe('string');
      expect(typeof entry.event).toBe('string');
      expect(entry.pid).toBe(child.pid);
    }
    const events = log.map((e) => e.event);
    expect(events[0]).toBe('start');
    expect(events.slice(-2)).toEqual(['ready', 'stopped']);
    // The demo venues' set-up, as it happened; venue-xa's suspension is a warning.
    expect(events.filter((e) => e.startsWith('venue.'))).toEqual([
      'venue.added', 'venue.client-added', 'venue.client-added', 'venue.added', 'venue.suspended', 'venue.client-added',
    ]);
    expect(log.find((e) => e.event === 'venue.suspended')).toMatchObject({ level: 'warn', venue: 'venue-xa', msg: 'venue venue-xa: suspended' });
    expect(log.at(-1)).toMatchObject({ level: 'info', event: 'stopped', signal: 'SIGTERM', msg: 'stopped' });
  });
});
