//! The matching engine: instruments, the preallocated order pool, the order-id index, and the
//! command loop that turns a batch of commands into a batch of events.
//!
//! Semantics (shared with the TypeScript reference book, `src/core/reference-book.ts`) are
//! documented in `native/SEMANTICS.md`. Nothing here reads a clock or a random source, and no
//! behaviour depends on hash order, so the same command stream always gives the same events (CORE-4).

use crate::book::{Book, InstrumentConfig, Order, NIL};
use crate::pool::Pool;
use crate::records::*;

pub const ORDERS_MAX_LIMIT: u32 = 1 << 28;
pub const INSTRUMENTS_MAX_LIMIT: u32 = 1 << 16;
/// How many commands ahead of the one being applied the order index is prefetched.
pub const PREFETCH_AHEAD: usize = 8;

pub struct Sink<'a> {
    pub buf: &'a mut [Event],
    pub len: usize,
    pub command_index: u32,
}

impl<'a> Sink<'a> {
    #[inline(always)]
    fn push(&mut self, event: Event) {
        // The caller checked the command's event bound against the buffer before applying it.
        assert!(self.len < self.buf.len(), "event buffer overrun");
        unsafe {
            let slot = self.buf.as_mut_ptr().add(self.len);
            core::ptr::write(slot, event);
            (*slot).command_index = self.command_index;
        }
        self.len += 1;
    }
}

/// The aggressing side of a match: a new order, or a resting order re-entered by an amend.
struct Taker {
    id: u64,
    account: u32,
    side: u8,
    stp_group: u32,
    stp_mode: u8,
    limit: i64,
    remaining: i64,
}

pub struct Engine {
    pub pool: Pool,
    /// Indexed by instrument id; id 0 is never used.
    pub books: Vec<Option<Book>>,
}

/// A Rejected event echoes the fields the command kind carries (and zero for the rest), so a
/// command writer need not clear fields its kind does not use.
#[cold]
#[inline(never)]
fn reject(c: &Command, reason: u8) -> Event {
    let (has_side, has_order, has_price) = match c.kind {
        command_kind::NEW_ORDER => (true, true, true),
        command_kind::CANCEL => (false, true, false),
        command_kind::AMEND => (false, true, true),
        command_kind::MASS_CANCEL => (true, false, false),
        _ => (false, false, false),
    };
    Event {
        kind: event_kind::REJECTED,
        reason,
        side: if has_side { c.side } else { 0 },
        instrument: c.instrument,
        account: c.account,
        order_id: if has_order { c.order_id } else { 0 },
        price: if has_price { c.price } else { 0 },
        qty: if has_price { c.qty } else { 0 },
        ..Event::default()
    }
}

fn order_event(kind: u8, reason: u8, o: &Order, qty: i64, remaining: i64) -> Event {
    Event {
        kind,
        reason,
        side: o.side,
        instrument: o.instrument,
        account: o.account,
        order_id: o.id,
        price: o.price,
        qty,
        remaining,
        ..Event::default()
    }
}

fn taker_event(kind: u8, reason: u8, instrument: u32, t: &Taker, qty: i64) -> Event {
    Event {
        kind,
        reason,
        side: t.side,
        instrument,
        account: t.account,
        order_id: t.id,
        price: t.limit,
        qty,
        remaining: t.remaining,
        ..Event::default()
    }
}

impl Engine {
    pub fn new(orders_max: u32, instruments_max: u32) -> Result<Engine, String> {
        if orders_max == 0 || orders_max > ORDERS_MAX_LIMIT {
            return Err(format!("ordersMax must be in 1..={ORDERS_MAX_LIMIT}"));
        }
        if instruments_max == 0 || instruments_max > INSTRUMENTS_MAX_LIMIT {
            return Err(format!("instrumentsMax must be in 1..={INSTRUMENTS_MAX_LIMIT}"));
        }
        let mut books = Vec::with_capacity(instruments_max as usize + 1);
        books.resize_with(instruments_max as usize + 1, || None);
        Ok(Engine { pool: Pool::new(orders_max as usize), books })
    }

