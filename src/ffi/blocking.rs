//! Blocking reads: each returns its answer to the caller instead of a
//! callback. `exists` and `count` write into a caller's variable; `get`,
//! `scan`, `scan_prefix` and `get_many` hand out an owned reply (a
//! `persistency_result` the caller frees with `persistency_reply_free`).

use std::ffi::c_char;

use super::args;
use super::boundary::{boundary, status};
use super::callback::{CBytes, CResult, CRow};
use super::handles::{borrow, JobHandle};
use super::status::{Status, PERSISTENCY_OK};
use crate::error::Result;
use crate::job::ScanOptions;
use crate::rows::Rows;

/// What a reply owns: the `CResult` the host sees first (a pointer to the
/// reply is a pointer to it), then the data it points at.
#[repr(C)]
struct OwnedReply {
    view: CResult,
    value: Option<Vec<u8>>,
    rows: Rows,
    row_views: Vec<CRow>,
}

fn empty_result() -> CResult {
    CResult {
        status: PERSISTENCY_OK,
        backend_code: 0,
        error: std::ptr::null(),
        found: false,
        value: std::ptr::null(),
        value_len: 0,
        count: 0,
        rows: std::ptr::null(),
        row_count: 0,
        has_more: false,
    }
}

/// A reply holding a `get` answer.
fn value_reply(value: Option<Vec<u8>>) -> Box<OwnedReply> {
    let mut reply = Box::new(OwnedReply {
        view: empty_result(),
        value,
        rows: Rows::new(),
        row_views: Vec::new(),
    });
    if let Some(v) = &reply.value {
        reply.view.found = true;
        reply.view.value = v.as_ptr();
        reply.view.value_len = v.len();
    }
    reply
}

/// A reply holding `rows`, handed to the host (freed by
/// `persistency_reply_free`).
pub(super) fn rows_reply_raw(rows: Rows) -> *const CResult {
    Box::into_raw(rows_reply(rows))
        .cast_const()
        .cast::<CResult>()
}

/// A reply holding rows (a scan page, a cursor page, a `get_many`).
fn rows_reply(rows: Rows) -> Box<OwnedReply> {
    let row_views: Vec<CRow> = rows
        .iter()
        .map(|row| CRow {
            key: row.key.as_ptr(),
            key_len: row.key.len(),
            payload: row.payload.as_ptr(),
            payload_len: row.payload.len(),
        })
        .collect();
    let mut view = empty_result();
    view.rows = if row_views.is_empty() {
        std::ptr::null()
    } else {
        row_views.as_ptr()
    };
    view.row_count = row_views.len();
    view.count = row_views.len() as u64;
    view.has_more = rows.has_more();
    // Moving the vectors into the box keeps their heap buffers (and so the
    // pointers above) where they are.
    Box::new(OwnedReply {
        view,
        value: None,
        rows,
        row_views,
    })
}

/// Runs a reply-returning read: clears `*out`, checks it and the job, and
/// stores the reply on success.
///
/// # Safety
/// `out` is NULL or writable; `job` is NULL or a live job handle.
unsafe fn with_reply(
    job: *mut JobHandle,
    out: *mut *const CResult,
    read: impl FnOnce(&crate::job::Job) -> Result<Box<OwnedReply>>,
) -> Status {
    status(|| {
        // SAFETY: `out` is as this function's `# Safety` requires.
        let out = unsafe { args::out_ptr(out, "reply") }?;
        *out = std::ptr::null();
        // SAFETY: as above, for `job`.
        let job = unsafe { borrow(job, "job") }?;
        let reply = read(job.job())?;
        *out = Box::into_raw(reply).cast_const().cast::<CResult>();
        Ok(())
    })
}

