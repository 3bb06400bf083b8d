// The report streams of a node: one outbound stream per API key, numbered by outSeq, holding the
// execution reports, cancel rejects and mass-cancel reports of that key's orders and requests,
// whoever entered the command that caused them (a fill by another gateway's order reaches the
// maker too). One instance per node, shared by every gateway on it, so a key's stream is numbered
// once. It is a listener of the node's batches: it builds each batch's messages from the commands'
// origins and the core's events as the batch is applied, writes them (and the order references)
// in the batch's own transaction, and releases them to the gateways once the batch is durable.
// A key's client order ids (the idempotency keys of its orders) live here too.
import { EventKind, type CoreEvent } from '../core/index.js';
import type { NodeCommand, Origin, Outcome } from '../pipeline/commands.js';
import type { AppliedBatch, BatchListener, NodeRuntime } from '../pipeline/runtime.js';
import * as sbe from '../protocol/codec.js';
import { WireTime } from '../protocol/time.js';
import { assert } from '../assert.js';
import { ClOrdIds } from './client-order-ids.js';
import { ReportStore, type BatchFrames } from './report-store.js';

/** Finished orders per API key whose client order ids are still refused as duplicates. */
export const CLORDIDS_RETAINED = 100_000;
/** A core CancelReason (1-5) on the wire: the cancel range (300-399) of the registry. */
const CANCEL_REASON_BASE = 300;

export interface OrderRef { keyId: number; clOrdId: number }

/** A key's stream: the last outSeq given (it may not be durable yet), and the last released. */
interface KeyStream { outSeq: number; released: number }

/** Told a key's messages of a durable batch: one blob, messages back to back, the last outSeq. */
export type ReleaseListener = (keyId: number, blob: Buffer, lastOutSeq: number) => void;

const shared = new WeakMap<NodeRuntime, { streams: ReportStreams; users: number }>();

export class ReportStreams implements BatchListener {
  private readonly store: ReportStore;
  private readonly streams = new Map<number, KeyStream>();
  private readonly clOrdIds = new Map<number, ClOrdIds>();
  /** Node order id → the key and client order id it came from, while the order can still report. */
  private readonly orders = new Map<number, OrderRef>();
  /** Each applied batch's messages, by batch, until the batch is durable. */
  private readonly unreleased = new Map<number, BatchFrames[]>();
  private releaseListeners: ReleaseListener[] = [];
  private readonly detach: () => void;
  /** The report being built, reused (one message object, not one per report). */
  private readonly report: sbe.ExecutionReport = {
    outSeq: 0, clOrdId: 0, orderId: 0, instrument: 0, execType: sbe.ExecType.New, side: sbe.Side.Buy, aggressor: sbe.BooleanType.False,
    rejectReason: 0, price: 0, qty: 0, lastPx: 0, lastQty: 0, leavesQty: 0, tradeId: 0, transactTimeNs: 0n, requestClOrdId: 0, cancelReason: 0,
  };
  /** The origin of the cancel, amend or mass cancel whose events are being reported (its reports name it). */
  private request: Origin | undefined;
  /** The new order whose own events are being reported (most finish at once: no map entry). */
  private readonly fresh = { orderId: 0, keyId: 0, clOrdId: 0 };
  private ts = 0;
  private readonly time = new WireTime();

  private constructor(private readonly node: NodeRuntime, private readonly retained: number) {
    this.store = new ReportStore(node.store);
    this.store.loadRefs((keyId, clOrdId, orderId) => {
      const ids = this.clOrdIdsOf(keyId);
      ids.ids.set(clOrdId, orderId);
      if (node.pipeline.orders.has(orderId)) this.orders.set(orderId, { keyId, clOrdId });
      else ids.retire(clOrdId, orderId);
    });
    this.detach = node.attach(this);
  }

  /**
   * The node's report streams, made on first use (while the node is idle); each user releases
   * it when done, and the last release detaches it from the node.
   */
  static acquire(node: NodeRuntime, clOrdIdsRetained = CLORDIDS_RETAINED): ReportStreams {
    let entry = shared.get(node);
    if (!entry) shared.set(node, (entry = { streams: new ReportStreams(node, Math.max(1, clOrdIdsRetained)), users: 0 }));
    entry.users++;
    return entry.streams;
  }

  release(): void {
    const entry = shared.get(this.node);
    assert(entry && entry.streams === this, 'report streams released twice');
    if (--entry.users > 0) return;
    shared.delete(this.node);
    // Commands queued before the last user left (cancel-on-disconnect as its sessions end) still
    // report: detach only once the node has applied and committed them.
    if (this.node.idle) this.detach();
    else void this.node.drain().then(() => this.detach(), () => this.detach());
  }

  /** Hears every key's messages as their batch becomes durable; returns what stops it. */
  onRelease(listener: ReleaseListener): () => void {
    this.releaseListeners = [...this.releaseListeners, listener];
    return () => {
      this.releaseListeners = this.releaseListeners.filter((l) => l !== listener);
    };
  }

