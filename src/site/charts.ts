// Inline SVG charts, drawn on the server from the same figures the page shows: a book's depth, a
// series over time (funding rates, the insurance fund), and counts per bucket (ADL quintiles).
// Presentation attributes only (no style attributes: the site's content security policy allows no
// inline styles). Coordinates are floating point; the figures they are drawn from are not.
import { html, type Html } from './html.js';

const W = 640;
const H = 200;
const TOP = 16;
const BOTTOM = 22;
const BASE = H - BOTTOM;

const r1 = (x: number) => Math.round(x * 10) / 10;

export interface DepthPoint { price: number; qty: number }

/**
 * A depth chart: cumulative quantity on each side, stepping away from the touch. `priceText` and
 * `qtyText` write a raw price or quantity for the axis labels.
 */
export function depthChart(title: string, bids: DepthPoint[], asks: DepthPoint[], priceText: (p: number) => string, qtyText: (q: number) => string): Html {
  if (bids.length === 0 && asks.length === 0) {
    return html`<svg class="chart" viewBox="0 0 ${W} 60" role="img" aria-label="${title}: the book is empty"><title>${title}</title><text x="${W / 2}" y="34" text-anchor="middle" class="muted">no resting orders</text></svg>`;
  }
  const cumulative = (levels: DepthPoint[]) => {
    let sum = 0;
    return levels.map((l) => ({ price: l.price, total: (sum += l.qty) }));
  };
  const b = cumulative(bids);
  const a = cumulative(asks);
  const prices = [...b, ...a].map((x) => x.price);
  const lowest = Math.min(...prices);
  const highest = Math.max(...prices);
  // A margin each side, so the deepest level's step has a width.
  const pad = Math.max(1, (highest - lowest) * 0.08);
  const lo = lowest - pad;
  const hi = highest + pad;
  const top = Math.max(b.at(-1)?.total ?? 0, a.at(-1)?.total ?? 0);
  const x = (p: number) => r1(((p - lo) / (hi - lo)) * (W - 20) + 10);
  const y = (q: number) => r1(BASE - (q / top) * (BASE - TOP));
  const side = (points: { price: number; total: number }[], edge: number): string => {
    if (points.length === 0) return '';
    let d = `M${x(points[0].price)},${BASE}`;
    let prev = BASE;
    for (const pt of points) {
      d += ` L${x(pt.price)},${prev} L${x(pt.price)},${y(pt.total)}`;
      prev = y(pt.total);
    }
    return `${d} L${edge},${prev} L${edge},${BASE} Z`;
  };
  return html`<svg class="chart" viewBox="0 0 ${W} ${H}" role="img" aria-label="${title}">
<title>${title}</title>
<line x1="0" y1="${BASE}" x2="${W}" y2="${BASE}" class="axis"/>
<path d="${side(b, 10)}" class="bids"/>
<path d="${side(a, W - 10)}" class="asks"/>
<text x="${x(lowest)}" y="${H - 6}" class="label">${priceText(lowest)}</text>
<text x="${x(highest)}" y="${H - 6}" text-anchor="end" class="label">${priceText(highest)}</text>
<text x="${W / 2}" y="12" text-anchor="middle" class="label">cumulative quantity, up to ${qtyText(top)}</text>
</svg>`;
}

export interface SeriesPoint { t: number; v: number }

/** A series over time as a step line (each value holds until the next), with its range labelled. */
export function seriesChart(title: string, points: SeriesPoint[], valueText: (v: number) => string, timeText: (t: number) => string): Html {
  if (points.length === 0) {
    return html`<svg class="chart" viewBox="0 0 ${W} 60" role="img" aria-label="${title}: nothing yet"><title>${title}</title><text x="${W / 2}" y="34" text-anchor="middle" class="muted">nothing recorded yet</text></svg>`;
  }
  const t0 = points[0].t;
  // Several points at one time (or one point): the span is made non-zero, the line drawn flat to the edge.
  const t1 = Math.max(points[points.length - 1].t, t0 + 1);
  let lo = Math.min(0, ...points.map((p) => p.v));
  let hi = Math.max(0, ...points.map((p) => p.v));
  if (lo === hi) hi = lo + 1;
  const x = (t: number) => r1(((t - t0) / (t1 - t0)) * (W - 20) + 10);
  const y = (v: number) => r1(BASE - ((v - lo) / (hi - lo)) * (BASE - TOP));
  let d = `M${x(points[0].t)},${y(points[0].v)}`;
  for (let i = 1; i < points.length; i++) d += ` L${x(points[i].t)},${y(points[i - 1].v)} L${x(points[i].t)},${y(points[i].v)}`;
  if (x(points[points.length - 1].t) < W - 10) d += ` L${W - 10},${y(points[points.length - 1].v)}`;
  return html`<svg class="chart" viewBox="0 0 ${W} ${H}" role="img" aria-label="${title}">
<title>${title}</title>
<line x1="0" y1="${y(0)}" x2="${W}" y2="${y(0)}" class="axis"/>
<path d="${d}" class="series"/>
<text x="4" y="12" class="label">${valueText(hi)}</text>
<text x="4" y="${BASE - 4}" class="label">${valueText(lo)}</text>
<text x="10" y="${H - 6}" class="label">${timeText(t0)}</text>
${t1 - t0 > 1 ? html`<text x="${W - 10}" y="${H - 6}" text-anchor="end" class="label">${timeText(t1)}</text>` : ''}
</svg>`;
}

/** Counts per bucket for two groups side by side (long and short positions per ADL quintile). */
export function bucketChart(title: string, buckets: string[], groups: { name: string; counts: number[]; kind: string }[]): Html {
  const max = Math.max(1, ...groups.flatMap((g) => g.counts));
  const rowH = 18;
  const labelW = 110;
  const height = buckets.length * groups.length * rowH + buckets.length * 6 + 8;
  const rows: Html[] = [];
  let at = 4;
  buckets.forEach((bucket, i) => {
    groups.forEach((g) => {
      const w = r1((g.counts[i] / max) * (W - labelW - 60));
      rows.push(html`<text x="4" y="${at + 13}" class="label">${bucket} · ${g.name}</text><rect x="${labelW}" y="${at + 2}" width="${w}" height="${rowH - 4}" class="${g.kind}"/><text x="${labelW + w + 6}" y="${at + 13}" class="label">${g.counts[i]}</text>`);
      at += rowH;
    });
    at += 6;
  });
  return html`<svg class="chart" viewBox="0 0 ${W} ${height}" role="img" aria-label="${title}"><title>${title}</title>${rows}</svg>`;
}
