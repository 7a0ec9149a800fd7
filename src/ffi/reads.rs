//! Results, callbacks and the read operations.

use std::ffi::{c_char, c_void, CString};

use super::args;
use super::boundary::status;
use super::job::persistency_job;
use super::status::{persistency_status, PERSISTENCY_OK};
use crate::error::{ErrorKind, Result};
use crate::job::{check_category, prefix_range, range_of};
use crate::worker::{Completion, Read, Reply, Request};

/// One row of a scan or multi-get; pointers valid only during the callback.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct persistency_row {
    /// The key bytes.
    pub key: *const u8,
    /// Length of `key`.
    pub key_len: usize,
    /// The payload bytes.
    pub payload: *const u8,
    /// Length of `payload`.
    pub payload_len: usize,
}

/// What an asynchronous call reports to its callback. Every pointer in it is
/// valid only during the callback: copy what you keep.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct persistency_result {
    /// `PERSISTENCY_OK` or an error code.
    pub status: i32,
    /// SQLite extended result code when status is `PERSISTENCY_ERR_BACKEND`, else 0.
    pub backend_code: i32,
    /// Message when status != `PERSISTENCY_OK`, else NULL.
    pub error: *const c_char,
    /// get / exists: key present; delete_acked: a row was removed.
    pub found: bool,
    /// get: the payload (NULL when not found).
    pub value: *const u8,
    /// get: length of `value`.
    pub value_len: usize,
    /// count: the count; get_many: rows found.
    pub count: u64,
    /// scan / get_many: the rows.
    pub rows: *const persistency_row,
    /// Number of `rows`.
    pub row_count: usize,
    /// scan: rows remain in the range beyond those returned.
    pub has_more: bool,
}

/// The callback of an asynchronous call: invoked exactly once, on the job's
/// worker thread, for every call that returned `PERSISTENCY_OK`; never for a
/// call that returned an error. `user_data` is passed back untouched.
pub type persistency_callback =
    Option<unsafe extern "C" fn(result: *const persistency_result, user_data: *mut c_void)>;

/// A host's `user_data`, carried to the worker thread and never dereferenced.
struct UserData(*mut c_void);

// SAFETY: the library only passes the pointer back to the host's callback,
// which the header documents as running on the worker thread.
unsafe impl Send for UserData {}

type HostCallback = unsafe extern "C" fn(*const persistency_result, *mut c_void);

/// A completion that reports a reply to a C callback.
pub(crate) fn completion(callback: HostCallback, user_data: *mut c_void) -> Completion {
    let user_data = UserData(user_data);
    Completion::new(move |result| {
        let user_data = user_data;
        deliver(callback, user_data.0, result)
    })
}

fn deliver(callback: HostCallback, user_data: *mut c_void, result: Result<Reply>) {
    let mut r = persistency_result {
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
    };
    // These own what `r` points at until the callback returns.
    let message: CString;
    let value: Option<Vec<u8>>;
    let rows: crate::Rows;
    let views: Vec<persistency_row>;
    match result {
        Err(e) => {
            r.status = e.code();
            if e.kind() == ErrorKind::Backend {
                r.backend_code = e.backend_code();
            }
            message = CString::new(e.to_string().replace('\0', " ")).unwrap_or_default();
            r.error = message.as_ptr();
        }
        Ok(Reply::Done) => {}
        Ok(Reply::Found(found)) => r.found = found,
        Ok(Reply::Count(n)) => r.count = n,
        Ok(Reply::Value(v)) => {
            value = v;
            if let Some(v) = &value {
                r.found = true;
                r.value = v.as_ptr();
                r.value_len = v.len();
            }
        }
        Ok(Reply::Rows(page)) => {
            rows = page;
            views = rows
                .iter()
                .map(|row| persistency_row {
                    key: row.key.as_ptr(),
                    key_len: row.key.len(),
                    payload: row.payload.as_ptr(),
                    payload_len: row.payload.len(),
                })
                .collect();
            r.rows = views.as_ptr();
            r.row_count = views.len();
            r.count = views.len() as u64;
            r.has_more = rows.has_more();
        }
    }
    // SAFETY: the host's callback, called as its typedef says, with a result
    // whose pointers live until it returns.
    unsafe { callback(&r, user_data) }
}

/// Submits a read whose reply goes to a required C callback.
fn read(
    job: *mut persistency_job,
    callback: persistency_callback,
    user_data: *mut c_void,
    make: impl FnOnce() -> Result<Read>,
) -> persistency_status {
    status(|| {
        let job = args::job(job)?;
        let callback = args::required(callback)?;
        let read = make()?;
        job.submit(Request::Read {
            read,
            done: completion(callback, user_data),
        })
    })
}

fn key_read(category: *const c_char, key: *const u8, key_len: usize) -> Result<(Vec<u8>, Vec<u8>)> {
    let category = args::category(category)?;
    let key = args::bytes(key, key_len, "key")?;
    Ok((category.to_vec(), key.to_vec()))
}

