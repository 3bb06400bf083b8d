//! One instrument's order book: price levels per side with an intrusive FIFO of orders each.
//!
//! Levels live in a Vec per side sorted so that the best price is the last element: the touch is
//! where almost all inserts, fills and cancels happen, so they shift few elements and stay in cache.
//! Bids ascend by price, asks descend. A level that empties below the touch stays in place, empty,
//! so that the common add-cancel churn at a price does not shift the vector each time; the last
//! level (the touch) is never empty, and empty levels are compacted away once they are many. Orders live in the engine's pool and link to each other by
//! slot number (`prev`/`next`), so a level is a head/tail pair and totals kept incrementally.

use crate::records::side;

pub const NIL: u32 = u32::MAX;

#[derive(Clone, Copy, Debug, Default)]
#[repr(C)]
pub struct Order {
    pub id: u64,
    pub price: i64,
    pub qty: i64, // remaining open quantity
    pub account: u32,
    pub stp_group: u32,
    pub prev: u32,
    pub next: u32,
    pub instrument: u32,
    pub side: u8,
    pub stp_mode: u8,
    pub tif: u8,
    pub _pad: u8,
}

#[derive(Clone, Copy, Debug)]
#[repr(C)]
pub struct Level {
    pub price: i64,
    pub qty: i64,
    pub count: u32,
    pub head: u32,
    pub tail: u32,
    pub _pad: u32,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct InstrumentConfig {
    pub id: u32,
    pub tick_size: i64,
    pub lot_size: i64,
    pub min_qty: i64,
    pub max_qty: i64,
    /// Reference price the band is centred on until the first trade; then the last trade price.
    pub ref_price: i64,
    /// Half-width of the price band around the reference price, in basis points.
    pub band_bps: u32,
}

pub const LEVELS_RESERVED: usize = 256;
/// Empty levels a side may hold before an insert compacts them away (and then only when they
/// are at least half the side).
pub const LEVELS_EMPTY_MAX: usize = 64;

fn band_around(ref_price: i64, band_bps: u32) -> (i64, i64) {
    let bps = band_bps as i64;
    // i64 when the product fits (every realistic price); i128 division is several times slower.
    let delta = if ref_price <= i64::MAX / 10_000 {
        ref_price * bps / 10_000
    } else {
        (ref_price as i128 * bps as i128 / 10_000) as i64
    };
    (ref_price - delta, ref_price + delta)
}

pub struct Book {
    pub config: InstrumentConfig,
    ref_price: i64,
    /// The band around ref_price, recomputed only when the reference price moves.
    band: (i64, i64),
    pub last_trade_id: u64,
    pub sides: [Vec<Level>; 2],
    pub counts: [u32; 2],
    pub empty_levels: [usize; 2],
}

impl Book {
    pub fn new(config: InstrumentConfig) -> Self {
        Book {
            config,
            ref_price: config.ref_price,
            band: band_around(config.ref_price, config.band_bps),
            last_trade_id: 0,
            sides: [Vec::with_capacity(LEVELS_RESERVED), Vec::with_capacity(LEVELS_RESERVED)],
            counts: [0, 0],
            empty_levels: [0, 0],
        }
    }

    /// The inclusive price band [low, high] around the current reference price.
    #[inline]
    pub fn band(&self) -> (i64, i64) {
        self.band
    }

    pub fn ref_price(&self) -> i64 {
        self.ref_price
    }

    /// Moves the band's centre: every trade sets it to the trade price.
    #[inline]
    pub fn set_ref_price(&mut self, price: i64) {
        if price != self.ref_price {
            self.ref_price = price;
            self.band = band_around(price, self.config.band_bps);
        }
    }

    #[inline]
    pub fn in_band(&self, price: i64) -> bool {
        let (low, high) = self.band();
        price >= low && price <= high
    }

    /// The protection price of a market order that named none: the band edge on its side,
    /// rounded inwards to the tick grid.
    pub fn band_edge(&self, order_side: u8) -> i64 {
        let (low, high) = self.band();
        let tick = self.config.tick_size;
        if order_side == side::BUY {
            (high / tick) * tick
        } else if low <= tick {
            tick
        } else {
            ((low + tick - 1) / tick) * tick
        }
    }

    #[inline]
    pub fn best(&self, s: u8) -> Option<&Level> {
        self.sides[s as usize].last()
    }

    /// Would an order on `order_side` at `limit` trade against the opposite touch?
    #[inline]
    pub fn crosses(&self, order_side: u8, limit: i64) -> bool {
        match self.best(1 - order_side) {
            None => false,
            Some(level) => {
                if order_side == side::BUY {
                    level.price <= limit
                } else {
                    level.price >= limit
                }
            }
        }
    }

