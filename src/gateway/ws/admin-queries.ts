// What may be listed over AdminRequest ({"query": ...}), read at once from the node's state in
// memory: nothing is sequenced for it. Each query is public (any key may ask: the rulebook, the
// post-event reports, the AFMM disclosures) or the operators' (everything else); the answer is
// released as that (policy.ts). Eligibility is evaluated at the time of asking. Nothing private is
// shown: the node holds venues' public keys only.
import { REPORTS_KEPT } from '../../perps/liquidation.js';
import { renderRulebook, rulebook } from '../../venues/rulebook.js';
import type { NodeRuntime } from '../../pipeline/runtime.js';
import * as sbe from '../../protocol/codec.js';
import type { Venue } from '../../venues/registry.js';
import { ADMIN_ANSWER_BYTES_MAX, AUDIT_LISTED_DEFAULT, AUDIT_LISTED_MAX, TRADES_LISTED_DEFAULT, TRADES_LISTED_MAX, VENUE_EVENTS_LISTED_MAX } from './limits.js';
import { publishedReport, type PublishedReport } from './perp-events.js';

const Reason = sbe.RejectReason;

/** A query that cannot be answered: the reason and what it says. */
export class QueryRefusal extends Error {
  constructor(readonly reason: sbe.RejectReason, text: string) {
    super(text);
  }
}

type Request = Record<string, unknown>;

/** Who may ask: anyone (public data), or operator keys only. */
export type QueryAudience = 'public' | 'operator';

/** Each query, the filters it takes, who may ask, and how it is answered. */
const QUERIES: Record<string, { filters: string[]; audience: QueryAudience; answer: (node: NodeRuntime, r: Request, nowUs: number) => unknown }> = {
  venues: { filters: ['venue'], audience: 'operator', answer: venues },
  jurisdictions: { filters: [], audience: 'operator', answer: jurisdictions },
  'venue-events': { filters: ['venue', 'last'], audience: 'operator', answer: venueEvents },
  'custody-dues': { filters: [], audience: 'operator', answer: custodyDues },
  'venue-clients': { filters: ['venue'], audience: 'operator', answer: venueClients },
  settlement: { filters: [], audience: 'operator', answer: settlement },
  audit: { filters: ['last'], audience: 'operator', answer: audit },
  trades: { filters: ['instrument', 'last', 'before'], audience: 'operator', answer: trades },
  rulebook: { filters: [], audience: 'public', answer: (node) => { const book = rulebook(node); return { ...book, text: renderRulebook(book) }; } },
  'perp-reports': { filters: ['since'], audience: 'public', answer: perpReports },
  afmm: { filters: [], audience: 'public', answer: afmmDisclosures },
};

/** Who may ask the query `name` (undefined: there is no such query). */
export function queryAudience(name: unknown): QueryAudience | undefined {
  return typeof name === 'string' && Object.hasOwn(QUERIES, name) ? QUERIES[name].audience : undefined;
}

/** Answers a query (`nowUs`: the time eligibility is evaluated at); throws a QueryRefusal naming the fault. */
export function answerQuery(node: NodeRuntime, request: Request, nowUs: number): unknown {
  const name = request.query;
  const query = typeof name === 'string' && Object.hasOwn(QUERIES, name) ? QUERIES[name] : undefined;
  if (!query) throw new QueryRefusal(Reason.InvalidAdminCommand, `unknown query ${JSON.stringify(name)}: one of ${Object.keys(QUERIES).join(', ')}`);
  for (const field of Object.keys(request)) {
    if (field !== 'query' && !query.filters.includes(field)) {
      throw new QueryRefusal(Reason.InvalidAdminCommand, `query ${name} takes ${query.filters.length ? `only ${query.filters.join(', ')}` : 'no filters'}, not ${field}`);
    }
  }
  return query.answer(node, request, nowUs);
}

/** The venue a request names: undefined when it names none and need not; refused when unknown. */
function namedVenue(node: NodeRuntime, r: Request, required: boolean): Venue | undefined {
  if (r.venue === undefined && !required) return undefined;
  if (typeof r.venue !== 'string') throw new QueryRefusal(Reason.InvalidAdminCommand, `query ${r.query} needs venue: a venue code`);
  const venue = node.pipeline.venues.registry.venues.get(r.venue);
  if (!venue) throw new QueryRefusal(Reason.UnknownVenue, `no venue ${r.venue}`);
  return venue;
}

