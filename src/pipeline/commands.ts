// What the node accepts from any source (gateways, operators, tests), and what it answers.
import { emptyEvent, type CoreEvent, type EventBatch } from '../core/index.js';
import type { AdminAction } from '../venues/admin.js';
import type { PerpAction } from '../perps/config.js';
import type { AfmmAction } from '../afmm/afmm.js';
import type { PriceCommand } from '../perps/perps.js';

/**
 * Who entered a command, carried with it through the sequencer, the pipeline and the batch its
 * listeners hear of (never journaled: what it explains is written with the batch). A gateway
 * builds its answers from it: no per-command callback, map or queue on the way.
 */
export interface Origin {
  /** The gateway that entered it (its id), so each hears of its own. */
  gateway: number;
  /** The API key whose stream the answer goes to. */
  keyId: number;
  /** The request's client order id: a new order's own, or the cancel's, amend's or mass cancel's. */
  clOrdId: number;
  /** A cancel's or amend's original client order id (what its CancelReject names). */
  origClOrdId?: number;
  /** When the gateway read the frame that carried it (performance.now(); benchmarks only). */
  arrivedMs?: number;
}

export interface DepositCommand { type: 'deposit'; key: string; account: number; asset: string; amount: number }
export interface WithdrawCommand { type: 'withdraw'; key: string; account: number; asset: string; amount: number }
export interface OrderCommand {
  type: 'order';
  account: number;
  instrument: number;
  side: number; // 0 buy, 1 sell
  orderType: number; // 0 limit, 1 market
  tif: number; // 0 GTC, 1 IOC, 2 FOK, 3 post-only
  /** Limit price; for a market order its protection price (required). */
  price: number;
  qty: number;
  /** Self-trade prevention against the participant's other orders, when given. */
  stpMode?: number;
  /** A perp order that may only shrink the position (trimmed to it; cancelled when it no longer can). */
  reduceOnly?: boolean;
  origin?: Origin;
}
export interface CancelCommand { type: 'cancel'; account: number; instrument: number; orderId: number; origin?: Origin }
export interface AmendCommand {
  type: 'amend'; account: number; instrument: number; orderId: number; price: number; qty: number;
  /**
   * When given, the amend applies only if the order's remaining quantity is still this (a FIX
   * replace gives a total quantity: what is left to set depends on what has filled meanwhile).
   */
  ifRemaining?: number;
  origin?: Origin;
}
export interface MassCancelCommand { type: 'massCancel'; account: number; instrument?: number; side?: number; origin?: Origin }

/** An operator's command (venue registry, venue clients' custody), naming the operator key that sent it. */
export interface AdminCommand {
  type: 'admin';
  /** The operator key that sent it (0: the node itself, or a venue's own session). */
  operator: number;
  /**
   * The person the operator key belongs to, when the key names one (`junction keys add --person`):
   * an AFMM change must be approved by a different person, not only a different key (AFMM-5).
   */
  person?: string;
  /** Set when a venue sent it over its own FIX session: it may only attest or release its own clients' assets. */
  byVenue?: string;
  body: AdminAction | PerpAction | AfmmAction;
  origin?: Origin;
}

export type { PriceCommand };
export type NodeCommand = DepositCommand | WithdrawCommand | OrderCommand | CancelCommand | AmendCommand | MassCancelCommand | AdminCommand | (PriceCommand & { origin?: Origin });

/** A command as the sequencer stamped it: from here on nothing reads a clock (CORE-4). */
export type { SequencedCommand } from './journal.js';

const scratchEvent = emptyEvent();

/** What became of one command. Its core events are read from the batch on demand. */
export class Outcome {
  ok = true;
  /** A core RejectReason (1-19) or a NodeReject (100+). */
  reason?: number;
  reasonName?: string;
  /** What a reject or an operator command's answer says beyond its reason's name. */
  text?: string;
  /** The order id the node gave a new order (its sequence number). */
  orderId?: number;
  /** For a repeated deposit or withdrawal key: the sequence number of the original. */
  duplicateOf?: number;
  private batch?: EventBatch;
  private first = 0;
  private count = 0;
  /**
   * Events from a later core batch of the same node batch (the node's own cancels after the
   * command's, such as reduce-only orders a fill left with nothing to reduce), copied.
   */
  private more?: CoreEvent[];

  /** seq: the node sequence; ts: the sequencer's timestamp, microseconds since the epoch. */
  constructor(public seq: number, public ts: number) {}

  /** Made new for another command (the runtime reuses the outcomes only gateways read). */
  reset(seq: number, ts: number): this {
    this.seq = seq;
    this.ts = ts;
    this.ok = true;
    this.reason = undefined;
    this.reasonName = undefined;
    this.text = undefined;
    this.orderId = undefined;
    this.duplicateOf = undefined;
    this.batch = undefined;
    this.first = 0;
    this.count = 0;
    this.more = undefined;
    return this;
  }

  /** Notes that event `index` of `batch` belongs to this command (a command's events are contiguous). */
  addEvent(batch: EventBatch, index: number): void {
    if (this.count === 0) {
      this.batch = batch;
      this.first = index;
    } else if (batch !== this.batch) {
      (this.more ??= []).push(batch.get(index));
      return;
    }
    this.count++;
  }

  get events(): CoreEvent[] {
    const out: CoreEvent[] = [];
    for (let i = 0; i < this.count; i++) out.push(this.batch!.get(this.first + i));
    if (this.more) out.push(...this.more);
    return out;
  }

  /**
   * Visits the command's events in order through one reused object: `visit` must copy what it
   * keeps. The allocation-free way to read them.
   */
  forEachEvent(visit: (e: CoreEvent) => void): void {
    for (let i = 0; i < this.count; i++) visit(this.batch!.read(this.first + i, scratchEvent));
    if (this.more) for (const e of this.more) visit(e);
  }

  /** How many fills the command's events hold, without materializing them. */
  fills(): number {
    let n = 0;
    for (let i = 0; i < this.count; i++) if (this.batch!.kind(this.first + i) === 3) n++;
    if (this.more) for (const e of this.more) if (e.kind === 3) n++;
    return n;
  }
}
