// The command and event record layouts shared with the native core (native/src/records.rs).
// Change both sides together. Every code below is stable: append, never renumber.

export const COMMAND_BYTES = 48;
export const EVENT_BYTES = 80;

export const enum CommandKind { NewOrder = 1, Cancel = 2, Amend = 3, MassCancel = 4, SetReference = 5 }
export const enum Side { Buy = 0, Sell = 1 }
export const enum OrderType { Limit = 0, Market = 1 }
export const enum TimeInForce { GTC = 0, IOC = 1, FOK = 2, PostOnly = 3 }
export const enum StpMode { CancelNewest = 0, CancelOldest = 1, CancelBoth = 2, DecrementAndCancel = 3 }
/** Mass-cancel scope bits: each set bit narrows the selection by that field. */
export const enum Scope { All = 0, Account = 1, Instrument = 2, Side = 4 }
export const enum EventKind { Accepted = 1, Rested = 2, Fill = 3, Cancelled = 4, Rejected = 5, Amended = 6, Reduced = 7 }

export const enum RejectReason {
  UnknownCommand = 1,
  UnknownInstrument = 2,
  InvalidSide = 3,
  InvalidOrderType = 4,
  InvalidTimeInForce = 5,
  InvalidStpMode = 6,
  InvalidOrderId = 7,
  DuplicateOrderId = 8,
  InvalidQuantity = 9,
  QuantityOffLot = 10,
  QuantityBelowMin = 11,
  QuantityAboveMax = 12,
  InvalidPrice = 13,
  PriceOffTick = 14,
  PriceOutOfBand = 15,
  PostOnlyWouldTake = 16,
  UnknownOrder = 17,
  OrderPoolFull = 18,
  InvalidScope = 19,
}

export const enum CancelReason { User = 1, Mass = 2, Unfilled = 3, FokUnfillable = 4, SelfTrade = 5 }

export const REJECT_REASON_NAMES: Readonly<Record<number, string>> = {
  1: 'UnknownCommand', 2: 'UnknownInstrument', 3: 'InvalidSide', 4: 'InvalidOrderType',
  5: 'InvalidTimeInForce', 6: 'InvalidStpMode', 7: 'InvalidOrderId', 8: 'DuplicateOrderId',
  9: 'InvalidQuantity', 10: 'QuantityOffLot', 11: 'QuantityBelowMin', 12: 'QuantityAboveMax',
  13: 'InvalidPrice', 14: 'PriceOffTick', 15: 'PriceOutOfBand', 16: 'PostOnlyWouldTake',
  17: 'UnknownOrder', 18: 'OrderPoolFull', 19: 'InvalidScope',
};
export const CANCEL_REASON_NAMES: Readonly<Record<number, string>> = {
  1: 'User', 2: 'Mass', 3: 'Unfilled', 4: 'FokUnfillable', 5: 'SelfTrade',
};
export const EVENT_KIND_NAMES: Readonly<Record<number, string>> = {
  1: 'Accepted', 2: 'Rested', 3: 'Fill', 4: 'Cancelled', 5: 'Rejected', 6: 'Amended', 7: 'Reduced',
};

/** Word offsets (int32 units) of command fields. Bytes 0..7 hold the small fields packed. */
export const CommandWord = {
  header: 0, // kind | side << 8 | orderType << 16 | tif << 24
  modes: 1, // stpMode | scope << 8
  instrument: 2,
  account: 3,
  orderId: 4, // u64
  price: 6, // i64
  qty: 8, // i64
  stpGroup: 10,
} as const;
export const COMMAND_WORDS = COMMAND_BYTES / 4;

/** Word offsets (int32 units) of event fields. Bytes 0..3 hold kind, reason, side, flags. */
export const EventWord = {
  header: 0,
  instrument: 1,
  commandIndex: 2,
  account: 3,
  orderId: 4,
  makerOrderId: 6,
  price: 8,
  qty: 10,
  remaining: 12,
  makerRemaining: 14,
  tradeId: 16,
  makerAccount: 18,
} as const;
export const EVENT_WORDS = EVENT_BYTES / 4;

export interface InstrumentSpec {
  id: number;
  tickSize: number;
  lotSize: number;
  minQty: number;
  maxQty: number;
  /** Band centre until the first trade; after that the last trade price. */
  refPrice: number;
  /** Half-width of the price band around the reference price, in basis points (1..=10000). */
  bandBps: number;
}

export interface NewOrderCommand {
  kind: CommandKind.NewOrder;
  instrument: number;
  orderId: number;
  account: number;
  side: Side;
  type: OrderType;
  tif: TimeInForce;
  /** Limit price; for a market order the protection price, or 0 for the band edge. */
  price: number;
  qty: number;
  stpGroup: number;
  stpMode: StpMode;
}
export interface CancelCommand { kind: CommandKind.Cancel; instrument: number; orderId: number; account: number }
export interface AmendCommand { kind: CommandKind.Amend; instrument: number; orderId: number; account: number; price: number; qty: number }
export interface MassCancelCommand { kind: CommandKind.MassCancel; scope: number; account: number; instrument: number; side: number }
/** Moves a book's price band to centre on `price` (a perpetual's mark); emits nothing unless refused. */
export interface SetReferenceCommand { kind: CommandKind.SetReference; instrument: number; price: number; account?: number }
export type Command = NewOrderCommand | CancelCommand | AmendCommand | MassCancelCommand | SetReferenceCommand;

/** One event, every field present (zero where a kind does not use it), as both engines emit it. */
export interface CoreEvent {
  kind: EventKind;
  reason: number;
  side: number;
  flags: number;
  instrument: number;
  commandIndex: number;
  account: number;
  orderId: number;
  makerOrderId: number;
  price: number;
  qty: number;
  remaining: number;
  makerRemaining: number;
  tradeId: number;
  makerAccount: number;
}

export function emptyEvent(): CoreEvent {
  return {
    kind: 0 as EventKind, reason: 0, side: 0, flags: 0, instrument: 0, commandIndex: 0, account: 0,
    orderId: 0, makerOrderId: 0, price: 0, qty: 0, remaining: 0, makerRemaining: 0, tradeId: 0, makerAccount: 0,
  };
}
