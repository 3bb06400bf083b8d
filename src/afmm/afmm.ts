// Affiliated market makers (AFMM-1..5): who is one (a participant flag, with its responsible officer
// on record), the only preferential treatment an AFMM can have (explicit configuration entries, each
// with its disclosed risk text), and the audit trail of every change: proposed by one operator,
// taking effect only when a different operator approves it — who, when, what, approved by whom.
// Part of the node's sequenced state, so replay rebuilds it exactly.
import type { Ledger } from '../ledger/ledger.js';
import { AccountKind } from '../ledger/model.js';
import { NodeReject } from '../risk/reasons.js';
import { AdminError, matching, text, whole } from '../venues/admin.js';

/**
 * A preference an AFMM may be given, only this way: a fee tier of its own, or a higher order rate
 * limit at the gateway. The node offers no other kind (order types, pre-trade transparency and
 * latency are the same for every participant), and says so when asked.
 */
export type AfmmEntry =
  | { id: string; kind: 'fee'; feeTier: number; riskText: string }
  | { id: string; kind: 'rate-limit'; ordersPerSecond: number; riskText: string };

export interface AfmmRecord {
  participant: number;
  officer: string;
  since: number;
  entries: AfmmEntry[];
}

export type AfmmChange =
  | { action: 'afmm.designate'; participant: number; officer: string }
  | { action: 'afmm.revoke'; participant: number; reason: string }
  | { action: 'afmm.entry.set'; participant: number; entry: AfmmEntry }
  | { action: 'afmm.entry.remove'; participant: number; id: string };

export type AfmmAction = AfmmChange | { action: 'afmm.approve'; change: number } | { action: 'afmm.reject'; change: number; reason: string };

export const AFMM_ACTIONS: readonly AfmmAction['action'][] = ['afmm.designate', 'afmm.revoke', 'afmm.entry.set', 'afmm.entry.remove', 'afmm.approve', 'afmm.reject'];

export function isAfmmAction(body: { action?: unknown }): boolean {
  return (AFMM_ACTIONS as readonly unknown[]).includes(body.action);
}

/** Two spellings of one person's name (case and spacing aside) are one person. */
export function samePerson(a: string, b: string): boolean {
  const norm = (x: string) => x.normalize('NFKC').trim().replace(/\s+/g, ' ').toLowerCase();
  return norm(a) === norm(b);
}

/** One line of the audit trail. */
export interface AuditRecord {
  /** The change's id (the sequence of its proposal). */
  change: number;
  seq: number;
  ts: number;
  event: 'proposed' | 'approved' | 'rejected';
  operator: number;
  /** The person the operator key belongs to, when it names one. */
  person?: string;
  what: AfmmChange;
  detail?: string;
}

/** A change awaiting a second operator: who proposed it (key, and person when the key names one). */
interface Pending { operator: number; person?: string; change: AfmmChange }

export interface AfmmState { records: AfmmRecord[]; pending: [number, Pending][]; audit: AuditRecord[] }

const ENTRY_ID = /^[a-z0-9][a-z0-9._-]{0,31}$/;
/** What an AFMM can never be given, and why (the public site lists them). */
export const REFUSED_KINDS: Readonly<Record<string, string>> = {
  'order-type': 'every participant has the same order types',
  'pre-trade-transparency': 'every participant sees the same public book and nothing more',
  latency: 'every participant\'s orders take the same path to the same sequencer',
};

function checkEntry(v: unknown): AfmmEntry {
  if (typeof v !== 'object' || v === null) throw new AdminError('entry must be an object');
  const o = v as Record<string, unknown>;
  const id = matching(o.id, ENTRY_ID, 'entry.id', 'an entry id (lowercase letters, digits, . _ -)');
  const riskText = text(o.riskText, 'entry.riskText', 1_000);
  if (o.kind === 'fee') return { id, kind: 'fee', feeTier: whole(o.feeTier, 'entry.feeTier', 0, 0xffff), riskText };
  if (o.kind === 'rate-limit') return { id, kind: 'rate-limit', ordersPerSecond: whole(o.ordersPerSecond, 'entry.ordersPerSecond', 1, 1_000_000), riskText };
  if (typeof o.kind === 'string' && REFUSED_KINDS[o.kind]) throw new AdminError(`entry.kind ${o.kind} cannot be configured: ${REFUSED_KINDS[o.kind]}`);
  throw new AdminError(`entry.kind must be fee or rate-limit, got ${JSON.stringify(o.kind)}`);
}

