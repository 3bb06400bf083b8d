// The public site's pages, server-rendered from the API's own answers (api.ts): each live part of a
// page is a fragment — an element with an id, naming the API answer it shows (data-api) and each
// figure's path in it (data-p) — which the live channel sends again, re-rendered, when it changes.
import type { Api, BookAnswer, TradesAnswer } from './api.js';
import { bucketChart, depthChart, seriesChart } from './charts.js';
import { PERPETUALS_RISK_DISCLOSURE } from './disclosure.js';
import { amount, type Market } from './figures.js';
import { count, fig, grouped, html, idOf, percent, when, type Html } from './html.js';
import {
  BOOK_LEVELS_SHOWN, DEPTH_CHART_LEVELS, FUNDING_ROWS_SHOWN, HISTORY_DEFAULT, REPORTS_SHOWN, TRADES_SHOWN,
} from './limits.js';
import type { Tape } from './tape.js';

/** The live channels a page may follow, each with the fragments it carries. */
export type Topic = 'home' | 'markets' | 'perps' | 'venues' | 'afmm';
export const TOPICS: readonly Topic[] = ['home', 'markets', 'perps', 'venues', 'afmm'];

interface PageLink { path: string; title: string }
const NAV: readonly PageLink[] = [
  { path: '/markets', title: 'Markets' },
  { path: '/perpetuals', title: 'Perpetuals' },
  { path: '/perpetuals/rules', title: 'How perpetuals work' },
  { path: '/venues', title: 'Venues' },
  { path: '/rulebook', title: 'Rulebook' },
  { path: '/afmm', title: 'AFMM disclosures' },
  { path: '/api/v1', title: 'API' },
];

const yesNo = (b: boolean) => (b ? 'yes' : 'no');
const enc = encodeURIComponent;

export class Pages {
  constructor(private readonly api: Api, private readonly tape: Tape) {}

  // ---- the frame ----

  private page(path: string, title: string, live: Topic | undefined, intro: Html, body: Html): string {
    return `<!doctype html>\n${html`<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">
<title>${title} · Junction</title><link rel="stylesheet" href="/static/site.css"><link rel="icon" href="/static/icon.svg" type="image/svg+xml">
<script src="/static/site.js" defer></script></head>
<body${live ? html` data-live="${live}"` : ''}>
<header><a class="brand" href="/">Junction</a><span class="tag">public disclosures</span>
<nav>${NAV.map((l) => html`<a href="${l.path}"${l.path === path ? html` aria-current="page"` : ''}>${l.title}</a>`)}</nav>${live ? html`<span id="live" class="live off" title="live updates">live</span>` : ''}</header>
<main><h1>${title}</h1>${intro}${body}</main>
<footer>${this.asOf()}<p>Free and public, no login. Every figure here is also served as JSON under <a href="/api/v1">/api/v1</a>; amounts are decimal strings in whole units with the node's raw integers beside them.</p></footer>
</body></html>`}\n`;
  }

  /** When the figures stand: the node's sequence and the time of its last durable batch. */
  asOf(): Html {
    const ts = this.tape.lastTs;
    return html`<p id="asof" class="muted">Figures as of sequence <data value="${this.api.sequence}">${grouped(String(this.api.sequence))}</data>${ts > 0 ? html` (${when(new Date(Math.floor(ts / 1000)).toISOString())})` : ''}.</p>`;
  }

  // ---- fragments ----

  /** Every fragment of a topic, by element id (markets: only the instruments named, when given). */
  fragments(topic: Topic, instruments?: readonly number[]): Map<string, Html> {
    const out = new Map<string, Html>();
    const add = (id: string, h: Html) => out.set(id, h);
    switch (topic) {
      case 'home':
        add('summary-markets', this.marketsSummary());
        add('summary-perps', this.perpsSummary());
        add('summary-insurance', this.insuranceSummary());
        break;
      case 'markets':
        add('summary-markets', this.marketsSummary());
        for (const m of this.api.markets) {
          if (instruments && !instruments.includes(m.id)) continue;
          add(idOf('book', m.symbol), this.book(m));
          add(idOf('depth', m.symbol), this.depth(m));
          add(idOf('trades', m.symbol), this.trades(m));
        }
        break;
      case 'perps':
        add('summary-perps', this.perpsSummary());
        for (const m of this.api.markets.filter((x) => x.perpetual)) {
          add(idOf('perp', m.symbol), this.perp(m));
          add(idOf('funding', m.symbol), this.funding(m));
        }
        add('insurance', this.insurance());
        add('adl', this.adl());
        add('notices', this.notices());
        add('reports', this.reports());
        break;
      case 'venues':
        add('venues', this.venues());
        add('jurisdictions', this.jurisdictions());
        break;
      case 'afmm':
        add('afmm', this.afmm());
        break;
    }
    add('asof', this.asOf());
    return out;
  }

