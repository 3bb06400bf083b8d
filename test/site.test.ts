// The public disclosure site (OPS-3) in a real headless browser (Debian's chromium, or CHROME_PATH):
// a node with the demo configuration — two spot books, two perpetuals priced by three sources,
// two venues, an affiliated market maker — runs in this process on a clock the test sets (so every
// figure stands still between the test's own steps), serving the site on its websocket port. Each
// page must load without a console error and show exactly the figures the API answers (every
// <data> element against its API answer, parsed both ways); the API's figures are checked against
// the node's state; a trade placed through the SDK and new index prices must reach an open page
// without a reload. JUNCTION_SITE_SCREENSHOTS=DIR also writes the main pages' screenshots there
// (docs/screenshots/ holds the committed ones).
import { existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import puppeteer, { type Browser, type Page } from 'puppeteer-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { JunctionClient } from '../src/client/client.js';
import { DEMO_CONFIG, DEMO_FUNDING, DEMO_JURISDICTIONS, DEMO_VENUES, demoAssessments } from '../src/demo.js';
import { newApiKeyPair } from '../src/gateway/ws/auth.js';
import { KeyStore, type Permission } from '../src/gateway/ws/key-store.js';
import { GatewayServer } from '../src/gateway/ws/server.js';
import type { NodeCommand } from '../src/pipeline/commands.js';
import { NodeRuntime } from '../src/pipeline/runtime.js';
import * as sbe from '../src/protocol/codec.js';
import { renderRulebook, rulebook } from '../src/venues/rulebook.js';
import { startNodeProcess } from './support/node-process.js';

const CHROME = process.env.CHROME_PATH ?? '/usr/bin/chromium';
const SHOTS = process.env.JUNCTION_SITE_SCREENSHOTS;

/** The node's clock, moved only by the test: 2026-11-30 08:10:00 UTC. */
let clockMs = Date.parse('2026-11-30T08:10:00Z');
let sourceTick = 0;

const BTC_USD = 1;
const ETH_USD = 2;
const BTC_PERP = 3;
const ETH_PERP = 4;
/** The demo's accounts: the market maker (participant 2: spot 10, perpetuals 13), the client (11), the professional client (12). */
const MM = 10;
const CLIENT = 11;
const PRO = 12;
const MM_PERP = 13;
const MM_KEY = 1;
const CLIENT_KEY = 2;
const OPERATORS = [100, 101];
const SOURCES = [201, 202, 203];
const OFFICER = 'Jane O\'Neil <compliance@junction.example>';
const EVIL_NAME = '<b>Evil & "Co"</b><script>alert(1)</script>';

const usd = (dollars: number) => Math.round(dollars * 1_000_000);
const coins = (n: number) => Math.round(n * 100_000_000);

let node: NodeRuntime;
let gateway: GatewayServer;
let base: string;
let wsUrl: string;
let browser: Browser;
const pems = new Map<number, string>();
const clients: JunctionClient[] = [];
let dataDir: string;

async function submit(c: NodeCommand): Promise<void> {
  const o = await node.submit(c);
  if (!o.ok) throw new Error(`${JSON.stringify(c)} refused: ${o.reasonName}: ${o.text ?? ''}`);
}
const admin = (body: object, operator = OPERATORS[0]) => node.submit({ type: 'admin', operator, body: body as never });
const order = (account: number, instrument: number, side: number, price: number, qty: number, tif = 0) =>
  submit({ type: 'order', account, instrument, side, orderType: 0, tif, price, qty });
/** Every source prices the underlying (their own time just after the node's clock). */
async function prices(underlying: string, price: number): Promise<void> {
  await Promise.all(SOURCES.map((source) => submit({ type: 'price', source, underlying, price, sourceTs: clockMs * 1000 + ++sourceTick })));
}
/** `p`, or a failure naming what did not come within `ms`. */
function within<T>(p: Promise<T>, what: string, ms = 10_000): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  return Promise.race([p, new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what}: no answer within ${ms} ms`)), ms);
  })]).finally(() => clearTimeout(timer));
}
/** A change an operator proposes and another approves (AFMM changes take two). */
async function approved(body: object): Promise<void> {
  const proposed = await admin(body, OPERATORS[0]);
  if (!proposed.ok) throw new Error(`${JSON.stringify(body)} refused: ${proposed.text}`);
  const o = await admin({ action: 'afmm.approve', change: proposed.seq }, OPERATORS[1]);
  if (!o.ok) throw new Error(`approval of ${JSON.stringify(body)} refused: ${o.text}`);
}

beforeAll(async () => {
  if (!existsSync(CHROME)) throw new Error(`no browser at ${CHROME}: install Debian's chromium (apt-get install chromium, as .ci/run does) or set CHROME_PATH`);
  dataDir = mkdtempSync(join(tmpdir(), 'junction-site-'));
  node = await NodeRuntime.open({ dataDir, config: DEMO_CONFIG, clockMs: () => clockMs });
  // The site derives its books and trades from the batches: it is there from the start.
  gateway = new GatewayServer(node, { site: { connectionsPerAddressMax: 8 } });
  const port = await gateway.listen(0);
  base = `http://127.0.0.1:${port}`;
  wsUrl = gateway.url(port);
  const keyStore = new KeyStore(node.store);
  const keys: [number, number, Permission][] = [[MM_KEY, MM, 'trade'], [CLIENT_KEY, CLIENT, 'trade'], ...OPERATORS.map((k): [number, number, Permission] => [k, 0, 'operator'])];
  for (const [keyId, account, permission] of keys) {
    const pair = newApiKeyPair();
    pems.set(keyId, pair.privateKeyPem);
    await keyStore.putApiKey({ keyId, account, publicKey: pair.publicKey, permission });
  }
  // The demo's funding (the insurance fund holds 250,000 USD), but the professional client posts
  // only 2,000 USD (so that a fall of the index liquidates it).
  for (const f of DEMO_FUNDING.filter((x) => x.account !== PRO)) await submit({ type: 'deposit', key: `d-${f.account}-${f.asset}`, ...f });
  await submit({ type: 'deposit', key: 'pro', account: PRO, asset: 'USD', amount: usd(2_000) });
  for (const body of demoAssessments('2026-11-30', '2027-11-30')) expect((await admin(body)).ok).toBe(true);
  // Venues (SL-7): venue-sg qualifies, venue-xa's jurisdiction does not; one more jurisdiction
  // whose name is markup, which must reach the page as text.
  for (const jurisdiction of DEMO_JURISDICTIONS) expect((await admin({ action: 'jurisdiction.set', jurisdiction }, 0)).ok).toBe(true);
  expect((await admin({ action: 'jurisdiction.set', jurisdiction: { code: 'ZZ', name: EVIL_NAME, fatf: 'fsrb-member', fsrb: 'APG', fatfConsistent: true, ioscoConsistent: false, assessedOn: '2026-06-30', source: 'test & <source>' } }, 0)).ok).toBe(true);
  for (const { clients: venueClients, ...venue } of DEMO_VENUES) {
    expect((await admin({ action: 'venue.add', venue: { ...venue, publicKey: Buffer.from(newApiKeyPair().publicKey).toString('base64') } }, 0)).ok).toBe(true);
    for (const client of venueClients) expect((await admin({ action: 'venue.client.add', venue: venue.code, client }, 0)).ok).toBe(true);
  }
  // Both indexes priced by all three sources.
  await prices('BTC', usd(95_000));
  await prices('ETH', usd(3_500));
  // Perpetual positions: the professional client long 0.5 BTC-PERP and the market maker's spot
  // account long 5 ETH-PERP, both against the market maker's perpetuals account.
  await order(MM_PERP, BTC_PERP, 1, usd(95_000), coins(0.5));
  await order(PRO, BTC_PERP, 0, usd(95_000), coins(0.5), 1);
  await order(MM_PERP, ETH_PERP, 1, usd(3_500), coins(5));
  await order(MM, ETH_PERP, 0, usd(3_500), coins(5), 1);
  // The spot books, and a trade before anyone is an AFMM.
  for (const [price, qty] of [[94_990, 0.5], [94_980, 1.2], [94_950, 2]]) await order(MM, BTC_USD, 0, usd(price), coins(qty));
  for (const [price, qty] of [[95_010, 0.3], [95_020, 0.8], [95_050, 1.5]]) await order(MM, BTC_USD, 1, usd(price), coins(qty));
  await order(CLIENT, BTC_USD, 0, usd(94_970), coins(0.1));
  await order(MM, ETH_USD, 0, usd(3_499.5), coins(2));
  await order(MM, ETH_USD, 1, usd(3_500.5), coins(3));
  await order(CLIENT, BTC_USD, 0, usd(95_010), coins(0.01), 1);
  // Past 09:00: funding is paid on both perpetuals (its residual to the insurance fund).
  clockMs = Date.parse('2026-11-30T09:00:01Z');
  await prices('BTC', usd(95_100));
  await prices('ETH', usd(3_510));
  // The BTC index falls to 91,500: the professional client is below maintenance, the book has no
  // bid, no backstop is registered, so its long is auto-deleveraged against the market maker's
  // short (PERP-6), and a post-event report is produced (PERP-9).
  clockMs = Date.parse('2026-11-30T09:00:10Z');
  await prices('BTC', usd(91_500));
  expect(node.pipeline.perps.reports.length).toBe(1);
  // The market maker (participant 2) becomes an affiliated market maker, with two preferences.
  await approved({ action: 'afmm.designate', participant: 2, officer: OFFICER });
  // Its quotes from before were cancelled with the designation (a resting order carries no barrier
  // against the house): it quotes again, as it stood.
  for (const [price, qty] of [[94_990, 0.5], [94_980, 1.2], [94_950, 2]]) await order(MM, BTC_USD, 0, usd(price), coins(qty));
  for (const [price, qty] of [[95_010, 0.29], [95_020, 0.8], [95_050, 1.5]]) await order(MM, BTC_USD, 1, usd(price), coins(qty));
  await order(MM, ETH_USD, 0, usd(3_499.5), coins(2));
  await order(MM, ETH_USD, 1, usd(3_500.5), coins(3));
  await approved({ action: 'afmm.entry.set', participant: 2, entry: { id: 'mm-rate', kind: 'rate-limit', ordersPerSecond: 400_000, riskText: 'Its quotes can be replaced faster than other participants\' orders: it may withdraw liquidity <first> when prices move.' } });
  await approved({ action: 'afmm.entry.set', participant: 2, entry: { id: 'mm-fee', kind: 'fee', feeTier: 1, riskText: 'Its maker rebate lets it quote tighter than participants paying the standard fee.' } });
  await node.drain();
  browser = await puppeteer.launch({ executablePath: CHROME, headless: true, protocolTimeout: 30_000, args: ['--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage'] });
  if (SHOTS) mkdirSync(SHOTS, { recursive: true });
}, 120_000);

