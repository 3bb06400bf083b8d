//! Scenario tests of the engine's rules. Requirement IDs are in brackets in each test's comment
//! (Rust test names cannot hold brackets), so `grep -r "\[CORE-2\]" native` lists them.

use crate::book::InstrumentConfig;
use crate::engine::{Engine, Sink};
use crate::records::*;

const INSTRUMENT: u32 = 1;

fn engine() -> Engine {
    let mut e = Engine::new(64, 4).unwrap();
    e.add_instrument(InstrumentConfig {
        id: INSTRUMENT,
        tick_size: 5,
        lot_size: 10,
        min_qty: 10,
        max_qty: 10_000,
        ref_price: 1_000,
        band_bps: 1_000, // +-10%: 900..=1100
    })
    .unwrap();
    e
}

fn run(e: &mut Engine, c: Command) -> Vec<Event> {
    let mut buf = vec![Event::default(); 256];
    let mut sink = Sink { buf: &mut buf, len: 0, command_index: 0 };
    e.apply(&c, &mut sink);
    let n = sink.len;
    e.check_invariants();
    buf.truncate(n);
    buf
}

fn limit(id: u64, account: u32, s: u8, price: i64, qty: i64) -> Command {
    Command { kind: command_kind::NEW_ORDER, side: s, instrument: INSTRUMENT, account, order_id: id, price, qty, ..Command::default() }
}

fn kinds(events: &[Event]) -> Vec<u8> {
    events.iter().map(|e| e.kind).collect()
}

use event_kind::*;

// [CORE-1] price-time priority: better price first, then arrival order within a level.
#[test]
fn core_1_price_time_priority() {
    let mut e = engine();
    run(&mut e, limit(1, 1, side::SELL, 1010, 10));
    run(&mut e, limit(2, 2, side::SELL, 1005, 10));
    run(&mut e, limit(3, 3, side::SELL, 1005, 10));
    let ev = run(&mut e, limit(4, 4, side::BUY, 1010, 30));
    let fills: Vec<(u64, i64, u64)> = ev.iter().filter(|e| e.kind == FILL).map(|e| (e.maker_order_id, e.price, e.trade_id)).collect();
    assert_eq!(fills, vec![(2, 1005, 1), (3, 1005, 2), (1, 1010, 3)]);
    assert_eq!(kinds(&ev), vec![ACCEPTED, FILL, FILL, FILL]);
    assert_eq!(e.pool.resting, 0);
}

// [CORE-2] IOC cancels its remainder; FOK kills when it cannot fill whole; post-only rejects when it would take.
#[test]
fn core_2_ioc_fok_post_only() {
    let mut e = engine();
    run(&mut e, limit(1, 1, side::SELL, 1000, 20));
    let ioc = run(&mut e, Command { tif: tif::IOC, ..limit(2, 2, side::BUY, 1000, 50) });
    assert_eq!(kinds(&ioc), vec![ACCEPTED, FILL, CANCELLED]);
    assert_eq!((ioc[2].reason, ioc[2].qty), (cancel::UNFILLED, 30));
    run(&mut e, limit(3, 1, side::SELL, 1000, 20));
    let fok = run(&mut e, Command { tif: tif::FOK, ..limit(4, 2, side::BUY, 1000, 30) });
    assert_eq!(kinds(&fok), vec![ACCEPTED, CANCELLED]);
    assert_eq!(fok[1].reason, cancel::FOK_UNFILLABLE);
    let post = run(&mut e, Command { tif: tif::POST_ONLY, ..limit(5, 2, side::BUY, 1000, 10) });
    assert_eq!((post[0].kind, post[0].reason), (REJECTED, reject::POST_ONLY_WOULD_TAKE));
    let fok_ok = run(&mut e, Command { tif: tif::FOK, ..limit(6, 2, side::BUY, 1000, 20) });
    assert_eq!(kinds(&fok_ok), vec![ACCEPTED, FILL]);
}