  marketsSummary(): Html {
    const a = this.api.marketsAnswer();
    return html`<div id="summary-markets" data-api="/api/v1/markets"><table><thead><tr><th>Instrument</th><th>Kind</th><th class="n">Best bid</th><th class="n">Best ask</th><th class="n">Last price</th><th class="n">Last size</th><th>Last trade</th></tr></thead><tbody>
${a.markets.map((m, i) => html`<tr><td><a href="/markets#${idOf('m', m.symbol)}">${m.symbol}</a></td><td>${m.kind}</td><td class="n">${fig(m.bestBid, `markets.${i}.bestBid`)}</td><td class="n">${fig(m.bestAsk, `markets.${i}.bestAsk`)}</td>
<td class="n">${fig(m.lastTrade?.price ?? null, `markets.${i}.lastTrade.price`)}</td><td class="n">${fig(m.lastTrade?.qty ?? null, `markets.${i}.lastTrade.qty`)}</td><td>${fig(m.lastTrade?.time ?? null, `markets.${i}.lastTrade.time`, 'time')}</td></tr>`)}
</tbody></table></div>`;
  }

  book(m: Market): Html {
    const b: BookAnswer = this.api.book(m, BOOK_LEVELS_SHOWN);
    const rows = Math.max(b.bids.length, b.asks.length);
    const cells: Html[] = [];
    for (let i = 0; i < rows; i++) {
      const bid = b.bids[i];
      const ask = b.asks[i];
      cells.push(html`<tr>${bid ? html`<td class="n muted">${count(bid.orders, `bids.${i}.orders`)}</td><td class="n">${fig(bid.qty, `bids.${i}.qty`)}</td><td class="n bid">${fig(bid.price, `bids.${i}.price`)}</td>` : html`<td></td><td></td><td></td>`}
${ask ? html`<td class="n ask">${fig(ask.price, `asks.${i}.price`)}</td><td class="n">${fig(ask.qty, `asks.${i}.qty`)}</td><td class="n muted">${count(ask.orders, `asks.${i}.orders`)}</td>` : html`<td></td><td></td><td></td>`}</tr>`);
    }
    return html`<div id="${idOf('book', m.symbol)}" data-api="/api/v1/markets/${enc(m.symbol)}/book?depth=${BOOK_LEVELS_SHOWN}">
<table class="book"><thead><tr><th class="n">Orders</th><th class="n">Size (${m.base})</th><th class="n">Bid (${m.quote})</th><th class="n">Ask (${m.quote})</th><th class="n">Size (${m.base})</th><th class="n">Orders</th></tr></thead>
<tbody>${rows === 0 ? html`<tr><td colspan="6" class="muted">no resting orders</td></tr>` : cells}</tbody></table></div>`;
  }

  depth(m: Market): Html {
    const b = this.api.book(m, DEPTH_CHART_LEVELS);
    const points = (levels: BookAnswer['bids']) => levels.map((l) => ({ price: l.price.raw, qty: l.qty.raw }));
    const priceText = (p: number) => grouped(amount(Math.round(p), m.quoteScale).value);
    const qtyText = (q: number) => `${grouped(amount(Math.round(q) * m.contractSize, m.baseScale).value)} ${m.base}`;
    return html`<div id="${idOf('depth', m.symbol)}" class="depth">${depthChart(`Depth of ${m.symbol}: the best ${DEPTH_CHART_LEVELS} levels a side`, points(b.bids), points(b.asks), priceText, qtyText)}</div>`;
  }

  trades(m: Market): Html {
    const t: TradesAnswer = this.api.trades(m, TRADES_SHOWN);
    const afmm = (x: TradesAnswer['trades'][number]) => {
      const who = x.afmm.maker && x.afmm.taker ? 'both' : x.afmm.maker ? 'maker' : x.afmm.taker ? 'taker' : '';
      return who ? html`<span class="afmm" title="an affiliated market maker was the ${who === 'both' ? 'maker and the taker' : who}">AFMM ${who}</span>` : '';
    };
    return html`<div id="${idOf('trades', m.symbol)}" data-api="/api/v1/markets/${enc(m.symbol)}/trades?limit=${TRADES_SHOWN}">
<table class="trades"><thead><tr><th>Time (UTC)</th><th class="n">Price (${m.quote})</th><th class="n">Size (${m.base})</th><th>Aggressor</th><th>AFMM</th></tr></thead><tbody>
${t.trades.length === 0 ? html`<tr><td colspan="5" class="muted">no trades since the node started</td></tr>` : t.trades.map((x, i) => html`<tr data-trade="${x.tradeId}" data-afmm="${x.afmm.maker ? (x.afmm.taker ? 'both' : 'maker') : x.afmm.taker ? 'taker' : 'none'}">
<td>${fig(x.time, `trades.${i}.time`, 'time')}</td><td class="n ${x.aggressor === 'buy' ? 'bid' : 'ask'}">${fig(x.price, `trades.${i}.price`)}</td><td class="n">${fig(x.qty, `trades.${i}.qty`)}</td><td>${x.aggressor}</td><td>${afmm(x)}</td></tr>`)}
</tbody></table></div>`;
  }

