//! Writes: fire-and-forget ops, atomic batches, flush.

use std::ffi::{c_char, c_void};

use super::args;
use super::boundary::status;
use super::job::persistency_job;
use super::reads::{completion, persistency_callback};
use super::status::persistency_status;
use crate::error::{Error, Result};
use crate::ops::Op;
use crate::worker::Request;

/// `persistency_op.kind`: insert or replace.
pub const PERSISTENCY_OP_PUT: i32 = 0;
/// `persistency_op.kind`: delete one key.
pub const PERSISTENCY_OP_DELETE: i32 = 1;
/// `persistency_op.kind`: delete every key that starts with `key`.
pub const PERSISTENCY_OP_DELETE_PREFIX: i32 = 2;

/// One operation of a batch.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct persistency_op {
    /// `PERSISTENCY_OP_PUT`, `_DELETE` or `_DELETE_PREFIX`.
    pub kind: i32,
    /// The category (NUL-terminated, at most 65535 bytes).
    pub category: *const c_char,
    /// The key; the prefix for `DELETE_PREFIX`.
    pub key: *const u8,
    /// Length of `key`.
    pub key_len: usize,
    /// The payload (`PUT` only).
    pub payload: *const u8,
    /// Length of `payload`.
    pub payload_len: usize,
}

fn op_from_c(op: &persistency_op) -> Result<Op> {
    let category = args::category(op.category)?.to_vec();
    let key = args::bytes(op.key, op.key_len, "key")?.to_vec();
    Ok(match op.kind {
        PERSISTENCY_OP_PUT => Op::Put {
            category,
            key,
            payload: args::bytes(op.payload, op.payload_len, "payload")?.to_vec(),
        },
        PERSISTENCY_OP_DELETE => Op::Delete { category, key },
        PERSISTENCY_OP_DELETE_PREFIX => Op::DeletePrefix {
            category,
            prefix: key,
        },
        kind => return Err(Error::invalid(format!("unknown op kind {kind}"))),
    })
}

fn submit_op(job: *mut persistency_job, make: impl FnOnce() -> Result<Op>) -> persistency_status {
    status(|| {
        let job = args::job(job)?;
        job.submit(Request::Op(make()?))
    })
}

/// Queues an insert-or-replace and returns (fire-and-forget). A failure in
/// the worker is counted in the stats (`ops_failed`) and logged.
#[no_mangle]
pub extern "C" fn persistency_put(
    job: *mut persistency_job,
    category: *const c_char,
    key: *const u8,
    key_len: usize,
    payload: *const u8,
    payload_len: usize,
) -> persistency_status {
    submit_op(job, || {
        Ok(Op::Put {
            category: args::category(category)?.to_vec(),
            key: args::bytes(key, key_len, "key")?.to_vec(),
            payload: args::bytes(payload, payload_len, "payload")?.to_vec(),
        })
    })
}

/// Queues a delete of one key (fire-and-forget).
#[no_mangle]
pub extern "C" fn persistency_delete(
    job: *mut persistency_job,
    category: *const c_char,
    key: *const u8,
    key_len: usize,
) -> persistency_status {
    submit_op(job, || {
        Ok(Op::Delete {
            category: args::category(category)?.to_vec(),
            key: args::bytes(key, key_len, "key")?.to_vec(),
        })
    })
}

/// Queues a delete of every key that starts with `prefix` (fire-and-forget;
/// an empty prefix deletes the whole category).
#[no_mangle]
pub extern "C" fn persistency_delete_prefix(
    job: *mut persistency_job,
    category: *const c_char,
    prefix: *const u8,
    prefix_len: usize,
) -> persistency_status {
    submit_op(job, || {
        Ok(Op::DeletePrefix {
            category: args::category(category)?.to_vec(),
            prefix: args::bytes(prefix, prefix_len, "prefix")?.to_vec(),
        })
    })
}

/// Applies `n_ops` ops as one atomic transaction: all or none. Every op is
/// validated and copied before this returns; any invalid op fails the whole
/// call with `PERSISTENCY_ERR_INVALID_ARGUMENT` and nothing is queued. The
/// callback (NULL: fire-and-forget) runs on the worker thread after the
/// transaction committed, as durable as `synchronous` makes it, or failed
/// (`PERSISTENCY_ERR_FULL` past the quota), with the status.
#[no_mangle]
pub extern "C" fn persistency_write(
    job: *mut persistency_job,
    ops: *const persistency_op,
    n_ops: usize,
    callback: persistency_callback,
    user_data: *mut c_void,
) -> persistency_status {
    status(|| {
        let job = args::job(job)?;
        let ops = args::array(ops, n_ops, "ops")?
            .iter()
            .enumerate()
            .map(|(i, op)| op_from_c(op).map_err(|e| e.context(format!("op {i}"))))
            .collect::<Result<Vec<_>>>()?;
        job.submit(Request::Batch {
            ops,
            done: callback.map(|cb| completion(cb, user_data)),
        })
    })
}

/// The callback runs once every operation accepted before this call is
/// committed. Its status is OK even if some fire-and-forget writes failed
/// (those show in the stats and the log). The callback is required.
#[no_mangle]
pub extern "C" fn persistency_flush(
    job: *mut persistency_job,
    callback: persistency_callback,
    user_data: *mut c_void,
) -> persistency_status {
    status(|| {
        let job = args::job(job)?;
        let callback = args::required(callback)?;
        job.submit(Request::Flush(completion(callback, user_data)))
    })
}
