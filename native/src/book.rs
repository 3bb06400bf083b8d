//! One instrument's order book: price levels per side, each an intrusive FIFO of orders.
//!
//! Levels live in a slab and keep their slot for life, so every resting order knows its level and
//! a cancel or fill never searches for it. Each side keeps its levels' prices in a sorted vector
//! (with the level slots alongside) whose last element is the touch: almost all inserts, fills and
//! cancels happen near it, so the vector shifts little and stays in cache. Bids ascend by price,
//! asks descend. A level that empties below the touch stays in place, empty, so the common
//! add-cancel churn at a price does not shift the vector; the touch is never empty, and empty
//! levels are compacted away once they are many. Orders live in the engine's pool and link to each
//! other by slot number (`prev`/`next`); level totals are kept incrementally.

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
    /// The level slot the order rests in (meaningless while it does not rest).
    pub level: u32,
    pub side: u8,
    pub stp_mode: u8,
    pub tif: u8,
    pub _pad: [u8; 5],
}

#[derive(Clone, Copy, Debug)]
#[repr(C)]
pub struct Level {
    pub price: i64,
    pub qty: i64,
    pub count: u32,
    pub head: u32, // first order; in a free slab slot, the next free slot
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

/// The largest price a book takes: prices cross into JavaScript as exact doubles.
pub const PRICE_MAX: i64 = (1 << 53) - 1;

fn band_around(ref_price: i64, band_bps: u32) -> (i64, i64) {
    // bandBps 0: no band; every positive price up to PRICE_MAX is in it.
    if band_bps == 0 {
        return (1, PRICE_MAX);
    }
    let bps = band_bps as i64;
    // i64 when the product fits (every realistic price); i128 division is several times slower.
    let delta = if ref_price <= i64::MAX / 10_000 {
        ref_price * bps / 10_000
    } else {
        (ref_price as i128 * bps as i128 / 10_000) as i64
    };
    (ref_price - delta, ref_price + delta)
}

/// One side's levels in price order, the touch last.
#[derive(Default)]
pub struct Ladder {
    pub prices: Vec<i64>,
    pub slots: Vec<u32>,
    pub empty: usize,
    /// Resting orders on this side.
    pub count: u32,
}

pub struct Book {
    pub config: InstrumentConfig,
    ref_price: i64,
    /// The band around ref_price, recomputed only when the reference price moves.
    band: (i64, i64),
    pub last_trade_id: u64,
    pub sides: [Ladder; 2],
    pub levels: Vec<Level>,
    level_free_head: u32,
}

impl Book {
    pub fn new(config: InstrumentConfig) -> Self {
        let ladder = || Ladder {
            prices: Vec::with_capacity(LEVELS_RESERVED),
            slots: Vec::with_capacity(LEVELS_RESERVED),
            empty: 0,
            count: 0,
        };
        Book {
            config,
            ref_price: config.ref_price,
            band: band_around(config.ref_price, config.band_bps),
            last_trade_id: 0,
            sides: [ladder(), ladder()],
            levels: Vec::with_capacity(2 * LEVELS_RESERVED),
            level_free_head: NIL,
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

    /// The touch of a side: its best level, never empty.
    #[inline]
    pub fn best(&self, s: u8) -> Option<&Level> {
        self.sides[s as usize].slots.last().map(|&l| &self.levels[l as usize])
    }

    /// The slot of a side's touch level.
    #[inline]
    pub fn touch(&self, s: u8) -> Option<u32> {
        self.sides[s as usize].slots.last().copied()
    }

    /// Would an order on `order_side` at `limit` trade against the opposite touch?
    #[inline]
    pub fn crosses(&self, order_side: u8, limit: i64) -> bool {
        match self.sides[1 - order_side as usize].prices.last() {
            None => false,
            Some(&price) => {
                if order_side == side::BUY {
                    price <= limit
                } else {
                    price >= limit
                }
            }
        }
    }

    /// Level slots of one side from the touch outwards, empty levels included.
    pub fn levels_best_first(&self, s: u8) -> impl Iterator<Item = &Level> + '_ {
        self.sides[s as usize].slots.iter().rev().map(|&l| &self.levels[l as usize])
    }

    /// Position of `price` in a side's price vector: Ok(found) or Err(insert position).
    ///
    /// Prices are distinct and on the tick grid, so the level k places from the touch is at least
    /// k ticks from it: a price D ticks from the touch sits no further than D places in. The search
    /// starts there and walks towards the touch eight prices at a time, counting the worse ones
    /// without a branch per price (the book's shape is random, so such branches mispredict).
    #[inline(always)]
    fn find(&self, s: u8, price: i64) -> Result<usize, usize> {
        const CHUNK: usize = 8;
        let prices = &self.sides[s as usize].prices;
        let n = prices.len();
        let Some(&best) = prices.last() else { return Err(0) };
        // Bids ascend and asks descend: comparing price * sign orders both sides the same way.
        let sign = 1 - 2 * (s as i64);
        let key = price * sign;
        let diff = best * sign - key;
        if diff < 0 {
            return Err(n);
        }
        let tick = self.config.tick_size;
        let ticks = if tick == 1 { diff } else { diff / tick };
        let mut i = n - 1 - (ticks as u64).min(n as u64 - 1) as usize;
        loop {
            let end = (i + CHUNK).min(n);
            let worse = prices[i..end].iter().map(|&p| (p * sign < key) as usize).sum::<usize>();
            let full = worse == end - i;
            i += worse;
            if !full || end == n {
                break;
            }
        }
        if i < n && prices[i] == price {
            Ok(i)
        } else {
            Err(i)
        }
    }

    fn new_level(&mut self, price: i64) -> u32 {
        let level = Level { price, qty: 0, count: 0, head: NIL, tail: NIL, _pad: 0 };
        if self.level_free_head != NIL {
            let l = self.level_free_head;
            self.level_free_head = self.levels[l as usize].head;
            self.levels[l as usize] = level;
            l
        } else {
            self.levels.push(level);
            (self.levels.len() - 1) as u32
        }
    }

    fn free_level(&mut self, l: u32) {
        self.levels[l as usize].head = self.level_free_head;
        self.levels[l as usize].count = 0;
        self.level_free_head = l;
    }

    /// Drops the side's empty levels (returning their slots to the slab).
    fn compact(&mut self, s: u8) {
        let si = s as usize;
        let (mut kept, n) = (0, self.sides[si].prices.len());
        for i in 0..n {
            let l = self.sides[si].slots[i];
            if self.levels[l as usize].count == 0 {
                self.free_level(l);
            } else {
                self.sides[si].prices[kept] = self.sides[si].prices[i];
                self.sides[si].slots[kept] = l;
                kept += 1;
            }
        }
        self.sides[si].prices.truncate(kept);
        self.sides[si].slots.truncate(kept);
        self.sides[si].empty = 0;
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
        let l = match self.find(s, price) {
            Ok(pos) => {
                let l = self.sides[si].slots[pos];
                if self.levels[l as usize].count == 0 {
                    self.sides[si].empty -= 1;
                }
                l
            }
            Err(mut pos) => {
                if self.sides[si].empty > LEVELS_EMPTY_MAX && self.sides[si].empty * 2 > self.sides[si].prices.len() {
                    self.compact(s);
                    pos = self.find(s, price).unwrap_err();
                }
                let l = self.new_level(price);
                self.sides[si].prices.insert(pos, price);
                self.sides[si].slots.insert(pos, l);
                l
            }
        };
        let level = &mut self.levels[l as usize];
        let tail = level.tail;
        let o = &mut orders[slot as usize];
        o.level = l;
        o.prev = tail;
        o.next = NIL;
        if tail == NIL {
            level.head = slot;
        } else {
            orders[tail as usize].next = slot;
        }
        level.tail = slot;
        level.qty += qty;
        level.count += 1;
        self.sides[si].count += 1;
    }

    /// Removes the order in `slot` from its level. An emptied level below the touch stays (empty);
    /// an emptied touch is dropped along with any empty levels behind it.
    #[inline]
    pub fn unlink(&mut self, orders: &mut [Order], slot: u32) {
        let o = orders[slot as usize];
        let si = o.side as usize;
        let level = &mut self.levels[o.level as usize];
        debug_assert_eq!(level.price, o.price);
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
        self.sides[si].count -= 1;
        if level.count == 0 {
            debug_assert_eq!(level.qty, 0);
            self.sides[si].empty += 1;
            if self.sides[si].slots.last() == Some(&o.level) {
                self.pop_empty_touch(o.side);
            }
        }
    }

    /// Removes the order at the head of the side's touch level, whose quantity has run out.
    #[inline]
    pub fn pop_touch_head(&mut self, orders: &mut [Order], s: u8) {
        let si = s as usize;
        let l = *self.sides[si].slots.last().expect("a touch to pop from");
        let level = &mut self.levels[l as usize];
        let slot = level.head;
        let next = orders[slot as usize].next;
        level.head = next;
        level.count -= 1;
        self.sides[si].count -= 1;
        if next == NIL {
            debug_assert_eq!(level.qty, 0);
            level.tail = NIL;
            self.sides[si].empty += 1;
            self.pop_empty_touch(s);
        } else {
            orders[next as usize].prev = NIL;
        }
    }

    /// Drops empty levels from the touch end so the last level is a real one again.
    #[inline]
    pub fn pop_empty_touch(&mut self, s: u8) {
        let si = s as usize;
        while let Some(&l) = self.sides[si].slots.last() {
            if self.levels[l as usize].count != 0 {
                break;
            }
            self.sides[si].slots.pop();
            self.sides[si].prices.pop();
            self.sides[si].empty -= 1;
            self.free_level(l);
        }
    }

    /// Total resting orders on both sides.
    pub fn resting(&self) -> usize {
        (self.sides[0].count + self.sides[1].count) as usize
    }

    pub fn memory_bytes(&self) -> usize {
        self.levels.capacity() * core::mem::size_of::<Level>()
            + self.sides.iter().map(|l| l.prices.capacity() * 8 + l.slots.capacity() * 4).sum::<usize>()
    }
}
