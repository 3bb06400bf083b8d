// Order entry: NewOrder and BatchNewOrders, CancelOrder and AmendOrder (by the original client
// order id, also straight after the order while it is being sequenced, or by order id), MassCancel.
// Each command is enqueued carrying its origin (this gateway, the key, the client order id); its
// answer is built by the report streams from that origin when the batch is applied, and sent once
// it is durable. Client order ids are idempotency keys per API key; intake is refused as busy past
// the intake limit, and every request but a cancel of an open order costs a rate-limit token.
import type { NodeCommand, Origin } from '../../pipeline/commands.js';
import type { AppliedBatch, NodeRuntime } from '../../pipeline/runtime.js';
import * as sbe from '../../protocol/codec.js';
import { SEQUENCING } from '../../reports/client-order-ids.js';
import type { ReportStreams } from '../../reports/report-streams.js';
import type { FrameClock, Session } from './connection.js';
import type { Outbox } from './outbox.js';
import type { Sessions } from './sessions.js';

const Reason = sbe.RejectReason;

export class OrderEntry {
  /** Orders with a free cancel queued (one each). */
  private readonly cancelling = new Set<number>();

  constructor(
    /** This gateway's id, carried in each command's origin. */
    private readonly gateway: number,
    private readonly node: NodeRuntime,
    private readonly streams: ReportStreams,
    private readonly sessions: Sessions,
    private readonly outbox: Outbox,
    private readonly clock: FrameClock,
    private readonly intakeQueuedMax: number,
    /** Stamp each new order's arrival in its origin (benchmarks' onOrderLatency). */
    private readonly stampArrival: boolean,
  ) {}

  /**
   * Whether the node has `queuedMax` commands queued; then the request is refused as busy. New
   * orders and amends stop at the intake limit, cancels at twice it (they take risk off).
   */
  private busy(session: Session, templateId: number, clOrdId: number, queuedMax: number): boolean {
    if (this.node.queued < queuedMax) return false;
    this.refuseBusy(session, templateId, clOrdId);
    return true;
  }

  /** Enqueues a command; the node's own queue bound refuses it only past every intake limit. */
  private enqueue(session: Session, templateId: number, command: NodeCommand, clOrdId: number): boolean {
    if (this.node.enqueue(command)) return true;
    this.refuseBusy(session, templateId, clOrdId);
    return false;
  }

  private refuseBusy(session: Session, templateId: number, clOrdId: number): void {
    this.outbox.reject(session.ws, templateId, Reason.Busy, 'clOrdId', `node busy: ${this.node.queued} commands queued; retry`, clOrdId);
  }

  newOrders(session: Session, orders: readonly sbe.NewOrder[], templateId: number): void {
    for (const o of orders) this.newOrder(session, o, templateId);
  }

  /** One new order (`o` is read now and not kept: the gateway's fast path reuses one object). */
  newOrder(session: Session, o: sbe.NewOrder, templateId: number): void {
    if (!session.trade) return this.sessions.refuseTrading(session, templateId, o.clOrdId);
    if (o.clOrdId === 0) return this.outbox.reject(session.ws, templateId, Reason.InvalidClOrdId, 'clOrdId', 'clOrdId must not be 0');
    if (this.busy(session, templateId, o.clOrdId, this.intakeQueuedMax)) return;
    if (this.sessions.rateLimited(session, templateId, o.clOrdId)) return;
    const keyId = session.key.keyId;
    const ids = this.streams.clOrdIdsOf(keyId).ids;
    if (ids.has(o.clOrdId)) {
      return this.outbox.reject(session.ws, templateId, Reason.DuplicateClOrdId, 'clOrdId', `clOrdId ${o.clOrdId} was already used`, o.clOrdId);
    }
    // A command the node reuses once its batch is durable: every field is set here.
    const command = this.node.orderCommand();
    command.account = session.account; command.instrument = o.instrument; command.side = o.side; command.orderType = o.ordType;
    command.tif = o.timeInForce; command.price = o.price; command.qty = o.qty;
    command.stpMode = o.stpMode === sbe.StpMode.None ? undefined : o.stpMode;
    // Only a NewOrder may be reduce-only (a batch's entries have no such field: the object read
    // into may still hold an earlier NewOrder's), and only on a perpetual (the node refuses it on
    // spot, by name).
    command.reduceOnly = templateId === sbe.TemplateId.NewOrder && o.reduceOnly === sbe.BooleanType.True ? true : undefined;
    const origin = command.origin;
    origin.gateway = this.gateway; origin.keyId = keyId; origin.clOrdId = o.clOrdId; origin.origClOrdId = undefined;
    origin.arrivedMs = this.stampArrival ? this.clock.arrivedMs : undefined;
    ids.set(o.clOrdId, SEQUENCING);
    if (!this.enqueue(session, templateId, command, o.clOrdId)) ids.delete(o.clOrdId);
  }

