// The public disclosure site (OPS-3), served by the node itself over HTTP on its websocket port:
// server-rendered pages (markets, perpetuals, how perpetuals work and their risks, venues and
// jurisdictions, the rulebook, AFMM disclosures), the same figures as JSON under /api/v1, and a
// live channel at /site that pushes what changed after durable batches. Free, no login, nothing
// fetched from elsewhere. What it shows it derives from the node's batches (a listener, like the
// gateway's market data) and reads from the node's state; a request only ever names a page, an
// instrument (looked up, never echoed) or a bounded count.
//
//   tape.ts     books and recent trades with AFMM flags, from the batches
//   api.ts      the figures, as the API answers them ({value, raw}: figures.ts)
//   pages.ts    the pages and their live fragments (html.ts escapes, charts.ts draws)
//   live.ts     the /site websocket channel
import uWS from 'uWebSockets.js';
import type { AppliedBatch, NodeRuntime } from '../pipeline/runtime.js';
import { renderRulebook } from '../venues/rulebook.js';
import { Api } from './api.js';
import { SITE_CSS, SITE_ICON, SITE_JS } from './assets.js';
import {
  BOOK_DEPTH_DEFAULT, BOOK_DEPTH_MAX, HISTORY_DEFAULT, HISTORY_MAX, REPORTS_DEFAULT, REPORTS_MAX, RESPONSE_CACHE_BODY_MAX, RESPONSE_CACHE_ENTRIES_MAX, RESPONSE_CACHE_MS, TRADES_KEPT,
} from './limits.js';
import { Live, type LiveOptions, type LiveStats } from './live.js';
import { Pages } from './pages.js';
import { Tape } from './tape.js';

export type SiteOptions = LiveOptions;

const HTML = 'text/html; charset=utf-8';
const JSON_TYPE = 'application/json; charset=utf-8';
const TEXT = 'text/plain; charset=utf-8';
/** Everything from the node itself; no inline script or style; the live channel on the same origin. */
const CSP = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

interface Answer { status: string; type: string; body: string; cache?: string }

class HttpError extends Error {
  constructor(readonly status: string, message: string) {
    super(message);
  }
}

/** A bounded count from the query string (`?depth=10`): absent is the default, anything else outside 0..max a 400. */
function countParam(req: uWS.HttpRequest, name: string, fallback: number, max: number): number {
  const text = req.getQuery(name);
  if (text === undefined || text === '') return fallback;
  if (!/^\d{1,7}$/.test(text) || Number(text) > max) throw new HttpError('400 Bad Request', `${name} must be a whole number from 0 to ${max}`);
  return Number(text);
}

/** The route's symbol parameter, decoded; the caller looks it up (it is never echoed). */
function symbolParam(req: uWS.HttpRequest): string {
  const raw = req.getParameter(0) ?? '';
  try {
    return raw.length <= 64 ? decodeURIComponent(raw) : '';
  } catch {
    return '';
  }
}

export interface SiteStats extends LiveStats { requests: number; notFound: number; errors: number; cacheHits: number }

export class Site {
  private readonly tape: Tape;
  private readonly api: Api;
  private readonly pages: Pages;
  private readonly live: Live;
  private readonly detach: () => void;
  /** Answers reused while the node's sequence stands (and for at most RESPONSE_CACHE_MS). */
  private readonly cache = new Map<string, { sequence: number; durable: number; atMs: number; answer: Answer }>();

  /** Answers cached now (bounded: see route). */
  get cached(): number { return this.cache.size; }
  private readonly counts = { requests: 0, notFound: 0, errors: 0, cacheHits: 0 };

  /** Attaches to the node's batches: call while the node is idle (as a gateway is made). */
  constructor(private readonly node: NodeRuntime, options: SiteOptions = {}) {
    this.tape = new Tape(node);
    this.api = new Api(node, this.tape);
    this.pages = new Pages(this.api, this.tape);
    this.live = new Live(this.pages, this.tape, () => node.lastSequence, options);
    // A fault of the site's must not fail a batch (applied) or stop the node: it is said, and the site lags.
    this.detach = node.attach({
      applied: (b: AppliedBatch) => this.guard(() => this.tape.applied(b)),
      durable: (b: AppliedBatch) => this.guard(() => {
        this.tape.durable(b);
        this.live.schedule();
      }),
    });
  }

  get stats(): SiteStats {
    return { ...this.live.stats, ...this.counts };
  }

  /** Live connections open now. */
  get connections(): number { return this.live.connections; }

  private guard(run: () => void): void {
    try {
      run();
    } catch (e) {
      this.counts.errors++;
      console.error('junction site: internal error deriving from a batch:', e);
    }
  }

