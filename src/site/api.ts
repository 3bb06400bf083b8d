// The figures the public site publishes (OPS-3), as the API answers them under /api/v1; the pages
// render these same objects, so a page and the API cannot disagree. Read from the node's state as
// it stands (the books and trades as of the last durable batch), never from a client's request
// beyond a validated name or count. No identities: trades carry AFMM flags, ADL only counts, reports
// the positions without owners.
import type { NodeRuntime } from '../pipeline/runtime.js';
import { INELIGIBILITY_TEXT, type Venue } from '../venues/registry.js';
import { rulebook, type Rulebook } from '../venues/rulebook.js';
import { amount, bps, marketsOf, millis, price, qty, rateE8, time, type Figure, type Market } from './figures.js';
import { TRADES_KEPT } from './limits.js';
import type { Tape } from './tape.js';

/** Rows of a post-event report's lists shown at most (the totals say how many there were). */
export const REPORT_ROWS_MAX = 200;

/** The last `n` of a list (none for 0: slice(-0) would be all of it). */
function last<T>(xs: readonly T[], n: number): T[] {
  return n <= 0 ? [] : xs.slice(-n);
}

export interface Level { price: Figure; qty: Figure; orders: number }
export interface BookAnswer { symbol: string; instrument: number; asOfSequence: number; bids: Level[]; asks: Level[] }
export interface TradeRow { tradeId: number; time: Figure | null; price: Figure; qty: Figure; aggressor: 'buy' | 'sell'; afmm: { maker: boolean; taker: boolean } }
export interface TradesAnswer { symbol: string; instrument: number; asOfSequence: number; kept: number; trades: TradeRow[] }

export type Preference =
  | { id: string; kind: 'fee'; feeTier: number; makerFee: Figure | null; takerFee: Figure | null; riskText: string }
  | { id: string; kind: 'rate-limit'; ordersPerSecond: number; riskText: string };

const QUINTILES = [1, 2, 3, 4, 5] as const;

export class Api {
  readonly markets: Market[];
  private readonly bySymbol = new Map<string, Market>();

  constructor(private readonly node: NodeRuntime, private readonly tape: Tape) {
    this.markets = marketsOf(node);
    for (const m of this.markets) this.bySymbol.set(m.symbol.toUpperCase(), m);
  }

  /** An instrument by its symbol, any case. */
  market(symbol: string): Market | undefined {
    return this.bySymbol.get(symbol.toUpperCase());
  }

  /** A perpetual by its symbol. */
  perpetual(symbol: string): Market | undefined {
    const m = this.market(symbol);
    return m?.perpetual ? m : undefined;
  }

  /** The node's time for what depends on it (a licence's end): never behind what it last stamped. */
  private nowUs(): number {
    return Math.max(Date.now() * 1000, this.tape.lastTs);
  }

  /** The node's last sequence: what every answer is as of. */
  get sequence(): number {
    return this.node.lastSequence;
  }

  /** The perpetuals' settlement asset's scale (0 without perpetuals). */
  get settlementScale(): number {
    return this.node.pipeline.perps.active ? this.settlement.scale : 0;
  }

  private get settlement(): { code: string; scale: number } {
    const perps = this.node.pipeline.perps;
    const a = this.node.ledger.assets[perps.settle];
    return { code: a.code, scale: a.scale };
  }

  // ---- markets ----

  marketsAnswer() {
    return {
      asOfSequence: this.node.lastSequence,
      markets: this.markets.map((m) => {
        const { bids, asks } = this.tape.book(m.id, 1);
        const [last] = this.tape.trades(m.id, 1);
        return {
          symbol: m.symbol, instrument: m.id, kind: m.perpetual ? 'perpetual' : 'spot', base: m.base, quote: m.quote,
          tick: price(m, m.tick), lot: qty(m, m.lot), minQty: qty(m, m.minQty), maxQty: qty(m, m.maxQty),
          bestBid: bids[0] ? price(m, bids[0].price) : null, bestAsk: asks[0] ? price(m, asks[0].price) : null,
          lastTrade: last ? { time: time(last.ts), price: price(m, last.price), qty: qty(m, last.qty) } : null,
        };
      }),
    };
  }