export function checkAfmmAction(body: unknown): AfmmAction {
  if (typeof body !== 'object' || body === null) throw new AdminError('the command must be an object');
  const o = body as Record<string, unknown>;
  const participant = () => whole(o.participant, 'participant', 1, 0xffffffff);
  switch (o.action) {
    case 'afmm.designate': return { action: o.action, participant: participant(), officer: text(o.officer, 'officer', 200) };
    case 'afmm.revoke': return { action: o.action, participant: participant(), reason: text(o.reason, 'reason') };
    case 'afmm.entry.set': return { action: o.action, participant: participant(), entry: checkEntry(o.entry) };
    case 'afmm.entry.remove': return { action: o.action, participant: participant(), id: matching(o.id, ENTRY_ID, 'id', 'an entry id') };
    case 'afmm.approve': return { action: o.action, change: whole(o.change, 'change', 1, Number.MAX_SAFE_INTEGER) };
    case 'afmm.reject': return { action: o.action, change: whole(o.change, 'change', 1, Number.MAX_SAFE_INTEGER), reason: text(o.reason, 'reason') };
    default: throw new AdminError(`unknown action ${JSON.stringify(o.action)}`);
  }
}

/** Audit records kept (the oldest go first). */
export const AUDIT_KEPT = 10_000;

export class Afmm {
  readonly records = new Map<number, AfmmRecord>();
  /** Proposed changes awaiting a second operator: change id → who proposed it and what. */
  readonly pending = new Map<number, Pending>();
  readonly audit: AuditRecord[] = [];

  constructor(private readonly ledger: Ledger) {
    // A participant flagged in the configuration is an AFMM from the start (its officer to be recorded).
    for (const p of ledger.participants.values()) {
      if (p.affiliatedMarketMaker) this.records.set(p.id, { participant: p.id, officer: 'not yet recorded', since: 0, entries: [] });
    }
  }

  /** Whether the account belongs to an AFMM. */
  isAfmm(account: number): boolean {
    const a = this.ledger.accounts.get(account);
    return a !== undefined && this.records.has(a.participant);
  }

  /**
   * Designations and revocations that took effect in the batch being applied, in order: whether the
   * participant was an AFMM before each (isAfmmAt reads through them).
   */
  private readonly batchChanges: { seq: number; participant: number; before: boolean }[] = [];

  /** Whether anyone was an AFMM at some point of the batch just applied (else no fill of it is flagged). */
  get anyInBatch(): boolean {
    return this.records.size > 0 || this.batchChanges.length > 0;
  }

  /** Changes that took effect since the node started (a gateway re-reads its sessions' limits when it moves). */
  changes = 0;

  /** A batch starts: the last one's changes are history. */
  beginBatch(): void {
    this.batchChanges.length = 0;
  }

  /**
   * Whether the account belonged to an AFMM when the command at `seq` of the batch just applied
   * was (AFMM-3: a trade is flagged by the designation in force when it was made, even if an
   * approval later in the same batch changed it).
   */
  isAfmmAt(account: number, seq: number): boolean {
    const now = this.isAfmm(account);
    if (this.batchChanges.length === 0) return now;
    const participant = this.ledger.accounts.get(account)?.participant;
    let was = now;
    for (let i = this.batchChanges.length - 1; i >= 0 && this.batchChanges[i].seq > seq; i--) {
      if (this.batchChanges[i].participant === participant) was = this.batchChanges[i].before;
    }
    return was;
  }