/// Looks up a key and waits for the answer. On `PERSISTENCY_OK`, `*reply`
/// is an owned reply: `found` tells whether the key is present, `value` /
/// `value_len` hold its payload. Sees every write accepted before the call,
/// from any thread.
///
/// Runs on the calling thread, against a read-only connection of the job,
/// when no accepted write is still uncommitted; otherwise it waits for the
/// job's worker. Any thread may call it, except a callback running on this
/// job's worker (`PERSISTENCY_ERR_INVALID_ARGUMENT`: it would deadlock).
///
/// Ownership: the reply and every pointer in it stay valid until
/// `persistency_reply_free(*reply)`, on any thread, independent of the job
/// (it may be closed or released meanwhile). On any other status `*reply`
/// is set to NULL (when `reply` is not NULL), nothing is to be freed and
/// `persistency_last_error` tells why: `PERSISTENCY_ERR_INVALID_ARGUMENT`
/// (a NULL argument, an over-long category, or a call from the job's own
/// callback), `PERSISTENCY_ERR_CLOSED` (the job is closed),
/// `PERSISTENCY_ERR_BACKEND` (the storage failed), `PERSISTENCY_ERR_INTERNAL`
/// (a bug).
///
/// # Safety
/// `job` is NULL or a live job handle; `category` is NULL or a
/// NUL-terminated string; `key` is NULL (with `key_len` 0) or points at
/// `key_len` readable bytes; `reply` is NULL or points at a writable
/// pointer.
#[no_mangle]
pub unsafe extern "C" fn persistency_get_sync(
    job: *mut JobHandle,
    category: *const c_char,
    key: *const u8,
    key_len: usize,
    reply: *mut *const CResult,
) -> Status {
    // SAFETY: the pointers are as this function's `# Safety` requires.
    unsafe {
        with_reply(job, reply, |job| {
            let (category, key) = (args::category(category)?, args::bytes(key, key_len, "key")?);
            job.get(category, key).map(value_reply)
        })
    }
}

/// Tells whether a key is present, into `*found`, and waits for the
/// answer. Runs where `persistency_get_sync` runs and sees what it sees;
/// the same statuses. Nothing is to be freed; on an error `*found` is
/// false (when `found` is not NULL).
///
/// # Safety
/// As for `persistency_get_sync`, with `found` NULL or pointing at a
/// writable `bool`.
#[no_mangle]
pub unsafe extern "C" fn persistency_exists_sync(
    job: *mut JobHandle,
    category: *const c_char,
    key: *const u8,
    key_len: usize,
    found: *mut bool,
) -> Status {
    status(|| {
        // SAFETY: the pointers are as this function's `# Safety` requires.
        let found = unsafe { args::out_ptr(found, "found") }?;
        *found = false;
        // SAFETY: as above.
        let (job, category, key) = unsafe {
            (
                borrow(job, "job")?,
                args::category(category)?,
                args::bytes(key, key_len, "key")?,
            )
        };
        *found = job.job().exists(category, key)?;
        Ok(())
    })
}

/// Counts the rows of `[start, stop)` (`stop_len == 0`: no upper bound)
/// into `*count`, and waits for the answer. Runs where
/// `persistency_get_sync` runs and sees what it sees; the same statuses.
/// Nothing is to be freed; on an error `*count` is 0 (when `count` is not
/// NULL).
///
/// # Safety
/// `job` is NULL or a live job handle; `category` is NULL or a
/// NUL-terminated string; `start` and `stop` are each NULL (with length 0)
/// or point at that many readable bytes; `count` is NULL or points at a
/// writable `uint64_t`.
#[no_mangle]
pub unsafe extern "C" fn persistency_count_sync(
    job: *mut JobHandle,
    category: *const c_char,
    start: *const u8,
    start_len: usize,
    stop: *const u8,
    stop_len: usize,
    count: *mut u64,
) -> Status {
    status(|| {
        // SAFETY: the pointers are as this function's `# Safety` requires.
        let count = unsafe { args::out_ptr(count, "count") }?;
        *count = 0;
        // SAFETY: as above.
        let (job, category, start, stop) = unsafe {
            (
                borrow(job, "job")?,
                args::category(category)?,
                args::bytes(start, start_len, "start")?,
                args::bytes(stop, stop_len, "stop")?,
            )
        };
        *count = job.job().count(category, start, stop)?;
        Ok(())
    })
}

