//! The library driven through its C ABI, as a C host drives it: raw
//! handles, `extern "C"` callbacks and `void *user_data`.
//!
//! Every call into `persistency::ffi` is in this module, each inside an
//! `unsafe` block whose `SAFETY` comment says why its pointers are valid.
//! The header's rules those comments rely on: inputs are copied before a
//! call returns; a callback runs once, on the job's worker thread, for a
//! call that returned `PERSISTENCY_OK` and never for one that failed; the
//! pointers in a `persistency_result` are valid during the callback only;
//! `user_data` comes back untouched.

use std::ffi::{c_void, CStr, CString};
use std::marker::PhantomData;
use std::mem::MaybeUninit;
use std::ops::Deref;
use std::path::Path;
use std::sync::atomic::{AtomicI32, AtomicUsize, Ordering};
use std::thread::{self, Thread};

use ::persistency::ffi::*;
pub use ::persistency::ffi::{PERSISTENCY_SYNC_FULL, PERSISTENCY_SYNC_NORMAL};

use crate::config::PAYLOAD_LEN;
use crate::data::{Data, Key};

/// Panics with the library's message unless `status` is `PERSISTENCY_OK`.
fn check(status: persistency_status, what: &str) {
    if status != PERSISTENCY_OK {
        // SAFETY: persistency_last_error returns NULL or this thread's last
        // message, NUL-terminated and valid until the thread's next
        // status-returning call; it is copied before any other call.
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

/// The library's version string.
pub fn version() -> String {
    // SAFETY: persistency_version returns a static NUL-terminated string.
    unsafe { CStr::from_ptr(persistency_version()) }
        .to_string_lossy()
        .into_owned()
}

fn cstring(s: &str) -> CString {
    CString::new(s).expect("no NUL")
}

/// The default job options with `synchronous` set.
pub fn options(synchronous: i32) -> persistency_job_options {
    let mut o = MaybeUninit::<persistency_job_options>::uninit();
    // SAFETY: `o` is a writable out-pointer to a whole struct, and
    // persistency_job_options_init writes every field of it, so `o` is
    // initialised when it returns.
    let mut o = unsafe {
        persistency_job_options_init(o.as_mut_ptr());
        o.assume_init()
    };
    o.synchronous = synchronous;
    o
}

// ---------------------------------------------------------------------------
// Waiting for callbacks

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
    fn user_data(&'static self) -> *mut c_void {
        self as *const Waiter as *mut c_void
    }
}

/// Where a get callback copies its answer (as a host copies into its own
/// memory before the callback returns).
pub struct GetSlot {
    waiter: &'static Waiter,
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
    waiter: &'static Waiter,
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
unsafe extern "C" fn on_done(result: *const persistency_result, user_data: *mut c_void) {
    // SAFETY: `result` is valid during the callback, and `user_data` is the
    // leaked `Waiter` of `Waiter::user_data`.
    let (result, waiter) = unsafe { (&*result, &*(user_data as *const Waiter)) };
    waiter.done(result.status);
}

/// Copies a get's answer into the `GetSlot` given as `user_data`.
unsafe extern "C" fn on_get(result: *const persistency_result, user_data: *mut c_void) {
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
unsafe extern "C" fn on_rows(result: *const persistency_result, user_data: *mut c_void) {
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
fn rows_awaited(
    slot: &mut RowsSlot,
    what: &str,
    call: impl FnOnce(persistency_callback, *mut c_void) -> persistency_status,
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

// ---------------------------------------------------------------------------
// Handles

/// An instance: closed and released on drop.
pub struct Instance(*mut persistency);

/// A job: released on drop (it stays open until its instance closes).
pub struct Job(*mut persistency_job);

// SAFETY: every C function may be called from any thread, concurrently, on
// the same handle; a handle is only given back on drop, when no borrow of
// it is left.
unsafe impl Send for Instance {}
// SAFETY: as for `Send`.
unsafe impl Sync for Instance {}
// SAFETY: as for `Instance`.
unsafe impl Send for Job {}
// SAFETY: as for `Instance`.
unsafe impl Sync for Job {}

impl Instance {
    pub fn new(root: &Path) -> Instance {
        let root = cstring(root.to_str().expect("UTF-8 path"));
        let mut instance = std::ptr::null_mut();
        // SAFETY: `root` is NUL-terminated and outlives the call; `instance`
        // is a writable out-pointer.
        let status = unsafe { persistency_new(root.as_ptr(), &mut instance) };
        check(status, "persistency_new");
        Instance(instance)
    }

    /// Opens job `id` with `options` (`None`: the defaults).
    pub fn open_job(&self, id: &str, options: Option<&persistency_job_options>) -> Job {
        let id = cstring(id);
        let mut job = std::ptr::null_mut();
        // SAFETY: `self.0` is live until drop; `id` is NUL-terminated and,
        // like `options` (a whole struct from `options`), outlives the call;
        // `job` is a writable out-pointer.
        let status = unsafe {
            match options {
                None => persistency_open_job(self.0, id.as_ptr(), &mut job),
                Some(o) => persistency_open_job_with(self.0, id.as_ptr(), o, &mut job),
            }
        };
        check(status, "persistency_open_job");
        Job(job)
    }
}

impl Drop for Instance {
    fn drop(&mut self) {
        // SAFETY: the handle is live, and nothing uses it after this
        // release of its one reference.
        unsafe {
            check(persistency_close(self.0), "persistency_close");
            persistency_release(self.0);
        }
    }
}

impl Job {
    /// A fire-and-forget put.
    pub fn put(&self, data: &Data, key: &[u8], payload: &[u8]) {
        // SAFETY: `self.0` is live until drop; the category (NUL-terminated),
        // key and payload outlive the call, which copies them.
        let status = unsafe {
            persistency_put(
                self.0,
                data.category.as_ptr(),
                key.as_ptr(),
                key.len(),
                payload.as_ptr(),
                payload.len(),
            )
        };
        check(status, "persistency_put");
    }

    /// Waits until every write queued before has been applied.
    pub fn flush(&self, waiter: &'static Waiter) {
        waiter.arm(1);
        // SAFETY: `self.0` is live until drop; `user_data` is a leaked
        // `Waiter`, valid whenever the callback runs.
        let status = unsafe { persistency_flush(self.0, Some(on_done), waiter.user_data()) };
        check(status, "persistency_flush");
        waiter.wait();
    }

    /// Queues one atomic batch; with a waiter, its callback counts it down.
    pub fn write(&self, batch: &PutBatch<'_>, waiter: Option<&'static Waiter>) {
        let (callback, user_data): (persistency_callback, *mut c_void) = match waiter {
            Some(w) => (Some(on_done), w.user_data()),
            None => (None, std::ptr::null_mut()),
        };
        let ops = &batch.ops;
        // SAFETY: `self.0` is live until drop; the ops point into rows that
        // `batch` borrows, so they outlive the call, which copies them;
        // `user_data` is a leaked `Waiter` (or NULL, with no callback).
        let status =
            unsafe { persistency_write(self.0, ops.as_ptr(), ops.len(), callback, user_data) };
        check(status, "persistency_write");
    }

    /// A get, awaited: `slot` holds the answer when this returns.
    pub fn get(&self, data: &Data, key: &[u8], slot: &mut GetSlot) {
        // Copied out: `slot` is the callback's until the wait returns.
        let waiter = slot.waiter;
        waiter.arm(1);
        // SAFETY: `slot` stays borrowed, untouched, until the wait returns.
        unsafe { self.get_queued(data, key, slot) };
        waiter.wait();
    }

    /// Queues a get whose callback copies the answer into `slot` and counts
    /// down `slot`'s waiter, which the caller has armed for it.
    ///
    /// # Safety
    ///
    /// The callback writes into `slot` later, on the worker thread: the
    /// caller must not read, move or drop `slot` before its waiter's `wait`
    /// has returned.
    pub unsafe fn get_queued(&self, data: &Data, key: &[u8], slot: &mut GetSlot) {
        // SAFETY: `self.0` is live until drop; the category and key outlive
        // the call, which copies them; `user_data` is `slot`, valid until
        // the callback as the caller promises.
        let status = unsafe {
            persistency_get(
                self.0,
                data.category.as_ptr(),
                key.as_ptr(),
                key.len(),
                Some(on_get),
                slot as *mut GetSlot as *mut c_void,
            )
        };
        check(status, "persistency_get");
    }

    /// A get_many of `keys`, awaited: `slot` holds the rows found.
    pub fn get_many<'k>(
        &self,
        data: &Data,
        keys: impl IntoIterator<Item = &'k Key>,
        slot: &mut RowsSlot,
    ) {
        let keys: Vec<persistency_bytes> = keys
            .into_iter()
            .map(|k| persistency_bytes {
                data: k.as_ptr(),
                len: k.len(),
            })
            .collect();
        rows_awaited(slot, "persistency_get_many", |callback, user_data| {
            // SAFETY: `self.0` is live until drop; the category and the keys
            // (borrowed for 'k) outlive the call, which copies them; for
            // `user_data`, see `rows_awaited`.
            unsafe {
                persistency_get_many(
                    self.0,
                    data.category.as_ptr(),
                    keys.as_ptr(),
                    keys.len(),
                    callback,
                    user_data,
                )
            }
        });
    }

    /// A scan of up to `limit` rows from `start`, awaited: `slot` holds the
    /// rows.
    pub fn scan(&self, data: &Data, start: &[u8], limit: u32, slot: &mut RowsSlot) {
        rows_awaited(slot, "persistency_scan", |callback, user_data| {
            // SAFETY: `self.0` is live until drop; the category and `start`
            // outlive the call, which copies them (no end bound); for
            // `user_data`, see `rows_awaited`.
            unsafe {
                persistency_scan(
                    self.0,
                    data.category.as_ptr(),
                    start.as_ptr(),
                    start.len(),
                    std::ptr::null(),
                    0,
                    false,
                    limit,
                    callback,
                    user_data,
                )
            }
        });
    }

    pub fn stats(&self) -> persistency_stats {
        let mut s = persistency_stats::default();
        // SAFETY: `self.0` is live until drop; `s` is a writable out-pointer.
        let status = unsafe { persistency_job_stats(self.0, &mut s) };
        check(status, "persistency_job_stats");
        s
    }
}

impl Drop for Job {
    fn drop(&mut self) {
        // SAFETY: the handle is live, and nothing uses it after this
        // release of its one reference.
        unsafe { persistency_job_release(self.0) };
    }
}

/// One independent instance with one open job.
pub struct LibJob {
    // Declared first, so dropped first: the job is released before its
    // instance closes.
    job: Job,
    _instance: Instance,
}

impl LibJob {
    pub fn open(root: &Path, id: &str, options: Option<&persistency_job_options>) -> LibJob {
        let instance = Instance::new(root);
        LibJob {
            job: instance.open_job(id, options),
            _instance: instance,
        }
    }
}

impl Deref for LibJob {
    type Target = Job;

    fn deref(&self) -> &Job {
        &self.job
    }
}

/// One atomic batch of puts: `persistency_op`s that point into the rows
/// they were made from, borrowed for `'a`.
pub struct PutBatch<'a> {
    ops: Vec<persistency_op>,
    rows: PhantomData<&'a Data>,
}

impl<'a> PutBatch<'a> {
    /// Puts of `keys`, the payloads taken from payload `first` on.
    pub fn new(data: &'a Data, keys: &'a [Key], first: usize) -> PutBatch<'a> {
        let ops = keys
            .iter()
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
            .collect();
        PutBatch {
            ops,
            rows: PhantomData,
        }
    }
}
