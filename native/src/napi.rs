//! The N-API surface, declared by hand: the crates registry is out of reach, so instead of
//! napi-rs's macros this file declares the handful of `napi_*` functions it calls (Node exports
//! them from its own binary) and registers the module through `napi_register_module_v1`.
//!
//! Every entry point runs inside `catch_unwind`: a Rust panic becomes a JavaScript Error and the
//! engine that panicked is poisoned (every later call on it throws), so a broken book never trades on.

#![allow(non_camel_case_types)]

use std::ffi::{c_char, c_void, CString};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::ptr;

use crate::book::InstrumentConfig;
use crate::engine::{Engine, Sink};
use crate::records::{command_kind, event_kind, side, tif, Command, Event, COMMAND_BYTES, EVENT_BYTES};
use crate::snapshot;

type napi_env = *mut c_void;
type napi_value = *mut c_void;
type napi_callback_info = *mut c_void;
type napi_status = i32;
type napi_callback = Option<unsafe extern "C" fn(napi_env, napi_callback_info) -> napi_value>;
type napi_finalize = Option<unsafe extern "C" fn(napi_env, *mut c_void, *mut c_void)>;

const NAPI_OK: napi_status = 0;

extern "C" {
    fn napi_create_function(env: napi_env, name: *const c_char, length: usize, cb: napi_callback, data: *mut c_void, result: *mut napi_value) -> napi_status;
    fn napi_set_named_property(env: napi_env, object: napi_value, name: *const c_char, value: napi_value) -> napi_status;
    fn napi_get_cb_info(env: napi_env, info: napi_callback_info, argc: *mut usize, argv: *mut napi_value, this_arg: *mut napi_value, data: *mut *mut c_void) -> napi_status;
    fn napi_get_value_double(env: napi_env, value: napi_value, result: *mut f64) -> napi_status;
    fn napi_create_double(env: napi_env, value: f64, result: *mut napi_value) -> napi_status;
    fn napi_create_external(env: napi_env, data: *mut c_void, finalize_cb: napi_finalize, hint: *mut c_void, result: *mut napi_value) -> napi_status;
    fn napi_get_value_external(env: napi_env, value: napi_value, result: *mut *mut c_void) -> napi_status;
    fn napi_get_typedarray_info(env: napi_env, typedarray: napi_value, kind: *mut i32, length: *mut usize, data: *mut *mut c_void, arraybuffer: *mut napi_value, byte_offset: *mut usize) -> napi_status;
    fn napi_create_buffer_copy(env: napi_env, length: usize, data: *const c_void, result_data: *mut *mut c_void, result: *mut napi_value) -> napi_status;
    fn napi_throw_error(env: napi_env, code: *const c_char, msg: *const c_char) -> napi_status;
    fn napi_get_undefined(env: napi_env, result: *mut napi_value) -> napi_status;
}

/// What a JavaScript handle owns: the engine and a scratch event buffer for in-Rust replays.
struct Handle {
    engine: Engine,
    poisoned: bool,
    scratch: Vec<Event>,
}

type Result<T> = std::result::Result<T, String>;

fn check(status: napi_status, what: &str) -> Result<()> {
    if status == NAPI_OK {
        Ok(())
    } else {
        Err(format!("N-API call {what} failed with status {status}"))
    }
}

unsafe fn args<const N: usize>(env: napi_env, info: napi_callback_info) -> Result<[napi_value; N]> {
    let mut argv = [ptr::null_mut(); N];
    let mut argc = N;
    check(napi_get_cb_info(env, info, &mut argc, argv.as_mut_ptr(), ptr::null_mut(), ptr::null_mut()), "get_cb_info")?;
    if argc < N {
        return Err(format!("expected {N} arguments, got {argc}"));
    }
    Ok(argv)
}

unsafe fn number(env: napi_env, v: napi_value, name: &str) -> Result<f64> {
    let mut x = 0f64;
    if napi_get_value_double(env, v, &mut x) != NAPI_OK {
        return Err(format!("{name} must be a number"));
    }
    Ok(x)
}

