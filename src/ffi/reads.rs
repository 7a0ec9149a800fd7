//! Reads (and the acknowledged delete): each answers through a required C
//! callback on the job's worker thread.

use std::ffi::{c_char, c_void};

use super::args;
use super::boundary::status;
use super::callback::{reporter, CBytes, Callback, Reporter};
use super::handles::{borrow, JobHandle};
use super::status::Status;
use crate::error::Result;
use crate::job::{Job, ScanOptions};

/// Runs a call on one key: checks the job, the callback, the category and
/// the key (in that order), then hands them to `call` with the host's
/// callback as the core's `_then` callback.
///
/// # Safety
/// The pointers are as `persistency_get` requires.
unsafe fn on_key(
    job: *mut JobHandle,
    category: *const c_char,
    key: *const u8,
    key_len: usize,
    callback: Callback,
    user_data: *mut c_void,
    call: impl FnOnce(&Job, &[u8], &[u8], Reporter) -> Result<()>,
) -> Status {
    status(|| {
        // SAFETY: the pointers are as this function's `# Safety` requires.
        let job = unsafe { borrow(job, "job") }?;
        let callback = args::required(callback)?;
        // SAFETY: as above.
        let (category, key) =
            unsafe { (args::category(category)?, args::bytes(key, key_len, "key")?) };
        call(job.job(), category, key, Reporter::new(callback, user_data))
    })
}

/// Runs a call on the range `[start, stop)`, checked as [`on_key`] checks.
///
/// # Safety
/// The pointers are as `persistency_scan` requires.
#[allow(clippy::too_many_arguments)] // the C call's arguments, passed on as they are
unsafe fn on_range(
    job: *mut JobHandle,
    category: *const c_char,
    (start, start_len): (*const u8, usize),
    (stop, stop_len): (*const u8, usize),
    callback: Callback,
    user_data: *mut c_void,
    call: impl FnOnce(&Job, &[u8], &[u8], &[u8], Reporter) -> Result<()>,
) -> Status {
    status(|| {
        // SAFETY: the pointers are as this function's `# Safety` requires.
        let job = unsafe { borrow(job, "job") }?;
        let callback = args::required(callback)?;
        // SAFETY: as above.
        let (category, start, stop) = unsafe {
            (
                args::category(category)?,
                args::bytes(start, start_len, "start")?,
                args::bytes(stop, stop_len, "stop")?,
            )
        };
        call(
            job.job(),
            category,
            start,
            stop,
            Reporter::new(callback, user_data),
        )
    })
}

/// Looks up a key. The callback gets `found` and, when found, `value` /
/// `value_len`. Sees every write accepted before it.
///
/// # Safety
/// `job` is NULL or a live job handle; `category` is NULL or a
/// NUL-terminated string; `key` is NULL (with `key_len` 0) or points at
/// `key_len` readable bytes. `user_data` is only passed back.
#[no_mangle]
pub unsafe extern "C" fn persistency_get(
    job: *mut JobHandle,
    category: *const c_char,
    key: *const u8,
    key_len: usize,
    callback: Callback,
    user_data: *mut c_void,
) -> Status {
    // SAFETY: the pointers are as this function's `# Safety` requires.
    unsafe {
        on_key(
            job,
            category,
            key,
            key_len,
            callback,
            user_data,
            |job, category, key, then| job.get_then(category, key, then.into_then()),
        )
    }
}

/// Tells whether a key is present (`found`).
///
/// # Safety
/// As for `persistency_get`.
#[no_mangle]
pub unsafe extern "C" fn persistency_exists(
    job: *mut JobHandle,
    category: *const c_char,
    key: *const u8,
    key_len: usize,
    callback: Callback,
    user_data: *mut c_void,
) -> Status {
    // SAFETY: the pointers are as this function's `# Safety` requires.
    unsafe {
        on_key(
            job,
            category,
            key,
            key_len,
            callback,
            user_data,
            |job, category, key, then| job.exists_then(category, key, then.into_then()),
        )
    }
}

