//! The preallocated order pool: every resting order's record, a free list threaded through the
//! unused records, and the order-id index. Sized once at start-up; nothing here allocates after.

use crate::book::{Order, NIL};
use crate::index::OrderIndex;

pub struct Pool {
    pub orders: Vec<Order>,
    free_head: u32,
    /// Orders resting (allocated records).
    pub resting: usize,
    pub orders_max: usize,
    pub index: OrderIndex,
}

impl Pool {
    pub fn new(orders_max: usize) -> Pool {
        let mut orders = vec![Order::default(); orders_max];
        for (i, o) in orders.iter_mut().enumerate() {
            o.next = if i + 1 < orders_max { (i + 1) as u32 } else { NIL };
        }
        Pool { orders, free_head: 0, resting: 0, orders_max, index: OrderIndex::new(orders_max) }
    }

    pub fn is_full(&self) -> bool {
        self.resting >= self.orders_max
    }

    /// Takes a free record for `order`; the caller indexes it. The pool must not be full.
    #[inline(always)]
    pub fn alloc(&mut self, order: Order) -> u32 {
        let slot = self.free_head;
        assert!(slot != NIL, "order pool exhausted");
        self.free_head = self.orders[slot as usize].next;
        self.resting += 1;
        self.orders[slot as usize] = order;
        slot
    }

    /// Returns a record to the free list and drops its id from the index.
    #[inline(always)]
    pub fn release(&mut self, slot: u32) {
        self.index.remove(self.orders[slot as usize].id);
        self.free(slot);
    }

    /// Like `release`, for a record whose index position the caller already holds.
    #[inline(always)]
    pub fn release_at(&mut self, slot: u32, index_position: usize) {
        self.index.remove_at(index_position);
        self.free(slot);
    }

    #[inline(always)]
    fn free(&mut self, slot: u32) {
        self.orders[slot as usize].next = self.free_head;
        self.free_head = slot;
        self.resting -= 1;
    }

    pub fn memory_bytes(&self) -> usize {
        self.orders.capacity() * core::mem::size_of::<Order>() + self.index.memory_bytes()
    }
}
