//! Writes: fire-and-forget ops, atomic batches, flush.

use std::ffi::{c_char, c_void};

use super::args;
use super::boundary::status;
use super::callback::{reporter, Callback};
use super::handles::{borrow, JobHandle};
use super::status::Status;
use crate::error::{Error, Result};
use crate::ops::Op;

/// `persistency_op.kind`: insert or replace.
pub const PERSISTENCY_OP_PUT: i32 = 0;
/// `persistency_op.kind`: delete one key.
pub const PERSISTENCY_OP_DELETE: i32 = 1;
/// `persistency_op.kind`: delete every key that starts with `key`.
pub const PERSISTENCY_OP_DELETE_PREFIX: i32 = 2;
/// `persistency_op.kind`: delete every key with `start <= key < stop`,
/// where `start` is `key`/`key_len` and `stop` is `payload`/`payload_len`
/// (`payload_len` 0: no upper bound). A start after a non-empty stop fails
/// the call with `PERSISTENCY_ERR_INVALID_ARGUMENT`.
pub const PERSISTENCY_OP_DELETE_RANGE: i32 = 3;

/// One operation of a batch (C `persistency_op`).
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct COp {
    /// `PERSISTENCY_OP_PUT`, `_DELETE`, `_DELETE_PREFIX` or `_DELETE_RANGE`.
    pub kind: i32,
    /// The category (NUL-terminated, at most 65535 bytes).
    pub category: *const c_char,
    /// The key; the prefix for `DELETE_PREFIX`; the range's start
    /// (inclusive) for `DELETE_RANGE`.
    pub key: *const u8,
    /// Length of `key`.
    pub key_len: usize,
    /// The payload for `PUT`; the range's stop (exclusive, empty: no
    /// upper bound) for `DELETE_RANGE`; unused otherwise.
    pub payload: *const u8,
    /// Length of `payload`.
    pub payload_len: usize,
}

/// Copies one C op.
///
/// # Safety
/// `op`'s pointers are as `persistency_write` requires.
unsafe fn op_from_c(op: &COp) -> Result<Op> {
    // SAFETY: this function's contract.
    let (category, key) = unsafe {
        (
            args::category(op.category)?,
            args::bytes(op.key, op.key_len, "key")?,
        )
    };
    Ok(match op.kind {
        PERSISTENCY_OP_PUT => {
            // SAFETY: this function's contract.
            let payload = unsafe { args::bytes(op.payload, op.payload_len, "payload") }?;
            Op::put(category, key, payload)
        }
        PERSISTENCY_OP_DELETE => Op::delete(category, key),
        PERSISTENCY_OP_DELETE_PREFIX => Op::delete_prefix(category, key),
        PERSISTENCY_OP_DELETE_RANGE => {
            // SAFETY: this function's contract.
            let stop = unsafe { args::bytes(op.payload, op.payload_len, "stop (payload)") }?;
            Op::delete_range(category, key, stop)
        }
        kind => return Err(Error::invalid(format!("unknown op kind {kind}"))),
    })
}

/// Runs a fire-and-forget call on one category: checks the job, the
/// category and each byte buffer `(pointer, length, name)` in that order,
/// then hands them to `call`.
///
/// # Safety
/// `job` is NULL or a live job handle; `category` is NULL or a
/// NUL-terminated string; each buffer is NULL with length 0 or points at
/// that many readable bytes.
pub(super) unsafe fn queue_call<const N: usize>(
    job: *mut JobHandle,
    category: *const c_char,
    buffers: [(*const u8, usize, &str); N],
    call: impl FnOnce(&crate::Job, &[u8], [&[u8]; N]) -> Result<()>,
) -> Status {
    status(|| {
        // SAFETY: the pointers are as this function's `# Safety` requires.
        let (job, category) = unsafe { (borrow(job, "job")?, args::category(category)?) };
        let mut bytes: [&[u8]; N] = [&[]; N];
        for (slot, (ptr, len, what)) in bytes.iter_mut().zip(buffers) {
            // SAFETY: as above, for each buffer.
            *slot = unsafe { args::bytes(ptr, len, what) }?;
        }
        call(job.job(), category, bytes)
    })
}