/// Looks up a key. The callback gets `found` and, when found, `value` /
/// `value_len`. Sees every write accepted before it.
#[no_mangle]
pub extern "C" fn persistency_get(
    job: *mut persistency_job,
    category: *const c_char,
    key: *const u8,
    key_len: usize,
    callback: persistency_callback,
    user_data: *mut c_void,
) -> persistency_status {
    read(job, callback, user_data, || {
        let (category, key) = key_read(category, key, key_len)?;
        Ok(Read::Get { category, key })
    })
}

/// Tells whether a key is present (`found`).
#[no_mangle]
pub extern "C" fn persistency_exists(
    job: *mut persistency_job,
    category: *const c_char,
    key: *const u8,
    key_len: usize,
    callback: persistency_callback,
    user_data: *mut c_void,
) -> persistency_status {
    read(job, callback, user_data, || {
        let (category, key) = key_read(category, key, key_len)?;
        Ok(Read::Exists { category, key })
    })
}

/// Scans the half-open range `[start, stop)` (`stop_len == 0`: no upper
/// bound) in ascending key order, or descending with `reverse`. `limit` 0
/// means no limit; otherwise at most `limit` rows and `has_more` tells
/// whether rows remain after them. To page on, resume ascending from the
/// last key with a `0x00` byte appended, descending with the last key as
/// `stop`.
#[no_mangle]
pub extern "C" fn persistency_scan(
    job: *mut persistency_job,
    category: *const c_char,
    start: *const u8,
    start_len: usize,
    stop: *const u8,
    stop_len: usize,
    reverse: bool,
    limit: u32,
    callback: persistency_callback,
    user_data: *mut c_void,
) -> persistency_status {
    read(job, callback, user_data, || {
        let category = args::category(category)?;
        let start = args::bytes(start, start_len, "start")?;
        let stop = args::bytes(stop, stop_len, "stop")?;
        Ok(Read::Scan {
            range: range_of(category, start, stop),
            reverse,
            limit,
        })
    })
}

/// Scans every key that starts with `prefix` (upstream `prefixRange`), with
/// `reverse` and `limit` as `persistency_scan`.
#[no_mangle]
pub extern "C" fn persistency_scan_prefix(
    job: *mut persistency_job,
    category: *const c_char,
    prefix: *const u8,
    prefix_len: usize,
    reverse: bool,
    limit: u32,
    callback: persistency_callback,
    user_data: *mut c_void,
) -> persistency_status {
    read(job, callback, user_data, || {
        let category = args::category(category)?;
        let prefix = args::bytes(prefix, prefix_len, "prefix")?;
        Ok(Read::Scan {
            range: prefix_range(category, prefix),
            reverse,
            limit,
        })
    })
}

/// Counts the rows of `[start, stop)` (`stop_len == 0`: no upper bound)
/// into `count`.
#[no_mangle]
pub extern "C" fn persistency_count(
    job: *mut persistency_job,
    category: *const c_char,
    start: *const u8,
    start_len: usize,
    stop: *const u8,
    stop_len: usize,
    callback: persistency_callback,
    user_data: *mut c_void,
) -> persistency_status {
    read(job, callback, user_data, || {
        let category = args::category(category)?;
        let start = args::bytes(start, start_len, "start")?;
        let stop = args::bytes(stop, stop_len, "stop")?;
        Ok(Read::Count {
            range: range_of(category, start, stop),
        })
    })
}

/// A byte buffer: pointer and length.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct persistency_bytes {
    /// The bytes (NULL only with `len` 0).
    pub data: *const u8,
    /// Length of `data`.
    pub len: usize,
}

/// Looks up `n_keys` keys in one request and one read transaction: `rows`
/// holds one row per key that exists, in the order the keys were given
/// (missing keys are left out); `count` is the number found.
#[no_mangle]
pub extern "C" fn persistency_get_many(
    job: *mut persistency_job,
    category: *const c_char,
    keys: *const persistency_bytes,
    n_keys: usize,
    callback: persistency_callback,
    user_data: *mut c_void,
) -> persistency_status {
    read(job, callback, user_data, || {
        let category = args::category(category)?;
        let keys = args::array(keys, n_keys, "keys")?
            .iter()
            .map(|k| args::bytes(k.data, k.len, "key").map(<[u8]>::to_vec))
            .collect::<Result<Vec<_>>>()?;
        Ok(Read::GetMany {
            category: category.to_vec(),
            keys,
        })
    })
}

/// Deletes one row; after the commit the callback's `found` tells whether a
/// row was removed.
#[no_mangle]
pub extern "C" fn persistency_delete_acked(
    job: *mut persistency_job,
    category: *const c_char,
    key: *const u8,
    key_len: usize,
    callback: persistency_callback,
    user_data: *mut c_void,
) -> persistency_status {
    status(|| {
        let job = args::job(job)?;
        let callback = args::required(callback)?;
        let (category, key) = key_read(category, key, key_len)?;
        check_category(&category)?;
        job.submit(Request::DeleteAcked {
            category,
            key,
            done: completion(callback, user_data),
        })
    })
}