  perpsSummary(): Html {
    const a = this.api.perpsAnswer();
    if (a.products.length === 0) return html`<div id="summary-perps" data-api="/api/v1/perps"><p class="muted">This node lists no perpetual contracts.</p></div>`;
    return html`<div id="summary-perps" data-api="/api/v1/perps"><table><thead><tr><th>Perpetual</th><th class="n">Mark</th><th class="n">Index</th><th class="n">Funding rate</th><th class="n">Predicted</th><th>Next funding</th><th class="n">Open interest</th></tr></thead><tbody>
${a.products.map((p, i) => html`<tr><td><a href="/perpetuals#${idOf('perp', p.symbol)}">${p.symbol}</a></td><td class="n">${fig(p.mark, `products.${i}.mark`)}</td><td class="n">${fig(p.index, `products.${i}.index`)}${p.degraded ? html` <span class="warn">degraded</span>` : ''}</td>
<td class="n">${fig(p.fundingRate, `products.${i}.fundingRate`, 'percent')}</td><td class="n">${fig(p.predictedRate, `products.${i}.predictedRate`, 'percent')}</td><td>${fig(p.nextFunding, `products.${i}.nextFunding`, 'time')}</td><td class="n">${fig(p.openInterest, `products.${i}.openInterest`)}</td></tr>`)}
</tbody></table></div>`;
  }

  insuranceSummary(): Html {
    const a = this.api.insurance(0);
    if (a.level === null) return html`<div id="summary-insurance" data-api="/api/v1/insurance?limit=0"></div>`;
    return html`<div id="summary-insurance" data-api="/api/v1/insurance?limit=0"><p>Insurance fund: <strong>${fig(a.level, 'level')}</strong> ${a.asset}${a.depleted ? html` <span class="warn">depleted: positions may be auto-deleveraged</span>` : ''} (<a href="/perpetuals#insurance">history</a>)</p></div>`;
  }