afterAll(async () => {
  for (const c of clients) c.close();
  await browser?.close();
  gateway?.close();
  await node?.close();
  if (dataDir) rmSync(dataDir, { recursive: true, force: true });
});

// ---- the browser's side ----

interface Opened { page: Page; errors: string[] }

/** Opens a page, collecting every console error, page error, failed request and error status. */
async function open(path: string): Promise<Opened> {
  const page = await browser.newPage();
  await page.setViewport({ width: 1280, height: 900 });
  const errors: string[] = [];
  page.on('console', (m) => {
    if (m.type() === 'error') errors.push(`console: ${m.text()}`);
  });
  page.on('pageerror', (e) => errors.push(`page error: ${(e as Error).message}`));
  page.on('requestfailed', (r) => errors.push(`request failed: ${r.url()} ${r.failure()?.errorText ?? ''}`));
  page.on('response', (r) => {
    if (r.status() >= 400) errors.push(`${r.status()} for ${r.url()}`);
  });
  const response = await page.goto(base + path, { waitUntil: 'load' });
  expect(response?.status()).toBe(200);
  expect(response?.headers()['content-type']).toBe('text/html; charset=utf-8');
  return { page, errors };
}

/** Runs `check` on a page, then requires that nothing went wrong in the browser; the page is closed whatever happens. */
async function onPage(path: string, check: (o: Opened) => Promise<void>): Promise<void> {
  const o = await open(path);
  try {
    await check(o);
    expect(o.errors).toEqual([]);
  } finally {
    await o.page.close();
  }
}