// [CORE-2] a market order never trades outside the band: without a protection price it stops at the band edge.
#[test]
fn core_2_market_order_protection() {
    let mut e = engine();
    run(&mut e, limit(1, 1, side::SELL, 1100, 10));
    run(&mut e, limit(2, 1, side::SELL, 1050, 10));
    let ev = run(&mut e, Command { order_type: order_type::MARKET, tif: tif::IOC, ..limit(3, 2, side::BUY, 0, 30) });
    assert_eq!(kinds(&ev), vec![ACCEPTED, FILL, FILL, CANCELLED]);
    assert_eq!(ev[0].price, 1100);
    // After trading at 1100 the band re-centres there (990..=1210).
    run(&mut e, limit(4, 1, side::SELL, 1200, 10));
    let ev = run(&mut e, Command { order_type: order_type::MARKET, tif: tif::IOC, ..limit(5, 2, side::BUY, 1150, 10) });
    assert_eq!(kinds(&ev), vec![ACCEPTED, CANCELLED]);
    let bad = run(&mut e, Command { order_type: order_type::MARKET, tif: tif::GTC, ..limit(6, 2, side::BUY, 0, 10) });
    assert_eq!(bad[0].reason, reject::INVALID_TIME_IN_FORCE);
}

// [CORE-2] amend: quantity down keeps priority; price change or quantity up loses it.
#[test]
fn core_2_amend_priority() {
    let mut e = engine();
    run(&mut e, limit(1, 1, side::BUY, 1000, 30));
    run(&mut e, limit(2, 2, side::BUY, 1000, 30));
    let down = run(&mut e, Command { kind: command_kind::AMEND, ..limit(1, 1, side::BUY, 1000, 20) });
    assert_eq!((down[0].kind, down[0].flags, down[0].qty), (AMENDED, 1, 20));
    let sell = run(&mut e, limit(3, 3, side::SELL, 1000, 10));
    assert_eq!(sell[1].maker_order_id, 1);
    let up = run(&mut e, Command { kind: command_kind::AMEND, ..limit(1, 1, side::BUY, 1000, 40) });
    assert_eq!(kinds(&up), vec![AMENDED, RESTED]);
    let sell = run(&mut e, limit(4, 3, side::SELL, 1000, 10));
    assert_eq!(sell[1].maker_order_id, 2);
    let cross = run(&mut e, Command { kind: command_kind::AMEND, ..limit(4, 3, side::SELL, 1000, 10) });
    assert_eq!(cross[0].reason, reject::UNKNOWN_ORDER);
}

// [CORE-3] each STP mode, with the taker's mode deciding.
#[test]
fn core_3_self_trade_prevention_modes() {
    let stp = |mode: u8, id: u64, qty: i64| Command { stp_group: 7, stp_mode: mode, ..limit(id, 1, side::BUY, 1000, qty) };
    let maker = |id: u64, qty: i64| Command { stp_group: 7, ..limit(id, 1, side::SELL, 1000, qty) };

    let mut e = engine();
    run(&mut e, maker(1, 20));
    let ev = run(&mut e, stp(stp_mode::CANCEL_NEWEST, 2, 10));
    assert_eq!(kinds(&ev), vec![ACCEPTED, CANCELLED]);
    assert_eq!((ev[1].order_id, ev[1].reason), (2, cancel::SELF_TRADE));

    let ev = run(&mut e, stp(stp_mode::CANCEL_OLDEST, 3, 10));
    assert_eq!(kinds(&ev), vec![ACCEPTED, CANCELLED, RESTED]);
    assert_eq!(ev[1].order_id, 1);
    run(&mut e, Command { kind: command_kind::MASS_CANCEL, ..Command::default() });

    run(&mut e, maker(4, 20));
    let ev = run(&mut e, stp(stp_mode::CANCEL_BOTH, 5, 10));
    assert_eq!(kinds(&ev), vec![ACCEPTED, CANCELLED, CANCELLED]);
    assert_eq!((ev[1].order_id, ev[2].order_id), (4, 5));

    run(&mut e, maker(6, 20));
    let ev = run(&mut e, stp(stp_mode::DECREMENT_AND_CANCEL, 7, 50));
    assert_eq!(kinds(&ev), vec![ACCEPTED, CANCELLED, REDUCED, RESTED]);
    assert_eq!((ev[1].order_id, ev[1].qty, ev[2].order_id, ev[2].remaining, ev[3].qty), (6, 20, 7, 30, 30));
    let ev = run(&mut e, Command { stp_group: 7, stp_mode: stp_mode::DECREMENT_AND_CANCEL, ..limit(8, 1, side::SELL, 1000, 10) });
    assert_eq!(kinds(&ev), vec![ACCEPTED, REDUCED, CANCELLED]);
    assert_eq!((ev[1].order_id, ev[1].remaining, ev[2].order_id), (7, 20, 8));
}