  perp(m: Market): Html {
    const p = this.api.perp(m);
    const q = p.parameters;
    return html`<section id="${idOf('perp', m.symbol)}" data-api="/api/v1/perps/${enc(m.symbol)}">
<h2>${p.symbol} <small>perpetual on the ${p.underlying} index, settled in ${q.settlementAsset}</small></h2>
<div class="grid"><div><h3>Key figures</h3><table class="kv"><tbody>
<tr><th>Mark price</th><td class="n big">${fig(p.mark, 'mark')}</td></tr>
<tr><th>Index</th><td class="n">${fig(p.index, 'index')}${p.degraded ? html` <span class="warn">degraded: positions may not open or grow</span>` : ''}</td></tr>
<tr><th>Funding rate (last)</th><td class="n">${fig(p.fundingRate, 'fundingRate', 'percent')}</td></tr>
<tr><th>Predicted funding rate</th><td class="n">${fig(p.predictedRate, 'predictedRate', 'percent')}</td></tr>
<tr><th>Next funding</th><td class="n">${fig(p.nextFunding, 'nextFunding', 'time')}</td></tr>
<tr><th>Funding interval</th><td class="n">${count(p.fundingIntervalMinutes, 'fundingIntervalMinutes')} min</td></tr>
<tr><th>Open interest</th><td class="n">${fig(p.openInterest, 'openInterest')} ${m.base}</td></tr>
<tr><th>Mark band (circuit breaker)</th><td class="n">${fig(p.markBand.low, 'markBand.low')} – ${fig(p.markBand.high, 'markBand.high')}${p.clamped ? html` <span class="warn">clamped</span>` : ''}</td></tr>
</tbody></table>
<h3>Mark inputs</h3><table class="kv"><tbody>
<tr><th>Index × (1 + predicted rate × time to funding)</th><td class="n">${fig(p.markInputs.fundingBasis, 'markInputs.fundingBasis')}</td></tr>
<tr><th>Index + moving average of the basis</th><td class="n">${fig(p.markInputs.movingBasis, 'markInputs.movingBasis')}</td></tr>
<tr><th>Last trade</th><td class="n">${fig(p.markInputs.lastTrade, 'markInputs.lastTrade')}</td></tr>
<tr><th>Premium samples this interval</th><td class="n">${count(p.premium.samples, 'premium.samples')}, average ${fig(p.premium.average, 'premium.average', 'percent')}</td></tr>
</tbody></table></div>
<div><h3>Index sources</h3><table><thead><tr><th>Source</th><th class="n">Price</th><th class="n">Age (s)</th><th>Status</th></tr></thead><tbody>
${p.sources.map((s, i) => html`<tr><td>${s.source}</td><td class="n">${fig(s.price, `sources.${i}.price`)}</td><td class="n">${fig(s.age, `sources.${i}.age`)}</td><td class="status-${s.status}">${s.status}</td></tr>`)}
</tbody></table>
<h3>Parameters</h3><table><thead><tr><th class="n">Notional up to (${q.settlementAsset})</th><th class="n">Initial margin</th><th class="n">Maintenance</th><th class="n">Max leverage</th></tr></thead><tbody>
${q.tiers.map((t, i) => html`<tr><td class="n">${fig(t.notionalMax, `parameters.tiers.${i}.notionalMax`)}</td><td class="n">${fig(t.initialMargin, `parameters.tiers.${i}.initialMargin`, 'percent')}</td><td class="n">${fig(t.maintenanceMargin, `parameters.tiers.${i}.maintenanceMargin`, 'percent')}</td><td class="n">${count(t.maxLeverage, `parameters.tiers.${i}.maxLeverage`)}x</td></tr>`)}
</tbody></table>
<table class="kv"><tbody>
<tr><th>Funding cap per interval</th><td class="n">±${fig(q.fundingCap, 'parameters.fundingCap', 'percent')}</td></tr>
<tr><th>Interest per interval</th><td class="n">${fig(q.interest, 'parameters.interest', 'percent')}</td></tr>
<tr><th>Premium clamp</th><td class="n">±${fig(q.premiumClamp, 'parameters.premiumClamp', 'percent')}</td></tr>
<tr><th>Impact notional</th><td class="n">${fig(q.impactNotional, 'parameters.impactNotional')} ${q.settlementAsset}</td></tr>
<tr><th>Sources</th><td>${q.sources.join(', ')}${q.bookSource ? html`, and the ${q.bookSource} book` : ''}</td></tr>
<tr><th>Stale after (s) / outlier band / at least</th><td class="n">${fig(q.staleAfter, 'parameters.staleAfter')} / ${fig(q.outlierBand, 'parameters.outlierBand', 'percent')} / ${count(q.minSources, 'parameters.minSources')} sources</td></tr>
<tr><th>Basis window</th><td class="n">${count(q.basisMinutes, 'parameters.basisMinutes')} min</td></tr>
<tr><th>Mark band / window (s)</th><td class="n">±${fig(q.markBand, 'parameters.markBand', 'percent')} / ${fig(q.markWindow, 'parameters.markWindow')}</td></tr>
<tr><th>Liquidation fee / impact bound</th><td class="n">${fig(q.liquidationFee, 'parameters.liquidationFee', 'percent')} / ${fig(q.liquidationImpact, 'parameters.liquidationImpact', 'percent')}</td></tr>
</tbody></table></div></div></section>`;
  }

  funding(m: Market): Html {
    const f = this.api.funding(m, HISTORY_DEFAULT);
    const n = f.history.length;
    const rows = f.history.slice(-FUNDING_ROWS_SHOWN).reverse();
    const chart = seriesChart(`Funding rate of ${m.symbol} at each funding time`, f.history.map((r) => ({ t: r.time!.raw, v: r.rate.raw })),
      (v) => percent(amount(Math.round(v), 8).value), (t) => when(new Date(Math.floor(t / 1000)).toISOString()));
    return html`<section id="${idOf('funding', m.symbol)}" data-api="/api/v1/perps/${enc(m.symbol)}/funding?limit=${HISTORY_DEFAULT}"><h3>${m.symbol}: funding history</h3>${chart}
<table><thead><tr><th>Funding time</th><th class="n">Rate</th><th class="n">Mark</th><th class="n">Index</th><th class="n">Paid</th><th class="n">Received</th><th class="n">To the fund</th><th class="n">Positions</th></tr></thead><tbody>
${rows.length === 0 ? html`<tr><td colspan="8" class="muted">no funding yet</td></tr>` : rows.map((r, k) => {
    const i = n - 1 - k;
    return html`<tr><td>${fig(r.time, `history.${i}.time`, 'time')}</td><td class="n">${fig(r.rate, `history.${i}.rate`, 'percent')}</td><td class="n">${fig(r.mark, `history.${i}.mark`)}</td><td class="n">${fig(r.index, `history.${i}.index`)}</td>
<td class="n">${fig(r.paid, `history.${i}.paid`)}</td><td class="n">${fig(r.received, `history.${i}.received`)}</td><td class="n">${fig(r.residual, `history.${i}.residual`)}</td><td class="n">${count(r.positions, `history.${i}.positions`)}</td></tr>`;
  })}
</tbody></table></section>`;
  }