/** The page (or from the element `from` on) as a PNG in SHOTS, at most `tallest` pixels tall. */
async function screenshot(page: Page, name: string, from?: string, tallest = 2_400): Promise<void> {
  if (!SHOTS) return;
  const [top, height] = await page.evaluate((sel) => [sel ? document.querySelector(sel)!.getBoundingClientRect().top + window.scrollY : 0, document.documentElement.scrollHeight], from);
  await page.screenshot({ path: join(SHOTS, `${name}.png`), clip: { x: 0, y: top, width: 1280, height: Math.min(height - top, tallest) }, captureBeyondViewport: true });
}

interface ShownFigure { api: string; path: string; raw: string | null; text: string }

/** Every figure a page shows: the API answer its section names, its path there, its raw value and its text. */
function shownFigures(page: Page): Promise<ShownFigure[]> {
  return page.$$eval('[data-api]', (sections) => sections.flatMap((s) => [...s.querySelectorAll('[data-p]')]
    .filter((e) => e.closest('[data-api]') === s)
    .map((e) => ({ api: s.getAttribute('data-api')!, path: e.getAttribute('data-p')!, raw: e.tagName === 'DATA' ? e.getAttribute('value') : null, text: e.textContent ?? '' }))));
}

type Json = any; // eslint-disable-line @typescript-eslint/no-explicit-any

async function getJson(path: string): Promise<Json> {
  const r = await fetch(base + path);
  expect(r.status, path).toBe(200);
  expect(r.headers.get('content-type')).toBe('application/json; charset=utf-8');
  return r.json();
}

const at = (o: Json, path: string): Json => path.split('.').reduce((x, k) => (x === undefined || x === null ? x : x[k]), o);

/**
 * Each figure on the page against its API answer: the raw integer exactly, and the text as people
 * read it parsed back — a decimal with thousands separators equal to the API's value, a
 * percentage equal to it × 100, a UTC time equal to it to the second; a dash where the API has none.
 */