unsafe fn integer(env: napi_env, v: napi_value, name: &str, min: f64, max: f64) -> Result<i64> {
    let x = number(env, v, name)?;
    if x.fract() != 0.0 || x < min || x > max {
        return Err(format!("{name} must be an integer in {min}..={max}, got {x}"));
    }
    Ok(x as i64)
}

const SAFE_INTEGER: f64 = 9_007_199_254_740_991.0;

/// The bytes of a typed array (any element type), checked for 8-byte alignment.
unsafe fn bytes<'a>(env: napi_env, v: napi_value, name: &str) -> Result<&'a mut [u8]> {
    let (mut kind, mut length, mut data, mut offset) = (0i32, 0usize, ptr::null_mut(), 0usize);
    if napi_get_typedarray_info(env, v, &mut kind, &mut length, &mut data, ptr::null_mut(), &mut offset) != NAPI_OK {
        return Err(format!("{name} must be a typed array"));
    }
    let element = match kind {
        0..=2 => 1,
        3 | 4 => 2,
        5..=7 => 4,
        _ => 8,
    };
    if length == 0 {
        return Ok(&mut []);
    }
    if (data as usize) % 8 != 0 {
        return Err(format!("{name} must be 8-byte aligned"));
    }
    Ok(std::slice::from_raw_parts_mut(data as *mut u8, length * element))
}

unsafe fn records<'a, T>(raw: &'a mut [u8], record_bytes: usize) -> &'a mut [T] {
    std::slice::from_raw_parts_mut(raw.as_mut_ptr() as *mut T, raw.len() / record_bytes)
}

unsafe fn handle<'a>(env: napi_env, v: napi_value) -> Result<&'a mut Handle> {
    let mut data = ptr::null_mut();
    if napi_get_value_external(env, v, &mut data) != NAPI_OK || data.is_null() {
        return Err("expected an engine handle".into());
    }
    let h = &mut *(data as *mut Handle);
    if h.poisoned {
        return Err("engine is poisoned by an earlier internal error; restore it from a snapshot".into());
    }
    Ok(h)
}

unsafe extern "C" fn finalize_handle(_env: napi_env, data: *mut c_void, _hint: *mut c_void) {
    drop(Box::from_raw(data as *mut Handle));
}

unsafe fn wrap(env: napi_env, engine: Engine) -> Result<napi_value> {
    let boxed = Box::into_raw(Box::new(Handle { engine, poisoned: false, scratch: Vec::new() }));
    let mut result = ptr::null_mut();
    check(napi_create_external(env, boxed as *mut c_void, Some(finalize_handle), ptr::null_mut(), &mut result), "create_external")?;
    Ok(result)
}

unsafe fn double(env: napi_env, x: f64) -> Result<napi_value> {
    let mut result = ptr::null_mut();
    check(napi_create_double(env, x, &mut result), "create_double")?;
    Ok(result)
}

unsafe fn undefined(env: napi_env) -> Result<napi_value> {
    let mut result = ptr::null_mut();
    check(napi_get_undefined(env, &mut result), "get_undefined")?;
    Ok(result)
}

unsafe fn throw(env: napi_env, message: &str) -> napi_value {
    let code = CString::new("JUNCTION_CORE").unwrap();
    let msg = CString::new(message.replace('\0', " ")).unwrap();
    napi_throw_error(env, code.as_ptr(), msg.as_ptr());
    ptr::null_mut()
}

/// Runs an entry point, turning errors and panics into thrown JavaScript errors.
unsafe fn guard(env: napi_env, info: napi_callback_info, f: unsafe fn(napi_env, napi_callback_info) -> Result<napi_value>) -> napi_value {
    match catch_unwind(AssertUnwindSafe(|| f(env, info))) {
        Ok(Ok(v)) => v,
        Ok(Err(message)) => throw(env, &message),
        Err(panic) => {
            // Poison the engine the call was made on, if it was one.
            if let Ok([first]) = args::<1>(env, info) {
                let mut data = ptr::null_mut();
                if napi_get_value_external(env, first, &mut data) == NAPI_OK && !data.is_null() {
                    (*(data as *mut Handle)).poisoned = true;
                }
            }
            let message = panic
                .downcast_ref::<&str>()
                .map(|s| s.to_string())
                .or_else(|| panic.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "unknown panic".into());
            throw(env, &format!("internal error in the matching core: {message}"))
        }
    }
}