    pub fn add_instrument(&mut self, c: InstrumentConfig) -> Result<(), String> {
        let id = c.id as usize;
        if id == 0 || id >= self.books.len() {
            return Err(format!("instrument id {} must be in 1..={}", c.id, self.books.len() - 1));
        }
        if self.books[id].is_some() {
            return Err(format!("instrument {} already exists", c.id));
        }
        if c.tick_size <= 0 || c.lot_size <= 0 {
            return Err("tickSize and lotSize must be positive".into());
        }
        if c.min_qty <= 0 || c.max_qty < c.min_qty || c.min_qty % c.lot_size != 0 || c.max_qty % c.lot_size != 0 {
            return Err("minQty and maxQty must be positive multiples of lotSize with minQty <= maxQty".into());
        }
        if c.ref_price <= 0 || c.ref_price % c.tick_size != 0 {
            return Err("refPrice must be a positive multiple of tickSize".into());
        }
        if c.band_bps > 10_000 {
            return Err("bandBps must be in 0..=10000 (0: no band)".into());
        }
        // Prices and quantities cross into JavaScript as exact doubles.
        const SAFE: i64 = (1 << 53) - 1;
        if c.ref_price > SAFE / 2 || c.max_qty > SAFE {
            return Err("refPrice and maxQty must stay within 2^53".into());
        }
        self.books[id] = Some(Book::new(c));
        Ok(())
    }

    #[inline]
    fn book_index(&self, instrument: u32) -> Option<usize> {
        let i = instrument as usize;
        if i < self.books.len() && self.books[i].is_some() {
            Some(i)
        } else {
            None
        }
    }

    /// An upper bound on the events one command can emit, so a batch never overruns its buffer.
    #[inline]
    pub fn events_bound(&self, c: &Command) -> usize {
        match c.kind {
            // Accepted/Amended + final Rested/Cancelled + up to two events per maker touched: a new
            // order meets only the opposite side; an amend's side is known only after the lookup.
            command_kind::NEW_ORDER => match self.book_index(c.instrument) {
                Some(i) if c.side <= side::SELL => 3 + 2 * self.books[i].as_ref().unwrap().sides[1 - c.side as usize].count as usize,
                _ => 1,
            },
            command_kind::AMEND => match self.book_index(c.instrument) {
                Some(i) => {
                    let b = self.books[i].as_ref().unwrap();
                    3 + 2 * b.sides[0].count.max(b.sides[1].count) as usize
                }
                _ => 1,
            },
            command_kind::MASS_CANCEL => 1 + self.pool.resting,
            _ => 1,
        }
    }

    /// Starts loading the index line a command a little further on will probe.
    #[inline(always)]
    pub fn prefetch(&self, order_id: u64) {
        self.pool.index.prefetch(order_id);
    }

    /// Applies commands in order until the event buffer could overflow.
    /// Returns (commands consumed, events written, events needed by the next command if stalled).
    pub fn process(&mut self, cmds: &[Command], first_index: u32, events: &mut [Event]) -> (usize, usize, usize) {
        let mut sink = Sink { buf: events, len: 0, command_index: first_index };
        for (i, c) in cmds.iter().enumerate() {
            if let Some(ahead) = cmds.get(i + PREFETCH_AHEAD) {
                self.prefetch(ahead.order_id);
            }
            let bound = self.events_bound(c);
            if sink.len + bound > sink.buf.len() {
                return (i, sink.len, bound);
            }
            sink.command_index = first_index + i as u32;
            self.apply(c, &mut sink);
        }
        (cmds.len(), sink.len, 0)
    }

    #[inline(always)]
    pub fn apply(&mut self, c: &Command, sink: &mut Sink) {
        match c.kind {
            command_kind::NEW_ORDER => self.new_order(c, sink),
            command_kind::CANCEL => self.cancel(c, sink),
            command_kind::AMEND => self.amend(c, sink),
            command_kind::MASS_CANCEL => self.mass_cancel(c, sink),
            command_kind::SET_REFERENCE => self.set_reference(c, sink),
            _ => sink.push(reject(c, reject::UNKNOWN_COMMAND)),
        }
    }