async function sameAsApi(page: Page, atLeast: number): Promise<ShownFigure[]> {
  const shown = await shownFigures(page);
  expect(shown.length).toBeGreaterThanOrEqual(atLeast);
  const answers = new Map<string, Json>();
  for (const api of new Set(shown.map((f) => f.api))) answers.set(api, await getJson(api));
  for (const f of shown) {
    const v = at(answers.get(f.api), f.path);
    const where = `${f.api} ${f.path} shown as ${JSON.stringify(f.text)}`;
    if (f.raw === null) {
      expect(v, where).toBeNull();
      expect(f.text).toBe('—');
    } else if (typeof v === 'number') {
      expect(Number(f.raw), where).toBe(v);
      expect(Number(f.text.replace(/,/g, '')), where).toBe(v);
    } else {
      expect(v, where).toMatchObject({ value: expect.any(String), raw: expect.any(Number) });
      expect(Number(f.raw), where).toBe(v.raw);
      if (f.text.endsWith('%')) {
        const fraction = Number(f.text.slice(0, -1).replace(/,/g, '')) / 100;
        expect(Math.abs(fraction - Number(v.value)), where).toBeLessThanOrEqual(1e-15 + 1e-12 * Math.abs(fraction));
      } else if (f.text.endsWith(' UTC')) {
        expect(Date.parse(`${f.text.slice(0, 10)}T${f.text.slice(11, 19)}Z`), where).toBe(Math.floor(Date.parse(v.value) / 1000) * 1000);
      } else {
        expect(f.text.replace(/,/g, ''), where).toBe(v.value);
      }
    }
  }
  return shown;
}

// ---- the tests ----