  insurance(): Html {
    const a = this.api.insurance(HISTORY_DEFAULT);
    if (a.level === null) return html`<section id="insurance"><p class="muted">No insurance fund: this node lists no perpetual contracts.</p></section>`;
    const chart = seriesChart('The insurance fund\'s level over time', a.history.map((h) => ({ t: h.time!.raw, v: h.level.raw })),
      (v) => grouped(amount(Math.round(v), this.api.settlementScale).value), (t) => when(new Date(Math.floor(t / 1000)).toISOString()));
    return html`<section id="insurance" data-api="/api/v1/insurance?limit=${HISTORY_DEFAULT}"><h2>Insurance fund</h2>
<p class="big">${fig(a.level, 'level')} ${a.asset} ${a.depleted ? html`<span class="warn">depleted: every client with an open position has been told; positions may be auto-deleveraged</span>` : html`<span class="ok">available</span>`}</p>
${a.otherAssets.length === 0 ? '' : html`<p>It also holds ${a.otherAssets.map((o, i) => html`${i > 0 ? ', ' : ''}${fig(o.amount, `otherAssets.${i}.amount`)} ${o.asset} (worth ${fig(o.valueAtHaircut, `otherAssets.${i}.valueAtHaircut`)} ${a.asset} at its haircut)`)}: collateral taken from defaulters against what they owed. It pays only in ${a.asset}.</p>`}
<p class="muted">It counts as depleted at or below ${fig(a.floor, 'floor')} ${a.asset}. It takes liquidation fees and funding's rounding residual, and pays for liquidations past the bankruptcy price (the waterfall's third stage).</p>${chart}</section>`;
  }

  adl(): Html {
    const a = this.api.adl();
    const quintiles = a.quintiles.map((q) => `quintile ${q}`);
    return html`<section id="adl" data-api="/api/v1/adl"><h2>Auto-deleveraging likelihood</h2>
<p class="muted">Every open position is ranked by profit ÷ entry × effective leverage within its side; quintile 5 is deleveraged first. Each owner sees its own position's rank live; here is how many positions sit in each quintile.</p>
${a.products.map((p, i) => html`<h3>${p.symbol}: ${count(p.positions, `products.${i}.positions`)} open positions</h3>
${p.positions === 0 ? '' : bucketChart(`ADL quintiles of ${p.symbol}`, quintiles, [{ name: 'long', counts: p.long, kind: 'bids' }, { name: 'short', counts: p.short, kind: 'asks' }])}
<table><thead><tr><th>Side</th>${a.quintiles.map((q) => html`<th class="n">Q${q}</th>`)}</tr></thead><tbody>
<tr><td>long</td>${p.long.map((c, k) => html`<td class="n">${count(c, `products.${i}.long.${k}`)}</td>`)}</tr>
<tr><td>short</td>${p.short.map((c, k) => html`<td class="n">${count(c, `products.${i}.short.${k}`)}</td>`)}</tr></tbody></table>`)}</section>`;
  }

  notices(): Html {
    const a = this.api.notices(REPORTS_SHOWN);
    return html`<section id="notices" data-api="/api/v1/notices?limit=${REPORTS_SHOWN}"><h2>Notices</h2>
${a.notices.length === 0 ? html`<p class="muted">No notices: the insurance fund has not been depleted.</p>` : html`<ul>${a.notices.map((n, i) => html`<li class="${n.kind === 'insurance-depleted' ? 'warn' : ''}">${fig(n.time, `notices.${i}.time`, 'time')}: ${n.text} (fund ${fig(n.fund, `notices.${i}.fund`)})</li>`)}</ul>`}</section>`;
  }