    fn check_quantity(cfg: &InstrumentConfig, qty: i64, check_min: bool) -> Option<u8> {
        if qty <= 0 {
            Some(reject::INVALID_QUANTITY)
        } else if cfg.lot_size != 1 && qty % cfg.lot_size != 0 {
            Some(reject::QUANTITY_OFF_LOT)
        } else if check_min && qty < cfg.min_qty {
            Some(reject::QUANTITY_BELOW_MIN)
        } else if qty > cfg.max_qty {
            Some(reject::QUANTITY_ABOVE_MAX)
        } else {
            None
        }
    }

    fn check_price(book: &Book, price: i64) -> Option<u8> {
        if price <= 0 {
            Some(reject::INVALID_PRICE)
        } else if book.config.tick_size != 1 && price % book.config.tick_size != 0 {
            Some(reject::PRICE_OFF_TICK)
        } else if !book.in_band(price) {
            Some(reject::PRICE_OUT_OF_BAND)
        } else {
            None
        }
    }

    fn new_order(&mut self, c: &Command, sink: &mut Sink) {
        let Some(bi) = self.book_index(c.instrument) else {
            return sink.push(reject(c, reject::UNKNOWN_INSTRUMENT));
        };
        let mut probe = Err(0);
        let failure = {
            let book = self.books[bi].as_ref().unwrap();
            let market = c.order_type == order_type::MARKET;
            let rests = !market && (c.tif == tif::GTC || c.tif == tif::POST_ONLY);
            if c.side > side::SELL {
                Some(reject::INVALID_SIDE)
            } else if c.order_type > order_type::MARKET {
                Some(reject::INVALID_ORDER_TYPE)
            } else if c.tif > tif::POST_ONLY || (market && (c.tif == tif::GTC || c.tif == tif::POST_ONLY)) {
                Some(reject::INVALID_TIME_IN_FORCE)
            } else if c.stp_mode > stp_mode::DECREMENT_AND_CANCEL {
                Some(reject::INVALID_STP_MODE)
            } else if c.order_id == 0 {
                Some(reject::INVALID_ORDER_ID)
            } else if {
                probe = self.pool.index.probe(c.order_id);
                probe.is_ok()
            } {
                Some(reject::DUPLICATE_ORDER_ID)
            } else if let Some(r) = Self::check_quantity(&book.config, c.qty, true) {
                Some(r)
            } else if market && c.price < 0 {
                Some(reject::INVALID_PRICE)
            } else if let Some(r) = if market && c.price == 0 { None } else { Self::check_price(book, c.price) } {
                Some(r)
            } else if rests && self.pool.resting >= self.pool.orders_max {
                Some(reject::ORDER_POOL_FULL)
            } else if c.tif == tif::POST_ONLY && book.crosses(c.side, c.price) {
                Some(reject::POST_ONLY_WOULD_TAKE)
            } else {
                None
            }
        };
        if let Some(reason) = failure {
            return sink.push(reject(c, reason));
        }

        let book = self.books[bi].as_mut().unwrap();
        let limit = if c.order_type == order_type::MARKET && c.price == 0 { book.band_edge(c.side) } else { c.price };
        let mut taker = Taker {
            id: c.order_id,
            account: c.account,
            side: c.side,
            stp_group: c.stp_group,
            stp_mode: c.stp_mode,
            limit,
            remaining: c.qty,
        };
        sink.push(Event {
            flags: (c.order_type << 4) | c.tif,
            ..taker_event(event_kind::ACCEPTED, 0, c.instrument, &taker, c.qty)
        });
        if c.tif == tif::FOK && !fok_fillable(book, &self.pool.orders, &taker) {
            taker.remaining = 0;
            return sink.push(taker_event(event_kind::CANCELLED, cancel::FOK_UNFILLABLE, c.instrument, &taker, c.qty));
        }
        // Most orders do not cross: skip the matching loop for them.
        let crossed = book.crosses(c.side, limit);
        if crossed {
            let killed = match_taker(book, &mut self.pool, &mut taker, sink);
            if killed || taker.remaining == 0 {
                return;
            }
        }
        if c.order_type == order_type::LIMIT && (c.tif == tif::GTC || c.tif == tif::POST_ONLY) {
            let slot = self.pool.alloc(Order {
                id: taker.id,
                price: limit,
                qty: taker.remaining,
                account: taker.account,
                stp_group: taker.stp_group,
                prev: NIL,
                next: NIL,
                instrument: c.instrument,
                side: taker.side,
                stp_mode: taker.stp_mode,
                tif: c.tif,
                level: NIL,
                _pad: [0; 5],
            });
            match probe {
                // Matching removed nothing from the index, so the probed position still holds.
                Err(position) if !crossed => self.pool.index.insert_at(position, taker.id, slot),
                _ => self.pool.index.insert(taker.id, slot),
            }
            let book = self.books[bi].as_mut().unwrap();
            book.link_tail(&mut self.pool.orders, slot);
            let o = &self.pool.orders[slot as usize];
            sink.push(order_event(event_kind::RESTED, 0, o, o.qty, o.qty));
        } else {
            let left = taker.remaining;
            taker.remaining = 0;
            sink.push(taker_event(event_kind::CANCELLED, cancel::UNFILLED, c.instrument, &taker, left));
        }
    }