describe('the pages show what the API answers, and the API what the node holds', () => {
  it('[OPS-3] the home page: every market, perpetual and the insurance fund, as the API has them', async () => {
    await onPage('/', async (o) => {
      const shown = await sameAsApi(o.page, 20);
      expect(new Set(shown.map((f) => f.api))).toEqual(new Set(['/api/v1/markets', '/api/v1/perps', '/api/v1/insurance?limit=0']));
      await screenshot(o.page, 'home');
    });
  });

  it('[OPS-3] [AFMM-3] markets: each book with its depth chart and recent trades; a trade with an AFMM is marked, one before the designation is not', async () => {
    const markets = await getJson('/api/v1/markets');
    expect(markets.markets.map((m: Json) => [m.symbol, m.kind])).toEqual([['BTC-USD', 'spot'], ['ETH-USD', 'spot'], ['BTC-PERP', 'perpetual'], ['ETH-PERP', 'perpetual']]);
    const book = await getJson('/api/v1/markets/BTC-USD/book?depth=3');
    expect(book.bids).toEqual([
      { price: { value: '94990', raw: usd(94_990) }, qty: { value: '0.5', raw: coins(0.5) }, orders: 1 },
      { price: { value: '94980', raw: usd(94_980) }, qty: { value: '1.2', raw: coins(1.2) }, orders: 1 },
      { price: { value: '94970', raw: usd(94_970) }, qty: { value: '0.1', raw: coins(0.1) }, orders: 1 },
    ]);
    expect(book.asks[0]).toEqual({ price: { value: '95010', raw: usd(95_010) }, qty: { value: '0.29', raw: coins(0.29) }, orders: 1 });
    const trades = await getJson('/api/v1/markets/BTC-USD/trades');
    expect(trades.trades).toEqual([{
      tradeId: expect.any(Number), time: { value: '2026-11-30T08:10:00.000Z', raw: Date.parse('2026-11-30T08:10:00Z') * 1000 }, price: { value: '95010', raw: usd(95_010) },
      qty: { value: '0.01', raw: coins(0.01) }, aggressor: 'buy', afmm: { maker: false, taker: false },
    }]);
    await onPage('/markets', async (o) => {
      const shown = await sameAsApi(o.page, 50);
      for (const symbol of ['BTC-USD', 'ETH-USD']) expect(shown.some((f) => f.api === `/api/v1/markets/${symbol}/book?depth=10`)).toBe(true);
      for (const symbol of ['BTC-USD', 'ETH-USD', 'BTC-PERP', 'ETH-PERP']) expect(await o.page.$(`#depth-${symbol} svg`)).not.toBeNull();
      expect(await o.page.$$('#depth-BTC-USD svg path.bids, #depth-BTC-USD svg path.asks')).toHaveLength(2);
      // The perpetuals' books are empty (their positions were opened by orders that filled).
      expect(await o.page.$eval('#book-BTC-PERP tbody', (t) => t.textContent)).toBe('no resting orders');
      // The perpetuals' trades: BTC-PERP's and ETH-PERP's opening trades, made before the designation.
      expect(await o.page.$$eval('#trades-ETH-PERP tbody tr', (rows) => rows.map((r) => r.getAttribute('data-afmm')))).toEqual(['none']);
    });
  });

  it('[OPS-3] [PERP-7] [PERP-8] [PERP-9] perpetuals: mark, index with every source, funding, open interest and parameters; the insurance fund; ADL quintiles; the post-event report', async () => {
    const perps = node.pipeline.perps;
    const api = await getJson('/api/v1/perps');
    for (const [i, id] of [[0, BTC_PERP], [1, ETH_PERP]]) {
      const v = perps.marketView(id);
      const p = api.products[i];
      expect([p.mark.raw, p.index.raw, p.fundingRate.raw, p.predictedRate.raw, p.nextFunding.raw, p.openInterest.raw]).toEqual([v.mark, v.index, v.lastRateE8, v.predictedRateE8, v.nextFundingUs, v.openInterest]);
      expect(p.sources.map((s: Json) => [s.source, s.status])).toEqual(v.contributions.map((c) => [c.source, c.status]));
      expect(p.nextFunding.value).toBe('2026-11-30T10:00:00.000Z');
      expect(p.parameters.tiers[0]).toEqual({ notionalMax: { value: id === BTC_PERP ? '250000' : '100000', raw: usd(id === BTC_PERP ? 250_000 : 100_000) }, initialMargin: { value: '0.02', raw: 200 }, maintenanceMargin: { value: '0.01', raw: 100 }, maxLeverage: 50 });
      expect(p.parameters.fundingCap).toEqual({ value: '0.0075', raw: 750_000 });
    }
    // BTC-PERP's positions were closed by the auto-deleveraging; ETH-PERP's stand.
    expect(api.products.map((p: Json) => p.openInterest.value)).toEqual(['0', '5']);
    expect(api.products[0].index).toEqual({ value: '91500', raw: usd(91_500) });
    const funding = await getJson('/api/v1/perps/ETH-PERP/funding');
    expect(funding.history).toHaveLength(1);
    expect(funding.history[0]).toMatchObject({ time: { value: '2026-11-30T09:00:00.000Z' }, rate: { raw: perps.fundingHistory(ETH_PERP)[0].rateE8 }, positions: 2 });
    const insurance = await getJson('/api/v1/insurance');
    expect(insurance).toMatchObject({ asset: 'USD', level: { raw: perps.fundLevel() }, floor: { value: '0', raw: 0 }, depleted: false });
    expect(insurance.history.at(-1).level.raw).toBe(perps.fundLevel());
    const adl = await getJson('/api/v1/adl');
    expect(adl.products).toEqual([
      { symbol: 'BTC-PERP', instrument: BTC_PERP, long: [0, 0, 0, 0, 0], short: [0, 0, 0, 0, 0], positions: 0 },
      { symbol: 'ETH-PERP', instrument: ETH_PERP, long: [0, 0, 0, 0, 1], short: expect.any(Array), positions: 2 },
    ]);
    expect(adl.products[1].short.reduce((a: number, b: number) => a + b, 0)).toBe(1);
    const reports = await getJson('/api/v1/reports');
    expect(reports.reports).toHaveLength(1);
    expect(reports.reports[0]).toMatchObject({ triggers: ['adl'], liquidated: [{ symbol: 'BTC-PERP', side: 'long', size: { value: '0.5', raw: coins(0.5) } }] });
    expect(reports.reports[0].timeline.some((t: Json) => t.stage === 'adl' && t.qty.value === '0.5')).toBe(true);
    // The fund was never depleted: no notice.
    expect((await getJson('/api/v1/notices')).notices).toEqual([]);
    // No identities anywhere in what is published.
    expect(JSON.stringify(reports)).not.toMatch(/"account"/);

    await onPage('/perpetuals', async (o) => {
      const shown = await sameAsApi(o.page, 120);
      for (const api of ['/api/v1/perps/BTC-PERP', '/api/v1/perps/ETH-PERP', '/api/v1/perps/ETH-PERP/funding?limit=200', '/api/v1/insurance?limit=200', '/api/v1/adl', '/api/v1/reports?limit=10']) {
        expect(shown.some((f) => f.api === api), api).toBe(true);
      }
      expect(await o.page.$$('#funding-ETH-PERP svg path.series')).toHaveLength(1);
      expect(await o.page.$$('#insurance svg path.series')).toHaveLength(1);
      expect(await o.page.$$('#reports article.report')).toHaveLength(1);
      await screenshot(o.page, 'perpetuals');
      await screenshot(o.page, 'perpetuals-insurance-adl-reports', '#insurance');
    });
  });

  it('[OPS-3] [PERP-7] [PERP-6] how perpetuals work: the risk disclosure and the rulebook\'s perpetuals sections, as the node runs them', async () => {
    const book = rulebook(node);
    await onPage('/perpetuals/rules', async (o) => {
      const text = await o.page.$eval('main', (m) => m.textContent ?? '');
      for (const title of ['Leverage', 'Liquidation', 'Auto-deleveraging (ADL)', 'Funding']) expect(text).toContain(title);
      for (const id of ['perpetuals', 'perpetuals-default-management']) {
        const section = book.sections.find((s) => s.id === id)!;
        const items = await o.page.$$eval(`#rules-${id} ol > li`, (lis) => lis.map((li) => li.textContent ?? ''));
        expect(items).toEqual(section.rules.map((r, j) => `${book.sections.indexOf(section) + 1}.${j + 1} ${r}`));
        expect(JSON.parse(await o.page.$eval(`#rules-${id} pre`, (p) => p.textContent ?? ''))).toEqual(JSON.parse(JSON.stringify(section.parameters)));
      }
      await screenshot(o.page, 'perpetuals-rules', undefined, 1_400);
    });
  });

  it('[OPS-3] [SL-7] venues and jurisdictions: who may trade now and why not, names shown as text, never markup', async () => {
    const venues = await getJson('/api/v1/venues');
    expect(venues.venues.map((v: Json) => [v.code, v.status, v.eligible, v.ineligibility?.code ?? null, v.clients])).toEqual([
      ['venue-sg', 'active', true, null, 2], ['venue-xa', 'suspended', false, 'JurisdictionNotFatf', 1],
    ]);
    expect(venues.venues[0].unsettledLimit).toEqual({ value: '50000000', raw: 50_000_000_000_000 });
    // Nothing a venue's clients could be told apart by.
    expect(JSON.stringify(venues)).not.toMatch(/SG-C1|publicKey|senderCompId/);
    const jurisdictions = await getJson('/api/v1/jurisdictions');
    expect(jurisdictions.jurisdictions.map((j: Json) => [j.code, j.qualifies])).toEqual([['SG', true], ['XA', false], ['ZZ', false]]);

    await onPage('/venues', async (o) => {
      await sameAsApi(o.page, 4);
      const rows = await o.page.$$eval('#venues tbody tr', (trs) => trs.map((tr) => [...tr.querySelectorAll('td')].map((td) => td.textContent?.trim())));
      expect(rows[0][7]).toBe('active');
      expect(rows[0][8]).toBe('yes');
      expect(rows[1][8]).toBe('no: the jurisdiction is neither a FATF member nor a member of a FATF-style regional body');
      // The jurisdiction named with markup: its name is text on the page; no element or script came of it.
      const zz = await o.page.$$eval('#jurisdictions tbody tr', (trs) => trs.map((tr) => tr.querySelectorAll('td')[1]?.textContent));
      expect(zz[2]).toBe(EVIL_NAME);
      expect(await o.page.$$('#jurisdictions b, #jurisdictions script')).toHaveLength(0);
      expect(await o.page.evaluate(() => document.scripts.length)).toBe(1);
      await screenshot(o.page, 'venues');
    });
  });

  it('[OPS-3] [SL-9] the rulebook: every section and rule as the node publishes it, its version, and the same text as `junction rulebook`', async () => {
    const book = rulebook(node);
    expect(await getJson('/api/v1/rulebook')).toEqual(JSON.parse(JSON.stringify(book)));
    const md = await fetch(`${base}/rulebook.md`);
    expect(md.headers.get('content-type')).toBe('text/markdown; charset=utf-8');
    expect(await md.text()).toBe(renderRulebook(book));
    await onPage('/rulebook', async (o) => {
      expect(await o.page.$eval('main .lead strong', (s) => s.textContent)).toBe(book.version);
      const sections = await o.page.$$eval('section.rules', (ss) => ss.map((s) => [s.querySelector('h2')?.textContent, s.querySelectorAll('ol > li').length]));
      expect(sections).toEqual(book.sections.map((s, i) => [`${i + 1}. ${s.title}`, s.rules.length]));
      expect(book.sections.map((s) => s.id)).toEqual(['parties', 'pre-funding', 'instructions', 'execution', 'settlement', 'default-management', 'perpetuals', 'perpetuals-default-management']);
      await screenshot(o.page, 'rulebook', undefined, 1_400);
    });
  });

  it('[OPS-3] [AFMM-4] AFMM disclosures: each AFMM, its officer and each preference with its risk text', async () => {
    const afmm = await getJson('/api/v1/afmm');
    expect(afmm.affiliatedMarketMakers).toEqual([{
      participant: 2, name: 'Demo Market Maker', officer: OFFICER, since: { value: '2026-11-30T09:00:10.000Z', raw: Date.parse('2026-11-30T09:00:10Z') * 1000 },
      preferences: [
        { id: 'mm-rate', kind: 'rate-limit', ordersPerSecond: 400_000, riskText: expect.stringContaining('<first>') },
        { id: 'mm-fee', kind: 'fee', feeTier: 1, makerFee: { value: '-0.0001', raw: -1 }, takerFee: { value: '0.0003', raw: 3 }, riskText: expect.stringContaining('maker rebate') },
      ],
    }]);
    expect(afmm.changes.map((c: Json) => c.action)).toEqual(['afmm.entry.set', 'afmm.entry.set', 'afmm.designate']);
    await onPage('/afmm', async (o) => {
      await sameAsApi(o.page, 8);
      const text = await o.page.$eval('#afmm', (s) => s.textContent ?? '');
      expect(text).toContain(OFFICER);
      for (const p of afmm.affiliatedMarketMakers[0].preferences) expect(text).toContain(p.riskText);
      await screenshot(o.page, 'afmm');
    });
  });
});