  reports(): Html {
    const a = this.api.reports(REPORTS_SHOWN);
    return html`<section id="reports" data-api="/api/v1/reports?limit=${REPORTS_SHOWN}"><h2>Post-event reports</h2>
<p class="muted">Produced in the batch in which a backstop, an insurance-fund depletion or auto-deleveraging occurred, and published at once; positions appear without their owners.</p>
${a.reports.length === 0 ? html`<p class="muted">None: no last-resort mechanism has been used.</p>` : a.reports.map((r, i) => html`<article class="report"><h3>${r.id} · ${fig(r.time, `reports.${i}.time`, 'time')} · ${r.triggers.join(', ')}</h3>
<p>${r.liquidatedTotal} position(s) liquidated at sequence ${r.sequence}${r.liquidatedTotal > r.liquidated.length || r.timelineTotal > r.timeline.length ? ` (the first ${r.liquidated.length} positions and ${r.timeline.length} steps shown; the node keeps all)` : ''}. Insurance fund ${fig(r.fundBefore, `reports.${i}.fundBefore`)} → ${fig(r.fundAfter, `reports.${i}.fundAfter`)}</p>
<table><thead><tr><th>Product</th><th class="n">Mark</th><th class="n">Index</th><th>Sources</th></tr></thead><tbody>${r.products.map((p, k) => html`<tr><td>${p.symbol}</td><td class="n">${fig(p.mark, `reports.${i}.products.${k}.mark`)}</td><td class="n">${fig(p.index, `reports.${i}.products.${k}.index`)}</td><td>${p.sources.map((s) => `${s.source} ${s.status}`).join(', ')}</td></tr>`)}</tbody></table>
<table><thead><tr><th>Liquidated</th><th>Side</th><th class="n">Size</th><th class="n">Bankruptcy price</th></tr></thead><tbody>${r.liquidated.map((l, k) => html`<tr><td>${l.symbol}</td><td>${l.side}</td><td class="n">${fig(l.size, `reports.${i}.liquidated.${k}.size`)}</td><td class="n">${fig(l.bankruptcyPrice, `reports.${i}.liquidated.${k}.bankruptcyPrice`)}</td></tr>`)}</tbody></table>
<table><thead><tr><th>Stage</th><th>Product</th><th class="n">Quantity</th><th class="n">Price</th><th class="n">Amount</th></tr></thead><tbody>${r.timeline.map((t, k) => html`<tr><td>${t.stage}</td><td>${t.symbol ?? ''}</td><td class="n">${fig(t.qty, `reports.${i}.timeline.${k}.qty`)}</td><td class="n">${fig(t.price, `reports.${i}.timeline.${k}.price`)}</td><td class="n">${fig(t.amount, `reports.${i}.timeline.${k}.amount`)}</td></tr>`)}</tbody></table></article>`)}</section>`;
  }

  venues(): Html {
    const a = this.api.venues();
    return html`<section id="venues" data-api="/api/v1/venues"><h2>Affiliated venues</h2>
<p class="muted">Eligibility as of ${fig(a.asOf, 'asOf', 'time')}: affiliated with the group, licensed, the licence unexpired, and the home jurisdiction qualifying (below). A venue that stops qualifying is suspended at once.</p>
${a.venues.length === 0 ? html`<p class="muted">No venue is registered.</p>` : html`<table><thead><tr><th>Venue</th><th>Legal entity</th><th>Group</th><th>Jurisdiction</th><th>Regulator</th><th>Licence</th><th>Licence ends after</th><th>Status</th><th>Eligible now</th><th class="n">Unsettled limit</th><th class="n">Clients</th></tr></thead><tbody>
${a.venues.map((v, i) => html`<tr><td><strong>${v.name}</strong><br><span class="muted">${v.code}</span></td><td>${v.legalEntity}</td><td>${v.group}${v.affiliated ? '' : html` <span class="warn">not affiliated</span>`}</td><td>${v.jurisdiction}</td><td>${v.regulator}</td><td>${v.licenceId || html`<span class="warn">none</span>`}</td><td>${v.licenceExpires}</td>
<td class="${v.status === 'active' ? 'ok' : 'warn'}">${v.status}${v.statusReason ? html`<br><span class="muted">${v.statusReason}</span>` : ''}</td><td class="${v.eligible ? 'ok' : 'warn'}">${v.eligible ? 'yes' : html`no: ${v.ineligibility?.text ?? ''}`}</td>
<td class="n">${fig(v.unsettledLimit, `venues.${i}.unsettledLimit`)} ${v.unsettledLimitAsset}</td><td class="n">${count(v.clients, `venues.${i}.clients`)}</td></tr>`)}
</tbody></table>`}</section>`;
  }