/** Each venue with its standing now: status (as set), and whether it qualifies (and if not, why). */
function venues(node: NodeRuntime, r: Request, nowUs: number): unknown {
  const registry = node.pipeline.venues.registry;
  const one = namedVenue(node, r, false);
  return {
    venues: (one ? [one] : [...registry.venues.values()]).map((v) => {
      const { clients, ...fields } = v;
      const why = registry.ineligibility(v, nowUs);
      // Unsettled exposure against the limit (SL-15): owed, reserved by open orders, in the limit asset.
      const { owed, reserved, total } = node.pipeline.venues.exposure(v.code);
      return {
        ...fields, eligible: why === undefined, ineligibility: why ?? null, clientCount: Object.keys(clients).length,
        exposure: { owed, reserved, total, limit: v.unsettledLimit, asset: v.unsettledLimitAsset },
      };
    }),
  };
}

function jurisdictions(node: NodeRuntime): unknown {
  const registry = node.pipeline.venues.registry;
  const venuesIn = (code: string) => [...registry.venues.values()].filter((v) => v.jurisdiction === code).map((v) => v.code);
  return { jurisdictions: [...registry.jurisdictions.values()].map((j) => ({ ...j, venues: venuesIn(j.code) })) };
}

/** The registry's audit trail (who changed what, when), the latest `last` events, oldest first. */
function venueEvents(node: NodeRuntime, r: Request): unknown {
  const venue = namedVenue(node, r, false);
  const last = r.last ?? VENUE_EVENTS_LISTED_MAX;
  if (typeof last !== 'number' || !Number.isSafeInteger(last) || last < 1 || last > VENUE_EVENTS_LISTED_MAX) {
    throw new QueryRefusal(Reason.InvalidAdminCommand, `last must be a whole number from 1 to ${VENUE_EVENTS_LISTED_MAX}`);
  }
  const all = node.pipeline.venues.registry.events;
  const matching = venue ? all.filter((e) => e.venue === venue.code) : all;
  return { events: matching.slice(-last), total: matching.length };
}

/**
 * Settlement risk as it stands: each venue's unsettled exposure against its limit (SL-15), the
 * reserve fund against the limits and the expected exposure (SL-17), and the compensation
 * arrangements with their coverage in force against the minimum (SL-18).
 */
function settlement(node: NodeRuntime, _r: Request, nowUs: number): unknown {
  const venues = node.pipeline.venues;
  const registry = venues.registry;
  const ledger = node.ledger;
  const reserve = venues.reserveAccount();
  const limitAssets = [...new Set([...registry.venues.values()].map((v) => v.unsettledLimitAsset))];
  return {
    venues: [...registry.venues.values()].map((v) => ({ venue: v.code, custody: v.custody, status: v.status, ...venues.exposure(v.code) })),
    reserve: limitAssets.map((asset) => ({
      asset, account: reserve ?? null,
      holds: reserve !== undefined ? ledger.balance(reserve, ledger.assetIndex.get(asset)!).available : 0,
      limits: venues.limitsIn(asset), expectedExposure: venues.expectedExposure(asset),
    })),
    compensation: { arrangements: [...registry.compensation.values()], coverage: registry.coverage(nowUs) },
    cycles: { config: venues.settlement.config ?? null, nextCycle: venues.settlement.nextCycle() ?? null },
    batches: [...venues.settlement.batches.values()],
    claims: venues.settlement.claims,
  };
}

/** What each custody location owes another: gross per direction, and net per pair. */
function custodyDues(node: NodeRuntime): unknown {
  const venues = node.pipeline.venues;
  return { gross: venues.custodyDues(), net: venues.netDues() };
}

/** A venue's clients: each one's account and its balances (in ledger units) of every asset it holds. */
function venueClients(node: NodeRuntime, r: Request): unknown {
  const venue = namedVenue(node, r, true)!;
  const ledger = node.ledger;
  return {
    venue: venue.code,
    clients: Object.entries(venue.clients).map(([client, account]) => ({
      client,
      account,
      balances: ledger.assets.flatMap((asset, i) => {
        const b = ledger.balance(account, i);
        return b.available !== 0 || b.held !== 0 ? [{ asset: asset.code, available: b.available, held: b.held }] : [];
      }),
    })),
  };
}