describe('live updates', () => {
  it('[OPS-3] [AFMM-3] an AFMM\'s quote and a client\'s crossing order, through the SDK, reach an open markets page without a reload: the book, the trades list with the AFMM mark', async () => {
    await onPage('/markets', async (o) => {
      await o.page.waitForSelector('#live.on');
      await o.page.evaluate(() => {
        (window as unknown as { notReloaded: boolean }).notReloaded = true;
      });
      const firstTrade = () => o.page.$eval('#trades-BTC-USD tbody tr', (tr) => tr.getAttribute('data-trade'));
      const before = await firstTrade();
      const mm = await within(JunctionClient.connect({ url: wsUrl, keyId: MM_KEY, privateKeyPem: pems.get(MM_KEY)!, reconnect: false }), 'the AFMM\'s logon');
      const client = await within(JunctionClient.connect({ url: wsUrl, keyId: CLIENT_KEY, privateKeyPem: pems.get(CLIENT_KEY)!, reconnect: false }), 'the client\'s logon');
      clients.push(mm, client);
      // The AFMM quotes a better ask: the page's book shows it.
      expect((await within(mm.place({ instrument: 'BTC-USD', side: sbe.Side.Sell, price: '95005', qty: '0.1' }), 'the AFMM\'s quote')).execType).toBe(sbe.ExecType.New);
      await o.page.waitForFunction(() => document.querySelector('#book-BTC-USD [data-p="asks.0.price"]')?.textContent === '95,005', { timeout: 10_000 });
      // The client takes part of it.
      expect((await within(client.place({ instrument: 'BTC-USD', side: sbe.Side.Buy, price: '95005', qty: '0.04', timeInForce: sbe.TimeInForce.IOC }), 'the client\'s order')).execType).toBe(sbe.ExecType.New);
      await o.page.waitForFunction((prev) => document.querySelector('#trades-BTC-USD tbody tr')?.getAttribute('data-trade') !== prev, { timeout: 10_000 }, before);
      const row = await o.page.$eval('#trades-BTC-USD tbody tr', (tr) => ({ afmm: tr.getAttribute('data-afmm'), cells: [...tr.querySelectorAll('td')].map((td) => td.textContent?.trim()) }));
      expect(row).toEqual({ afmm: 'maker', cells: ['2026-11-30 09:00:10 UTC', '95,005', '0.04', 'buy', 'AFMM maker'] });
      await o.page.waitForFunction(() => document.querySelector('#book-BTC-USD [data-p="asks.0.qty"]')?.textContent === '0.06', { timeout: 10_000 });
      // The summary follows too, and it was all without a reload.
      await o.page.waitForFunction(() => document.querySelector('#summary-markets [data-p="markets.0.lastTrade.price"]')?.textContent === '95,005', { timeout: 10_000 });
      expect(await o.page.evaluate(() => (window as unknown as { notReloaded?: boolean }).notReloaded)).toBe(true);
      // The page as updated shows what the API answers now.
      await sameAsApi(o.page, 50);
      await screenshot(o.page, 'markets');
      const api = await getJson('/api/v1/markets/BTC-USD/trades?limit=1');
      expect(api.trades[0]).toMatchObject({ price: { value: '95005' }, qty: { value: '0.04' }, afmm: { maker: true, taker: false } });
    });
  });

  it('[OPS-3] [PERP-7] [PERP-8] new index prices reach an open perpetuals page without a reload: mark, index, sources', async () => {
    await onPage('/perpetuals', async (o) => {
      await o.page.waitForSelector('#live.on');
      const markBefore = await o.page.$eval('#perp-ETH-PERP [data-p="mark"]', (e) => e.getAttribute('value'));
      clockMs += 5_000;
      await prices('ETH', usd(3_520));
      const v = node.pipeline.perps.marketView(ETH_PERP);
      expect(String(v.mark)).not.toBe(markBefore);
      await o.page.waitForFunction((mark) => document.querySelector('#perp-ETH-PERP [data-p="mark"]')?.getAttribute('value') === mark, { timeout: 10_000 }, String(v.mark));
      expect(await o.page.$eval('#perp-ETH-PERP [data-p="index"]', (e) => e.textContent)).toBe('3,520');
      await sameAsApi(o.page, 120);
    });
  });
});