  /** The accounts whose orders may never match each other's (AFMM-5): the house's and every AFMM's. */
  barred(account: number): boolean {
    const a = this.ledger.accounts.get(account);
    return a !== undefined && (a.kind === AccountKind.House || this.records.has(a.participant));
  }

  /** The fee tier an AFMM entry gives the account, if any. */
  feeTier(account: number): number | undefined {
    return this.entry(account, 'fee')?.feeTier;
  }

  /** The order rate an AFMM entry gives the account's sessions, if any. */
  ordersPerSecond(account: number): number | undefined {
    return this.entry(account, 'rate-limit')?.ordersPerSecond;
  }

  /** The account's AFMM entry of a kind (one of each at most), if its participant is an AFMM with one. */
  private entry<K extends AfmmEntry['kind']>(account: number, kind: K): Extract<AfmmEntry, { kind: K }> | undefined {
    const a = this.ledger.accounts.get(account);
    const r = a && this.records.get(a.participant);
    return r?.entries.find((e): e is Extract<AfmmEntry, { kind: K }> => e.kind === kind);
  }

  /** The public disclosure: every AFMM, its officer and every preference with its risk text. */
  disclosures(): { participant: number; name: string; officer: string; since: number; entries: AfmmEntry[] }[] {
    return [...this.records.values()].sort((x, y) => x.participant - y.participant).map((r) => ({
      participant: r.participant, name: this.ledger.participants.get(r.participant)?.name ?? '', officer: r.officer, since: r.since, entries: r.entries.map((e) => ({ ...e })),
    }));
  }

  private record(r: Omit<AuditRecord, 'what'> & { what: AfmmChange }): void {
    this.audit.push(r);
    if (this.audit.length > AUDIT_KEPT) this.audit.splice(0, this.audit.length - AUDIT_KEPT);
  }

  /** Applies an operator's command; a refusal changes nothing. Returns the change id for a proposal. */
  apply(body: unknown, operator: number, seq: number, ts: number, person?: string): [number, string] | { change: number } | { applied: AfmmChange; wasAfmm: boolean } | undefined {
    let action: AfmmAction;
    try {
      action = checkAfmmAction(body);
    } catch (e) {
      if (e instanceof AdminError) return [NodeReject.InvalidAdminCommand, e.message];
      throw e;
    }
    if (operator === 0) return [NodeReject.InvalidAdminCommand, 'an AFMM change needs an operator key that can be named in the audit'];
    if (action.action === 'afmm.approve' || action.action === 'afmm.reject') {
      const p = this.pending.get(action.change);
      if (!p) return [NodeReject.InvalidAdminCommand, `no pending AFMM change ${action.change}`];
      const verb = action.action === 'afmm.approve' ? 'approve' : 'reject';
      if (p.operator === operator) return [NodeReject.InvalidAdminCommand, `change ${action.change} was proposed by operator ${operator}: a different operator must ${verb} it`];
      // Four eyes are two people: another key of the same person is not a second pair of eyes.
      if (p.person !== undefined && person !== undefined && samePerson(p.person, person)) {
        return [NodeReject.InvalidAdminCommand, `change ${action.change} was proposed by ${p.person} (operator ${p.operator}): operator ${operator} is the same person; a different person must ${verb} it`];
      }
      this.pending.delete(action.change);
      if (action.action === 'afmm.reject') {
        this.record({ change: action.change, seq, ts, event: 'rejected', operator, ...(person ? { person } : {}), what: p.change, detail: action.reason });
        return undefined;
      }
      const wasAfmm = this.records.has(p.change.participant);
      const refusal = this.effect(p.change, seq, ts);
      if (refusal) {
        this.record({ change: action.change, seq, ts, event: 'rejected', operator, ...(person ? { person } : {}), what: p.change, detail: `could not apply: ${refusal}` });
        return [NodeReject.InvalidAdminCommand, refusal];
      }
      this.record({ change: action.change, seq, ts, event: 'approved', operator, ...(person ? { person } : {}), what: p.change });
      return { applied: p.change, wasAfmm };
    }
    const refusal = this.precheck(action);
    if (refusal) return [NodeReject.InvalidAdminCommand, refusal];
    this.pending.set(seq, { operator, ...(person ? { person } : {}), change: action });
    this.record({ change: seq, seq, ts, event: 'proposed', operator, ...(person ? { person } : {}), what: action });
    return { change: seq };
  }

