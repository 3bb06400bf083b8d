// The shared order book's venue side of the node state (SL-7, SL-8, SL-10): the registry, the
// venue clients' accounts (pre-funded in their venue's custody by attestations), which venues may
// trade now, and what each custody location owes another for fills across them. Applied by the
// pipeline, deterministic: replay rebuilds it exactly.
import { Bucket, Cause, EXTERNAL_ACCOUNT, AccountKind, type Account, type Participant } from '../ledger/model.js';
import type { Ledger } from '../ledger/ledger.js';
import { NodeReject } from '../risk/reasons.js';
import type { AdminCommand } from '../pipeline/commands.js';
import { AdminError, checkAction, type AdminAction } from './admin.js';
import { INELIGIBILITY_TEXT, VenueRegistry, type Ineligibility, type RegistryState, type Venue, type VenueEvent } from './registry.js';

/** Venue participants' and venue clients' ids start here (configured ones stay below). */
export const VENUE_IDS_FROM = 1_000_000;

/** What a custody location owes another, per asset (gross, in the asset's ledger units). */
export interface CustodyDue { from: string; to: string; asset: string; amount: number }

export interface VenuesState {
  registry: RegistryState;
  participants: Participant[];
  accounts: Account[];
  dues: [string, number][];
  nextId: number;
}

/** A refused command: the reason and what it says. */
export type Refusal = [reason: NodeReject, text: string];

export class Venues {
  readonly registry = new VenueRegistry();
  /** Venue client account → its venue's code. */
  readonly clientAccounts = new Map<number, string>();
  /** Venues that may not trade now (suspended or not eligible at the current batch's time), and why. */
  readonly blocked = new Map<string, string>();
  /** `from|to|asset` → what custody location `from` owes `to` (gross). */
  private readonly dues = new Map<string, number>();
  private nextId = VENUE_IDS_FROM;

  constructor(
    private readonly ledger: Ledger,
    /** Idempotency keys shared with deposits and withdrawals → the sequence number that applied them. */
    private readonly keys: Map<string, number>,
    /** Queues the cancel of every open order of an account (the pipeline's mass cancel). */
    private readonly cancelAccount: (account: number) => void,
  ) {}

  get active(): boolean { return this.registry.venues.size > 0; }

  /** Which venues may trade at sequencer time `ts`. */
  refresh(ts: number): void {
    this.blocked.clear();
    for (const code of this.registry.venues.keys()) {
      const why = this.registry.refusal(code, ts);
      if (why !== undefined) this.blocked.set(code, why);
    }
  }

  /** Why an account may not trade now (it is a client of a blocked venue), or undefined. */
  refusalFor(account: number): string | undefined {
    if (this.clientAccounts.size === 0) return undefined;
    const code = this.clientAccounts.get(account);
    return code === undefined ? undefined : this.blocked.get(code);
  }

  /** Notes `amount` of `asset` moving from one account to another: between custody locations it is owed. */
  moved(from: number, to: number, asset: number, amount: number): void {
    if (this.clientAccounts.size === 0 || (!this.clientAccounts.has(from) && !this.clientAccounts.has(to))) return;
    const a = this.ledger.accounts.get(from)!;
    const b = this.ledger.accounts.get(to)!;
    const source = this.ledger.locationOf(a, asset);
    const sink = this.ledger.locationOf(b, asset);
    if (source === sink) return;
    // The units stay where they are until settlement: the location holding them owes the other.
    const key = `${source}|${sink}|${this.ledger.assets[asset].code}`;
    this.dues.set(key, (this.dues.get(key) ?? 0) + amount);
  }

  /** Gross amounts owed between custody locations, per asset. */
  custodyDues(): CustodyDue[] {
    return [...this.dues].map(([key, amount]) => {
      const [from, to, asset] = key.split('|');
      return { from, to, asset, amount };
    }).sort((x, y) => (x.from + x.to + x.asset).localeCompare(y.from + y.to + y.asset));
  }

  /** What each pair of locations owes net, per asset (the larger side owes the difference). */
  netDues(): CustodyDue[] {
    const net = new Map<string, CustodyDue>();
    for (const d of this.custodyDues()) {
      const [x, y] = d.from < d.to ? [d.from, d.to] : [d.to, d.from];
      const key = `${x}|${y}|${d.asset}`;
      const entry = net.get(key) ?? { from: x, to: y, asset: d.asset, amount: 0 };
      entry.amount += d.from === x ? d.amount : -d.amount;
      net.set(key, entry);
    }
    return [...net.values()].filter((d) => d.amount !== 0).map((d) => (d.amount > 0 ? d : { from: d.to, to: d.from, asset: d.asset, amount: -d.amount }));
  }

