//! The library driven through its C ABI, as a C host drives it: raw
//! handles, `extern "C"` callbacks and `void *user_data`.

use std::ffi::{c_void, CStr, CString};
use std::path::Path;
use std::sync::atomic::{AtomicI32, AtomicUsize, Ordering};
use std::thread::{self, Thread};

use ::persistency::ffi::*;

use crate::data::{Data, Key};

pub fn check(status: persistency_status, what: &str) {
    if status != PERSISTENCY_OK {
        let message = unsafe {
            let p = persistency_last_error();
            if p.is_null() {
                String::new()
            } else {
                CStr::from_ptr(p).to_string_lossy().into_owned()
            }
        };
        panic!("{what} failed with status {status}: {message}");
    }
}

/// Completion of `n` callbacks, waited for by the thread that armed it: a
/// short spin, a few `yield`s (on an oversubscribed machine they hand the
/// core to the worker instead of burning it), then `park` (the callback
/// unparks the waiter). Leaked, so
/// that a callback that touches it after its count reached zero never
/// touches freed memory.
pub struct Waiter {
    remaining: AtomicUsize,
    failed: AtomicI32,
    owner: Thread,
}

/// Polls before yielding: a reply that comes within them costs no
/// system call.
pub const SPINS: u32 = 100;
/// `yield_now` calls before parking.
pub const YIELDS: u32 = 20;

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
    pub fn done(&self, status: i32) {
        if status != PERSISTENCY_OK {
            self.failed.store(status, Ordering::Relaxed);
        }
        if self.remaining.fetch_sub(1, Ordering::AcqRel) == 1 {
            self.owner.unpark();
        }
    }
}

pub unsafe extern "C" fn on_done(result: *const persistency_result, user_data: *mut c_void) {
    let waiter = &*(user_data as *const Waiter);
    waiter.done((*result).status);
}

/// Where a get callback copies its answer (as a host copies into its own
/// memory before the callback returns).
pub struct GetSlot {
    pub waiter: &'static Waiter,
    pub found: bool,
    pub value: Vec<u8>,
}

pub unsafe fn bytes<'a>(data: *const u8, len: usize) -> &'a [u8] {
    if len == 0 {
        &[]
    } else {
        std::slice::from_raw_parts(data, len)
    }
}

pub unsafe extern "C" fn on_get(result: *const persistency_result, user_data: *mut c_void) {
    let slot = &mut *(user_data as *mut GetSlot);
    let r = &*result;
    slot.found = r.found;
    slot.value.clear();
    if r.status == PERSISTENCY_OK && r.found {
        slot.value.extend_from_slice(bytes(r.value, r.value_len));
    }
    slot.waiter.done(r.status);
}

/// Where a scan or get_many callback copies its rows.
pub struct RowsSlot {
    pub waiter: &'static Waiter,
    pub buf: Vec<u8>,
    pub rows: usize,
    pub has_more: bool,
    pub last_key: Vec<u8>,
}

pub unsafe extern "C" fn on_rows(result: *const persistency_result, user_data: *mut c_void) {
    let slot = &mut *(user_data as *mut RowsSlot);
    let r = &*result;
    slot.buf.clear();
    slot.rows = 0;
    slot.has_more = r.has_more;
    if r.status == PERSISTENCY_OK {
        let rows = if r.row_count == 0 {
            &[][..]
        } else {
            std::slice::from_raw_parts(r.rows, r.row_count)
        };
        for row in rows {
            slot.buf.extend_from_slice(bytes(row.key, row.key_len));
            slot.buf
                .extend_from_slice(bytes(row.payload, row.payload_len));
        }
        slot.rows = rows.len();
        if let Some(last) = rows.last() {
            slot.last_key.clear();
            slot.last_key
                .extend_from_slice(bytes(last.key, last.key_len));
        }
    }
    slot.waiter.done(r.status);
}

/// One independent instance with one open job.
pub struct LibJob {
    pub instance: *mut persistency,
    pub job: *mut persistency_job,
}

// SAFETY: the C API is thread-safe; the handles are only released on drop.
unsafe impl Send for LibJob {}
unsafe impl Sync for LibJob {}