/// Scans one page of `[start, stop)` (`stop_len == 0`: no upper bound),
/// ascending or, with `reverse`, descending; `limit` 0 means no limit. On
/// `PERSISTENCY_OK`, `*reply` is an owned reply: `rows` / `row_count` (also
/// in `count`) and `has_more` (rows remain after this page). To page on,
/// resume ascending from the last key with a `0x00` byte appended,
/// descending with the last key as `stop`. Each page is its own snapshot.
///
/// Runs, sees, is owned and fails as `persistency_get_sync`.
///
/// # Safety
/// As for `persistency_count_sync`, with `reply` NULL or pointing at a
/// writable pointer.
#[no_mangle]
pub unsafe extern "C" fn persistency_scan_sync(
    job: *mut JobHandle,
    category: *const c_char,
    start: *const u8,
    start_len: usize,
    stop: *const u8,
    stop_len: usize,
    reverse: bool,
    limit: u32,
    reply: *mut *const CResult,
) -> Status {
    let options = ScanOptions::new().reverse(reverse).limit(limit);
    // SAFETY: the pointers are as this function's `# Safety` requires.
    unsafe {
        with_reply(job, reply, |job| {
            let category = args::category(category)?;
            let start = args::bytes(start, start_len, "start")?;
            let stop = args::bytes(stop, stop_len, "stop")?;
            job.scan(category, start, stop, options).map(rows_reply)
        })
    }
}

/// Scans every key that starts with `prefix`, with `reverse` and `limit`
/// as `persistency_scan_sync`; the reply as there.
///
/// # Safety
/// As for `persistency_get_sync`, with `prefix` / `prefix_len` in place of
/// the key.
#[no_mangle]
pub unsafe extern "C" fn persistency_scan_prefix_sync(
    job: *mut JobHandle,
    category: *const c_char,
    prefix: *const u8,
    prefix_len: usize,
    reverse: bool,
    limit: u32,
    reply: *mut *const CResult,
) -> Status {
    let options = ScanOptions::new().reverse(reverse).limit(limit);
    // SAFETY: the pointers are as this function's `# Safety` requires.
    unsafe {
        with_reply(job, reply, |job| {
            let category = args::category(category)?;
            let prefix = args::bytes(prefix, prefix_len, "prefix")?;
            job.scan_prefix(category, prefix, options).map(rows_reply)
        })
    }
}

/// Looks up `n_keys` keys in one snapshot and waits for the answer. On
/// `PERSISTENCY_OK`, `*reply` is an owned reply whose `rows` hold one row
/// per key that exists, in the order the keys were given (missing keys are
/// left out); `count` is the number found.
///
/// Runs, sees, is owned and fails as `persistency_get_sync`.
///
/// # Safety
/// `job` is NULL or a live job handle; `category` is NULL or a
/// NUL-terminated string; `keys` is NULL (with `n_keys` 0) or points at
/// `n_keys` `persistency_bytes`, each NULL with length 0 or pointing at
/// `len` readable bytes; `reply` is NULL or points at a writable pointer.
#[no_mangle]
pub unsafe extern "C" fn persistency_get_many_sync(
    job: *mut JobHandle,
    category: *const c_char,
    keys: *const CBytes,
    n_keys: usize,
    reply: *mut *const CResult,
) -> Status {
    // SAFETY: the pointers are as this function's `# Safety` requires.
    unsafe {
        with_reply(job, reply, |job| {
            let category = args::category(category)?;
            let keys = args::array(keys, n_keys, "keys")?
                .iter()
                .map(|k| args::bytes(k.data, k.len, "key").map(<[u8]>::to_vec))
                .collect::<Result<Vec<_>>>()?;
            job.get_many(category, keys).map(rows_reply)
        })
    }
}

/// Frees a reply of `persistency_get_sync`, `persistency_scan_sync`,
/// `persistency_scan_prefix_sync` or `persistency_get_many_sync`, and with
/// it everything its pointers point at. NULL is ignored. Any thread may
/// free a reply, once.
///
/// # Safety
/// `reply` is NULL or a reply one of those functions stored, not yet freed.
/// A result a callback received is not a reply: never free it.
#[no_mangle]
pub unsafe extern "C" fn persistency_reply_free(reply: *const CResult) {
    boundary(|| {
        if !reply.is_null() {
            // SAFETY: per this function's contract, `reply` came from
            // `Box::into_raw` on an `OwnedReply` (whose first field, at
            // offset 0 of a `repr(C)` struct, is the `CResult`) and is freed
            // once.
            drop(unsafe { Box::from_raw(reply.cast::<OwnedReply>().cast_mut()) });
        }
    })
}