  /** The last outSeq of a key's stream that is durable and sent (what a LogonAck announces). */
  released(keyId: number): number {
    return this.streamOf(keyId).released;
  }

  /** A key's stored messages from an outbound sequence on, up to `toOutSeq`. */
  framesFrom(keyId: number, fromOutSeq: number, toOutSeq: number): IterableIterator<Uint8Array> {
    return this.store.framesFrom(keyId, fromOutSeq, toOutSeq);
  }

  clOrdIdsOf(keyId: number): ClOrdIds {
    let ids = this.clOrdIds.get(keyId);
    if (!ids) this.clOrdIds.set(keyId, (ids = new ClOrdIds(this.retained)));
    return ids;
  }

  /** Which key and client order id an order came from, while it can still report. */
  refOf(orderId: number): OrderRef | undefined {
    return orderId === this.fresh.orderId ? this.fresh : this.orders.get(orderId);
  }

  private streamOf(keyId: number): KeyStream {
    let stream = this.streams.get(keyId);
    if (!stream) {
      const last = this.store.lastOutSeq(keyId);
      this.streams.set(keyId, (stream = { outSeq: last, released: last }));
    }
    return stream;
  }

  // ---- the node's batches ----------------------------------------------------------------------

  applied(b: AppliedBatch): void {
    for (let i = 0; i < b.commands.length; i++) this.command(b.commands[i].command, b.outcomes[i]);
    const frames = this.store.take(b.batch);
    if (frames.length > 0) this.unreleased.set(b.batch, frames);
  }

  write(batch: number): void {
    this.store.write(batch);
  }

  durable(b: AppliedBatch): void {
    const frames = this.unreleased.get(b.batch);
    if (!frames) return;
    this.unreleased.delete(b.batch);
    for (const { keyId, blob, lastSeq } of frames) {
      this.streamOf(keyId).released = lastSeq;
      for (const l of this.releaseListeners) l(keyId, blob, lastSeq);
    }
  }

  /** One command just applied: its own answer (from its origin) and the reports of its events. */
  private command(c: NodeCommand, outcome: Outcome): void {
    this.ts = outcome.ts;
    const origin = c.type === 'deposit' || c.type === 'withdraw' ? undefined : c.origin;
    if (origin) {
      if (c.type === 'order') this.placed(origin, c, outcome);
      else if (c.type === 'cancel' || c.type === 'amend') {
        if (!outcome.ok) {
          // A cancel or amend of a client order id this key never used is sequenced with order id 0.
          // (A cancel by order id of an order not this key's has no original client order id.)
          const reason = c.orderId === 0 && origin.origClOrdId !== undefined ? sbe.RejectReason.UnknownClOrdId : (outcome.reason ?? 0) as sbe.RejectReason;
          this.message(origin.keyId, (v, at, outSeq) => sbe.encodeCancelReject(v, at, { outSeq, clOrdId: origin.clOrdId, origClOrdId: origin.origClOrdId ?? 0, reason }));
        } else this.request = origin;
      } else if (c.type === 'massCancel') this.request = origin;
    }
    outcome.forEachEvent(this.event);
    if (origin && c.type === 'massCancel') this.massCancelled(origin, c, outcome);
    this.request = undefined;
    // A new order still open after its own events keeps reporting.
    const fresh = this.fresh;
    if (fresh.orderId !== 0) {
      this.orders.set(fresh.orderId, { keyId: fresh.keyId, clOrdId: fresh.clOrdId });
      fresh.orderId = 0;
    }
  }

  /** A new order of a key: its client order id now names it (or a reject), and what waited on it follows. */
  private placed(origin: Origin, c: NodeCommand & { type: 'order' }, outcome: Outcome): void {
    const { keyId, clOrdId } = origin;
    const orderId = outcome.orderId ?? 0;
    const ids = this.clOrdIdsOf(keyId);
    ids.ids.set(clOrdId, orderId);
    if (orderId) {
      if (outcome.ok) {
        this.fresh.orderId = orderId;
        this.fresh.keyId = keyId;
        this.fresh.clOrdId = clOrdId;
      }
      this.store.addRef(keyId, clOrdId, orderId);
    }
    if (!outcome.ok) {
      const r = this.report;
      r.clOrdId = clOrdId; r.orderId = orderId; r.instrument = c.instrument; r.execType = sbe.ExecType.Rejected; r.side = c.side as sbe.Side;
      r.aggressor = sbe.BooleanType.False; r.rejectReason = (outcome.reason ?? 0) as sbe.RejectReason; r.cancelReason = sbe.CancelReason.None;
      r.price = c.price; r.qty = c.qty; r.lastPx = 0; r.lastQty = 0; r.leavesQty = 0; r.tradeId = 0; r.transactTimeNs = this.time.ns(outcome.ts); r.requestClOrdId = 0;
      this.message(keyId, this.encodeReport);
      ids.retire(clOrdId, orderId);
    }
    const waiting = ids.followers.get(clOrdId);
    if (waiting) {
      ids.followers.delete(clOrdId);
      for (const follow of waiting) follow(orderId);
    }
  }

