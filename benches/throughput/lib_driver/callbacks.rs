//! Waiting for the library's callbacks, and what they copy their replies
//! into: a `Waiter` that a callback counts down, and the slots a get, scan
//! or get_many fills.

use std::ffi::c_void;
use std::sync::atomic::{AtomicI32, AtomicUsize, Ordering};
use std::thread::{self, Thread};

use ::persistency::ffi::*;

use super::check;
use crate::config::PAYLOAD_LEN;

/// Completion of `n` callbacks, waited for by the thread that armed it: a
/// short spin, a few `yield`s (on an oversubscribed machine they hand the
/// core to the worker instead of burning it), then `park` (the callback
/// unparks the waiter). Leaked, so that a callback that touches it after
/// its count reached zero never touches freed memory.
pub struct Waiter {
    remaining: AtomicUsize,
    failed: AtomicI32,
    owner: Thread,
}

/// Polls before yielding: a reply that comes within them costs no
/// system call.
const SPINS: u32 = 100;
/// `yield_now` calls before parking.
const YIELDS: u32 = 20;

impl Waiter {
    pub fn new() -> &'static Waiter {
        Box::leak(Box::new(Waiter {
            remaining: AtomicUsize::new(0),
            failed: AtomicI32::new(PERSISTENCY_OK),
            owner: thread::current(),
        }))
    }

    pub fn arm(&self, n: usize) {
        self.remaining.store(n, Ordering::Relaxed);
    }

    pub fn wait(&self) {
        let mut polls = 0;
        while self.remaining.load(Ordering::Acquire) != 0 {
            polls += 1;
            if polls < SPINS {
                std::hint::spin_loop();
            } else if polls < SPINS + YIELDS {
                thread::yield_now();
            } else {
                thread::park();
            }
        }
        let failed = self.failed.swap(PERSISTENCY_OK, Ordering::Relaxed);
        assert_eq!(
            failed, PERSISTENCY_OK,
            "a callback reported status {failed}"
        );
    }

    /// Called last by a callback.
    fn done(&self, status: i32) {
        if status != PERSISTENCY_OK {
            self.failed.store(status, Ordering::Relaxed);
        }
        if self.remaining.fetch_sub(1, Ordering::AcqRel) == 1 {
            self.owner.unpark();
        }
    }

    /// The `user_data` of a call whose callback is `on_done`.
    pub(super) fn user_data(&'static self) -> *mut c_void {
        self as *const Waiter as *mut c_void
    }
}

/// Where a get callback copies its answer (as a host copies into its own
/// memory before the callback returns).
pub struct GetSlot {
    pub(super) waiter: &'static Waiter,
    pub found: bool,
    pub value: Vec<u8>,
}

impl GetSlot {
    pub fn new(waiter: &'static Waiter) -> GetSlot {
        GetSlot {
            waiter,
            found: false,
            value: Vec::with_capacity(PAYLOAD_LEN),
        }
    }
}

/// Where a scan or get_many callback copies its rows.
pub struct RowsSlot {
    pub(super) waiter: &'static Waiter,
    buf: Vec<u8>,
    pub rows: usize,
    pub has_more: bool,
    pub last_key: Vec<u8>,
}

impl RowsSlot {
    pub fn new(waiter: &'static Waiter) -> RowsSlot {
        RowsSlot {
            waiter,
            buf: Vec::new(),
            rows: 0,
            has_more: false,
            last_key: Vec::new(),
        }
    }
}

/// The `len` items at `data` (any pointer when `len` is 0, as the library
/// passes NULL for an empty buffer).
///
/// # Safety
///
/// Unless `len` is 0, `data` points to `len` initialised items that stay
/// valid and unchanged for `'a`.
unsafe fn slice<'a, T>(data: *const T, len: usize) -> &'a [T] {
    if len == 0 {
        &[]
    } else {
        // SAFETY: the caller's promise.
        unsafe { std::slice::from_raw_parts(data, len) }
    }
}

/// Counts down the `Waiter` given as `user_data`.
pub(super) unsafe extern "C" fn on_done(result: *const CResult, user_data: *mut c_void) {
    // SAFETY: `result` is valid during the callback, and `user_data` is the
    // leaked `Waiter` of `Waiter::user_data`.
    let (result, waiter) = unsafe { (&*result, &*(user_data as *const Waiter)) };
    waiter.done(result.status);
}

/// Copies a get's answer into the `GetSlot` given as `user_data`.
pub(super) unsafe extern "C" fn on_get(result: *const CResult, user_data: *mut c_void) {
    // SAFETY: `result` is valid during the callback; `user_data` is the
    // `GetSlot` of `Job::get_queued`, which nothing else touches until its
    // waiter has been counted down below.
    let (r, slot) = unsafe { (&*result, &mut *(user_data as *mut GetSlot)) };
    slot.found = r.found;
    slot.value.clear();
    if r.status == PERSISTENCY_OK && r.found {
        // SAFETY: a found value is `value_len` bytes at `value`, valid
        // during the callback.
        slot.value
            .extend_from_slice(unsafe { slice(r.value, r.value_len) });
    }
    slot.waiter.done(r.status);
}

/// Copies a scan's or get_many's rows into the `RowsSlot` given as
/// `user_data`.
unsafe extern "C" fn on_rows(result: *const CResult, user_data: *mut c_void) {
    // SAFETY: as in `on_get`, with the `RowsSlot` of `rows_awaited`, which
    // waits for this callback.
    let (r, slot) = unsafe { (&*result, &mut *(user_data as *mut RowsSlot)) };
    slot.buf.clear();
    slot.rows = 0;
    slot.has_more = r.has_more;
    if r.status == PERSISTENCY_OK {
        // SAFETY: a reply has `row_count` rows at `rows`, each with
        // `key_len` bytes at `key` and `payload_len` at `payload`, all
        // valid during the callback; nothing here outlives it.
        unsafe {
            let rows = slice(r.rows, r.row_count);
            for row in rows {
                slot.buf.extend_from_slice(slice(row.key, row.key_len));
                slot.buf
                    .extend_from_slice(slice(row.payload, row.payload_len));
            }
            slot.rows = rows.len();
            if let Some(last) = rows.last() {
                slot.last_key.clear();
                slot.last_key
                    .extend_from_slice(slice(last.key, last.key_len));
            }
        }
    }
    slot.waiter.done(r.status);
}

/// Makes a call that replies with rows, given `on_rows` and `slot` as its
/// callback and `user_data`, and waits for the reply. `user_data` is valid
/// whenever the callback runs: `slot` stays borrowed, and untouched, until
/// the wait has returned, after the callback's last use of it (and a call
/// that fails never calls back).
pub(super) fn rows_awaited(
    slot: &mut RowsSlot,
    what: &str,
    call: impl FnOnce(Callback, *mut c_void) -> Status,
) {
    // Copied out: `slot` is the callback's until the wait returns.
    let waiter = slot.waiter;
    waiter.arm(1);
    check(
        call(Some(on_rows), slot as *mut RowsSlot as *mut c_void),
        what,
    );
    waiter.wait();
}