  jurisdictions(): Html {
    const a = this.api.jurisdictions();
    const fatf = { member: 'FATF member', 'fsrb-member': 'member of a FATF-style regional body', none: 'neither' } as const;
    return html`<section id="jurisdictions" data-api="/api/v1/jurisdictions"><h2>Jurisdictions</h2>
<p class="muted">A jurisdiction qualifies when it belongs to the FATF or a FATF-style regional body and its regulation is assessed as substantially consistent with the FATF Recommendations and with IOSCO's crypto-asset recommendations.</p>
${a.jurisdictions.length === 0 ? html`<p class="muted">No jurisdiction is recorded.</p>` : html`<table><thead><tr><th>Code</th><th>Name</th><th>FATF standing</th><th>FATF-consistent</th><th>IOSCO-consistent</th><th>Qualifies</th><th>Assessed on</th><th>Source</th></tr></thead><tbody>
${a.jurisdictions.map((j) => html`<tr><td>${j.code}</td><td>${j.name}</td><td>${fatf[j.fatf]}${j.fsrb ? html` (${j.fsrb})` : ''}</td><td>${yesNo(j.fatfConsistent)}</td><td>${yesNo(j.ioscoConsistent)}</td><td class="${j.qualifies ? 'ok' : 'warn'}">${yesNo(j.qualifies)}</td><td>${j.assessedOn}</td><td class="muted">${j.source}</td></tr>`)}
</tbody></table>`}</section>`;
  }

  afmm(): Html {
    const a = this.api.afmm();
    return html`<section id="afmm" data-api="/api/v1/afmm">
${a.affiliatedMarketMakers.length === 0 ? html`<p>No market maker affiliated with the platform is designated.</p>` : a.affiliatedMarketMakers.map((d, i) => html`<article class="afmm-card"><h2>${d.name || `Participant ${d.participant}`}</h2>
<table class="kv"><tbody><tr><th>Participant</th><td>${count(d.participant, `affiliatedMarketMakers.${i}.participant`)}</td></tr><tr><th>Responsible officer</th><td>${d.officer}</td></tr><tr><th>Designated</th><td>${d.since ? fig(d.since, `affiliatedMarketMakers.${i}.since`, 'time') : 'from the configuration'}</td></tr></tbody></table>
<h3>Preferential treatment and its risks</h3>
${d.preferences.length === 0 ? html`<p>None: it trades on the same terms as every participant.</p>` : html`<table><thead><tr><th>Preference</th><th>What it gives</th><th>Risk to other participants</th></tr></thead><tbody>${d.preferences.map((p, k) => html`<tr><td>${p.id}<br><span class="muted">${p.kind}</span></td><td>${p.kind === 'fee'
    ? html`fee tier ${p.feeTier}: maker ${fig(p.makerFee, `affiliatedMarketMakers.${i}.preferences.${k}.makerFee`, 'percent')}, taker ${fig(p.takerFee, `affiliatedMarketMakers.${i}.preferences.${k}.takerFee`, 'percent')}`
    : html`up to ${count(p.ordersPerSecond, `affiliatedMarketMakers.${i}.preferences.${k}.ordersPerSecond`)} orders a second`}</td><td>${p.riskText}</td></tr>`)}</tbody></table>`}</article>`)}
<h2>Fee tiers every participant may be given</h2>
<table><thead><tr><th>Tier</th><th class="n">Maker</th><th class="n">Taker</th></tr></thead><tbody>${a.feeTiers.map((t, i) => html`<tr><td>${t.id}</td><td class="n">${fig(t.makerFee, `feeTiers.${i}.makerFee`, 'percent')}</td><td class="n">${fig(t.takerFee, `feeTiers.${i}.takerFee`, 'percent')}</td></tr>`)}</tbody></table>
<h2>Changes in force</h2>
${a.changes.length === 0 ? html`<p class="muted">None recorded.</p>` : html`<table><thead><tr><th>Change</th><th>Approved</th><th>Action</th><th>Participant</th></tr></thead><tbody>${a.changes.map((c, i) => html`<tr><td>${c.change}</td><td>${fig(c.time, `changes.${i}.time`, 'time')}</td><td>${c.action}</td><td>${c.participant}</td></tr>`)}</tbody></table>`}
</section>`;
  }

  // ---- pages ----

  home(): string {
    return this.page('/', 'Public disclosures', 'home', html`<p class="lead">The matching node of a licensed virtual-asset trading platform publishes here, free and without a login, every figure it promises in real time: its books and trades, its perpetual contracts' prices, funding, insurance fund and auto-deleveraging, the venues that share its book, its rulebook, and what its affiliated market makers are given.</p>`,
      html`<h2>Markets</h2>${this.marketsSummary()}<h2>Perpetuals</h2>${this.perpsSummary()}${this.insuranceSummary()}
<h2>Pages</h2><ul class="links">${NAV.map((l) => html`<li><a href="${l.path}">${l.title}</a></li>`)}<li><a href="/rulebook.md">The rulebook as text</a></li></ul>`);
  }

