// What the node accepts from any source (gateways, operators, tests), and what it answers.
import type { CoreEvent } from '../core/index.js';

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
}
export interface CancelCommand { type: 'cancel'; account: number; instrument: number; orderId: number }
export interface AmendCommand { type: 'amend'; account: number; instrument: number; orderId: number; price: number; qty: number }
export interface MassCancelCommand { type: 'massCancel'; account: number; instrument?: number; side?: number }

export type NodeCommand = DepositCommand | WithdrawCommand | OrderCommand | CancelCommand | AmendCommand | MassCancelCommand;

/** A command as the sequencer stamped it: from here on nothing reads a clock (CORE-4). */
export type SequencedCommand = NodeCommand & { seq: number; ts: number };

export interface Outcome {
  seq: number;
  ok: boolean;
  /** A core RejectReason (1-19) or a NodeReject (100+). */
  reason?: number;
  reasonName?: string;
  /** The order id the node gave a new order (its sequence number). */
  orderId?: number;
  /** For a repeated deposit or withdrawal key: the sequence number of the original. */
  duplicateOf?: number;
  events: CoreEvent[];
}
