//! Snapshot and restore of every book to bytes, so a restarted node can rebuild its books.
//!
//! Layout (little-endian): magic "JNCSNAP1", u32 version, u32 orders_max, u32 instruments_max,
//! u32 instrument count, then per instrument its config, reference price, last trade id and its
//! resting orders in priority order (bids best first, then asks best first, FIFO within a level),
//! and finally a u64 FNV-1a checksum of everything before it.

use crate::book::{InstrumentConfig, Order, NIL};
use crate::engine::Engine;
use crate::records::side;

const MAGIC: &[u8; 8] = b"JNCSNAP1";
const VERSION: u32 = 1;

fn fnv1a(bytes: &[u8]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for &b in bytes {
        h ^= b as u64;
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    h
}

pub fn snapshot(engine: &Engine) -> Vec<u8> {
    let mut out = Vec::with_capacity(64 + engine.pool.resting * 48);
    out.extend_from_slice(MAGIC);
    for v in [VERSION, engine.pool.orders_max as u32, (engine.books.len() - 1) as u32] {
        out.extend_from_slice(&v.to_le_bytes());
    }
    let count = engine.books.iter().flatten().count() as u32;
    out.extend_from_slice(&count.to_le_bytes());
    for (bi, book) in engine.books.iter().enumerate() {
        let Some(book) = book else { continue };
        let c = &book.config;
        out.extend_from_slice(&c.id.to_le_bytes());
        out.extend_from_slice(&c.band_bps.to_le_bytes());
        for v in [c.tick_size, c.lot_size, c.min_qty, c.max_qty, c.ref_price, book.ref_price()] {
            out.extend_from_slice(&v.to_le_bytes());
        }
        out.extend_from_slice(&book.last_trade_id.to_le_bytes());
        out.extend_from_slice(&(book.resting() as u64).to_le_bytes());
        for s in [side::BUY, side::SELL] {
            engine.for_each_resting(bi, s, |o| {
                out.extend_from_slice(&o.id.to_le_bytes());
                out.extend_from_slice(&o.price.to_le_bytes());
                out.extend_from_slice(&o.qty.to_le_bytes());
                out.extend_from_slice(&o.account.to_le_bytes());
                out.extend_from_slice(&o.stp_group.to_le_bytes());
                out.extend_from_slice(&[o.side, o.stp_mode, o.tif, 0]);
            });
        }
    }
    let sum = fnv1a(&out);
    out.extend_from_slice(&sum.to_le_bytes());
    out
}

struct Reader<'a> {
    bytes: &'a [u8],
    at: usize,
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], String> {
        if self.at + n > self.bytes.len() {
            return Err("snapshot is truncated".into());
        }
        let s = &self.bytes[self.at..self.at + n];
        self.at += n;
        Ok(s)
    }
    fn u32(&mut self) -> Result<u32, String> {
        Ok(u32::from_le_bytes(self.take(4)?.try_into().unwrap()))
    }
    fn u64(&mut self) -> Result<u64, String> {
        Ok(u64::from_le_bytes(self.take(8)?.try_into().unwrap()))
    }
    fn i64(&mut self) -> Result<i64, String> {
        Ok(i64::from_le_bytes(self.take(8)?.try_into().unwrap()))
    }
}

pub fn restore(bytes: &[u8]) -> Result<Engine, String> {
    if bytes.len() < MAGIC.len() + 16 + 8 || &bytes[..8] != MAGIC {
        return Err("not a junction-core snapshot".into());
    }
    let (body, tail) = bytes.split_at(bytes.len() - 8);
    if fnv1a(body) != u64::from_le_bytes(tail.try_into().unwrap()) {
        return Err("snapshot checksum mismatch".into());
    }
    let mut r = Reader { bytes: body, at: 8 };
    let version = r.u32()?;
    if version != VERSION {
        return Err(format!("snapshot version {version} is not supported"));
    }
    let orders_max = r.u32()?;
    let instruments_max = r.u32()?;
    let mut engine = Engine::new(orders_max, instruments_max)?;
    let count = r.u32()?;
    for _ in 0..count {
        let id = r.u32()?;
        let band_bps = r.u32()?;
        let (tick_size, lot_size, min_qty, max_qty, initial_ref, ref_price) =
            (r.i64()?, r.i64()?, r.i64()?, r.i64()?, r.i64()?, r.i64()?);
        engine.add_instrument(InstrumentConfig { id, tick_size, lot_size, min_qty, max_qty, ref_price: initial_ref, band_bps })?;
        let book = engine.books[id as usize].as_mut().unwrap();
        book.set_ref_price(ref_price);
        book.last_trade_id = r.u64()?;
        let resting = r.u64()?;
        for _ in 0..resting {
            let order_id = r.u64()?;
            let price = r.i64()?;
            let qty = r.i64()?;
            let account = r.u32()?;
            let stp_group = r.u32()?;
            let flags = r.take(4)?;
            engine.restore_order(Order {
                id: order_id,
                price,
                qty,
                account,
                stp_group,
                prev: NIL,
                next: NIL,
                instrument: id,
                side: flags[0],
                stp_mode: flags[1],
                tif: flags[2],
                level: NIL,
                _pad: [0; 5],
            })?;
        }
    }
    if r.at != body.len() {
        return Err("snapshot has trailing bytes".into());
    }
    engine.check_invariants();
    Ok(engine)
}