  /** Applies an operator command; a refusal changes nothing. */
  apply(c: AdminCommand, seq: number, ts: number): Refusal | undefined {
    let body: AdminAction;
    try {
      body = checkAction(c.body);
    } catch (e) {
      if (e instanceof AdminError) return [NodeReject.InvalidAdminCommand, e.message];
      throw e;
    }
    if (c.byVenue !== undefined && !((body.action === 'custody.attest' || body.action === 'custody.release') && body.venue === c.byVenue)) {
      return [NodeReject.InvalidAdminCommand, `venue ${c.byVenue} may only attest or release its own clients' assets`];
    }
    const refusal = this.act(body, c.operator, seq, ts);
    if (refusal) return refusal;
    // Eligibility is re-evaluated on every change (and on the clock): a venue that stops
    // qualifying is suspended, its clients' open orders cancelled.
    for (const v of this.registry.venues.values()) {
      if (v.status !== 'active') continue;
      const why = this.registry.ineligibility(v, ts);
      if (why) this.suspend(v, why, 0, seq, ts, `no longer eligible: ${INELIGIBILITY_TEXT[why]}`);
    }
    this.refresh(ts);
    return undefined;
  }

  private record(seq: number, ts: number, venue: string, event: VenueEvent['event'], operator: number, detail: string): void {
    this.registry.record({ seq, ts, venue, event, operator, detail });
  }

  private suspend(v: Venue, reason: string, operator: number, seq: number, ts: number, detail: string): void {
    v.status = 'suspended';
    v.statusReason = reason;
    for (const account of Object.values(v.clients)) this.cancelAccount(account);
    this.record(seq, ts, v.code, 'suspended', operator, detail);
  }

  private venue(code: string): Venue | Refusal {
    return this.registry.venues.get(code) ?? [NodeReject.UnknownVenue, `no venue ${code}`];
  }

  private act(body: AdminAction, operator: number, seq: number, ts: number): Refusal | undefined {
    const registry = this.registry;
    switch (body.action) {
      case 'clock':
        return undefined;
      case 'jurisdiction.set': {
        const known = registry.jurisdictions.has(body.jurisdiction.code);
        registry.jurisdictions.set(body.jurisdiction.code, body.jurisdiction);
        for (const v of registry.venues.values()) {
          if (v.jurisdiction === body.jurisdiction.code) {
            this.record(seq, ts, v.code, 'updated', operator, `jurisdiction ${body.jurisdiction.code} ${known ? 'reassessed' : 'added'}: ${JSON.stringify(body.jurisdiction)}`);
          }
        }
        return undefined;
      }
      case 'venue.add': {
        const input = body.venue;
        if (registry.venues.has(input.code)) return [NodeReject.InvalidAdminCommand, `venue ${input.code} exists`];
        const clash = this.compIdClash(input.senderCompId, input.code);
        if (clash) return clash;
        if (!this.ledger.fees.has(input.feeTier)) return [NodeReject.InvalidAdminCommand, `feeTier ${input.feeTier} is not a fee tier`];
        const participant = this.nextId++;
        this.ledger.addParticipant({ id: participant, name: input.name, professionalInvestor: false, affiliatedMarketMaker: false, homeVenue: input.code });
        const venue: Venue = { ...input, status: 'active', statusReason: '', participant, clients: {} };
        registry.venues.set(venue.code, venue);
        registry.byCompId.set(venue.senderCompId, venue.code);
        this.record(seq, ts, venue.code, 'added', operator, JSON.stringify(input));
        return undefined;
      }
      case 'venue.update': {
        const v = this.venue(body.code);
        if (Array.isArray(v)) return v;
        if (body.changes.senderCompId !== undefined) {
          const clash = this.compIdClash(body.changes.senderCompId, v.code);
          if (clash) return clash;
        }
        if (body.changes.feeTier !== undefined && !this.ledger.fees.has(body.changes.feeTier)) {
          return [NodeReject.InvalidAdminCommand, `feeTier ${body.changes.feeTier} is not a fee tier`];
        }
        if (body.changes.custody !== undefined && body.changes.custody !== v.custody && Object.keys(v.clients).length > 0) {
          return [NodeReject.InvalidAdminCommand, `venue ${v.code} has clients: its custody location cannot change`];
        }
        registry.byCompId.delete(v.senderCompId);
        Object.assign(v, body.changes);
        registry.byCompId.set(v.senderCompId, v.code);
        for (const account of Object.values(v.clients)) {
          const a = this.ledger.accounts.get(account)!;
          a.feeTier = v.feeTier;
          a.ordersOpenMax = v.clientOrdersMax;
        }
        this.record(seq, ts, v.code, 'updated', operator, JSON.stringify(body.changes));
        return undefined;
      }
      case 'venue.suspend': {
        const v = this.venue(body.code);
        if (Array.isArray(v)) return v;
        if (v.status === 'suspended') return [NodeReject.InvalidAdminCommand, `venue ${v.code} is already suspended: ${v.statusReason}`];
        this.suspend(v, body.reason, operator, seq, ts, `suspended by operator: ${body.reason}`);
        return undefined;
      }
      case 'venue.reinstate': {
        const v = this.venue(body.code);
        if (Array.isArray(v)) return v;
        if (v.status === 'active') return [NodeReject.InvalidAdminCommand, `venue ${v.code} is active`];
        const why = registry.ineligibility(v, ts);
        if (why) return [NodeReject.VenueNotEligible, `venue ${v.code} cannot be reinstated: ${why}: ${INELIGIBILITY_TEXT[why]}`];
        v.status = 'active';
        v.statusReason = '';
        this.record(seq, ts, v.code, 'reinstated', operator, 'reinstated by operator');
        return undefined;
      }
      case 'venue.client.add': {
        const v = this.venue(body.venue);
        if (Array.isArray(v)) return v;
        if (Object.hasOwn(v.clients, body.client)) return [NodeReject.InvalidAdminCommand, `client ${body.client} of ${v.code} exists (account ${v.clients[body.client]})`];
        const id = this.nextId++;
        this.ledger.addAccount(this.clientAccount(v, id, body.client));
        // An own property whatever the id (even "__proto__"): ids are the venue's text.
        Object.defineProperty(v.clients, body.client, { value: id, enumerable: true, writable: true, configurable: true });
        this.clientAccounts.set(id, v.code);
        this.record(seq, ts, v.code, 'client-added', operator, `client ${body.client} is account ${id}`);
        return undefined;
      }
      case 'custody.attest':
      case 'custody.release': {
        const v = this.venue(body.venue);
        if (Array.isArray(v)) return v;
        const account = Object.hasOwn(v.clients, body.client) ? v.clients[body.client] : undefined;
        if (account === undefined) return [NodeReject.UnknownVenueClient, `${v.code} has no client ${body.client}`];
        const asset = this.ledger.assetIndex.get(body.asset);
        if (asset === undefined) return [NodeReject.UnknownAsset, `no asset ${body.asset}`];
        const key = `${body.action}:${v.code}:${body.id}`;
        if (this.keys.has(key)) return undefined; // idempotent: the same attestation again changes nothing
        if (body.action === 'custody.attest') {
          this.ledger.post(seq, Cause.Attest, asset, EXTERNAL_ACCOUNT, Bucket.Available, account, Bucket.Available, body.amount);
        } else {
          // Only available funds are released: what open orders hold never is.
          const available = this.ledger.balance(account, asset).available;
          if (available < body.amount) return [NodeReject.InsufficientFunds, `client ${body.client} has ${available} ${body.asset} available, not ${body.amount}`];
          this.ledger.post(seq, Cause.AttestRelease, asset, account, Bucket.Available, EXTERNAL_ACCOUNT, Bucket.Available, body.amount);
        }
        this.keys.set(key, seq);
        return undefined;
      }
    }
  }