/**
 * The post-event reports (PERP-9) after sequence `since` (default: all the node keeps, the last
 * REPORTS_KEPT), oldest first, as many as one answer holds: `more` says to ask again from the last
 * one's seq. Each is the report as published on the wire (a huge one's lists cut, saying so).
 */
function perpReports(node: NodeRuntime, r: Request): unknown {
  const since = r.since ?? 0;
  if (typeof since !== 'number' || !Number.isSafeInteger(since) || since < 0) {
    throw new QueryRefusal(Reason.InvalidAdminCommand, 'since must be a whole number: a node sequence (reports after it are listed)');
  }
  const reports: PublishedReport[] = [];
  // Room for the listing's own JSON around the reports.
  let room = ADMIN_ANSWER_BYTES_MAX - 1024;
  let more = false;
  for (const report of node.pipeline.perps.reports) {
    if (report.seq <= since) continue;
    const published = publishedReport(report);
    room -= Buffer.byteLength(JSON.stringify(published)) + 1;
    if (room < 0 && reports.length > 0) {
      more = true;
      break;
    }
    reports.push(published);
  }
  return { reports, more, kept: REPORTS_KEPT };
}

/**
 * The public disclosure of affiliated market makers (AFMM-1, AFMM-4): each one, its responsible
 * officer, and every preference it has with its risk text; there are no others.
 */
function afmmDisclosures(node: NodeRuntime): unknown {
  return {
    afmms: node.pipeline.afmm.disclosures(),
    statement: 'An affiliated market maker has only the preferences listed here, each approved by two operators and disclosed with its risks; ' +
      'order types, the public book and the path to the sequencer are the same for every participant, and it never trades with the house account.',
  };
}

/** The AFMM audit trail (AFMM-5): the latest `last` records, oldest first, and the changes awaiting a second operator. */
/**
 * The node's trade records of one instrument (AFMM-3): the newest `last` (default
 * TRADES_LISTED_DEFAULT) before trade id `before`, newest first, with both parties' accounts and
 * orders and their AFMM flags as designated when each trade was made. `more`: older ones exist.
 */
function trades(node: NodeRuntime, r: Request): unknown {
  const listing = node.config.instruments.find((l) => l.symbol === r.instrument || l.spec.id === r.instrument);
  if (!listing) throw new QueryRefusal(Reason.UnknownInstrument, `trades needs an instrument the node lists (symbol or id), not ${JSON.stringify(r.instrument)}`);
  const last = r.last ?? TRADES_LISTED_DEFAULT;
  if (typeof last !== 'number' || !Number.isSafeInteger(last) || last < 1 || last > TRADES_LISTED_MAX) {
    throw new QueryRefusal(Reason.InvalidAdminCommand, `last must be a whole number from 1 to ${TRADES_LISTED_MAX}`);
  }
  const before = r.before ?? Number.MAX_SAFE_INTEGER;
  if (typeof before !== 'number' || !Number.isSafeInteger(before) || before < 1) throw new QueryRefusal(Reason.InvalidAdminCommand, 'before must be a trade id (a whole number from 1)');
  const listed = node.trades.latest(listing.spec.id, last + 1, before);
  return { instrument: listing.symbol, trades: listed.slice(0, last), more: listed.length > last };
}

function audit(node: NodeRuntime, r: Request): unknown {
  const last = r.last ?? AUDIT_LISTED_DEFAULT;
  if (typeof last !== 'number' || !Number.isSafeInteger(last) || last < 1 || last > AUDIT_LISTED_MAX) {
    throw new QueryRefusal(Reason.InvalidAdminCommand, `last must be a whole number from 1 to ${AUDIT_LISTED_MAX}`);
  }
  const afmm = node.pipeline.afmm;
  return {
    audit: afmm.audit.slice(-last),
    total: afmm.audit.length,
    pending: [...afmm.pending].map(([change, p]) => ({ change, operator: p.operator, what: p.change })),
  };
}