  /** What would make a change impossible, checked when proposed (and again when approved). */
  private precheck(c: AfmmChange): string | undefined {
    const participant = this.ledger.participants.get(c.participant);
    if (!participant) return `no participant ${c.participant}`;
    const r = this.records.get(c.participant);
    switch (c.action) {
      case 'afmm.designate': return undefined;
      case 'afmm.revoke': return r ? undefined : `participant ${c.participant} is not an affiliated market maker`;
      case 'afmm.entry.set': {
        if (!r) return `participant ${c.participant} is not an affiliated market maker`;
        if (c.entry.kind !== 'fee') return undefined;
        if (!this.ledger.fees.has(c.entry.feeTier)) return `no fee tier ${c.entry.feeTier}`;
        // Orders hold for the largest fee of their account's own tier: a preference may only charge less.
        const t = this.ledger.fees.tier(c.entry.feeTier);
        for (const a of this.ledger.accounts.values()) {
          if (a.participant !== c.participant) continue;
          const own = this.ledger.fees.tier(a.feeTier);
          if (Math.max(t.takerBps, t.makerBps, 0) > Math.max(own.takerBps, own.makerBps, 0)) {
            return `fee tier ${c.entry.feeTier} charges more than account ${a.id}'s own tier ${a.feeTier}: a preference may only charge less`;
          }
        }
        return undefined;
      }
      case 'afmm.entry.remove':
        if (!r) return `participant ${c.participant} is not an affiliated market maker`;
        return r.entries.some((e) => e.id === c.id) ? undefined : `participant ${c.participant} has no entry ${c.id}`;
    }
  }

  private effect(c: AfmmChange, seq: number, ts: number): string | undefined {
    const refusal = this.precheck(c);
    if (refusal) return refusal;
    this.changes++;
    if (c.action === 'afmm.designate' || c.action === 'afmm.revoke') this.batchChanges.push({ seq, participant: c.participant, before: this.records.has(c.participant) });
    // (The records are the truth, not the ledger's participant flag: a snapshot keeps only them.)
    switch (c.action) {
      case 'afmm.designate': {
        const r = this.records.get(c.participant);
        if (r) r.officer = c.officer;
        else this.records.set(c.participant, { participant: c.participant, officer: c.officer, since: ts, entries: [] });
        return undefined;
      }
      case 'afmm.revoke':
        this.records.delete(c.participant);
        return undefined;
      case 'afmm.entry.set': {
        const r = this.records.get(c.participant)!;
        // One entry of a kind: a second replaces the first (one fee tier, one rate).
        r.entries = [...r.entries.filter((e) => e.id !== c.entry.id && e.kind !== c.entry.kind), { ...c.entry }];
        return undefined;
      }
      case 'afmm.entry.remove': {
        const r = this.records.get(c.participant)!;
        r.entries = r.entries.filter((e) => e.id !== c.id);
        return undefined;
      }
    }
  }

  state(): AfmmState {
    return {
      records: [...this.records.values()].map((r) => ({ ...r, entries: r.entries.map((e) => ({ ...e })) })),
      pending: [...this.pending].map(([k, v]) => [k, { ...v, change: structuredClone(v.change) }]),
      audit: this.audit.map((a) => structuredClone(a)),
    };
  }

  restoreState(state: AfmmState | undefined): void {
    if (!state) return;
    this.records.clear();
    for (const r of state.records) this.records.set(r.participant, { ...r, entries: r.entries.map((e) => ({ ...e })) });
    this.pending.clear();
    for (const [k, v] of state.pending) this.pending.set(k, { ...v, change: structuredClone(v.change) });
    this.audit.splice(0, this.audit.length, ...state.audit.map((a) => structuredClone(a)));
  }
}
