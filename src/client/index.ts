// The client SDK's entry point (package.json "exports": import from 'junction'): the client, the
// protocol's messages and enums, exact decimal units, and the registry of reasons.
export {
  JunctionClient, SessionRejectError, REPLAY_PAGE, type ClientOptions, type OrderRequest, type LocalBook, type BookLevel, type JunctionClientEvents,
  type AdminAnswer, type PriceRequest, type PerpAccountFigures, type PerpReportBody,
} from './client.js';
export { toUnits, fromUnits, priceUnits, qtyUnits, formatPrice, formatQty, findInstrument, UnitError, type Instrument } from './units.js';
export { reasonName, reasonText, describeReason } from '../protocol/reasons.js';
export {
  Side, OrdType, TimeInForce, StpMode, SideFilter, ExecType, Channel, SourceStatus, AfmmSide, PerpNoticeKind, BooleanType, RejectReason, CancelReason, RejectReasonNames,
  RejectReasonText, CancelReasonNames, CancelReasonText,
} from '../protocol/codec.js';
export type * from '../protocol/codec.js';
