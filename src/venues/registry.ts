import type { CompensationArrangement } from './admin.js';

// The venue registry (SL-7): affiliated overseas venues, the jurisdictions they are licensed in,
// and whether each may route orders into the shared book. Part of the node's deterministic state:
// it changes only through sequenced operator commands (admin.ts), and reads time only as the
// sequencer stamped it, so replay rebuilds it exactly.
//
// Eligible = affiliated ∧ licensed ∧ licence unexpired ∧ the home jurisdiction is a FATF member or
// a member of a FATF-style regional body ∧ its regulation is assessed as substantially consistent
// with the FATF Recommendations and with IOSCO's crypto-asset recommendations.

/** How a jurisdiction stands with the FATF. */
export type FatfStanding = 'member' | 'fsrb-member' | 'none';

export interface Jurisdiction {
  /** ISO 3166 code, upper case (e.g. SG). */
  code: string;
  name: string;
  fatf: FatfStanding;
  /** The FATF-style regional body it belongs to (e.g. APG), for an fsrb-member. */
  fsrb?: string;
  /** Assessed as substantially consistent with the FATF Recommendations... */
  fatfConsistent: boolean;
  /** ...and with IOSCO's recommendations on crypto-asset misconduct and client-asset protection. */
  ioscoConsistent: boolean;
  /** The assessment: when (YYYY-MM-DD) and by what source (a report, its address). */
  assessedOn: string;
  source: string;
}

export type VenueStatus = 'active' | 'suspended';

export interface Venue {
  /** The venue's code: lower case letters, digits and dashes (e.g. venue-sg). */
  code: string;
  name: string;
  legalEntity: string;
  /** The group both it and the platform belong to (affiliation). */
  group: string;
  affiliated: boolean;
  jurisdiction: string;
  regulator: string;
  /** Licence id; empty when the venue holds none. */
  licenceId: string;
  /** The licence's last valid day (YYYY-MM-DD, UTC): it expires at the end of that day. */
  licenceExpires: string;
  /** The custody location holding its clients' assets. */
  custody: string;
  /** FIX CompIDs: the venue's SenderCompID and the TargetCompID it addresses us by. */
  senderCompId: string;
  targetCompId: string;
  /** Its Ed25519 public key, 32 raw bytes in base64 (signs its FIX Logon). */
  publicKey: string;
  /** Cancel its clients' open orders when its FIX session ends. */
  cancelOnDisconnect: boolean;
  /** Open orders per venue client, at most. */
  clientOrdersMax: number;
  feeTier: number;
  /**
   * The maximum unsettled transaction limit (SL-15): what the venue may owe, in units of
   * `unsettledLimitAsset`, counting its clients' open orders at their worst case.
   */
  unsettledLimit: number;
  unsettledLimitAsset: string;
  /** Set by the operator (suspend/reinstate) or by the registry when the venue stops qualifying. */
  status: VenueStatus;
  /** Why it is suspended (an eligibility reason or the operator's text). */
  statusReason: string;
  /** The participant whose accounts its clients are (made when the venue is added). */
  participant: number;
  /**
   * The platform's settlement account for the venue (SL-16): what the reserve fund paid in for it
   * when it defaulted, the claim against it.
   */
  settlementAccount?: number;
  /** Venue client id (as in FIX Account(1)) → the node's account. */
  clients: Record<string, number>;
}

/** Why a venue is not eligible, by name (stable: they reach FIX Logout texts and CLI output). */
export type Ineligibility =
  | 'NotAffiliated' | 'NotLicensed' | 'LicenceExpired' | 'UnknownJurisdiction' | 'JurisdictionNotFatf'
  | 'JurisdictionNotFatfConsistent' | 'JurisdictionNotIoscoConsistent';

export const INELIGIBILITY_TEXT: Readonly<Record<Ineligibility, string>> = {
  NotAffiliated: 'the venue is not affiliated with the platform',
  NotLicensed: 'the venue holds no licence',
  LicenceExpired: 'the venue\'s licence has expired',
  UnknownJurisdiction: 'the venue\'s jurisdiction is not in the jurisdiction table',
  JurisdictionNotFatf: 'the jurisdiction is neither a FATF member nor a member of a FATF-style regional body',
  JurisdictionNotFatfConsistent: 'the jurisdiction\'s regulation is not assessed as substantially consistent with the FATF Recommendations',
  JurisdictionNotIoscoConsistent: 'the jurisdiction\'s regulation is not assessed as substantially consistent with IOSCO\'s crypto-asset recommendations',
};

/** One recorded change of a venue's standing (the audit trail of the registry). */
export interface VenueEvent {
  seq: number;
  /** Sequencer time, µs since the epoch. */
  ts: number;
  /** A venue's code, or '*' for what concerns them all (the reserve fund). */
  venue: string;
  event: 'added' | 'updated' | 'suspended' | 'reinstated' | 'client-added' | 'limit-breached' | 'limit-restored'
    | 'reserve-below-expected' | 'reserve-restored' | 'compensation-set' | 'compensation-short' | 'compensation-restored'
    | 'settlement-config' | 'settlement-batch' | 'settlement-settled' | 'settlement-failed' | 'settlement-confirmed' | 'compensation-paid';
  /** The operator key that made it (0: the registry itself, e.g. a licence that expired). */
  operator: number;
  detail: string;
}