    /// The slot of a resting order, if it rests in `instrument`.
    fn find_order(&self, instrument: u32, order_id: u64) -> Option<u32> {
        self.pool.index
            .get(order_id)
            .filter(|&slot| self.pool.orders[slot as usize].instrument == instrument)
    }


    fn cancel(&mut self, c: &Command, sink: &mut Sink) {
        let Some(bi) = self.book_index(c.instrument) else {
            return sink.push(reject(c, reject::UNKNOWN_INSTRUMENT));
        };
        let found = self.pool.index.position(c.order_id).filter(|&p| {
            self.pool.orders[self.pool.index.value_at(p) as usize].instrument == c.instrument
        });
        let Some(position) = found else {
            return sink.push(reject(c, reject::UNKNOWN_ORDER));
        };
        let slot = self.pool.index.value_at(position);
        self.books[bi].as_mut().unwrap().unlink(&mut self.pool.orders, slot);
        let o = &mut self.pool.orders[slot as usize];
        sink.push(order_event(event_kind::CANCELLED, cancel::USER, o, o.qty, 0));
        self.pool.release_at(slot, position);
    }

    #[inline(never)]
    fn amend(&mut self, c: &Command, sink: &mut Sink) {
        let Some(bi) = self.book_index(c.instrument) else {
            return sink.push(reject(c, reject::UNKNOWN_INSTRUMENT));
        };
        let Some(slot) = self.find_order(c.instrument, c.order_id) else {
            return sink.push(reject(c, reject::UNKNOWN_ORDER));
        };
        let o = self.pool.orders[slot as usize];
        let failure = {
            let book = self.books[bi].as_ref().unwrap();
            if let Some(r) = Self::check_quantity(&book.config, c.qty, false) {
                Some(r)
            } else if c.price != o.price {
                Self::check_price(book, c.price).or_else(|| {
                    (o.tif == tif::POST_ONLY && book.crosses(o.side, c.price)).then_some(reject::POST_ONLY_WOULD_TAKE)
                })
            } else {
                None
            }
        };
        if let Some(reason) = failure {
            return sink.push(reject(c, reason));
        }
        let book = self.books[bi].as_mut().unwrap();
        if c.price == o.price && c.qty <= o.qty {
            // Quantity down (or unchanged) at the same price keeps time priority.
            book.levels[o.level as usize].qty -= o.qty - c.qty;
            let order = &mut self.pool.orders[slot as usize];
            order.qty = c.qty;
            return sink.push(Event { flags: 1, ..order_event(event_kind::AMENDED, 0, order, c.qty, c.qty) });
        }
        // A price change or a quantity increase loses priority: the order re-enters as a taker.
        book.unlink(&mut self.pool.orders, slot);
        {
            let order = &mut self.pool.orders[slot as usize];
            order.price = c.price;
            order.qty = c.qty;
            sink.push(order_event(event_kind::AMENDED, 0, order, c.qty, c.qty));
        }
        let mut taker = Taker {
            id: o.id,
            account: o.account,
            side: o.side,
            stp_group: o.stp_group,
            stp_mode: o.stp_mode,
            limit: c.price,
            remaining: c.qty,
        };
        let killed = match_taker(book, &mut self.pool, &mut taker, sink);
        if killed || taker.remaining == 0 {
            return self.pool.release(slot);
        }
        self.pool.orders[slot as usize].qty = taker.remaining;
        let book = self.books[bi].as_mut().unwrap();
        book.link_tail(&mut self.pool.orders, slot);
        let o = &self.pool.orders[slot as usize];
        sink.push(order_event(event_kind::RESTED, 0, o, o.qty, o.qty));
    }

