// Operator commands on the venue registry and on venue clients' custody (SL-7, SL-8): what they
// may say, checked before anything changes, and how each is applied. They reach the node like
// orders do (sequenced, journaled, each naming the operator key that sent it) and are applied by
// the pipeline, so replay rebuilds the registry exactly.
import type { Jurisdiction, Venue } from './registry.js';

/** What an operator may set when adding a venue (status, participant and clients are the node's). */
export type VenueInput = Omit<Venue, 'status' | 'statusReason' | 'participant' | 'clients' | 'settlementAccount'>;

export type AdminAction =
  | { action: 'jurisdiction.set'; jurisdiction: Jurisdiction }
  | { action: 'venue.add'; venue: VenueInput }
  | { action: 'venue.update'; code: string; changes: Partial<Omit<VenueInput, 'code'>> }
  | { action: 'venue.suspend'; code: string; reason: string }
  | { action: 'venue.reinstate'; code: string }
  | { action: 'venue.client.add'; venue: string; client: string }
  /** The venue earmarks a client's assets for the shared book (a custody attestation). */
  | { action: 'custody.attest'; venue: string; client: string; asset: string; amount: number; id: string }
  /** ...and releases them (only available, unheld funds). */
  | { action: 'custody.release'; venue: string; client: string; asset: string; amount: number; id: string }
  /** A compensation arrangement for settlement assets (SL-18): an insurer's policy or a scheme. */
  | { action: 'compensation.set'; arrangement: CompensationArrangement }
  /** The least coverage the arrangements must give together, per asset. */
  | { action: 'compensation.minimum'; asset: string; amount: number }
  /** An arrangement pays out (after a default): into the reserve fund, linked to its policy and the claim. */
  | { action: 'compensation.payout'; id: string; arrangement: string; asset: string; amount: number; batch: string }
  /** When settlement cycles run (SL-14). */
  | { action: 'settlement.config'; intradayMinutes: number; dailyCutoffHkt: string; deadlineMinutes: number }
  /** A custodian's confirmation of one leg of a settlement batch (SL-11). */
  | { action: 'settlement.confirm'; batch: string; leg: number; reference: string }
  /** An operator declares a pending batch failed (its venue defaults). */
  | { action: 'settlement.fail'; batch: string; reason: string }
  /** The sequencer's clock passed a licence expiry: re-evaluate eligibility (the node sends it). */
  | { action: 'clock' };

export interface CompensationArrangement {
  id: string;
  kind: 'insurer' | 'scheme';
  /** The insurer or the scheme's operator. */
  provider: string;
  policyId: string;
  /** The settlement assets it covers, and how much (in coverageAsset units). */
  assets: string[];
  coverage: number;
  coverageAsset: string;
  /** The last day it is in force (YYYY-MM-DD, UTC). */
  expires: string;
}

export const ADMIN_ACTIONS: readonly AdminAction['action'][] = [
  'jurisdiction.set', 'venue.add', 'venue.update', 'venue.suspend', 'venue.reinstate', 'venue.client.add',
  'custody.attest', 'custody.release', 'compensation.set', 'compensation.minimum', 'compensation.payout', 'settlement.config', 'settlement.confirm',
  'settlement.fail', 'clock',
];

const CODE = /^[a-z][a-z0-9-]{1,31}$/;
const COMP_ID = /^[\x21-\x7e]{1,32}$/;
const DAY = /^\d{4}-\d{2}-\d{2}$/;
const JURISDICTION = /^[A-Z]{2,3}$/;
const CLIENT = /^[\x21-\x7e]{1,64}$/;
const ID = /^[\x21-\x7e]{1,128}$/;

/** An invalid command, with the field at fault. */
export class AdminError extends Error {}

export function text(v: unknown, field: string, max = 200): string {
  if (typeof v !== 'string' || v.trim() === '' || v.length > max) throw new AdminError(`${field} must be a non-empty text of at most ${max} characters`);
  return v;
}

export function matching(v: unknown, re: RegExp, field: string, what: string): string {
  if (typeof v !== 'string' || !re.test(v)) throw new AdminError(`${field} must be ${what}, got ${JSON.stringify(v)}`);
  return v;
}

export function flag(v: unknown, field: string): boolean {
  if (typeof v !== 'boolean') throw new AdminError(`${field} must be true or false`);
  return v;
}

export function whole(v: unknown, field: string, min: number, max: number): number {
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < min || v > max) throw new AdminError(`${field} must be a whole number from ${min} to ${max}`);
  return v;
}