  /**
   * A cancel is free (no rate-limit token) only if it will take an order off: the order is open,
   * the key's account's, on the instrument named, and no free cancel of it is queued already.
   */
  private freeCancel(session: Session, m: sbe.CancelOrder, orderId: number): boolean {
    const open = this.node.pipeline.orders.get(orderId);
    return open !== undefined && open.account === session.account && open.instrument === m.instrument && !this.cancelling.has(orderId);
  }

  cancelOrAmend(session: Session, m: sbe.CancelOrder | sbe.AmendOrder, templateId: number): void {
    if (!session.trade) return this.sessions.refuseTrading(session, templateId, m.clOrdId);
    // Its reports carry the request's client order id (requestClOrdId): 0 would not tell them apart.
    if (m.clOrdId === 0) return this.outbox.reject(session.ws, templateId, Reason.InvalidClOrdId, 'clOrdId', 'clOrdId must not be 0');
    const amend = 'price' in m;
    const keyId = session.key.keyId;
    if (!('price' in m) && m.origClOrdId === 0 && m.orderId !== 0) {
      // By order id: one of this key's own orders (its reports go to this key), named as by its
      // client order id; any other is refused by the node (order id 0: UnknownOrder).
      const ref = this.streams.refOf(m.orderId);
      if (ref !== undefined && ref.keyId === keyId) m = { ...m, origClOrdId: ref.clOrdId };
      else {
        if (this.sessions.rateLimited(session, templateId, m.clOrdId)) return;
        const origin: Origin = { gateway: this.gateway, keyId, clOrdId: m.clOrdId, origClOrdId: undefined };
        return void this.enqueue(session, templateId, { type: 'cancel', account: session.account, instrument: m.instrument, orderId: 0, origin }, m.clOrdId);
      }
    }
    if (this.busy(session, templateId, m.clOrdId, amend ? this.intakeQueuedMax : 2 * this.intakeQueuedMax)) return;
    const ids = this.streams.clOrdIdsOf(keyId);
    const known = ids.ids.get(m.origClOrdId);
    // Amends cost a rate-limit token. Cancels take risk off and are free when they name an open
    // order (or are the first to follow one being sequenced); any other still costs a journal
    // record, so it costs a token.
    const free = !('price' in m) && (known === SEQUENCING ? !ids.followers.has(m.origClOrdId) : known !== undefined && this.freeCancel(session, m, known));
    if (!free && this.sessions.rateLimited(session, templateId, m.clOrdId)) return;
    if (free && known !== SEQUENCING) this.cancelling.add(known!);
    const origin: Origin = { gateway: this.gateway, keyId, clOrdId: m.clOrdId, origClOrdId: m.origClOrdId };
    // Sequenced even for an unknown client order id (order id 0, which the node refuses), so the
    // attempt is journalled and its reject numbered and written like every stream message.
    const apply = (orderId: number) => {
      const command: NodeCommand = 'price' in m
        ? { type: 'amend', account: session.account, instrument: m.instrument, orderId, price: m.price, qty: m.qty, origin }
        : { type: 'cancel', account: session.account, instrument: m.instrument, orderId, origin };
      if (!this.enqueue(session, templateId, command, m.clOrdId) && !amend) this.cancelling.delete(orderId);
    };
    if (known === undefined) return apply(0);
    if (known !== SEQUENCING) return apply(known);
    // An order still being sequenced: the cancel or amend follows it.
    const waiting = ids.followers.get(m.origClOrdId);
    if (waiting) waiting.push(apply);
    else ids.followers.set(m.origClOrdId, [apply]);
  }

  massCancel(session: Session, m: sbe.MassCancel): void {
    const templateId = sbe.TemplateId.MassCancel;
    if (!session.trade) return this.sessions.refuseTrading(session, templateId, m.clOrdId);
    if (m.clOrdId === 0) return this.outbox.reject(session.ws, templateId, Reason.InvalidClOrdId, 'clOrdId', 'clOrdId must not be 0');
    if (this.busy(session, templateId, m.clOrdId, 2 * this.intakeQueuedMax)) return;
    const command: NodeCommand = { type: 'massCancel', account: session.account, origin: { gateway: this.gateway, keyId: session.key.keyId, clOrdId: m.clOrdId } };
    if (m.instrument) command.instrument = m.instrument;
    if (m.side !== sbe.SideFilter.Both) command.side = m.side;
    this.enqueue(session, templateId, command, m.clOrdId);
  }

  /** A batch was applied: this gateway's free cancels in it are no longer queued. */
  applied(b: AppliedBatch): void {
    if (this.cancelling.size === 0) return;
    for (const { command } of b.commands) {
      if (command.type === 'cancel' && command.origin?.gateway === this.gateway) this.cancelling.delete(command.orderId);
    }
  }
}