    #[cold]
    #[inline(never)]
    /// The book's band moves to centre on `c.price`; the next trade moves it again, as ever.
    fn set_reference(&mut self, c: &Command, sink: &mut Sink) {
        let Some(i) = self.book_index(c.instrument) else {
            return sink.push(reject(c, reject::UNKNOWN_INSTRUMENT));
        };
        if c.price <= 0 || c.price > crate::book::PRICE_MAX {
            return sink.push(reject(c, reject::INVALID_PRICE));
        }
        self.books[i].as_mut().unwrap().set_ref_price(c.price);
    }

    fn mass_cancel(&mut self, c: &Command, sink: &mut Sink) {
        if c.scope > scope::ALL_BITS {
            return sink.push(reject(c, reject::INVALID_SCOPE));
        }
        let by_account = c.scope & scope::ACCOUNT != 0;
        let by_instrument = c.scope & scope::INSTRUMENT != 0;
        let by_side = c.scope & scope::SIDE != 0;
        if by_instrument && self.book_index(c.instrument).is_none() {
            return sink.push(reject(c, reject::UNKNOWN_INSTRUMENT));
        }
        if by_side && c.side > side::SELL {
            return sink.push(reject(c, reject::INVALID_SIDE));
        }
        // Instruments ascending; bids then asks; best level to worst; FIFO within a level.
        for bi in 1..self.books.len() {
            if self.books[bi].is_none() || (by_instrument && bi != c.instrument as usize) {
                continue;
            }
            for s in [side::BUY, side::SELL] {
                if by_side && s != c.side {
                    continue;
                }
                let mut li = self.books[bi].as_ref().unwrap().sides[s as usize].slots.len();
                while li > 0 {
                    // Cancelling an emptied touch pops it (and empty levels behind it).
                    li = li.min(self.books[bi].as_ref().unwrap().sides[s as usize].slots.len());
                    if li == 0 {
                        break;
                    }
                    li -= 1;
                    let book = self.books[bi].as_ref().unwrap();
                    let mut slot = book.levels[book.sides[s as usize].slots[li] as usize].head;
                    while slot != NIL {
                        let o = self.pool.orders[slot as usize];
                        if !by_account || o.account == c.account {
                            self.books[bi].as_mut().unwrap().unlink(&mut self.pool.orders, slot);
                            sink.push(order_event(event_kind::CANCELLED, cancel::MASS, &o, o.qty, 0));
                            self.pool.release(slot);
                        }
                        slot = o.next;
                    }
                }
            }
        }
    }

    /// Every structural invariant of the books, pool and index; panics on the first violation.
    pub fn check_invariants(&self) {
        let mut total = 0usize;
        for (bi, book) in self.books.iter().enumerate() {
            let Some(book) = book else { continue };
            for s in [side::BUY, side::SELL] {
                let ladder = &book.sides[s as usize];
                let mut count = 0u32;
                assert_eq!(ladder.prices.len(), ladder.slots.len(), "ladder vectors");
                let empty = ladder.slots.iter().filter(|&&l| book.levels[l as usize].count == 0).count();
                assert_eq!(empty, ladder.empty, "empty level count");
                assert!(book.best(s).map_or(true, |l| l.count > 0), "empty touch");
                for (li, &l) in ladder.slots.iter().enumerate() {
                    let level = &book.levels[l as usize];
                    assert_eq!(level.price, ladder.prices[li], "level price");
                    if li > 0 {
                        let prev = ladder.prices[li - 1];
                        assert!(if s == side::BUY { prev < level.price } else { prev > level.price }, "levels out of order");
                    }
                    let (mut n, mut qty, mut slot, mut prev) = (0u32, 0i64, level.head, NIL);
                    while slot != NIL {
                        let o = &self.pool.orders[slot as usize];
                        assert!(o.qty > 0 && o.price == level.price && o.side == s && o.instrument as usize == bi && o.level == l);
                        assert_eq!(o.prev, prev, "broken back link");
                        assert_eq!(self.pool.index.get(o.id), Some(slot), "resting order missing from the index");
                        n += 1;
                        qty += o.qty;
                        prev = slot;
                        slot = o.next;
                    }
                    assert_eq!(level.tail, prev, "level tail");
                    assert!(n == level.count && qty == level.qty, "level totals");
                    count += n;
                }
                assert_eq!(count, ladder.count, "side count");
                total += count as usize;
            }
            if let (Some(bid), Some(ask)) = (book.best(side::BUY), book.best(side::SELL)) {
                assert!(bid.price < ask.price, "crossed book");
            }
        }
        assert_eq!(total, self.pool.resting, "resting count");
        assert_eq!(self.pool.index.len(), self.pool.resting, "index size");
    }