  /** The site's routes and its live channel, on the node's uWS app (before its catch-all 404). */
  mount(app: uWS.TemplatedApp): void {
    const page = (path: string, render: () => string) => this.route(app, path, () => ({ status: '200 OK', type: HTML, body: render() }));
    const json = (path: string, answer: (req: uWS.HttpRequest) => unknown) => this.route(app, path, (req) => ({ status: '200 OK', type: JSON_TYPE, body: `${JSON.stringify(answer(req))}\n` }));
    const asset = (path: string, type: string, body: string) => this.route(app, path, () => ({ status: '200 OK', type, body, cache: 'public, max-age=300' }));

    page('/', () => this.pages.home());
    page('/markets', () => this.pages.markets());
    page('/perpetuals', () => this.pages.perpetuals());
    page('/perpetuals/rules', () => this.pages.perpetualsRules());
    page('/venues', () => this.pages.venuesPage());
    page('/rulebook', () => this.pages.rulebookPage());
    page('/afmm', () => this.pages.afmmPage());
    this.route(app, '/rulebook.md', () => ({ status: '200 OK', type: 'text/markdown; charset=utf-8', body: renderRulebook(this.api.rulebook()) }));
    asset('/static/site.css', 'text/css; charset=utf-8', SITE_CSS);
    asset('/static/site.js', 'text/javascript; charset=utf-8', SITE_JS);
    asset('/static/icon.svg', 'image/svg+xml', SITE_ICON);

    const market = (req: uWS.HttpRequest) => {
      const m = this.api.market(symbolParam(req));
      if (!m) throw new HttpError('404 Not Found', 'no instrument with that symbol: /api/v1/markets lists them');
      return m;
    };
    const perpetual = (req: uWS.HttpRequest) => {
      const m = this.api.perpetual(symbolParam(req));
      if (!m) throw new HttpError('404 Not Found', 'no perpetual contract with that symbol: /api/v1/perps lists them');
      return m;
    };
    json('/api/v1', () => this.index());
    json('/api/v1/markets', () => this.api.marketsAnswer());
    json('/api/v1/markets/:symbol', (req) => {
      const m = market(req);
      return { asOfSequence: this.api.sequence, ...this.api.marketsAnswer().markets.find((x) => x.instrument === m.id)! };
    });
    json('/api/v1/markets/:symbol/book', (req) => this.api.book(market(req), countParam(req, 'depth', BOOK_DEPTH_DEFAULT, BOOK_DEPTH_MAX)));
    json('/api/v1/markets/:symbol/trades', (req) => this.api.trades(market(req), countParam(req, 'limit', TRADES_KEPT, TRADES_KEPT)));
    json('/api/v1/perps', () => this.api.perpsAnswer());
    json('/api/v1/perps/:symbol', (req) => this.api.perp(perpetual(req)));
    json('/api/v1/perps/:symbol/funding', (req) => this.api.funding(perpetual(req), countParam(req, 'limit', HISTORY_DEFAULT, HISTORY_MAX)));
    json('/api/v1/insurance', (req) => this.api.insurance(countParam(req, 'limit', HISTORY_DEFAULT, HISTORY_MAX)));
    json('/api/v1/adl', () => this.api.adl());
    json('/api/v1/reports', (req) => this.api.reports(countParam(req, 'limit', REPORTS_DEFAULT, REPORTS_MAX)));
    json('/api/v1/notices', (req) => this.api.notices(countParam(req, 'limit', REPORTS_DEFAULT, REPORTS_MAX)));
    json('/api/v1/venues', () => this.api.venues());
    json('/api/v1/jurisdictions', () => this.api.jurisdictions());
    json('/api/v1/rulebook', () => this.api.rulebook());
    json('/api/v1/afmm', () => this.api.afmm());
    // Anything else under the API: a JSON 404 pointing at the index (other paths get the node's plain 404).
    app.get('/api/*', (res) => {
      this.counts.notFound++;
      this.write(res, { status: '404 Not Found', type: JSON_TYPE, body: '{"error":"no such API route: /api/v1 lists them"}\n' });
    });
    this.live.mount(app);
  }

  /** Detaches from the node and closes the live connections. */
  close(): void {
    this.detach();
    this.live.close();
    this.cache.clear();
  }