// createEngine(ordersMax, instrumentsMax) -> handle
unsafe fn create_engine(env: napi_env, info: napi_callback_info) -> Result<napi_value> {
    let [a, b] = args::<2>(env, info)?;
    let orders_max = integer(env, a, "ordersMax", 1.0, u32::MAX as f64)? as u32;
    let instruments_max = integer(env, b, "instrumentsMax", 1.0, u32::MAX as f64)? as u32;
    wrap(env, Engine::new(orders_max, instruments_max)?)
}

// addInstrument(h, id, tickSize, lotSize, minQty, maxQty, refPrice, bandBps)
unsafe fn add_instrument(env: napi_env, info: napi_callback_info) -> Result<napi_value> {
    let a = args::<8>(env, info)?;
    let h = handle(env, a[0])?;
    let config = InstrumentConfig {
        id: integer(env, a[1], "id", 0.0, u32::MAX as f64)? as u32,
        tick_size: integer(env, a[2], "tickSize", 1.0, SAFE_INTEGER)?,
        lot_size: integer(env, a[3], "lotSize", 1.0, SAFE_INTEGER)?,
        min_qty: integer(env, a[4], "minQty", 1.0, SAFE_INTEGER)?,
        max_qty: integer(env, a[5], "maxQty", 1.0, SAFE_INTEGER)?,
        ref_price: integer(env, a[6], "refPrice", 1.0, SAFE_INTEGER)?,
        band_bps: integer(env, a[7], "bandBps", 0.0, u32::MAX as f64)? as u32,
    };
    h.engine.add_instrument(config)?;
    undefined(env)
}

// process(h, commands: Uint8Array, first, count, events: Uint8Array, eventStart, status: Uint32Array)
// status <- [commands consumed, event index after the last written, events needed if stalled]
unsafe fn process(env: napi_env, info: napi_callback_info) -> Result<napi_value> {
    let a = args::<7>(env, info)?;
    let h = handle(env, a[0])?;
    let commands: &mut [Command] = records(bytes(env, a[1], "commands")?, COMMAND_BYTES);
    let first = integer(env, a[2], "first", 0.0, u32::MAX as f64)? as usize;
    let count = integer(env, a[3], "count", 0.0, u32::MAX as f64)? as usize;
    let events: &mut [Event] = records(bytes(env, a[4], "events")?, EVENT_BYTES);
    let event_start = integer(env, a[5], "eventStart", 0.0, u32::MAX as f64)? as usize;
    let status: &mut [u32] = records(bytes(env, a[6], "status")?, 4);
    if first + count > commands.len() || event_start > events.len() || status.len() < 3 {
        return Err("process: range outside the buffers".into());
    }
    let (consumed, written, needed) =
        h.engine.process(&commands[first..first + count], first as u32, &mut events[event_start..]);
    status[0] = consumed as u32;
    status[1] = (event_start + written) as u32;
    status[2] = needed as u32;
    undefined(env)
}

// depth(h, instrument, side, levelsMax, out: Float64Array [price, qty, count]*) -> levels written
unsafe fn depth(env: napi_env, info: napi_callback_info) -> Result<napi_value> {
    let a = args::<5>(env, info)?;
    let h = handle(env, a[0])?;
    let instrument = integer(env, a[1], "instrument", 0.0, u32::MAX as f64)? as usize;
    let s = integer(env, a[2], "side", 0.0, 1.0)? as usize;
    let levels_max = integer(env, a[3], "levelsMax", 0.0, u32::MAX as f64)? as usize;
    let out: &mut [f64] = records(bytes(env, a[4], "out")?, 8);
    let Some(Some(book)) = h.engine.books.get(instrument) else {
        return Err(format!("unknown instrument {instrument}"));
    };
    let n = levels_max.min(out.len() / 3);
    let mut written = 0;
    for (i, level) in book.levels_best_first(s as u8).filter(|l| l.count > 0).take(n).enumerate() {
        written = i + 1;
        out[3 * i] = level.price as f64;
        out[3 * i + 1] = level.qty as f64;
        out[3 * i + 2] = level.count as f64;
    }
    double(env, written as f64)
}