    pub fn memory_bytes(&self) -> usize {
        let levels: usize = self
            .books
            .iter()
            .flatten()
            .map(|b| b.memory_bytes())
            .sum();
        self.pool.memory_bytes()
            + levels
            + self.books.capacity() * core::mem::size_of::<Option<Book>>()
    }

    /// Inserts a resting order without matching (restore from a snapshot).
    pub fn restore_order(&mut self, o: Order) -> Result<(), String> {
        let Some(bi) = self.book_index(o.instrument) else {
            return Err(format!("order {} names unknown instrument {}", o.id, o.instrument));
        };
        if o.id == 0 || self.pool.index.get(o.id).is_some() {
            return Err(format!("order id {} is zero or repeated", o.id));
        }
        if o.side > side::SELL || o.qty <= 0 || o.price <= 0 || self.pool.is_full() {
            return Err(format!("order {} is malformed or the pool is full", o.id));
        }
        let slot = self.pool.alloc(Order { prev: NIL, next: NIL, ..o });
        self.pool.index.insert(o.id, slot);
        self.books[bi].as_mut().unwrap().link_tail(&mut self.pool.orders, slot);
        Ok(())
    }

    /// Resting orders of one side of a book in priority order (best level first, FIFO).
    pub fn for_each_resting(&self, instrument: usize, s: u8, mut f: impl FnMut(&Order)) {
        let book = self.books[instrument].as_ref().unwrap();
        for level in book.levels_best_first(s) {
            let mut slot = level.head;
            while slot != NIL {
                let o = &self.pool.orders[slot as usize];
                f(o);
                slot = o.next;
            }
        }
    }
}


/// Would a fill-or-kill taker fill completely? Walks the crossing liquidity in priority order the
/// way `match_taker` will: a same-group maker is skipped under cancel-oldest and ends the walk
/// under every other STP mode (those modes stop the taker there).
fn fok_fillable(book: &Book, orders: &[Order], t: &Taker) -> bool {
    let opposite = 1 - t.side;
    let mut available = 0i64;
    for level in book.levels_best_first(opposite) {
        let crosses = if t.side == side::BUY { level.price <= t.limit } else { level.price >= t.limit };
        if !crosses {
            return false;
        }
        let mut slot = level.head;
        while slot != NIL {
            let o = &orders[slot as usize];
            if t.stp_group != 0 && o.stp_group == t.stp_group {
                if t.stp_mode != stp_mode::CANCEL_OLDEST {
                    return false;
                }
            } else {
                available += o.qty;
                if available >= t.remaining {
                    return true;
                }
            }
            slot = o.next;
        }
    }
    false
}

/// Matches a taker against the opposite side. Returns true when self-trade prevention cancelled
/// the taker (its Cancelled event is already emitted). The last trade price becomes the band's
/// reference once the taker is done (the taker's own limit was fixed on entry).
#[inline]
fn match_taker(
    book: &mut Book,
    pool: &mut Pool,
    t: &mut Taker,
    sink: &mut Sink,
) -> bool {
    let mut last_price = 0;
    let killed = match_levels(book, pool, t, sink, &mut last_price);
    if last_price != 0 {
        book.set_ref_price(last_price);
    }
    killed
}