export function day(v: unknown, field: string): string {
  const d = matching(v, DAY, field, 'a date YYYY-MM-DD');
  if (Number.isNaN(Date.parse(`${d}T00:00:00Z`)) || new Date(`${d}T00:00:00Z`).toISOString().slice(0, 10) !== d) throw new AdminError(`${field}: ${d} is not a date`);
  return d;
}

function publicKey(v: unknown, field: string): string {
  const s = matching(v, /^[A-Za-z0-9+/]{43}=$/, field, 'an Ed25519 public key: 32 bytes in base64');
  if (Buffer.from(s, 'base64').length !== 32) throw new AdminError(`${field} must be 32 bytes`);
  return s;
}

export function checkJurisdiction(j: unknown): Jurisdiction {
  if (typeof j !== 'object' || j === null) throw new AdminError('jurisdiction must be an object');
  const o = j as Record<string, unknown>;
  const fatf = o.fatf;
  if (fatf !== 'member' && fatf !== 'fsrb-member' && fatf !== 'none') throw new AdminError('fatf must be member, fsrb-member or none');
  const out: Jurisdiction = {
    code: matching(o.code, JURISDICTION, 'code', 'an ISO country code (2-3 capital letters)'),
    name: text(o.name, 'name'),
    fatf,
    fatfConsistent: flag(o.fatfConsistent, 'fatfConsistent'),
    ioscoConsistent: flag(o.ioscoConsistent, 'ioscoConsistent'),
    assessedOn: day(o.assessedOn, 'assessedOn'),
    source: text(o.source, 'source', 500),
  };
  if (fatf === 'fsrb-member') out.fsrb = text(o.fsrb, 'fsrb (the regional body, e.g. APG)', 40);
  return out;
}

const VENUE_FIELDS: Record<keyof VenueInput, (v: unknown, field: string) => unknown> = {
  code: (v, f) => matching(v, CODE, f, 'lower-case letters, digits and dashes (2-32)'),
  name: (v, f) => text(v, f),
  legalEntity: (v, f) => text(v, f),
  group: (v, f) => text(v, f),
  affiliated: flag,
  jurisdiction: (v, f) => matching(v, JURISDICTION, f, 'an ISO country code (2-3 capital letters)'),
  regulator: (v, f) => text(v, f),
  licenceId: (v, f) => {
    if (typeof v !== 'string' || v.length > 100) throw new AdminError(`${f} must be a text (empty: no licence)`);
    return v;
  },
  licenceExpires: day,
  custody: (v, f) => {
    const c = matching(v, CODE, f, 'a custody location name (lower-case letters, digits and dashes)');
    if (c === 'platform') throw new AdminError(`${f} must be the venue's own custody location, not the platform's`);
    return c;
  },
  senderCompId: (v, f) => matching(v, COMP_ID, f, 'a FIX CompID (1-32 printable characters)'),
  targetCompId: (v, f) => matching(v, COMP_ID, f, 'a FIX CompID (1-32 printable characters)'),
  publicKey,
  cancelOnDisconnect: flag,
  clientOrdersMax: (v, f) => whole(v, f, 1, 1_000_000),
  feeTier: (v, f) => whole(v, f, 0, 1_000_000),
  unsettledLimit: (v, f) => whole(v, f, 0, Number.MAX_SAFE_INTEGER),
  unsettledLimitAsset: (v, f) => text(v, f, 16),
};

export function checkVenue(input: unknown): VenueInput {
  if (typeof input !== 'object' || input === null) throw new AdminError('venue must be an object');
  const o = input as Record<string, unknown>;
  for (const k of Object.keys(o)) if (!(k in VENUE_FIELDS)) throw new AdminError(`unknown venue field ${k}`);
  const out: Record<string, unknown> = {};
  for (const [k, check] of Object.entries(VENUE_FIELDS)) {
    if (o[k] === undefined) throw new AdminError(`venue field ${k} is required`);
    out[k] = check(o[k], k);
  }
  return out as VenueInput;
}

export function checkVenueChanges(changes: unknown): Partial<Omit<VenueInput, 'code'>> {
  if (typeof changes !== 'object' || changes === null) throw new AdminError('changes must be an object');
  const out: Record<string, unknown> = {};
  const entries = Object.entries(changes as Record<string, unknown>);
  if (entries.length === 0) throw new AdminError('changes must name at least one field');
  for (const [k, v] of entries) {
    if (k === 'code') throw new AdminError('a venue\'s code cannot change');
    const check = VENUE_FIELDS[k as keyof VenueInput];
    if (!check) throw new AdminError(`unknown venue field ${k}`);
    out[k] = check(v, k);
  }
  return out as Partial<Omit<VenueInput, 'code'>>;
}