  private route(app: uWS.TemplatedApp, path: string, answer: (req: uWS.HttpRequest) => Answer): void {
    app.get(path, (res, req) => {
      this.counts.requests++;
      // Keyed on exactly what the answer reads (countParam's getQuery, the raw route parameter):
      // unknown parameters must not each make an entry, and no spelling of a name (%64epth) may
      // store one answer under another's key.
      const key = `${path}|${req.getParameter(0) ?? ''}|${req.getQuery('depth') ?? ''}|${req.getQuery('limit') ?? ''}`;
      const now = Date.now();
      const cached = this.cache.get(key);
      // Valid while nothing was sequenced or became durable since (the books and trades are the durable ones).
      if (cached && cached.sequence === this.node.lastSequence && cached.durable === this.tape.durableBatch && now - cached.atMs < RESPONSE_CACHE_MS) {
        this.counts.cacheHits++;
        return this.write(res, cached.answer);
      }
      let a: Answer;
      try {
        a = answer(req);
      } catch (e) {
        if (e instanceof HttpError) {
          if (e.status.startsWith('404')) this.counts.notFound++;
          a = { status: e.status, type: path.startsWith('/api/') ? JSON_TYPE : TEXT, body: path.startsWith('/api/') ? `${JSON.stringify({ error: e.message })}\n` : `${e.message}\n` };
        } else {
          this.counts.errors++;
          console.error(`junction site: internal error answering ${path}:`, e);
          a = { status: '500 Internal Server Error', type: TEXT, body: 'internal error\n' };
        }
        return this.write(res, a);
      }
      // Small answers only, and a bounded number of them.
      if (a.body.length <= RESPONSE_CACHE_BODY_MAX) {
        if (this.cache.size >= RESPONSE_CACHE_ENTRIES_MAX) this.cache.clear();
        this.cache.set(key, { sequence: this.node.lastSequence, durable: this.tape.durableBatch, atMs: now, answer: a });
      }
      this.write(res, a);
    });
  }

  private write(res: uWS.HttpResponse, a: Answer): void {
    res.writeStatus(a.status)
      .writeHeader('Content-Type', a.type)
      .writeHeader('Cache-Control', a.cache ?? 'no-store')
      .writeHeader('X-Content-Type-Options', 'nosniff')
      .writeHeader('Referrer-Policy', 'no-referrer');
    if (a.type === HTML) res.writeHeader('Content-Security-Policy', CSP).writeHeader('X-Frame-Options', 'DENY');
    if (a.type === JSON_TYPE) res.writeHeader('Access-Control-Allow-Origin', '*');
    res.end(a.body);
  }

  /** The API's index: its routes and how it states numbers. */
  private index(): unknown {
    return {
      name: 'Junction public API', version: 1, asOfSequence: this.api.sequence,
      figures: 'Every figure is {value, raw}: value a decimal string in whole units (the asset named beside it; a fraction for rates and margins, 0.0001 being one basis point; seconds for ages and windows; an ISO-8601 UTC time for times), raw the node\'s own integer (ledger units, 1e-8 for funding and premium rates, basis points, milliseconds, microseconds since the epoch). Counts are plain integers. The rulebook is the node\'s own data, its parameters in the node\'s units.',
      routes: {
        '/api/v1/markets': 'every instrument: kind, assets, tick, lot, size limits, best bid and ask, last trade',
        '/api/v1/markets/{symbol}': 'one instrument',
        '/api/v1/markets/{symbol}/book?depth=N': `its book as of the last durable batch: price, size and orders per level, best first (depth ${BOOK_DEPTH_DEFAULT} by default, at most ${BOOK_DEPTH_MAX})`,
        '/api/v1/markets/{symbol}/trades?limit=N': `its recent trades since the node started, newest first, with AFMM flags (at most ${TRADES_KEPT})`,
        '/api/v1/perps': 'every perpetual: mark, index and each source\'s part, mark inputs, funding rate, predicted rate, next funding time, open interest, parameters',
        '/api/v1/perps/{symbol}': 'one perpetual',
        '/api/v1/perps/{symbol}/funding?limit=N': `its funding payments, oldest first (the last ${HISTORY_DEFAULT} by default, at most ${HISTORY_MAX})`,
        '/api/v1/insurance?limit=N': 'the insurance fund: level, floor, whether depleted, its level over time',
        '/api/v1/adl': 'open positions per ADL quintile (5 deleveraged first), per perpetual and side',
        '/api/v1/reports?limit=N': `post-event reports, newest first (${REPORTS_DEFAULT} by default, at most ${REPORTS_MAX})`,
        '/api/v1/notices?limit=N': 'insurance-fund notices, newest first',
        '/api/v1/venues': 'affiliated venues: licence, jurisdiction, status, eligibility now and why not, unsettled limit',
        '/api/v1/jurisdictions': 'jurisdictions: FATF standing, FATF and IOSCO consistency, whether each qualifies, the assessment',
        '/api/v1/rulebook': 'the rulebook as data (also /rulebook.md as text)',
        '/api/v1/afmm': 'affiliated market makers: officer, each preference with its risk text, the fee tiers, changes in force',
      },
      live: 'websocket /site?topics=home|markets|perps|venues|afmm (comma-separated): {seq, fragments} of the pages, after durable batches',
    };
  }
}