/// Applies the taker's STP mode against the maker at the head of the touch (`slot`), which is in
/// the taker's STP group. Returns true when the taker is cancelled. Rare, so kept out of line.
#[cold]
#[inline(never)]
#[allow(clippy::too_many_arguments)]
fn prevent_self_trade(
    book: &mut Book,
    pool: &mut Pool,
    t: &mut Taker,
    sink: &mut Sink,
    slot: u32,
) -> bool {
    let instrument = book.config.id;
    let maker = pool.orders[slot as usize];
    match t.stp_mode {
        stp_mode::CANCEL_OLDEST | stp_mode::CANCEL_BOTH => {
            book.unlink(&mut pool.orders, slot);
            sink.push(order_event(event_kind::CANCELLED, cancel::SELF_TRADE, &maker, maker.qty, 0));
            pool.release(slot);
            if t.stp_mode == stp_mode::CANCEL_OLDEST {
                return false;
            }
            let left = t.remaining;
            t.remaining = 0;
            sink.push(taker_event(event_kind::CANCELLED, cancel::SELF_TRADE, instrument, t, left));
            true
        }
        stp_mode::DECREMENT_AND_CANCEL => {
            let d = t.remaining.min(maker.qty);
            if d == maker.qty {
                book.unlink(&mut pool.orders, slot);
                sink.push(order_event(event_kind::CANCELLED, cancel::SELF_TRADE, &maker, d, 0));
                pool.release(slot);
            } else {
                book.levels[maker.level as usize].qty -= d;
                let m = &mut pool.orders[slot as usize];
                m.qty -= d;
                sink.push(order_event(event_kind::REDUCED, cancel::SELF_TRADE, m, d, m.qty));
            }
            t.remaining -= d;
            if t.remaining == 0 {
                sink.push(taker_event(event_kind::CANCELLED, cancel::SELF_TRADE, instrument, t, d));
                return true;
            }
            sink.push(taker_event(event_kind::REDUCED, cancel::SELF_TRADE, instrument, t, d));
            false
        }
        _ => {
            // Cancel newest: the taker's remainder goes, the resting order stays.
            let left = t.remaining;
            t.remaining = 0;
            sink.push(taker_event(event_kind::CANCELLED, cancel::SELF_TRADE, instrument, t, left));
            true
        }
    }
}

#[inline]
#[allow(clippy::too_many_arguments)]
fn match_levels(
    book: &mut Book,
    pool: &mut Pool,
    t: &mut Taker,
    sink: &mut Sink,
    last_price: &mut i64,
) -> bool {
    let opposite = (1 - t.side) as usize;
    let instrument = book.config.id;
    while t.remaining > 0 {
        let Some(touch) = book.touch(opposite as u8) else { break };
        let level = &mut book.levels[touch as usize];
        let price = level.price;
        if (t.side == side::BUY && price > t.limit) || (t.side == side::SELL && price < t.limit) {
            break;
        }
        let slot = level.head;
        let maker = pool.orders[slot as usize];
        if t.stp_group != 0 && maker.stp_group == t.stp_group {
            if prevent_self_trade(book, pool, t, sink, slot) {
                return true;
            }
            continue;
        }
        let q = t.remaining.min(maker.qty);
        t.remaining -= q;
        level.qty -= q;
        let maker_left = maker.qty - q;
        pool.orders[slot as usize].qty = maker_left;
        book.last_trade_id += 1;
        *last_price = price;
        sink.push(Event {
            kind: event_kind::FILL,
            reason: 0,
            side: t.side,
            flags: 0,
            instrument,
            command_index: 0,
            account: t.account,
            order_id: t.id,
            maker_order_id: maker.id,
            price,
            qty: q,
            remaining: t.remaining,
            maker_remaining: maker_left,
            trade_id: book.last_trade_id,
            maker_account: maker.account,
            _pad: 0,
        });
        if maker_left == 0 {
            book.pop_touch_head(&mut pool.orders, opposite as u8);
            pool.release(slot);
        }
    }
    false
}