pub fn cstring(s: &str) -> CString {
    CString::new(s).expect("no NUL")
}

pub fn options(synchronous: i32) -> persistency_job_options {
    let mut o = std::mem::MaybeUninit::<persistency_job_options>::uninit();
    unsafe {
        persistency_job_options_init(o.as_mut_ptr());
        let mut o = o.assume_init();
        o.synchronous = synchronous;
        o
    }
}

impl LibJob {
    pub fn open(root: &Path, id: &str, options: Option<&persistency_job_options>) -> LibJob {
        let root = cstring(root.to_str().expect("UTF-8 path"));
        let id = cstring(id);
        let mut instance = std::ptr::null_mut();
        let mut job = std::ptr::null_mut();
        unsafe {
            check(
                persistency_new(root.as_ptr(), &mut instance),
                "persistency_new",
            );
            let status = match options {
                None => persistency_open_job(instance, id.as_ptr(), &mut job),
                Some(o) => persistency_open_job_with(instance, id.as_ptr(), o, &mut job),
            };
            check(status, "persistency_open_job");
        }
        LibJob { instance, job }
    }

    pub fn put(&self, data: &Data, key: &[u8], payload: &[u8]) {
        unsafe {
            check(
                persistency_put(
                    self.job,
                    data.category.as_ptr(),
                    key.as_ptr(),
                    key.len(),
                    payload.as_ptr(),
                    payload.len(),
                ),
                "persistency_put",
            );
        }
    }

    pub fn flush(&self, waiter: &'static Waiter) {
        waiter.arm(1);
        unsafe {
            check(
                persistency_flush(
                    self.job,
                    Some(on_done),
                    waiter as *const Waiter as *mut c_void,
                ),
                "persistency_flush",
            );
        }
        waiter.wait();
    }

    /// Queues one atomic batch; with a waiter, its callback counts down.
    pub fn write(&self, ops: &[persistency_op], waiter: Option<&'static Waiter>) {
        let (callback, user_data): (persistency_callback, *mut c_void) = match waiter {
            Some(w) => (Some(on_done), w as *const Waiter as *mut c_void),
            None => (None, std::ptr::null_mut()),
        };
        unsafe {
            check(
                persistency_write(self.job, ops.as_ptr(), ops.len(), callback, user_data),
                "persistency_write",
            );
        }
    }

    pub fn get(&self, data: &Data, key: &[u8], slot: &mut GetSlot) {
        unsafe {
            check(
                persistency_get(
                    self.job,
                    data.category.as_ptr(),
                    key.as_ptr(),
                    key.len(),
                    Some(on_get),
                    slot as *mut GetSlot as *mut c_void,
                ),
                "persistency_get",
            );
        }
    }

    pub fn scan(&self, data: &Data, start: &[u8], limit: u32, slot: &mut RowsSlot) {
        unsafe {
            check(
                persistency_scan(
                    self.job,
                    data.category.as_ptr(),
                    start.as_ptr(),
                    start.len(),
                    std::ptr::null(),
                    0,
                    false,
                    limit,
                    Some(on_rows),
                    slot as *mut RowsSlot as *mut c_void,
                ),
                "persistency_scan",
            );
        }
    }

    pub fn stats(&self) -> persistency_stats {
        let mut s = persistency_stats::default();
        unsafe {
            check(
                persistency_job_stats(self.job, &mut s),
                "persistency_job_stats",
            )
        };
        s
    }
}

impl Drop for LibJob {
    fn drop(&mut self) {
        unsafe {
            persistency_job_release(self.job);
            check(persistency_close(self.instance), "persistency_close");
            persistency_release(self.instance);
        }
    }
}

pub fn put_ops<'a>(data: &'a Data, keys: &'a [Key], first: usize) -> Vec<persistency_op> {
    keys.iter()
        .enumerate()
        .map(|(i, k)| {
            let payload = data.payload(first + i);
            persistency_op {
                kind: PERSISTENCY_OP_PUT,
                category: data.category.as_ptr(),
                key: k.as_ptr(),
                key_len: k.len(),
                payload: payload.as_ptr(),
                payload_len: payload.len(),
            }
        })
        .collect()
}
