// Index price sources (PERP-3): API keys with the price-source permission send PriceUpdates, each
// signed with the key (auth.ts, pricePayload). The signature is verified here, with the key's public
// key, before anything is sequenced: a price moves marks, margins and funding, so the node takes it
// only from the key that vouches for it, and the journal holds only prices some source signed. A
// verified update becomes the node's price command; the node decides whether the key is a source of
// that index and whether the price is fresh, and the source hears the outcome once it is durable.
// Only price-source keys may send prices (others get NotPriceSource), and they may not trade.
import type { Outcome } from '../../pipeline/commands.js';
import type { NodeRuntime } from '../../pipeline/runtime.js';
import * as sbe from '../../protocol/codec.js';
import { reasonText } from '../../protocol/reasons.js';
import { verifyPrice } from './auth.js';
import type { Session } from './connection.js';
import type { Outbox } from './outbox.js';
import type { Sessions } from './sessions.js';

const Reason = sbe.RejectReason;

export class PriceSources {
  constructor(
    private readonly node: NodeRuntime,
    private readonly sessions: Sessions,
    private readonly outbox: Outbox,
  ) {}

  update(session: Session, m: sbe.PriceUpdate): void {
    const templateId = sbe.TemplateId.PriceUpdate;
    if (session.permission !== 'price-source' || !session.publicKey) {
      return this.outbox.reject(session.ws, templateId, Reason.NotPriceSource, 'templateId',
        `needs a price-source key; this key's permission is ${session.permission}`, m.reqId);
    }
    // Each costs a verification and a journal record: a token.
    if (this.sessions.rateLimited(session, templateId, m.reqId)) return;
    const keyId = session.key.keyId;
    if (!verifyPrice(session.publicKey, keyId, m.underlying, m.price, m.sourceTsUs, m.signature)) {
      return this.outbox.reject(session.ws, templateId, Reason.BadSignature, 'signature', `does not verify with key ${keyId}'s public key`, m.reqId);
    }
    // As node.submit does, but telling a full queue (refused as busy, nothing queued) from a
    // stopped node (whose failure ends every session).
    let failed = false;
    const queued = this.node.enqueue(
      { type: 'price', source: keyId, underlying: m.underlying, price: m.price, sourceTs: m.sourceTsUs },
      (outcome) => this.answer(session, m.reqId, outcome),
      (e) => {
        failed = true;
        if (this.sessions.all.has(session)) this.outbox.end(session.ws, 1011, e.message.slice(0, 120));
      },
    );
    if (!queued && !failed) this.outbox.reject(session.ws, templateId, Reason.Busy, 'reqId', `node busy: ${this.node.queued} commands queued; retry`, m.reqId);
  }

  /** The update's outcome, durable: its sequence, or the node's refusal with its text. */
  private answer(session: Session, reqId: number, outcome: Outcome): void {
    if (!this.sessions.all.has(session)) return;
    const reason = (outcome.ok ? Reason.None : outcome.reason) as sbe.RejectReason;
    const text = outcome.ok ? '' : outcome.text ?? reasonText(reason);
    this.outbox.sendTo(session, (v) => sbe.encodePriceUpdateAck(v, 0, {
      reqId, seq: outcome.seq, ok: outcome.ok ? sbe.BooleanType.True : sbe.BooleanType.False, reason, text,
    }));
  }
}