  /** The sequence number of an attestation or release already applied under this id, if any. */
  appliedAs(action: 'custody.attest' | 'custody.release', venue: string, id: string): number | undefined {
    return this.keys.get(`${action}:${venue}:${id}`);
  }

  private compIdClash(compId: string, code: string): Refusal | undefined {
    const other = this.registry.byCompId.get(compId);
    return other !== undefined && other !== code ? [NodeReject.InvalidAdminCommand, `SenderCompID ${compId} is venue ${other}'s`] : undefined;
  }

  private clientAccount(v: Venue, id: number, client: string): Account {
    return {
      id, participant: v.participant, kind: AccountKind.Client, feeTier: v.feeTier, custody: [v.custody], instruments: [],
      ordersOpenMax: v.clientOrdersMax, orderNotionalMax: 0, holdsIn: v.custody, venue: v.code, venueClient: client,
    };
  }

  state(): VenuesState {
    const participants: Participant[] = [];
    const accounts: Account[] = [];
    for (const v of this.registry.venues.values()) {
      participants.push({ ...this.ledger.participants.get(v.participant)! });
      for (const account of Object.values(v.clients)) accounts.push({ ...this.ledger.accounts.get(account)! });
    }
    return { registry: this.registry.state(), participants, accounts, dues: [...this.dues], nextId: this.nextId };
  }

  restoreState(state: VenuesState | undefined): void {
    if (!state) return;
    this.registry.restoreState(state.registry);
    for (const p of state.participants) this.ledger.addParticipant(p);
    for (const a of state.accounts) {
      this.ledger.addAccount(a);
      this.clientAccounts.set(a.id, a.venue!);
    }
    this.dues.clear();
    for (const [k, v] of state.dues) this.dues.set(k, v);
    this.nextId = state.nextId;
  }
}

export type { Ineligibility };
