// The information barrier (AFMM-2) in one place: every message the websocket gateway sends passes
// here on its way out (the outbox asks before queuing anything) and is dropped unless the
// connection it goes to may see it. Who may see a message follows from its kind — its templateId,
// read from the encoded bytes, so a sender cannot mislabel it — and, for private data, from whose
// it is, which the sender states and the policy checks against the session:
//   public    books, trades, the instrument list, perpetuals' markets, notices and post-event
//             reports; answers to the public queries (the rulebook, post-event reports, AFMM
//             disclosures): anyone, logged on or not
//   own       the session's own traffic: its logon, heartbeats, refusals and acknowledgements of
//             its own requests (they name nobody else): to the connection they answer
//   key       a key's report stream (execution reports, cancel rejects, mass-cancel reports): only
//             to a session of that key
//   account   an account's balances, open orders and perpetual figures: only to a trade or read
//             session of that account
//   operator  the venue registry, custody, settlement, the AFMM audit trail, answers to operator
//             actions: only to operator keys, and never to a session acting for an AFMM's account
// An affiliated market maker's sessions are held to exactly these rules (AFMM-1): nothing here
// opens more for one, so it sees what any participant sees and no more. A message the policy drops
// is a defect of its sender: it is counted (GatewayStats.policyDrops) and said once per kind.
import * as sbe from '../../protocol/codec.js';
import type { Session } from './connection.js';

export type Audience = 'public' | 'own' | 'key' | 'account' | 'operator';

/** Whom a message is for, as its sender states it. */
export type Release =
  | { audience: 'public' }
  | { audience: 'own' }
  | { audience: 'key'; keyId: number }
  | { audience: 'account'; account: number }
  | { audience: 'operator' };

export const PUBLIC: Release = { audience: 'public' };
export const OWN: Release = { audience: 'own' };
export const OPERATOR: Release = { audience: 'operator' };

/**
 * The audiences each message may be sent to. Every message of the schema is listed (the type
 * makes a new one fail to compile until it is classified); those only clients send, none.
 */
const AUDIENCES: Readonly<Record<keyof typeof sbe.TemplateId, readonly Audience[]>> = {
  Logon: [], ReplayRequest: [], DeadMansSwitch: [], OpenOrdersRequest: [], BalancesRequest: [], AdminRequest: [], NewOrder: [],
  BatchNewOrders: [], CancelOrder: [], AmendOrder: [], MassCancel: [], PriceUpdate: [], Subscribe: [],
  LogonAck: ['own'], Logout: ['own'], Heartbeat: ['own'], TestRequest: ['own'], SessionReject: ['own'], ReplayComplete: ['own'],
  DeadMansSwitchAck: ['own'], PriceUpdateAck: ['own'],
  // An answer is public (a public query's listing), own (a refusal: its reason only) or operator data.
  AdminResponse: ['public', 'own', 'operator'],
  ExecutionReport: ['key'], CancelReject: ['key'], MassCancelReport: ['key'],
  OpenOrders: ['account'], Balances: ['account'], PerpAccountUpdate: ['account'], PerpPositionUpdate: ['account'],
  SubscribeAck: ['public'], BookSnapshot: ['public'], BookUpdate: ['public'], Trade: ['public'], InstrumentList: ['public'],
  PerpMarket: ['public'], PerpNotice: ['public', 'account'], PerpReport: ['public'],
};

/**
 * Each message's audiences by templateId, and the release it goes as when its sender names none:
 * its one audience, when that names nobody (public or own).
 */
const BY_TEMPLATE = new Map<number, { name: string; audiences: readonly Audience[]; implied?: Release }>(
  (Object.keys(AUDIENCES) as (keyof typeof sbe.TemplateId)[]).map((name) => {
    const audiences = AUDIENCES[name];
    const only = audiences.length === 1 ? audiences[0] : undefined;
    return [sbe.TemplateId[name], { name, audiences, implied: only === 'public' ? PUBLIC : only === 'own' ? OWN : undefined }];
  }),
);

export class Policy {
  /** Messages dropped, once said, by what and why. */
  private readonly said = new Set<string>();

  constructor(
    /** Whether the account is an affiliated market maker's, now (the node's designation, which operators change). */
    private readonly isAfmm: (account: number) => boolean,
    private readonly stats: { policyDrops: number },
  ) {}

  /**
   * Why the message `templateId` may not go to `session` (undefined: no logon, a public
   * subscriber) as `release`; undefined when it may. Without a release, a message that has one
   * audience that names nobody (public or own) goes as that.
   */
  refusal(session: Session | undefined, templateId: number, release: Release | undefined): string | undefined {
    const kind = BY_TEMPLATE.get(templateId);
    if (!kind || kind.audiences.length === 0) return `template ${templateId} is not a message the gateway sends`;
    const r = release ?? kind.implied;
    if (!r) return `${kind.name} must say whom it is for (${kind.audiences.join(' or ')})`;
    if (!kind.audiences.includes(r.audience)) return `${kind.name} is never ${r.audience} data`;
    switch (r.audience) {
      case 'public':
      case 'own':
        return undefined;
      case 'key':
        return session?.key.keyId === r.keyId ? undefined : `key ${r.keyId}'s ${kind.name} to ${whom(session)}`;
      case 'account':
        if (!session || (session.permission !== 'trade' && session.permission !== 'read')) return `account ${r.account}'s ${kind.name} to ${whom(session)}`;
        return session.account === r.account ? undefined : `account ${r.account}'s ${kind.name} to ${whom(session)}`;
      case 'operator':
        if (session?.permission !== 'operator') return `operator data (${kind.name}) to ${whom(session)}`;
        return this.isAfmm(session.account) ? `operator data (${kind.name}) to a session of an affiliated market maker's account ${session.account}` : undefined;
    }
  }

  /** Whether the message may go; a refusal is counted and said (once per kind of refusal). */
  allows(session: Session | undefined, templateId: number, release: Release | undefined): boolean {
    const why = this.refusal(session, templateId, release);
    if (why === undefined) return true;
    this.stats.policyDrops++;
    const what = `${templateId}|${release?.audience ?? ''}`;
    if (!this.said.has(what)) {
      this.said.add(what);
      console.error(`junction gateway: the data-access policy dropped a message: ${why}`);
    }
    return false;
  }
}

function whom(session: Session | undefined): string {
  return session ? `key ${session.key.keyId} (${session.permission}, account ${session.account})` : 'a connection without a logon';
}
