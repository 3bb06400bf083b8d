//! Fixed-size command and event records shared with JavaScript.
//!
//! The byte layouts here are the contract with `src/core/layout.ts`; change both together.
//! All integers are little-endian. Prices and quantities are integer ticks and lots (i64).

pub const COMMAND_BYTES: usize = 48;
pub const EVENT_BYTES: usize = 80;

#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Command {
    pub kind: u8,        // CommandKind
    pub side: u8,        // Side
    pub order_type: u8,  // OrderType
    pub tif: u8,         // TimeInForce
    pub stp_mode: u8,    // StpMode
    pub scope: u8,       // MassCancel scope bits
    pub _pad: [u8; 2],
    pub instrument: u32,
    pub account: u32,
    pub order_id: u64,
    pub price: i64,
    pub qty: i64,
    pub stp_group: u32,
    pub _pad2: u32,
}

#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Event {
    pub kind: u8,   // EventKind
    pub reason: u8, // RejectReason for Rejected, CancelReason for Cancelled/Reduced
    pub side: u8,   // order side; for a fill, the aggressor side
    pub flags: u8,  // Accepted: order_type << 4 | tif; Amended: 1 when priority was kept
    pub instrument: u32,
    pub command_index: u32,
    pub account: u32,
    pub order_id: u64,
    pub maker_order_id: u64,
    pub price: i64,
    pub qty: i64,
    pub remaining: i64,
    pub maker_remaining: i64,
    pub trade_id: u64,
    pub maker_account: u32,
    pub _pad: u32,
}

const _: () = assert!(core::mem::size_of::<Command>() == COMMAND_BYTES);
const _: () = assert!(core::mem::size_of::<Event>() == EVENT_BYTES);

pub mod command_kind {
    pub const NEW_ORDER: u8 = 1;
    pub const CANCEL: u8 = 2;
    pub const AMEND: u8 = 3;
    pub const MASS_CANCEL: u8 = 4;
    /// Moves a book's price band to centre on `price` (a perpetual's mark): emits nothing, or a
    /// Rejected event for an unknown instrument or a price outside 1..=PRICE_MAX.
    pub const SET_REFERENCE: u8 = 5;
}

pub mod side {
    pub const BUY: u8 = 0;
    pub const SELL: u8 = 1;
}

pub mod order_type {
    pub const LIMIT: u8 = 0;
    pub const MARKET: u8 = 1;
}

pub mod tif {
    pub const GTC: u8 = 0;
    pub const IOC: u8 = 1;
    pub const FOK: u8 = 2;
    pub const POST_ONLY: u8 = 3;
}

pub mod stp_mode {
    pub const CANCEL_NEWEST: u8 = 0;
    pub const CANCEL_OLDEST: u8 = 1;
    pub const CANCEL_BOTH: u8 = 2;
    pub const DECREMENT_AND_CANCEL: u8 = 3;
}

/// Mass cancel scope bits: each set bit narrows the selection by that command field.
pub mod scope {
    pub const ACCOUNT: u8 = 1;
    pub const INSTRUMENT: u8 = 2;
    pub const SIDE: u8 = 4;
    pub const ALL_BITS: u8 = 7;
}

pub mod event_kind {
    pub const ACCEPTED: u8 = 1;
    pub const RESTED: u8 = 2;
    pub const FILL: u8 = 3;
    pub const CANCELLED: u8 = 4;
    pub const REJECTED: u8 = 5;
    pub const AMENDED: u8 = 6;
    pub const REDUCED: u8 = 7;
}

/// Stable reject codes: never renumber, only append.
pub mod reject {
    pub const UNKNOWN_COMMAND: u8 = 1;
    pub const UNKNOWN_INSTRUMENT: u8 = 2;
    pub const INVALID_SIDE: u8 = 3;
    pub const INVALID_ORDER_TYPE: u8 = 4;
    pub const INVALID_TIME_IN_FORCE: u8 = 5;
    pub const INVALID_STP_MODE: u8 = 6;
    pub const INVALID_ORDER_ID: u8 = 7;
    pub const DUPLICATE_ORDER_ID: u8 = 8;
    pub const INVALID_QUANTITY: u8 = 9;
    pub const QUANTITY_OFF_LOT: u8 = 10;
    pub const QUANTITY_BELOW_MIN: u8 = 11;
    pub const QUANTITY_ABOVE_MAX: u8 = 12;
    pub const INVALID_PRICE: u8 = 13;
    pub const PRICE_OFF_TICK: u8 = 14;
    pub const PRICE_OUT_OF_BAND: u8 = 15;
    pub const POST_ONLY_WOULD_TAKE: u8 = 16;
    pub const UNKNOWN_ORDER: u8 = 17;
    pub const ORDER_POOL_FULL: u8 = 18;
    pub const INVALID_SCOPE: u8 = 19;
}

/// Stable cancel codes: never renumber, only append.
pub mod cancel {
    pub const USER: u8 = 1;
    pub const MASS: u8 = 2;
    pub const UNFILLED: u8 = 3;
    pub const FOK_UNFILLABLE: u8 = 4;
    pub const SELF_TRADE: u8 = 5;
}