/// Scans the half-open range `[start, stop)` (`stop_len == 0`: no upper
/// bound) in ascending key order, or descending with `reverse`. `limit` 0
/// means no limit; otherwise at most `limit` rows and `has_more` tells
/// whether rows remain after them. To page on, resume ascending from the
/// last key with a `0x00` byte appended, descending with the last key as
/// `stop`. From the second page on, the worker reads the next page ahead
/// while nothing else waits; a page read ahead answers only the scan for
/// that very page and only if the job took no other request in between,
/// so every page still sees every write accepted before its call.
///
/// # Safety
/// `job` is NULL or a live job handle; `category` is NULL or a
/// NUL-terminated string; `start` and `stop` are each NULL (with length 0)
/// or point at that many readable bytes.
#[no_mangle]
pub unsafe extern "C" fn persistency_scan(
    job: *mut JobHandle,
    category: *const c_char,
    start: *const u8,
    start_len: usize,
    stop: *const u8,
    stop_len: usize,
    reverse: bool,
    limit: u32,
    callback: Callback,
    user_data: *mut c_void,
) -> Status {
    let options = ScanOptions::new().reverse(reverse).limit(limit);
    // SAFETY: the pointers are as this function's `# Safety` requires.
    unsafe {
        on_range(
            job,
            category,
            (start, start_len),
            (stop, stop_len),
            callback,
            user_data,
            |job, category, start, stop, then| {
                job.scan_then(category, start, stop, options, then.into_then())
            },
        )
    }
}

/// Scans every key that starts with `prefix` (upstream `prefixRange`), with
/// `reverse` and `limit` as `persistency_scan`.
///
/// # Safety
/// `job` is NULL or a live job handle; `category` is NULL or a
/// NUL-terminated string; `prefix` is NULL (with length 0) or points at
/// `prefix_len` readable bytes.
#[no_mangle]
pub unsafe extern "C" fn persistency_scan_prefix(
    job: *mut JobHandle,
    category: *const c_char,
    prefix: *const u8,
    prefix_len: usize,
    reverse: bool,
    limit: u32,
    callback: Callback,
    user_data: *mut c_void,
) -> Status {
    let options = ScanOptions::new().reverse(reverse).limit(limit);
    // SAFETY: the pointers are as this function's `# Safety` requires.
    unsafe {
        on_key(
            job,
            category,
            prefix,
            prefix_len,
            callback,
            user_data,
            |job, category, prefix, then| {
                job.scan_prefix_then(category, prefix, options, then.into_then())
            },
        )
    }
}

/// Counts the rows of `[start, stop)` (`stop_len == 0`: no upper bound)
/// into `count`.
///
/// # Safety
/// As for `persistency_scan`.
#[no_mangle]
pub unsafe extern "C" fn persistency_count(
    job: *mut JobHandle,
    category: *const c_char,
    start: *const u8,
    start_len: usize,
    stop: *const u8,
    stop_len: usize,
    callback: Callback,
    user_data: *mut c_void,
) -> Status {
    // SAFETY: the pointers are as this function's `# Safety` requires.
    unsafe {
        on_range(
            job,
            category,
            (start, start_len),
            (stop, stop_len),
            callback,
            user_data,
            |job, category, start, stop, then| {
                job.count_then(category, start, stop, then.into_then())
            },
        )
    }
}

/// Looks up `n_keys` keys in one request and one read transaction: `rows`
/// holds one row per key that exists, in the order the keys were given
/// (missing keys are left out); `count` is the number found.
///
/// # Safety
/// `job` is NULL or a live job handle; `category` is NULL or a
/// NUL-terminated string; `keys` is NULL (with `n_keys` 0) or points at
/// `n_keys` `persistency_bytes`, each NULL with length 0 or pointing at
/// `len` readable bytes.
#[no_mangle]
pub unsafe extern "C" fn persistency_get_many(
    job: *mut JobHandle,
    category: *const c_char,
    keys: *const CBytes,
    n_keys: usize,
    callback: Callback,
    user_data: *mut c_void,
) -> Status {
    status(|| {
        // SAFETY: the pointers are as this function's `# Safety` requires.
        let job = unsafe { borrow(job, "job") }?;
        let callback = args::required(callback)?;
        // SAFETY: as above.
        let (category, keys) = unsafe {
            let category = args::category(category)?;
            let keys = args::array(keys, n_keys, "keys")?
                .iter()
                .map(|k| args::bytes(k.data, k.len, "key").map(<[u8]>::to_vec))
                .collect::<Result<Vec<_>>>()?;
            (category, keys)
        };
        job.job()
            .get_many_then(category, keys, reporter(callback, user_data))
    })
}

/// Deletes one row; after the commit the callback's `found` tells whether a
/// row was removed.
///
/// # Safety
/// As for `persistency_get`.
#[no_mangle]
pub unsafe extern "C" fn persistency_delete_acked(
    job: *mut JobHandle,
    category: *const c_char,
    key: *const u8,
    key_len: usize,
    callback: Callback,
    user_data: *mut c_void,
) -> Status {
    // SAFETY: the pointers are as this function's `# Safety` requires.
    unsafe {
        on_key(
            job,
            category,
            key,
            key_len,
            callback,
            user_data,
            |job, category, key, then| job.delete_acked_then(category, key, then.into_then()),
        )
    }
}
