//! Order-id index: open addressing with linear probing and backward-shift deletion.
//!
//! Fixed capacity (twice the order pool, a power of two), so it never allocates after start-up
//! and never needs tombstones. Order ids come from the node's sequencer and rise, so the hash keeps
//! neighbouring ids in neighbouring slots (the live ids form a moving window that stays in cache)
//! and folds the high bits in so ids a table-size apart do not pile onto one probe run. No random
//! seed, and the table is never iterated, so nothing depends on hash order (CORE-4).

const EMPTY: u64 = 0; // order id 0 is reserved as "no order"

#[derive(Clone, Copy)]
#[repr(C)]
struct Slot {
    key: u64,
    value: u32,
    _pad: u32,
}

pub struct OrderIndex {
    slots: Vec<Slot>,
    mask: usize,
    bits: u32,
    len: usize,
}

impl OrderIndex {
    pub fn new(orders_max: usize) -> Self {
        let capacity = (orders_max.max(4) * 2).next_power_of_two();
        OrderIndex {
            // A non-zero filler keeps the allocator from handing out lazily-zeroed pages: the
            // table is touched now, at start-up, not page by page on the matching path.
            slots: vec![Slot { key: EMPTY, value: u32::MAX, _pad: 0 }; capacity],
            mask: capacity - 1,
            bits: capacity.trailing_zeros(),
            len: 0,
        }
    }

    #[inline]
    fn home(&self, key: u64) -> usize {
        (key ^ (key >> self.bits)) as usize & self.mask
    }

    /// Asks the CPU to start loading the cache line `key` probes first, a few commands ahead of
    /// its use: a cancel of an old order otherwise waits on a cache miss in the index.
    #[inline(always)]
    pub fn prefetch(&self, key: u64) {
        #[cfg(target_arch = "x86_64")]
        unsafe {
            let p = self.slots.as_ptr().add(self.home(key)) as *const i8;
            core::arch::x86_64::_mm_prefetch(p, core::arch::x86_64::_MM_HINT_T0);
        }
    }

    // get, probe and position each keep their own probe loop: expressed through one shared
    // loop they measured ~1.5% slower on the replay benchmark (the hot path uses all three).
    #[inline]
    pub fn get(&self, key: u64) -> Option<u32> {
        if key == EMPTY {
            return None;
        }
        let mut i = self.home(key);
        loop {
            let slot = unsafe { self.slots.get_unchecked(i) };
            if slot.key == key {
                return Some(slot.value);
            }
            if slot.key == EMPTY {
                return None;
            }
            i = (i + 1) & self.mask;
        }
    }

    /// Inserts a key that must not be present. The pool bounds `len` below half the capacity.
    #[inline]
    pub fn insert(&mut self, key: u64, value: u32) {
        assert!(key != EMPTY, "order id 0 cannot be indexed");
        assert!(self.len < self.slots.len() / 2, "order index over its load limit");
        let mut i = self.home(key);
        loop {
            let slot = unsafe { self.slots.get_unchecked_mut(i) };
            if slot.key == EMPTY {
                slot.key = key;
                slot.value = value;
                self.len += 1;
                return;
            }
            assert!(slot.key != key, "order id indexed twice");
            i = (i + 1) & self.mask;
        }
    }

    /// Probes for a non-zero `key`: Ok(its position) when present, else Err(the empty position it
    /// would take), for a lookup followed by `insert_at` without a second probe.
    #[inline]
    pub fn probe(&self, key: u64) -> Result<usize, usize> {
        debug_assert!(key != EMPTY);
        let mut i = self.home(key);
        loop {
            let slot = unsafe { self.slots.get_unchecked(i) };
            if slot.key == key {
                return Ok(i);
            }
            if slot.key == EMPTY {
                return Err(i);
            }
            i = (i + 1) & self.mask;
        }
    }

    /// Inserts at the empty position `probe` returned; valid only while nothing was removed since
    /// (a removal's backward shift can open a hole earlier in the key's probe run).
    #[inline]
    pub fn insert_at(&mut self, position: usize, key: u64, value: u32) {
        assert!(key != EMPTY && self.slots[position].key == EMPTY, "insert_at needs an empty slot");
        assert!(self.len < self.slots.len() / 2, "order index over its load limit");
        self.slots[position] = Slot { key, value, _pad: 0 };
        self.len += 1;
    }

    /// The table position of `key`, for a lookup followed by `remove_at` without a second probe.
    #[inline]
    pub fn position(&self, key: u64) -> Option<usize> {
        if key == EMPTY {
            return None;
        }
        let mut i = self.home(key);
        loop {
            let slot = unsafe { self.slots.get_unchecked(i) };
            if slot.key == key {
                return Some(i);
            }
            if slot.key == EMPTY {
                return None;
            }
            i = (i + 1) & self.mask;
        }
    }

    #[inline]
    pub fn value_at(&self, position: usize) -> u32 {
        self.slots[position].value
    }

    /// Removes a key that must be present.
    #[inline]
    pub fn remove(&mut self, key: u64) {
        let position = self.position(key).expect("removing an order id that is not indexed");
        self.remove_at(position);
    }

    /// Removes the entry at a position `position` returned, with no change to the table between.
    #[inline]
    pub fn remove_at(&mut self, position: usize) {
        assert!(self.slots[position].key != EMPTY, "removing an empty index slot");
        // Backward-shift: pull later entries of the probe run into the hole.
        let mut hole = position;
        let mut j = position;
        loop {
            j = (j + 1) & self.mask;
            let k = self.slots[j].key;
            if k == EMPTY {
                break;
            }
            let home = self.home(k);
            // Move the entry at j into the hole unless its home lies cyclically in (hole, j].
            let distance_home = j.wrapping_sub(home) & self.mask;
            let distance_hole = j.wrapping_sub(hole) & self.mask;
            if distance_home >= distance_hole {
                self.slots[hole] = self.slots[j];
                hole = j;
            }
        }
        self.slots[hole].key = EMPTY;
        self.len -= 1;
    }

    pub fn len(&self) -> usize {
        self.len
    }

    pub fn memory_bytes(&self) -> usize {
        self.slots.capacity() * core::mem::size_of::<Slot>()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn core_4_index_insert_get_remove_matches_a_model() {
        // A deterministic xorshift drives random inserts and removes against a sorted Vec model.
        let mut index = OrderIndex::new(512);
        let mut model: Vec<(u64, u32)> = Vec::new();
        let mut x: u64 = 88172645463325252;
        for step in 0..200_000u32 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let key = 1 + (x % 2000);
            let present = model.iter().position(|&(k, _)| k == key);
            match present {
                Some(p) => {
                    assert_eq!(index.get(key), Some(model[p].1));
                    index.remove(key);
                    model.swap_remove(p);
                    assert_eq!(index.get(key), None);
                }
                None if model.len() < 512 => {
                    index.insert(key, step);
                    model.push((key, step));
                }
                None => assert_eq!(index.get(key), None),
            }
            assert_eq!(index.len(), model.len());
        }
        for &(k, v) in &model {
            assert_eq!(index.get(k), Some(v));
        }
    }
}