describe('bounded and safe', () => {
  it('[OPS-3] unknown paths are 404 with a plain message, bad counts 400, nothing from the request is echoed; answers are small', async () => {
    for (const path of ['/nope', '/markets/<script>', '/static/other.js']) {
      const r = await fetch(base + path);
      expect(r.status, path).toBe(404);
      const body = await r.text();
      expect(body.length).toBeLessThan(200);
      expect(body).not.toContain('script');
    }
    // A page that is not there (the API's /perps is the site's /perpetuals) says where the pages are.
    const mistyped = await fetch(`${base}/perps`);
    expect([mistyped.status, await mistyped.text()]).toEqual([404, 'no such page: the public site starts at / (its pages are listed there, its data under /api/v1/); the protocol is a websocket at /ws\n']);
    for (const [path, status] of [['/api/v1/nope', 404], ['/api/v1/markets/%3Cscript%3E/book', 404], ['/api/v1/perps/BTC-USD', 404], ['/api/v1/markets/BTC-USD/book?depth=-1', 400], ['/api/v1/markets/BTC-USD/book?depth=501', 400], ['/api/v1/insurance?limit=x', 400]] as const) {
      const r = await fetch(base + path);
      expect(r.status, path).toBe(status);
      expect(r.headers.get('content-type')).toBe('application/json; charset=utf-8');
      const body = await r.json();
      expect(Object.keys(body)).toEqual(['error']);
      expect(body.error).not.toMatch(/script|-1|501/);
    }
    // A symbol in any case; a page's security headers.
    expect((await getJson('/api/v1/markets/btc-usd/book?depth=1')).symbol).toBe('BTC-USD');
    const page = await fetch(`${base}/markets`);
    expect(page.headers.get('content-security-policy')).toContain("script-src 'self'");
    expect(page.headers.get('x-content-type-options')).toBe('nosniff');
    for (const path of ['/', '/markets', '/perpetuals', '/venues', '/afmm', '/api/v1/perps', '/api/v1/markets/BTC-USD/book', '/api/v1/rulebook']) {
      expect((await (await fetch(base + path)).text()).length, path).toBeLessThan(64 * 1024);
    }
    // limit=0 is none (not all); parameters an answer does not read make no cache entries of their own.
    expect((await getJson('/api/v1/insurance?limit=0')).history).toEqual([]);
    expect((await getJson('/api/v1/reports?limit=0')).reports).toEqual([]);
    const before = gateway.site!.cached;
    for (let i = 0; i < 50; i++) expect((await fetch(`${base}/api/v1/reports?x=${i}`)).status).toBe(200);
    expect(gateway.site!.cached - before).toBeLessThanOrEqual(1);
  });

  it('[OPS-3] the live channel: a snapshot on open, topics checked, no messages taken, at most N connections per address', async () => {
    const site = gateway.site!;
    // Pages a failed test left open close first: their live connections count too.
    for (const p of await browser.pages()) await p.close();
    for (let waited = 0; site.connections > 0; waited += 20) {
      if (waited > 5_000) throw new Error('the browser\'s live connections did not close');
      await new Promise((r) => setTimeout(r, 20));
    }
    const connect = (topics: string) => new Promise<{ ws?: WebSocket; first?: Json; status?: number }>((resolve) => {
      const ws = new WebSocket(`${base.replace('http', 'ws')}/site?topics=${topics}`);
      ws.once('message', (data) => resolve({ ws, first: JSON.parse(data.toString()) }));
      ws.once('unexpected-response', (_req, res) => resolve({ status: res.statusCode }));
    });
    expect((await connect('nope')).status).toBe(400);
    const open: WebSocket[] = [];
    for (let i = 0; i < 8; i++) {
      const c = await connect('venues,afmm');
      expect(Object.keys(c.first.fragments).sort()).toEqual(['afmm', 'asof', 'jurisdictions', 'venues']);
      expect(c.first.seq).toBe(node.lastSequence);
      open.push(c.ws!);
    }
    expect((await connect('markets')).status).toBe(503);
    // A follower that talks is closed.
    const closed = new Promise<[number, string]>((resolve) => open[0].once('close', (code, reason) => resolve([code, reason.toString()])));
    open[0].send('hello');
    expect(await closed).toEqual([1008, 'the site channel takes no messages']);
    const again = await connect('markets');
    expect(again.first.fragments['trades-BTC-USD']).toContain('data-afmm="maker"');
    for (const ws of [...open.slice(1), again.ws!]) ws.close();
    expect(site.stats.refused).toBe(1);
  });
});

describe('the node as npm start runs it', () => {
  it('[OPS-3] serves the site and its API on its websocket port', async () => {
    const data = mkdtempSync(join(tmpdir(), 'junction-site-node-'));
    const n = await startNodeProcess(data, ['--demo-sources', 'off']);
    try {
      const http = n.url.replace(/^ws/, 'http').replace(/\/ws$/, '');
      const home = await fetch(`${http}/`);
      expect(home.status).toBe(200);
      expect(await home.text()).toContain('<a href="/perpetuals">Perpetuals</a>');
      const venues = await (await fetch(`${http}/api/v1/venues`)).json();
      expect(venues.venues.map((v: Json) => [v.code, v.eligible])).toEqual([['venue-sg', true], ['venue-xa', false]]);
      const perps = await (await fetch(`${http}/api/v1/perps`)).json();
      expect(perps.products.map((p: Json) => p.symbol)).toEqual(['BTC-PERP', 'ETH-PERP']);
    } finally {
      n.child.kill('SIGTERM');
      await new Promise((r) => n.child.once('exit', r));
      rmSync(data, { recursive: true, force: true });
    }
  });
});