    /// Position of `price` in the side's level vector: Ok(found) or Err(insert position).
    ///
    /// Levels hold distinct prices on the tick grid, so the level k places from the touch is at
    /// least k ticks from it: a price D ticks from the touch sits no further than D places in.
    /// The search starts there and walks towards the touch; in a dense book that is one step.
    /// A long walk (a sparse book) falls back to binary search.
    #[inline(always)]
    pub fn find_level(&self, s: u8, price: i64) -> Result<usize, usize> {
        const WALK_MAX: usize = 16;
        let levels = &self.sides[s as usize];
        let n = levels.len();
        let Some(best) = levels.last() else { return Err(0) };
        let diff = if s == side::BUY { best.price - price } else { price - best.price };
        if diff < 0 {
            return Err(n);
        }
        let tick = self.config.tick_size;
        let ticks = if tick == 1 { diff } else { diff / tick };
        let mut i = n - 1 - (ticks as u64).min(n as u64 - 1) as usize;
        let worse = |l: &crate::book::Level| if s == side::BUY { l.price < price } else { l.price > price };
        let mut steps = 0;
        while i < n && worse(&levels[i]) {
            i += 1;
            steps += 1;
            if steps == WALK_MAX {
                i += levels[i..].partition_point(|l| worse(l));
                break;
            }
        }
        if i < n && levels[i].price == price {
            Ok(i)
        } else {
            Err(i)
        }
    }

    /// Appends the order in `slot` to the tail of its price level, creating the level if needed.
    #[inline]
    pub fn link_tail(&mut self, orders: &mut [Order], slot: u32) {
        let (s, price, qty) = {
            let o = &orders[slot as usize];
            (o.side, o.price, o.qty)
        };
        debug_assert!(qty > 0);
        let si = s as usize;
        let pos = match self.find_level(s, price) {
            Ok(pos) => {
                if self.sides[si][pos].count == 0 {
                    self.empty_levels[si] -= 1;
                }
                pos
            }
            Err(_) if self.empty_levels[si] > LEVELS_EMPTY_MAX && self.empty_levels[si] * 2 > self.sides[si].len() => {
                self.sides[si].retain(|l| l.count > 0);
                self.empty_levels[si] = 0;
                let pos = self.find_level(s, price).unwrap_err();
                self.sides[si].insert(pos, Level { price, qty: 0, count: 0, head: NIL, tail: NIL, _pad: 0 });
                pos
            }
            Err(pos) => {
                self.sides[si].insert(pos, Level { price, qty: 0, count: 0, head: NIL, tail: NIL, _pad: 0 });
                pos
            }
        };
        let level = &mut self.sides[si][pos];
        let tail = level.tail;
        orders[slot as usize].prev = tail;
        orders[slot as usize].next = NIL;
        if tail == NIL {
            level.head = slot;
        } else {
            orders[tail as usize].next = slot;
        }
        level.tail = slot;
        level.qty += qty;
        level.count += 1;
        self.counts[si] += 1;
    }

    /// Removes the order in `slot` from its level. An emptied level below the touch stays (empty);
    /// an emptied touch is dropped along with any empty levels behind it.
    #[inline]
    pub fn unlink(&mut self, orders: &mut [Order], slot: u32) {
        let o = orders[slot as usize];
        let si = o.side as usize;
        let pos = self
            .find_level(o.side, o.price)
            .expect("a resting order's price level exists");
        let level = &mut self.sides[si][pos];
        if o.prev == NIL {
            level.head = o.next;
        } else {
            orders[o.prev as usize].next = o.next;
        }
        if o.next == NIL {
            level.tail = o.prev;
        } else {
            orders[o.next as usize].prev = o.prev;
        }
        level.qty -= o.qty;
        level.count -= 1;
        self.counts[si] -= 1;
        if level.count == 0 {
            debug_assert_eq!(level.qty, 0);
            self.empty_levels[si] += 1;
            if pos + 1 == self.sides[si].len() {
                self.pop_empty_touch(o.side);
            }
        }
    }

    /// Drops empty levels from the touch end so the last level is a real one again.
    #[inline]
    pub fn pop_empty_touch(&mut self, s: u8) {
        let si = s as usize;
        while let Some(last) = self.sides[si].last() {
            if last.count != 0 {
                break;
            }
            self.sides[si].pop();
            self.empty_levels[si] -= 1;
        }
    }

    /// Total resting orders on both sides.
    pub fn resting(&self) -> usize {
        (self.counts[0] + self.counts[1]) as usize
    }
}