  book(m: Market, depth: number): BookAnswer {
    const { bids, asks } = this.tape.book(m.id, depth);
    const level = (l: { price: number; qty: number; count: number }): Level => ({ price: price(m, l.price), qty: qty(m, l.qty), orders: l.count });
    return { symbol: m.symbol, instrument: m.id, asOfSequence: this.node.lastSequence, bids: bids.map(level), asks: asks.map(level) };
  }

  trades(m: Market, limit: number): TradesAnswer {
    return {
      symbol: m.symbol, instrument: m.id, asOfSequence: this.node.lastSequence, kept: TRADES_KEPT,
      trades: this.tape.trades(m.id, limit).map((t) => ({
        tradeId: t.tradeId, time: time(t.ts), price: price(m, t.price), qty: qty(m, t.qty), aggressor: t.aggressor,
        afmm: { maker: t.makerAfmm, taker: t.takerAfmm },
      })),
    };
  }

  // ---- perpetuals (PERP-7, 8, 9) ----

  perpsAnswer() {
    const perps = this.node.pipeline.perps;
    return {
      asOfSequence: this.node.lastSequence,
      settlementAsset: perps.active ? this.settlement.code : null,
      products: this.markets.filter((m) => m.perpetual).map((m) => this.perp(m)),
    };
  }

  perp(m: Market) {
    const perps = this.node.pipeline.perps;
    const v = perps.marketView(m.id);
    const product = perps.products.get(m.id)!;
    const p = product.p;
    const s = this.settlement;
    const book = p.bookInstrument === undefined ? undefined : this.markets.find((x) => x.id === p.bookInstrument);
    return {
      symbol: m.symbol, instrument: m.id, underlying: v.underlying, asOfSequence: this.node.lastSequence,
      mark: price(m, v.mark), index: price(m, v.index), degraded: v.degraded, clamped: v.clamped,
      markBand: { low: price(m, v.markBand[0]), high: price(m, v.markBand[1]) },
      markInputs: {
        fundingBasis: price(m, v.inputs.fundingBasis), movingBasis: price(m, v.inputs.movingBasis),
        lastTrade: v.inputs.lastTrade > 0 ? price(m, v.inputs.lastTrade) : null,
      },
      sources: v.contributions.map((c) => ({
        source: c.source, price: c.price > 0 ? price(m, c.price) : null, age: c.ageMs >= 0 ? millis(c.ageMs) : null, status: c.status,
      })),
      fundingRate: rateE8(v.lastRateE8), predictedRate: rateE8(v.predictedRateE8), nextFunding: time(v.nextFundingUs),
      fundingIntervalMinutes: v.fundingIntervalMin,
      premium: { samples: product.premiumCount, average: rateE8(product.premiumCount === 0 ? 0 : Math.trunc(product.premiumSum / product.premiumCount)) },
      openInterest: qty(m, v.openInterest),
      parameters: {
        settlementAsset: s.code,
        tiers: p.tiers.map((t) => ({ notionalMax: amount(t.notionalMax, s.scale), initialMargin: bps(t.imBps), maintenanceMargin: bps(t.mmBps), maxLeverage: t.maxLeverage })),
        fundingCap: rateE8(p.fundingCapE8), interest: rateE8(p.interestE8), premiumClamp: rateE8(p.premiumClampE8),
        impactNotional: amount(p.impactNotional, s.scale),
        sources: p.sources.map((x) => x.id), bookSource: book ? book.symbol : null,
        staleAfter: millis(p.staleMs), outlierBand: bps(p.outlierBps), minSources: p.minSources, basisMinutes: p.basisMinutes,
        markBand: bps(p.markBandBps), markWindow: millis(p.markWindowMs),
        liquidationFee: bps(p.liquidationFeeBps ?? 50), liquidationImpact: bps(p.liquidationImpactBps ?? 200),
      },
    };
  }

