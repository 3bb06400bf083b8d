// What an operator may list over AdminRequest ({"query": ...}), read at once from the node's state
// in memory: nothing is sequenced for it. Eligibility is evaluated at the time of asking. Nothing
// private is shown: the node holds venues' public keys only.
import { renderRulebook, rulebook } from '../../venues/rulebook.js';
import type { NodeRuntime } from '../../pipeline/runtime.js';
import * as sbe from '../../protocol/codec.js';
import type { Venue } from '../../venues/registry.js';
import { VENUE_EVENTS_LISTED_MAX } from './limits.js';

const Reason = sbe.RejectReason;

/** A query that cannot be answered: the reason and what it says. */
export class QueryRefusal extends Error {
  constructor(readonly reason: sbe.RejectReason, text: string) {
    super(text);
  }
}

type Request = Record<string, unknown>;

/** Each query, the filters it takes, and how it is answered. */
const QUERIES: Record<string, { filters: string[]; answer: (node: NodeRuntime, r: Request, nowUs: number) => unknown }> = {
  venues: { filters: ['venue'], answer: venues },
  jurisdictions: { filters: [], answer: jurisdictions },
  'venue-events': { filters: ['venue', 'last'], answer: venueEvents },
  'custody-dues': { filters: [], answer: custodyDues },
  'venue-clients': { filters: ['venue'], answer: venueClients },
  settlement: { filters: [], answer: settlement },
  rulebook: { filters: [], answer: (node) => { const book = rulebook(node); return { ...book, text: renderRulebook(book) }; } },
};

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