export interface RegistryState {
  jurisdictions: Jurisdiction[];
  venues: Venue[];
  events: VenueEvent[];
  /** Compensation arrangements (SL-18) and the least coverage they must give, per asset. */
  compensation?: CompensationArrangement[];
  coverageMinimum?: [string, number][];
}

const DAY_US = 86_400_000_000;

/** µs since the epoch at which a licence whose last valid day is `day` has expired. */
export function licenceEndUs(day: string): number {
  return Date.parse(`${day}T00:00:00Z`) * 1000 + DAY_US;
}

export class VenueRegistry {
  readonly compensation = new Map<string, CompensationArrangement>();
  readonly coverageMinimum = new Map<string, number>();
  readonly jurisdictions = new Map<string, Jurisdiction>();
  readonly venues = new Map<string, Venue>();
  /** SenderCompID → venue code. */
  readonly byCompId = new Map<string, string>();
  readonly events: VenueEvent[] = [];

  /** The venue whose custody a location is (each venue has its own), if any. */
  venueByCustody(location: string): Venue | undefined {
    for (const v of this.venues.values()) if (v.custody === location) return v;
    return undefined;
  }

  /** A venue client's account by its id (own properties only: an id is the venue's text). */
  static clientAccount(venue: Venue, client: string): number | undefined {
    return Object.hasOwn(venue.clients, client) ? venue.clients[client] : undefined;
  }

  /** Why `venue` is not eligible at sequencer time `ts` (µs), or undefined when it is. */
  ineligibility(venue: Venue, ts: number): Ineligibility | undefined {
    if (!venue.affiliated) return 'NotAffiliated';
    if (venue.licenceId === '') return 'NotLicensed';
    if (ts >= licenceEndUs(venue.licenceExpires)) return 'LicenceExpired';
    const j = this.jurisdictions.get(venue.jurisdiction);
    if (!j) return 'UnknownJurisdiction';
    if (j.fatf === 'none') return 'JurisdictionNotFatf';
    if (!j.fatfConsistent) return 'JurisdictionNotFatfConsistent';
    if (!j.ioscoConsistent) return 'JurisdictionNotIoscoConsistent';
    return undefined;
  }

  /** Why the venue may not trade at `ts`: suspended (its reason) or not eligible; undefined when it may. */
  refusal(code: string, ts: number): string | undefined {
    const venue = this.venues.get(code);
    if (!venue) return 'UnknownVenue';
    if (venue.status === 'suspended') return venue.statusReason;
    return this.ineligibility(venue, ts);
  }

  /**
   * The earliest licence end (µs) of an active venue, or undefined: one already past (it ended
   * while the node was down, say) is due at once.
   */
  nextExpiryUs(ts = 0): number | undefined {
    let next: number | undefined;
    for (const v of this.venues.values()) {
      if (v.status !== 'active') continue;
      const end = licenceEndUs(v.licenceExpires);
      if (next === undefined || end < next) next = end;
    }
    // A compensation policy's end matters too (its coverage stops counting): the next one ahead.
    for (const a of this.compensation.values()) {
      const end = licenceEndUs(a.expires);
      if (end > ts && (next === undefined || end < next)) next = end;
    }
    return next;
  }

  /**
   * Per asset with a minimum: what the arrangements in force at `ts` cover (in the minimum's
   * asset) against that minimum.
   */
  coverage(ts: number): { asset: string; coverage: number; minimum: number }[] {
    return [...this.coverageMinimum].map(([asset, minimum]) => {
      let coverage = 0;
      for (const a of this.compensation.values()) {
        if (a.coverageAsset === asset && ts < licenceEndUs(a.expires)) coverage += a.coverage;
      }
      return { asset, coverage, minimum };
    });
  }

  record(event: VenueEvent): void {
    this.events.push(event);
  }

  state(): RegistryState {
    return {
      jurisdictions: [...this.jurisdictions.values()].map((j) => ({ ...j })),
      venues: [...this.venues.values()].map((v) => ({ ...v, clients: { ...v.clients } })),
      events: this.events.map((e) => ({ ...e })),
      compensation: [...this.compensation.values()].map((a) => ({ ...a, assets: [...a.assets] })),
      coverageMinimum: [...this.coverageMinimum],
    };
  }

  restoreState(state: RegistryState): void {
    this.jurisdictions.clear();
    this.venues.clear();
    this.byCompId.clear();
    for (const j of state.jurisdictions) this.jurisdictions.set(j.code, { ...j });
    for (const v of state.venues) {
      this.venues.set(v.code, { ...v, clients: { ...v.clients } });
      this.byCompId.set(v.senderCompId, v.code);
    }
    this.events.length = 0;
    this.events.push(...state.events);
    this.compensation.clear();
    for (const a of state.compensation ?? []) this.compensation.set(a.id, { ...a, assets: [...a.assets] });
    this.coverageMinimum.clear();
    for (const [asset, amount] of state.coverageMinimum ?? []) this.coverageMinimum.set(asset, amount);
  }
}
