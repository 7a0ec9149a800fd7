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

mod callbacks;

use std::ffi::{c_void, CStr, CString};
use std::marker::PhantomData;
use std::mem::MaybeUninit;
use std::ops::Deref;
use std::path::Path;

use ::persistency::ffi::*;
pub use ::persistency::ffi::{PERSISTENCY_SYNC_FULL, PERSISTENCY_SYNC_NORMAL};

use crate::data::{Data, Key};
use callbacks::{on_done, on_get, rows_awaited};
pub use callbacks::{GetSlot, RowsSlot, Waiter};

/// Panics with the library's message unless `status` is `PERSISTENCY_OK`.
fn check(status: Status, what: &str) {
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
pub fn options(synchronous: i32) -> CJobOptions {
    let mut o = MaybeUninit::<CJobOptions>::uninit();
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

/// An instance: closed and released on drop.
pub struct Instance(*mut PersistencyHandle);

/// A job: released on drop (it stays open until its instance closes).
pub struct Job(*mut JobHandle);

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
    pub fn open_job(&self, id: &str, options: Option<&CJobOptions>) -> Job {
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
        let (callback, user_data): (Callback, *mut c_void) = match waiter {
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
        let keys: Vec<CBytes> = keys
            .into_iter()
            .map(|k| CBytes {
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

    /// A blocking get (`persistency_get_sync`, on this thread when nothing
    /// is pending): copies the payload into `value`, tells whether found.
    pub fn get_sync(&self, data: &Data, key: &[u8], value: &mut Vec<u8>) -> bool {
        let mut reply: *const CResult = std::ptr::null();
        // SAFETY: `self.0` is live until drop; the category and key outlive
        // the call; `reply` is a writable local.
        let status = unsafe {
            persistency_get_sync(
                self.0,
                data.category.as_ptr(),
                key.as_ptr(),
                key.len(),
                &mut reply,
            )
        };
        check(status, "persistency_get_sync");
        // SAFETY: on PERSISTENCY_OK `reply` is an owned reply, valid until
        // the free below; its value points at `value_len` bytes.
        unsafe {
            let r = &*reply;
            value.clear();
            if r.found {
                value.extend_from_slice(std::slice::from_raw_parts(r.value, r.value_len));
            }
            let found = r.found;
            persistency_reply_free(reply);
            found
        }
    }

    /// A blocking scan page (`persistency_scan_sync`) of up to `limit` rows
    /// from `start`: returns the rows read and whether more follow, and
    /// leaves the page's last key in `last`.
    pub fn scan_sync(
        &self,
        data: &Data,
        start: &[u8],
        limit: u32,
        last: &mut Vec<u8>,
    ) -> (usize, bool) {
        let mut reply: *const CResult = std::ptr::null();
        // SAFETY: `self.0` is live until drop; the category and `start`
        // outlive the call (no end bound); `reply` is a writable local.
        let status = unsafe {
            persistency_scan_sync(
                self.0,
                data.category.as_ptr(),
                start.as_ptr(),
                start.len(),
                std::ptr::null(),
                0,
                false,
                limit,
                &mut reply,
            )
        };
        check(status, "persistency_scan_sync");
        // SAFETY: on PERSISTENCY_OK `reply` is an owned reply, valid until
        // the free below, with `row_count` rows at `rows`.
        unsafe {
            let r = &*reply;
            let n = r.row_count;
            if n > 0 {
                let row = &*r.rows.add(n - 1);
                last.clear();
                last.extend_from_slice(std::slice::from_raw_parts(row.key, row.key_len));
            }
            let more = r.has_more;
            persistency_reply_free(reply);
            (n, more)
        }
    }

    /// Reads `[start, stop)` through a cursor of pages of `page_rows`
    /// (`persistency_cursor_*`); returns the rows read.
    pub fn cursor_rows(&self, data: &Data, start: &[u8], stop: &[u8], page_rows: u32) -> usize {
        let mut cursor: *mut CursorHandle = std::ptr::null_mut();
        // SAFETY: `self.0` is live until drop; the category and the bounds
        // outlive the call, which copies them; `cursor` is a writable local.
        let status = unsafe {
            persistency_cursor_open(
                self.0,
                data.category.as_ptr(),
                start.as_ptr(),
                start.len(),
                stop.as_ptr(),
                stop.len(),
                false,
                page_rows,
                &mut cursor,
            )
        };
        check(status, "persistency_cursor_open");
        let mut rows = 0;
        loop {
            let mut reply: *const CResult = std::ptr::null();
            // SAFETY: `cursor` is open and used by this thread only.
            check(
                unsafe { persistency_cursor_next(cursor, &mut reply) },
                "persistency_cursor_next",
            );
            // SAFETY: on PERSISTENCY_OK `reply` is an owned reply, freed
            // once here.
            let n = unsafe {
                let n = (*reply).row_count;
                persistency_reply_free(reply);
                n
            };
            if n == 0 {
                break;
            }
            rows += n;
        }
        // SAFETY: `cursor` is open and not used after this.
        unsafe { persistency_cursor_close(cursor) };
        rows
    }

    pub fn stats(&self) -> CStats {
        let mut s = CStats::default();
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
    pub fn open(root: &Path, id: &str, options: Option<&CJobOptions>) -> LibJob {
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
    ops: Vec<COp>,
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
                COp {
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