/// Queues an insert-or-replace and returns (fire-and-forget). A failure in
/// the worker is counted in the stats (`ops_failed`) and logged.
///
/// # Safety
/// `job` is NULL or a live job handle; `category` is NULL or a
/// NUL-terminated string; `key` and `payload` are each NULL (with length 0)
/// or point at that many readable bytes.
#[no_mangle]
pub unsafe extern "C" fn persistency_put(
    job: *mut JobHandle,
    category: *const c_char,
    key: *const u8,
    key_len: usize,
    payload: *const u8,
    payload_len: usize,
) -> Status {
    // SAFETY: the pointers are as this function's `# Safety` requires.
    unsafe {
        queue_call(
            job,
            category,
            [(key, key_len, "key"), (payload, payload_len, "payload")],
            |job, category, [key, payload]| job.put(category, key, payload),
        )
    }
}

/// Queues a delete of one key (fire-and-forget).
///
/// # Safety
/// `job` is NULL or a live job handle; `category` is NULL or a
/// NUL-terminated string; `key` is NULL (with `key_len` 0) or points at
/// `key_len` readable bytes.
#[no_mangle]
pub unsafe extern "C" fn persistency_delete(
    job: *mut JobHandle,
    category: *const c_char,
    key: *const u8,
    key_len: usize,
) -> Status {
    // SAFETY: the pointers are as this function's `# Safety` requires.
    unsafe {
        queue_call(
            job,
            category,
            [(key, key_len, "key")],
            |job, category, [key]| job.delete(category, key),
        )
    }
}

/// Queues a delete of every key that starts with `prefix` (fire-and-forget;
/// an empty prefix deletes the whole category).
///
/// # Safety
/// As for `persistency_delete`, with `prefix` for `key`.
#[no_mangle]
pub unsafe extern "C" fn persistency_delete_prefix(
    job: *mut JobHandle,
    category: *const c_char,
    prefix: *const u8,
    prefix_len: usize,
) -> Status {
    // SAFETY: the pointers are as this function's `# Safety` requires.
    unsafe {
        queue_call(
            job,
            category,
            [(prefix, prefix_len, "prefix")],
            |job, category, [prefix]| job.delete_prefix(category, prefix),
        )
    }
}

/// Applies `n_ops` ops as one atomic transaction: all or none. Every op is
/// validated and copied before this returns; any invalid op fails the whole
/// call with `PERSISTENCY_ERR_INVALID_ARGUMENT` and nothing is queued. The
/// callback (NULL: fire-and-forget) runs on the worker thread after the
/// transaction committed, as durable as `synchronous` makes it, or failed
/// (`PERSISTENCY_ERR_FULL` past the quota), with the status.
///
/// # Safety
/// `job` is NULL or a live job handle; `ops` is NULL (with `n_ops` 0) or
/// points at `n_ops` ops whose `category` is NULL or NUL-terminated and
/// whose `key` and `payload` are NULL with length 0 or point at that many
/// readable bytes. `user_data` is only passed back.
#[no_mangle]
pub unsafe extern "C" fn persistency_write(
    job: *mut JobHandle,
    ops: *const COp,
    n_ops: usize,
    callback: Callback,
    user_data: *mut c_void,
) -> Status {
    status(|| {
        // SAFETY: the pointers are as this function's `# Safety` requires.
        let (job, ops) = unsafe {
            let job = borrow(job, "job")?;
            let ops = args::array(ops, n_ops, "ops")?
                .iter()
                .enumerate()
                .map(|(i, op)| op_from_c(op).map_err(|e| e.context(format!("op {i}"))))
                .collect::<Result<Vec<_>>>()?;
            (job, ops)
        };
        match callback {
            Some(callback) => job.job().write_then(ops, reporter(callback, user_data)),
            None => job.job().submit_batch(ops),
        }
    })
}

/// The callback runs once every operation accepted before this call is
/// committed. Its status is OK even if some fire-and-forget writes failed
/// (those show in the stats and the log). The callback is required.
///
/// # Safety
/// `job` is NULL or a live job handle. `user_data` is only passed back.
#[no_mangle]
pub unsafe extern "C" fn persistency_flush(
    job: *mut JobHandle,
    callback: Callback,
    user_data: *mut c_void,
) -> Status {
    status(|| {
        // SAFETY: the pointer is as this function's `# Safety` requires.
        let job = unsafe { borrow(job, "job") }?;
        let callback = args::required(callback)?;
        job.job().flush_then(reporter(callback, user_data))
    })
}