  /** A mass cancel's answer, after the Cancelled reports it caused: how many, or why refused. */
  private massCancelled(origin: Origin, c: NodeCommand & { type: 'massCancel' }, outcome: Outcome): void {
    // Its own account's cancels only: the node's own cancels later in the batch (a liquidation's,
    // reduce-only orders left with nothing to reduce) are reported with the batch's last command.
    let cancelled = 0;
    outcome.forEachEvent((e) => {
      if (e.kind === EventKind.Cancelled && e.account === c.account) cancelled++;
    });
    const rejectReason = (outcome.ok ? 0 : outcome.reason ?? 0) as sbe.RejectReason;
    const side = c.side === undefined ? sbe.SideFilter.Both : (c.side as sbe.SideFilter);
    this.message(origin.keyId, (v, at, outSeq) => sbe.encodeMassCancelReport(v, at, {
      outSeq, clOrdId: origin.clOrdId, instrument: c.instrument ?? 0, side, cancelled, rejectReason,
    }));
  }

  /** One core event: the owners' execution reports. */
  private readonly event = (e: CoreEvent): void => {
    switch (e.kind) {
      case EventKind.Accepted:
        return this.execution(e.orderId, sbe.ExecType.New, e, e.side, e.qty, e.qty, 0, 0, false);
      case EventKind.Fill: {
        this.execution(e.orderId, e.remaining === 0 ? sbe.ExecType.Fill : sbe.ExecType.PartialFill, e, e.side, e.qty, e.remaining, e.price, e.qty, true);
        this.execution(e.makerOrderId, e.makerRemaining === 0 ? sbe.ExecType.Fill : sbe.ExecType.PartialFill, e, 1 - e.side,
          e.qty, e.makerRemaining, e.price, e.qty, false);
        // A done order reports no more.
        if (e.remaining === 0) this.done(e.orderId);
        if (e.makerRemaining === 0) this.done(e.makerOrderId);
        return;
      }
      case EventKind.Cancelled:
        this.execution(e.orderId, sbe.ExecType.Cancelled, e, e.side, e.qty, 0, 0, 0, false, CANCEL_REASON_BASE + e.reason);
        return this.done(e.orderId);
      case EventKind.Reduced:
        return this.execution(e.orderId, sbe.ExecType.Reduced, e, e.side, e.qty, e.remaining, 0, 0, false);
      case EventKind.Amended:
        return this.execution(e.orderId, sbe.ExecType.Amended, e, e.side, e.qty, e.remaining, 0, 0, false);
      default:
        return; // Rested follows New; Rejected is answered from the outcome.
    }
  };

  private execution(orderId: number, execType: sbe.ExecType, e: CoreEvent, side: number, qty: number, leavesQty: number,
    lastPx: number, lastQty: number, aggressor: boolean, cancelReason = 0): void {
    const ref = this.refOf(orderId);
    if (!ref) return;
    const r = this.report;
    r.clOrdId = ref.clOrdId; r.orderId = orderId; r.instrument = e.instrument; r.execType = execType; r.side = side as sbe.Side;
    r.aggressor = aggressor ? sbe.BooleanType.True : sbe.BooleanType.False; r.rejectReason = sbe.RejectReason.None;
    r.cancelReason = cancelReason as sbe.CancelReason; r.price = e.price; r.qty = qty; r.lastPx = lastPx; r.lastQty = lastQty; r.leavesQty = leavesQty;
    r.tradeId = execType === sbe.ExecType.Fill || execType === sbe.ExecType.PartialFill ? e.tradeId : 0;
    const request = this.request;
    r.requestClOrdId = request !== undefined && request.keyId === ref.keyId ? request.clOrdId : 0;
    r.transactTimeNs = this.time.ns(this.ts);
    this.message(ref.keyId, this.encodeReport);
  }

  private readonly encodeReport = (v: DataView, at: number, outSeq: number): number => {
    this.report.outSeq = outSeq;
    return sbe.encodeExecutionReport(v, at, this.report);
  };

  /** A message of a key's stream, numbered and written with the batch being applied. */
  private message(keyId: number, encode: (v: DataView, at: number, outSeq: number) => number): void {
    this.store.encode(keyId, ++this.streamOf(keyId).outSeq, encode);
  }

  /** An order that will report no more: its client order id is kept only for the retention window. */
  private done(orderId: number): void {
    if (orderId === this.fresh.orderId) {
      this.fresh.orderId = 0;
      return this.clOrdIdsOf(this.fresh.keyId).retire(this.fresh.clOrdId, orderId);
    }
    const ref = this.orders.get(orderId);
    if (!ref) return;
    this.orders.delete(orderId);
    this.clOrdIdsOf(ref.keyId).retire(ref.clOrdId, orderId);
  }
}
