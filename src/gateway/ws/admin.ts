// The operator channel (SL-7, SL-8, PERP-2..6, AFMM-1, AFMM-5): AdminRequests from keys with the
// operator permission, and the public queries from any key. A query ({"query": ...}) is answered at
// once from the node's state (admin-queries.ts); an action ({"action": "venue.add", ...}: the venue
// registry and custody, the perpetuals' settings, affiliated market makers) is checked, submitted as
// the node's admin command naming the key, and answered once it is durable: its sequence (and, for
// an AFMM change proposed, the change id a second operator approves), or the node's refusal by
// name. Each request costs a rate-limit token. A key without the permission gets a SessionReject
// for anything but a public query; a body that is not a JSON object gets an AdminResponse saying so
// (the connection stays).
import { AFMM_ACTIONS, checkAfmmAction, isAfmmAction } from '../../afmm/afmm.js';
import { checkPerpAction, isPerpAction, PERP_ACTIONS } from '../../perps/config.js';
import type { AdminCommand, Outcome } from '../../pipeline/commands.js';
import type { NodeRuntime } from '../../pipeline/runtime.js';
import * as sbe from '../../protocol/codec.js';
import { reasonName, reasonText } from '../../protocol/reasons.js';
import { ADMIN_ACTIONS, AdminError, checkAction } from '../../venues/admin.js';
import { answerQuery, QueryRefusal, queryAudience } from './admin-queries.js';
import type { Session } from './connection.js';
import { ADMIN_ANSWER_BYTES_MAX } from './limits.js';
import type { Outbox } from './outbox.js';
import { OPERATOR, OWN, PUBLIC, type Release } from './policy.js';
import type { Sessions } from './sessions.js';

const Reason = sbe.RejectReason;
const SHAPE = 'an AdminRequest body is a JSON object: {"query": "venues", ...} or {"action": "venue.add", ...}';
/** Every action an operator may send (the clock is the node's own). */
const ACTIONS: readonly string[] = [...ADMIN_ACTIONS.filter((a) => a !== 'clock'), ...PERP_ACTIONS, ...AFMM_ACTIONS];
/** The node's answer to an AFMM change proposed (afmm.ts, pipeline.ts): the change's id. */
const PROPOSED = /^change (\d+) proposed/;

/** Whether a body asks for a query any key may ask (the rulebook, post-event reports, AFMM disclosures). */
function isPublicQuery(body: string): boolean {
  try {
    const parsed = JSON.parse(body) as unknown;
    return typeof parsed === 'object' && parsed !== null && !Array.isArray(parsed) && (parsed as { action?: unknown }).action === undefined &&
      queryAudience((parsed as { query?: unknown }).query) === 'public';
  } catch {
    return false;
  }
}

export class AdminRequests {
  constructor(
    private readonly node: NodeRuntime,
    private readonly sessions: Sessions,
    private readonly outbox: Outbox,
  ) {}

  request(session: Session, m: sbe.AdminRequest): void {
    // The public queries are every participant's to read (SL-9, PERP-9, AFMM-4); everything else is the operators'.
    if (session.permission !== 'operator' && !isPublicQuery(m.body)) {
      return this.outbox.reject(session.ws, sbe.TemplateId.AdminRequest, Reason.OperatorOnly, 'templateId',
        `needs an operator key; this key's permission is ${session.permission}`, m.reqId);
    }
    // A conflict control (AFMM-5): a key acting for an affiliated market maker's account never
    // operates the node — it could approve its own preferences or read others' data.
    if (session.permission === 'operator' && !isPublicQuery(m.body) && this.node.pipeline.afmm.isAfmm(session.account)) {
      return this.outbox.reject(session.ws, sbe.TemplateId.AdminRequest, Reason.OperatorOnly, 'templateId',
        `acts for account ${session.account} of an AFMM: may not operate the node`, m.reqId);
    }
    if (this.sessions.rateLimited(session, sbe.TemplateId.AdminRequest, m.reqId)) return;
    let body: unknown;
    try {
      body = JSON.parse(m.body);
    } catch (e) {
      return this.refuse(session, m.reqId, Reason.InvalidAdminCommand, `the body is not JSON (${(e as Error).message}); ${SHAPE}`);
    }
    if (typeof body !== 'object' || body === null || Array.isArray(body)) return this.refuse(session, m.reqId, Reason.InvalidAdminCommand, SHAPE);
    const request = body as Record<string, unknown>;
    if ((request.query === undefined) === (request.action === undefined)) {
      const names = request.query === undefined ? 'neither a query nor an action' : 'both a query and an action';
      return this.refuse(session, m.reqId, Reason.InvalidAdminCommand, `it names ${names}: ${SHAPE}`);
    }
    if (request.query !== undefined) return this.query(session, m.reqId, request);
    this.action(session, m.reqId, request);
  }

