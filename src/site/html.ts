// HTML by tagged template: every interpolated value is escaped unless it is itself Html made by
// this template, so nothing from the node's state or a request reaches a page unescaped. And how a
// figure is shown: its value for people, its raw integer beside it for machines (<data value>).
import type { Figure } from './figures.js';

export class Html {
  constructor(readonly text: string) {}
  toString(): string { return this.text; }
}

const ESCAPES: Readonly<Record<string, string>> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };

export function escape(text: string): string {
  return text.replace(/[&<>"']/g, (c) => ESCAPES[c]);
}

function part(v: unknown): string {
  if (v instanceof Html) return v.text;
  if (Array.isArray(v)) return v.map(part).join('');
  if (v === undefined || v === null || v === false) return '';
  return escape(String(v));
}

export function html(strings: TemplateStringsArray, ...values: unknown[]): Html {
  let out = strings[0];
  for (let i = 0; i < values.length; i++) out += part(values[i]) + strings[i + 1];
  return new Html(out);
}

/** A decimal string with thousands separators in its whole part ("-1234567.5" → "-1,234,567.5"). */
export function grouped(decimal: string): string {
  const [whole, fraction] = decimal.split('.');
  const sign = whole.startsWith('-') ? '-' : '';
  const digits = sign ? whole.slice(1) : whole;
  const withCommas = digits.replace(/\B(?=(\d{3})+(?!\d))/g, ',');
  return `${sign}${withCommas}${fraction !== undefined ? `.${fraction}` : ''}`;
}

/** A fraction as a percentage, exactly ("0.0000125" → "0.00125%"): the decimal point moves two places. */
export function percent(fraction: string): string {
  const negative = fraction.startsWith('-');
  const [whole, decimals = ''] = (negative ? fraction.slice(1) : fraction).split('.');
  const padded = decimals.padEnd(2, '0');
  const intPart = (whole + padded.slice(0, 2)).replace(/^0+(?=\d)/, '');
  const rest = padded.slice(2).replace(/0+$/, '');
  return `${negative ? '-' : ''}${intPart}${rest ? `.${rest}` : ''}%`;
}

/** An ISO time as people read it: "2026-11-30 08:10:00 UTC". */
export function when(iso: string): string {
  return `${iso.slice(0, 10)} ${iso.slice(11, 19)} UTC`;
}

export type Shown = 'number' | 'percent' | 'time';

/**
 * A figure on a page: its value as people read it, in a <data> element carrying the raw integer and
 * the figure's path in the API answer the enclosing section names (data-api), or a dash for none.
 */
export function fig(f: Figure | null, path: string, shown: Shown = 'number'): Html {
  if (!f) return html`<span class="none" data-p="${path}">—</span>`;
  const text = shown === 'percent' ? percent(f.value) : shown === 'time' ? when(f.value) : grouped(f.value);
  return html`<data value="${f.raw}" data-p="${path}">${text}</data>`;
}

/** A plain count in the API (no units), shown with its path. */
export function count(n: number, path: string): Html {
  return html`<data value="${n}" data-p="${path}">${grouped(String(n))}</data>`;
}

/** An element id made from a name (a symbol): letters, digits, - and _ only. */
export function idOf(prefix: string, name: string): string {
  return `${prefix}-${name.replace(/[^A-Za-z0-9_-]/g, '_')}`;
}