// band(h, instrument, out: Float64Array) <- [low, high, reference]: the prices the book takes orders at
// now (inclusive), and the reference price its band is centred on.
unsafe fn band(env: napi_env, info: napi_callback_info) -> Result<napi_value> {
    let a = args::<3>(env, info)?;
    let h = handle(env, a[0])?;
    let instrument = integer(env, a[1], "instrument", 0.0, u32::MAX as f64)? as usize;
    let out: &mut [f64] = records(bytes(env, a[2], "out")?, 8);
    if out.len() < 3 {
        return Err("band: out needs 3 slots".into());
    }
    let Some(Some(book)) = h.engine.books.get(instrument) else {
        return Err(format!("unknown instrument {instrument}"));
    };
    let (low, high) = book.band();
    out[0] = low as f64;
    out[1] = high as f64;
    out[2] = book.ref_price() as f64;
    undefined(env)
}

// stats(h, out: Float64Array) <- [resting, memoryBytes, ordersMax]
unsafe fn stats(env: napi_env, info: napi_callback_info) -> Result<napi_value> {
    let [a, b] = args::<2>(env, info)?;
    let h = handle(env, a)?;
    let out: &mut [f64] = records(bytes(env, b, "out")?, 8);
    if out.len() < 3 {
        return Err("stats: out needs 3 slots".into());
    }
    out[0] = h.engine.pool.resting as f64;
    out[1] = h.engine.memory_bytes() as f64;
    out[2] = h.engine.pool.orders_max as f64;
    undefined(env)
}

unsafe fn check_invariants(env: napi_env, info: napi_callback_info) -> Result<napi_value> {
    let [a] = args::<1>(env, info)?;
    handle(env, a)?.engine.check_invariants();
    undefined(env)
}

unsafe fn take_snapshot(env: napi_env, info: napi_callback_info) -> Result<napi_value> {
    let [a] = args::<1>(env, info)?;
    let bytes = snapshot::snapshot(&handle(env, a)?.engine);
    let mut result = ptr::null_mut();
    check(napi_create_buffer_copy(env, bytes.len(), bytes.as_ptr() as *const c_void, ptr::null_mut(), &mut result), "create_buffer_copy")?;
    Ok(result)
}

unsafe fn restore(env: napi_env, info: napi_callback_info) -> Result<napi_value> {
    let [a] = args::<1>(env, info)?;
    let (mut kind, mut length, mut data, mut offset) = (0i32, 0usize, ptr::null_mut(), 0usize);
    if napi_get_typedarray_info(env, a, &mut kind, &mut length, &mut data, ptr::null_mut(), &mut offset) != NAPI_OK || kind != 1 {
        return Err("restore expects a Buffer or Uint8Array".into());
    }
    let input = if length == 0 { &[][..] } else { std::slice::from_raw_parts(data as *const u8, length) };
    wrap(env, snapshot::restore(input)?)
}

/// replayOps(h, ops: Int32Array, instrument, account) -> fills
/// Replays a workload file (records [op, side, price, qty, id]; see scripts/gen-ops.mjs) entirely in
/// Rust, through the same command path as `process`, so N-API's share of the cost can be measured.
unsafe fn replay_ops(env: napi_env, info: napi_callback_info) -> Result<napi_value> {
    let a = args::<4>(env, info)?;
    let h = handle(env, a[0])?;
    let raw = bytes(env, a[1], "ops")?;
    let ops: &[i32] = records(raw, 4);
    let instrument = integer(env, a[2], "instrument", 0.0, u32::MAX as f64)? as u32;
    let account = integer(env, a[3], "account", 0.0, u32::MAX as f64)? as u32;
    const SCRATCH_EVENTS: usize = 1 << 9;
    if h.scratch.len() < SCRATCH_EVENTS {
        h.scratch = vec![Event::default(); SCRATCH_EVENTS];
    }
    let Handle { engine, scratch, .. } = h;
    let mut fills = 0u64;
    let mut used = 0usize;
    for (i, op) in ops.chunks_exact(5).enumerate() {
        if let Some(&ahead) = ops.get(5 * (i + crate::engine::PREFETCH_AHEAD) + 4) {
            engine.prefetch(ahead as u64);
        }
        let c = Command {
            kind: if op[0] == 1 { command_kind::CANCEL } else { command_kind::NEW_ORDER },
            side: if op[1] == 0 { side::BUY } else { side::SELL },
            tif: if op[0] == 2 { tif::IOC } else { tif::GTC },
            instrument,
            account,
            order_id: op[4] as u64,
            price: op[2] as i64,
            qty: op[3] as i64,
            ..Command::default()
        };
        let bound = engine.events_bound(&c);
        if used + bound > scratch.len() {
            fills += count_fills(&scratch[..used]);
            used = 0;
            if bound > scratch.len() {
                scratch.resize(bound, Event::default());
            }
        }
        let mut sink = Sink { buf: &mut scratch[..], len: used, command_index: i as u32 };
        engine.apply(&c, &mut sink);
        used = sink.len;
    }
    fills += count_fills(&scratch[..used]);
    double(env, fills as f64)
}