// [CORE-2] mass cancel by account, instrument and side, in priority order.
#[test]
fn core_2_mass_cancel_scopes() {
    let mut e = engine();
    run(&mut e, limit(1, 1, side::BUY, 995, 10));
    run(&mut e, limit(2, 2, side::BUY, 1000, 10));
    run(&mut e, limit(3, 1, side::BUY, 1000, 10));
    run(&mut e, limit(4, 1, side::SELL, 1010, 10));
    let ev = run(&mut e, Command { kind: command_kind::MASS_CANCEL, scope: scope::ACCOUNT | scope::SIDE, account: 1, side: side::BUY, ..Command::default() });
    assert_eq!(ev.iter().map(|e| e.order_id).collect::<Vec<_>>(), vec![3, 1]);
    assert!(ev.iter().all(|e| e.kind == CANCELLED && e.reason == cancel::MASS));
    let ev = run(&mut e, Command { kind: command_kind::MASS_CANCEL, scope: scope::INSTRUMENT, instrument: INSTRUMENT, ..Command::default() });
    assert_eq!(ev.iter().map(|e| e.order_id).collect::<Vec<_>>(), vec![2, 4]);
    let bad = run(&mut e, Command { kind: command_kind::MASS_CANCEL, scope: 8, ..Command::default() });
    assert_eq!(bad[0].reason, reject::INVALID_SCOPE);
}

// [CORE-2] every bad command is a reject with a stable reason code, never a crash.
#[test]
fn core_2_rejects_name_their_reason() {
    let mut e = engine();
    run(&mut e, limit(1, 1, side::BUY, 1000, 10));
    let cases = [
        (Command { instrument: 3, ..limit(9, 1, side::BUY, 1000, 10) }, reject::UNKNOWN_INSTRUMENT),
        (limit(9, 1, 2, 1000, 10), reject::INVALID_SIDE),
        (Command { order_type: 2, ..limit(9, 1, side::BUY, 1000, 10) }, reject::INVALID_ORDER_TYPE),
        (Command { tif: 4, ..limit(9, 1, side::BUY, 1000, 10) }, reject::INVALID_TIME_IN_FORCE),
        (Command { stp_mode: 4, ..limit(9, 1, side::BUY, 1000, 10) }, reject::INVALID_STP_MODE),
        (limit(0, 1, side::BUY, 1000, 10), reject::INVALID_ORDER_ID),
        (limit(1, 1, side::BUY, 1000, 10), reject::DUPLICATE_ORDER_ID),
        (limit(9, 1, side::BUY, 1000, 0), reject::INVALID_QUANTITY),
        (limit(9, 1, side::BUY, 1000, 15), reject::QUANTITY_OFF_LOT),
        (limit(9, 1, side::BUY, 1000, 10_010), reject::QUANTITY_ABOVE_MAX),
        (limit(9, 1, side::BUY, -5, 10), reject::INVALID_PRICE),
        (limit(9, 1, side::BUY, 1001, 10), reject::PRICE_OFF_TICK),
        (limit(9, 1, side::BUY, 1105, 10), reject::PRICE_OUT_OF_BAND),
        (Command { kind: command_kind::CANCEL, ..limit(42, 1, side::BUY, 0, 0) }, reject::UNKNOWN_ORDER),
        (Command { kind: 99, ..Command::default() }, reject::UNKNOWN_COMMAND),
    ];
    for (c, reason) in cases {
        let ev = run(&mut e, c);
        assert_eq!((ev.len(), ev[0].kind, ev[0].reason), (1, REJECTED, reason), "{c:?}");
    }
    assert_eq!(e.pool.resting, 1);
}