  funding(m: Market, limit: number) {
    const s = this.settlement;
    const history = last(this.node.pipeline.perps.fundingHistory(m.id), limit);
    return {
      symbol: m.symbol, instrument: m.id, asOfSequence: this.node.lastSequence,
      history: history.map((r) => ({
        time: time(r.ts), rate: rateE8(r.rateE8), mark: price(m, r.mark), index: price(m, r.index),
        paid: amount(r.paid, s.scale), received: amount(r.received, s.scale), residual: amount(r.residual, s.scale), positions: r.positions,
      })),
    };
  }

  insurance(limit: number) {
    const perps = this.node.pipeline.perps;
    if (!perps.active) return { asOfSequence: this.node.lastSequence, asset: null, level: null, floor: null, depleted: false, otherAssets: [], history: [] };
    const s = this.settlement;
    return {
      asOfSequence: this.node.lastSequence, asset: s.code,
      level: amount(perps.fundLevel(), s.scale), floor: amount(perps.waterfall.floor, s.scale), depleted: perps.waterfall.depleted,
      // Collateral taken from defaulters: held, worth its haircut value, but not what the fund pays with.
      otherAssets: perps.fundOtherAssets().map((o) => ({ asset: o.asset, amount: amount(o.amount, o.scale), valueAtHaircut: amount(o.value, s.scale) })),
      history: last(perps.fundHistory, limit).map((h) => ({ time: time(h.ts), level: amount(h.level, s.scale) })),
    };
  }

  /** How many open positions sit in each ADL quintile (5 is deleveraged first), per product and side. */
  adl() {
    const perps = this.node.pipeline.perps;
    return {
      asOfSequence: this.node.lastSequence,
      quintiles: [...QUINTILES],
      products: this.markets.filter((m) => m.perpetual).map((m) => {
        const long = [0, 0, 0, 0, 0];
        const short = [0, 0, 0, 0, 0];
        for (const [account, bucket] of perps.adlRanks(m.id)) {
          const size = perps.accounts.get(account)?.positions.get(m.id)?.size ?? 0;
          if (size > 0) long[bucket - 1]++;
          else if (size < 0) short[bucket - 1]++;
        }
        return { symbol: m.symbol, instrument: m.id, long, short, positions: long.reduce((a, b) => a + b, 0) + short.reduce((a, b) => a + b, 0) };
      }),
    };
  }

  reports(limit: number) {
    const perps = this.node.pipeline.perps;
    const s = this.settlement;
    const bySymbolId = (id: number) => this.markets.find((x) => x.id === id)!;
    return {
      asOfSequence: this.node.lastSequence,
      reports: last(perps.reports, limit).reverse().map((r) => ({
        id: r.id, sequence: r.seq, time: time(r.ts), triggers: r.triggers, text: r.text,
        products: r.products.map((p) => {
          const m = bySymbolId(p.instrument);
          return {
            symbol: p.symbol, mark: price(m, p.mark), index: price(m, p.index),
            sources: p.sources.map((c) => ({ source: c.source, price: c.price > 0 ? price(m, c.price) : null, age: c.ageMs >= 0 ? millis(c.ageMs) : null, status: c.status })),
          };
        }),
        // A mass liquidation's lists are long: the first REPORT_ROWS_MAX of each, with the totals.
        liquidatedTotal: r.liquidated.length, timelineTotal: r.timeline.length,
        liquidated: r.liquidated.slice(0, REPORT_ROWS_MAX).map((l) => {
          const m = bySymbolId(l.instrument);
          return { symbol: m.symbol, side: l.side, size: qty(m, l.size), bankruptcyPrice: price(m, l.bankruptcyPrice) };
        }),
        timeline: r.timeline.slice(0, REPORT_ROWS_MAX).map((t) => {
          const m = this.markets.find((x) => x.id === t.instrument);
          return {
            stage: t.stage, symbol: m?.symbol ?? null, qty: m ? qty(m, t.qty) : null, price: m && t.price > 0 ? price(m, t.price) : null,
            amount: amount(t.amount, s.scale),
          };
        }),
        fundBefore: amount(r.fundBefore, s.scale), fundAfter: amount(r.fundAfter, s.scale),
      })),
    };
  }