extern "C" {
    fn flock(fd: i32, operation: i32) -> i32;
}
const LOCK_EX: i32 = 2;
const LOCK_NB: i32 = 4;

// lockExclusive(fd) -> true when this open file now holds an exclusive flock(2) lock, false when
// another open file (another process, or another open of the same file) holds one. The kernel
// drops the lock when the file is closed or its process dies, SIGKILL included: a data folder's
// lock never outlives its node.
unsafe fn lock_exclusive(env: napi_env, info: napi_callback_info) -> Result<napi_value> {
    let [a] = args::<1>(env, info)?;
    let fd = integer(env, a, "fd", 0.0, i32::MAX as f64)? as i32;
    if flock(fd, LOCK_EX | LOCK_NB) == 0 {
        return double(env, 1.0);
    }
    let error = std::io::Error::last_os_error();
    if error.kind() == std::io::ErrorKind::WouldBlock {
        return double(env, 0.0);
    }
    Err(format!("flock on fd {fd} failed: {error}"))
}

fn count_fills(events: &[Event]) -> u64 {
    events.iter().map(|e| (e.kind == event_kind::FILL) as u64).sum()
}

macro_rules! entry {
    ($name:ident, $body:ident) => {
        unsafe extern "C" fn $name(env: napi_env, info: napi_callback_info) -> napi_value {
            guard(env, info, $body)
        }
    };
}

entry!(js_create_engine, create_engine);
entry!(js_add_instrument, add_instrument);
entry!(js_process, process);
entry!(js_depth, depth);
entry!(js_band, band);
entry!(js_stats, stats);
entry!(js_check_invariants, check_invariants);
entry!(js_snapshot, take_snapshot);
entry!(js_restore, restore);
entry!(js_replay_ops, replay_ops);
entry!(js_lock_exclusive, lock_exclusive);

unsafe fn export(env: napi_env, exports: napi_value, name: &str, cb: unsafe extern "C" fn(napi_env, napi_callback_info) -> napi_value) {
    let cname = CString::new(name).unwrap();
    let mut f = ptr::null_mut();
    let ok = napi_create_function(env, cname.as_ptr(), name.len(), Some(cb), ptr::null_mut(), &mut f) == NAPI_OK
        && napi_set_named_property(env, exports, cname.as_ptr(), f) == NAPI_OK;
    assert!(ok, "could not export {name}");
}

#[no_mangle]
pub unsafe extern "C" fn napi_register_module_v1(env: napi_env, exports: napi_value) -> napi_value {
    export(env, exports, "createEngine", js_create_engine);
    export(env, exports, "addInstrument", js_add_instrument);
    export(env, exports, "process", js_process);
    export(env, exports, "depth", js_depth);
    export(env, exports, "band", js_band);
    export(env, exports, "stats", js_stats);
    export(env, exports, "checkInvariants", js_check_invariants);
    export(env, exports, "snapshot", js_snapshot);
    export(env, exports, "restore", js_restore);
    export(env, exports, "replayOps", js_replay_ops);
    export(env, exports, "lockExclusive", js_lock_exclusive);
    exports
}