  private query(session: Session, reqId: number, request: Record<string, unknown>): void {
    let listing: unknown;
    try {
      listing = answerQuery(this.node, request, Date.now() * 1000);
    } catch (e) {
      if (e instanceof QueryRefusal) return this.refuse(session, reqId, e.reason, e.message);
      throw e;
    }
    this.send(session, reqId, Reason.None, listing, queryAudience(request.query) === 'public' ? PUBLIC : OPERATOR);
  }

  private action(session: Session, reqId: number, request: Record<string, unknown>): void {
    // The sequencer's clock is the node's own: an operator cannot make time pass.
    if (request.action === 'clock') return this.refuse(session, reqId, Reason.InvalidAdminCommand, 'clock is the node\'s own action, not an operator\'s');
    if (!ACTIONS.includes(request.action as string)) {
      return this.refuse(session, reqId, Reason.InvalidAdminCommand, `unknown action ${JSON.stringify(request.action)}: one of ${ACTIONS.join(', ')}`);
    }
    let body: AdminCommand['body'];
    try {
      // Checked here too, so a malformed command is never journaled; the node checks it again.
      // (An AFMM action travels in the admin command's body like the others; the command's type
      // does not name it yet.)
      body = isAfmmAction(request) ? checkAfmmAction(request) as unknown as AdminCommand['body']
        : isPerpAction(request) ? checkPerpAction(request) : checkAction(request);
    } catch (e) {
      if (e instanceof AdminError) return this.refuse(session, reqId, Reason.InvalidAdminCommand, e.message);
      throw e;
    }
    // As node.submit does, but telling a full queue (refused as busy, nothing queued) from a
    // stopped node (whose failure ends every session).
    let failed = false;
    const queued = this.node.enqueue({ type: 'admin', operator: session.key.keyId, ...(session.person ? { person: session.person } : {}), body }, (outcome) => this.answer(session, reqId, outcome), (e) => {
      failed = true;
      if (this.sessions.all.has(session)) this.outbox.end(session.ws, 1011, e.message.slice(0, 120));
    });
    if (!queued && !failed) this.refuse(session, reqId, Reason.Busy, `node busy: ${this.node.queued} commands queued; retry`);
  }

  /**
   * An action's outcome, durable: its sequence (an AFMM change proposed: also its id and the node's
   * sentence, for the second operator), or the node's refusal.
   */
  private answer(session: Session, reqId: number, outcome: Outcome): void {
    if (outcome.ok) {
      const proposed = outcome.text === undefined ? null : PROPOSED.exec(outcome.text);
      return this.send(session, reqId, Reason.None, proposed ? { seq: outcome.seq, change: Number(proposed[1]), text: outcome.text } : { seq: outcome.seq }, OPERATOR);
    }
    const reason = outcome.reason as sbe.RejectReason;
    this.refuse(session, reqId, reason, outcome.text ?? reasonText(reason));
  }

  /** A refusal names the reason only: the requester's own. */
  private refuse(session: Session, reqId: number, reason: sbe.RejectReason, text: string): void {
    this.send(session, reqId, reason, { reasonName: reasonName(reason), text }, OWN);
  }

  /** Answers a request, if its session is still there (an action is answered once durable), released as `release`. */
  private send(session: Session, reqId: number, reason: sbe.RejectReason, body: unknown, release: Release): void {
    if (!this.sessions.all.has(session)) return;
    let json = JSON.stringify(body);
    const bytes = Buffer.byteLength(json);
    if (bytes > ADMIN_ANSWER_BYTES_MAX) {
      reason = Reason.InvalidAdminCommand;
      release = OWN;
      json = JSON.stringify({ reasonName: reasonName(reason), text: `the answer is ${bytes} bytes, over ${ADMIN_ANSWER_BYTES_MAX}: ask for less (one venue's, the last records)` });
    }
    const ok = reason === Reason.None ? sbe.BooleanType.True : sbe.BooleanType.False;
    this.outbox.sendTo(session, (v) => sbe.encodeAdminResponse(v, 0, { reqId, ok, reason, body: json }), release);
  }
}