  markets(): string {
    return this.page('/markets', 'Markets', 'markets', html`<p class="lead">Each instrument's book as of the last durable batch, and its recent trades with time, price, size and the aggressor's side. A trade in which an affiliated market maker took part is marked AFMM.</p>`,
      html`${this.marketsSummary()}${this.api.markets.map((m) => html`<section class="market" id="${idOf('m', m.symbol)}"><h2>${m.symbol} <small>${m.perpetual ? 'perpetual' : 'spot'} · ${m.base}/${m.quote} · tick ${grouped(amount(m.tick, m.quoteScale).value)} ${m.quote} · lot ${grouped(amount(m.lot * m.contractSize, m.baseScale).value)} ${m.base}</small></h2>
<div class="grid"><div><h3>Book</h3>${this.book(m)}${this.depth(m)}</div><div><h3>Recent trades</h3>${this.trades(m)}</div></div></section>`)}`);
  }

  perpetuals(): string {
    const perps = this.api.markets.filter((m) => m.perpetual);
    if (perps.length === 0) return this.page('/perpetuals', 'Perpetual contracts', undefined, html`<p class="lead">This node lists no perpetual contracts.</p>`, html``);
    return this.page('/perpetuals', 'Perpetual contracts', 'perps', html`<p class="lead">Each perpetual's mark and index with every source's part in it, funding (last, predicted, next time), open interest and all the parameters that set them; the insurance fund; how likely positions are to be auto-deleveraged; notices and post-event reports. How it all works: <a href="/perpetuals/rules">rules and risks</a>.</p>`,
      html`${this.perpsSummary()}${perps.map((m) => this.perp(m))}<h2>Funding history</h2>${perps.map((m) => this.funding(m))}${this.insurance()}${this.adl()}${this.notices()}${this.reports()}`);
  }

  perpetualsRules(): string {
    const book = this.api.rulebook();
    const sections = book.sections.filter((s) => s.id === 'perpetuals' || s.id === 'perpetuals-default-management');
    return this.page('/perpetuals/rules', 'How perpetuals work, and their risks', undefined, html`<p class="lead">The risks in plain words first; then the rules exactly as the node runs them, from its rulebook (version ${book.version}), with every parameter in force.</p>`,
      html`<section class="disclosure"><h2>Risk disclosure</h2>${PERPETUALS_RISK_DISCLOSURE.map((d) => html`<h3>${d.title}</h3>${d.paragraphs.map((p) => html`<p>${p}</p>`)}`)}</section>
${sections.length === 0 ? html`<p class="muted">This node lists no perpetual contracts.</p>` : sections.map((s) => this.ruleSection(s, book.sections.indexOf(s) + 1))}`);
  }

  private ruleSection(s: { id: string; title: string; rules: string[]; parameters?: unknown }, n: number): Html {
    return html`<section class="rules" id="${idOf('rules', s.id)}"><h2>${n}. ${s.title}</h2><ol>${s.rules.map((r, j) => html`<li value="${j + 1}"><span class="muted">${n}.${j + 1}</span> ${r}</li>`)}</ol>
${s.parameters !== undefined ? html`<details><summary>Parameters in force</summary><pre>${JSON.stringify(s.parameters, null, 2)}</pre></details>` : ''}</section>`;
  }

  venuesPage(): string {
    return this.page('/venues', 'Venues and jurisdictions', 'venues', html`<p class="lead">The affiliated overseas venues that may route their clients' orders into the shared book, and the jurisdictions they are licensed in, with whether each qualifies now.</p>`,
      html`${this.venues()}${this.jurisdictions()}`);
  }

  rulebookPage(): string {
    const book = this.api.rulebook();
    return this.page('/rulebook', 'Rulebook', undefined, html`<p class="lead">The single rulebook of the shared order book, built from the parameters the node runs on. Version <strong>${book.version}</strong> (a hash of its content), as of sequence ${book.asOfSequence}. Also as <a href="/rulebook.md">text</a> and as <a href="/api/v1/rulebook">data</a>.</p>
<nav class="toc"><ol>${book.sections.map((s) => html`<li><a href="#${idOf('rules', s.id)}">${s.title}</a></li>`)}</ol></nav>`,
      html`${book.sections.map((s, i) => this.ruleSection(s, i + 1))}`);
  }

  afmmPage(): string {
    return this.page('/afmm', 'Affiliated market makers', 'afmm', html`<p class="lead">Market makers affiliated with the platform, their responsible officers, and every preferential treatment each is given, with its risks. Nothing else can be given: order types, what of the book a participant sees, and the path of its orders are the same for every participant; changes take effect only when a second operator approves them, and each is recorded. Trades in which an AFMM took part are marked in the <a href="/markets">trades lists</a>.</p>`,
      this.afmm());
  }
}
