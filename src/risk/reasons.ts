// Stable reject codes of the node's pre-trade and ledger checks. They continue the core's
// RejectReason numbering (1-19) from 100, so one number names any reject. Append, never renumber.
import { REJECT_REASON_NAMES } from '../core/index.js';
export const enum NodeReject {
  UnknownAccount = 100,
  AccountCannotTrade = 101,
  UnknownInstrument = 102,
  InstrumentNotEnabled = 103,
  CustodyNotEligible = 104,
  InsufficientFunds = 105,
  OpenOrdersLimit = 106,
  NotionalLimit = 107,
  NotionalTooLarge = 108,
  ProtectionPriceRequired = 109,
  UnknownAsset = 110,
  InvalidAmount = 111,
  UnknownOrder = 112,
  InvalidCommand = 113,
  InvalidPrice = 114,
  InvalidQuantity = 115,
  /** The order's venue is suspended or not eligible (SL-7). */
  VenueNotEligible = 116,
  /** An operator command that is malformed or not allowed in the state it meets (its text says why). */
  InvalidAdminCommand = 117,
  UnknownVenue = 118,
  UnknownVenueClient = 119,
  /** An amend that said what the order's remaining quantity must be found it changed (a fill got there first). */
  OrderChanged = 120,
  /** The order would take its venue's unsettled exposure past the venue's limit (SL-15). */
  UnsettledLimit = 121,
  /** The reserve fund would no longer cover the venues' unsettled limits (SL-17). */
  ReserveShort = 122,
  /** A perp position would open or grow past what the account's received collateral covers (PERP-4, PERP-5). */
  InsufficientMargin = 123,
  /** Perps are for professional investors with a valid suitability assessment (PERP-2). */
  NotProfessionalInvestor = 124,
  /** The product's index has too few usable sources: positions may not open or grow (PERP-3). */
  IndexDegraded = 125,
  /** A reduce-only order that would not reduce the position. */
  ReduceOnly = 126,
  /** The position could pass the product's largest margin tier. */
  PositionLimit = 127,
  /** A price update from a key that is not a source of that index. */
  UnknownPriceSource = 128,
  /** A price update too far from the node's time, or not newer than the source's last. */
  StalePrice = 129,
}

export const NODE_REJECT_NAMES: Readonly<Record<number, string>> = {
  100: 'UnknownAccount', 101: 'AccountCannotTrade', 102: 'UnknownInstrument', 103: 'InstrumentNotEnabled',
  104: 'CustodyNotEligible', 105: 'InsufficientFunds', 106: 'OpenOrdersLimit', 107: 'NotionalLimit',
  108: 'NotionalTooLarge', 109: 'ProtectionPriceRequired', 110: 'UnknownAsset', 111: 'InvalidAmount',
  112: 'UnknownOrder', 113: 'InvalidCommand', 114: 'InvalidPrice', 115: 'InvalidQuantity',
  116: 'VenueNotEligible', 117: 'InvalidAdminCommand', 118: 'UnknownVenue', 119: 'UnknownVenueClient', 120: 'OrderChanged', 121: 'UnsettledLimit', 122: 'ReserveShort',
  123: 'InsufficientMargin', 124: 'NotProfessionalInvestor', 125: 'IndexDegraded', 126: 'ReduceOnly', 127: 'PositionLimit', 128: 'UnknownPriceSource', 129: 'StalePrice',
};

/** Any reject's name: the core's (below 100) or the node's. */
export function rejectName(code: number): string {
  return REJECT_REASON_NAMES[code] ?? NODE_REJECT_NAMES[code] ?? `reason ${code}`;
}