// [CORE-2] the pool bounds resting orders: a full pool rejects new resting orders, not IOCs.
#[test]
fn core_2_pool_full_rejects() {
    let mut e = Engine::new(2, 1).unwrap();
    e.add_instrument(InstrumentConfig { id: 1, tick_size: 1, lot_size: 1, min_qty: 1, max_qty: 100, ref_price: 100, band_bps: 5000 }).unwrap();
    run(&mut e, limit(1, 1, side::BUY, 90, 1));
    run(&mut e, limit(2, 1, side::BUY, 91, 1));
    assert_eq!(run(&mut e, limit(3, 1, side::BUY, 92, 1))[0].reason, reject::ORDER_POOL_FULL);
    assert_eq!(kinds(&run(&mut e, Command { tif: tif::IOC, ..limit(4, 2, side::SELL, 91, 1) })), vec![ACCEPTED, FILL]);
}

// [CORE-4] snapshot and restore reproduce the same books: continuing both gives identical events.
#[test]
fn core_4_snapshot_restore_round_trip() {
    let mut e = engine();
    for i in 0..20u64 {
        let s = (i % 2) as u8;
        let price = if s == side::BUY { 990 - 5 * (i as i64 % 4) } else { 1010 + 5 * (i as i64 % 4) };
        run(&mut e, Command { stp_group: (i % 3) as u32, ..limit(i + 1, (i % 5) as u32, s, price, 10 * (1 + i as i64 % 3)) });
    }
    let bytes = crate::snapshot::snapshot(&e);
    let mut copy = crate::snapshot::restore(&bytes).unwrap();
    assert_eq!(crate::snapshot::snapshot(&copy), bytes);
    let sweep = Command { tif: tif::IOC, ..limit(100, 9, side::BUY, 1100, 200) };
    assert_eq!(run(&mut e, sweep), run(&mut copy, sweep));
    let mut corrupt = bytes.clone();
    corrupt[20] ^= 1;
    assert_eq!(crate::snapshot::restore(&corrupt).err().unwrap(), "snapshot checksum mismatch");
}

// [CORE-2] [PERP-3] a book's band moves to a new reference price (a perpetual's mark): an order
// outside the old band but inside the new one is taken; a bad reference is rejected, the band kept.
#[test]
fn core_2_set_reference_moves_the_band() {
    let mut e = engine();
    let refused = run(&mut e, limit(1, 1, side::BUY, 1_200, 10));
    assert_eq!((refused[0].kind, refused[0].reason), (REJECTED, reject::PRICE_OUT_OF_BAND));
    let set = |price: i64| Command { kind: command_kind::SET_REFERENCE, instrument: INSTRUMENT, price, ..Command::default() };
    assert!(run(&mut e, set(1_250)).is_empty()); // 1125..=1375
    assert_eq!(kinds(&run(&mut e, limit(2, 1, side::BUY, 1_200, 10))), vec![ACCEPTED, RESTED]);
    let bad = run(&mut e, set(0));
    assert_eq!((bad[0].kind, bad[0].reason), (REJECTED, reject::INVALID_PRICE));
    let unknown = run(&mut e, Command { instrument: 9, ..set(1_000) });
    assert_eq!((unknown[0].kind, unknown[0].reason), (REJECTED, reject::UNKNOWN_INSTRUMENT));
    // The band stayed where the last good reference put it.
    let low = run(&mut e, limit(3, 1, side::BUY, 1_100, 10));
    assert_eq!((low[0].kind, low[0].reason), (REJECTED, reject::PRICE_OUT_OF_BAND));
}