/** Checks an action's shape and fields (not what depends on state): throws AdminError naming the fault. */
export function checkAction(body: unknown): AdminAction {
  if (typeof body !== 'object' || body === null) throw new AdminError('the command must be an object');
  const o = body as Record<string, unknown>;
  switch (o.action) {
    case 'jurisdiction.set': return { action: o.action, jurisdiction: checkJurisdiction(o.jurisdiction) };
    case 'venue.add': return { action: o.action, venue: checkVenue(o.venue) };
    case 'venue.update': return { action: o.action, code: matching(o.code, CODE, 'code', 'a venue code'), changes: checkVenueChanges(o.changes) };
    case 'venue.suspend': return { action: o.action, code: matching(o.code, CODE, 'code', 'a venue code'), reason: text(o.reason, 'reason') };
    case 'venue.reinstate': return { action: o.action, code: matching(o.code, CODE, 'code', 'a venue code') };
    case 'venue.client.add':
      return { action: o.action, venue: matching(o.venue, CODE, 'venue', 'a venue code'), client: matching(o.client, CLIENT, 'client', 'a client id (1-64 printable characters)') };
    case 'custody.attest':
    case 'custody.release':
      return {
        action: o.action,
        venue: matching(o.venue, CODE, 'venue', 'a venue code'),
        client: matching(o.client, CLIENT, 'client', 'a client id (1-64 printable characters)'),
        asset: text(o.asset, 'asset', 16),
        amount: whole(o.amount, 'amount', 1, Number.MAX_SAFE_INTEGER),
        id: matching(o.id, ID, 'id', 'an attestation id (1-128 printable characters)'),
      };
    case 'compensation.set': {
      const a = o.arrangement as Record<string, unknown> | null;
      if (typeof a !== 'object' || a === null) throw new AdminError('arrangement must be an object');
      if (a.kind !== 'insurer' && a.kind !== 'scheme') throw new AdminError('kind must be insurer or scheme');
      if (!Array.isArray(a.assets) || a.assets.length === 0) throw new AdminError('assets must list the settlement assets it covers');
      return {
        action: o.action,
        arrangement: {
          id: matching(a.id, ID, 'id', 'an arrangement id (1-128 printable characters)'), kind: a.kind, provider: text(a.provider, 'provider'),
          policyId: text(a.policyId, 'policyId', 100), assets: a.assets.map((x, i) => text(x, `assets[${i}]`, 16)),
          coverage: whole(a.coverage, 'coverage', 0, Number.MAX_SAFE_INTEGER), coverageAsset: text(a.coverageAsset, 'coverageAsset', 16),
          expires: day(a.expires, 'expires'),
        },
      };
    }
    case 'settlement.config': {
      const cutoff = matching(o.dailyCutoffHkt, /^([01]\d|2[0-3]):[0-5]\d$/, 'dailyCutoffHkt', 'a time HH:MM (Hong Kong)');
      return {
        action: o.action, intradayMinutes: whole(o.intradayMinutes, 'intradayMinutes', 0, 1_440), dailyCutoffHkt: cutoff,
        deadlineMinutes: whole(o.deadlineMinutes, 'deadlineMinutes', 1, 10_080),
      };
    }
    case 'settlement.confirm':
      return {
        action: o.action, batch: matching(o.batch, ID, 'batch', 'a settlement batch id'), leg: whole(o.leg, 'leg', 0, 1_000),
        reference: text(o.reference, 'reference (the custodian\'s confirmation)', 200),
      };
    case 'settlement.fail':
      return { action: o.action, batch: matching(o.batch, ID, 'batch', 'a settlement batch id'), reason: text(o.reason, 'reason') };
    case 'compensation.minimum':
      return { action: o.action, asset: text(o.asset, 'asset', 16), amount: whole(o.amount, 'amount', 0, Number.MAX_SAFE_INTEGER) };
    case 'compensation.payout':
      return {
        action: o.action, id: matching(o.id, ID, 'id', 'a payout id (1-128 printable characters)'),
        arrangement: matching(o.arrangement, ID, 'arrangement', 'an arrangement id'), asset: text(o.asset, 'asset', 16),
        amount: whole(o.amount, 'amount', 1, Number.MAX_SAFE_INTEGER), batch: matching(o.batch, ID, 'batch', 'the failed batch it answers for'),
      };
    case 'clock': return { action: 'clock' };
    default:
      throw new AdminError(`unknown action ${JSON.stringify(o.action)}: one of ${ADMIN_ACTIONS.join(', ')}`);
  }
}