  notices(limit: number) {
    const perps = this.node.pipeline.perps;
    const s = this.settlement;
    return {
      asOfSequence: this.node.lastSequence,
      notices: last(perps.notices, limit).reverse().map((n) => ({ sequence: n.seq, time: time(n.ts), kind: n.kind, fund: amount(n.fund, s.scale), text: n.text })),
    };
  }

  // ---- venues and jurisdictions (SL-7) ----

  venues() {
    const registry = this.node.pipeline.venues.registry;
    const nowUs = this.nowUs();
    const ledger = this.node.ledger;
    const limit = (v: Venue): Figure | null => {
      const a = ledger.assetIndex.get(v.unsettledLimitAsset);
      return a === undefined ? null : amount(v.unsettledLimit, ledger.assets[a].scale);
    };
    return {
      asOfSequence: this.node.lastSequence, asOf: time(nowUs),
      venues: [...registry.venues.values()].map((v) => {
        const why = registry.ineligibility(v, nowUs);
        return {
          code: v.code, name: v.name, legalEntity: v.legalEntity, group: v.group, affiliated: v.affiliated,
          jurisdiction: v.jurisdiction, regulator: v.regulator, licenceId: v.licenceId, licenceExpires: v.licenceExpires, custody: v.custody,
          status: v.status, statusReason: v.statusReason, eligible: why === undefined,
          ineligibility: why === undefined ? null : { code: why, text: INELIGIBILITY_TEXT[why] },
          mayTradeNow: v.status === 'active' && why === undefined,
          unsettledLimit: limit(v), unsettledLimitAsset: v.unsettledLimitAsset, clients: Object.keys(v.clients).length,
        };
      }),
    };
  }

  jurisdictions() {
    const registry = this.node.pipeline.venues.registry;
    return {
      asOfSequence: this.node.lastSequence,
      jurisdictions: [...registry.jurisdictions.values()].map((j) => ({
        code: j.code, name: j.name, fatf: j.fatf, fsrb: j.fsrb ?? null, fatfConsistent: j.fatfConsistent, ioscoConsistent: j.ioscoConsistent,
        qualifies: j.fatf !== 'none' && j.fatfConsistent && j.ioscoConsistent, assessedOn: j.assessedOn, source: j.source,
      })),
    };
  }

  // ---- the rulebook (SL-9) and AFMM disclosures (AFMM-4) ----

  rulebook(): Rulebook {
    return rulebook(this.node);
  }

  afmm() {
    const afmm = this.node.pipeline.afmm;
    const fees = this.node.ledger.fees;
    return {
      asOfSequence: this.node.lastSequence,
      affiliatedMarketMakers: afmm.disclosures().map((d) => ({
        participant: d.participant, name: d.name, officer: d.officer, since: time(d.since),
        preferences: d.entries.map((e): Preference => e.kind === 'fee'
          ? { id: e.id, kind: e.kind, feeTier: e.feeTier, makerFee: fees.has(e.feeTier) ? bps(fees.tier(e.feeTier).makerBps) : null, takerFee: fees.has(e.feeTier) ? bps(fees.tier(e.feeTier).takerBps) : null, riskText: e.riskText }
          : { id: e.id, kind: e.kind, ordersPerSecond: e.ordersPerSecond, riskText: e.riskText }),
      })),
      feeTiers: fees.all().map((t) => ({ id: t.id, makerFee: bps(t.makerBps), takerFee: bps(t.takerBps) })),
      changes: afmm.audit.filter((a) => a.event === 'approved').slice(-100).reverse().map((a) => ({ change: a.change, time: time(a.ts), action: a.what.action, participant: a.what.participant })),
    };
  }
}
