//! Maintenance: range deletes, online backup, compaction, the integrity
//! check and the Prometheus metrics text.

use std::ffi::{c_char, c_void, CString};
use std::path::PathBuf;

use super::args;
use super::boundary::{boundary, set_last_error, status};
use super::callback::{reporter, Callback};
use super::handles::{borrow, JobHandle, PersistencyHandle};
use super::status::Status;
use crate::error::{Error, Result};

/// A path argument: a NUL-terminated string, taken as bytes on Unix.
///
/// # Safety
/// `ptr` is NULL or a NUL-terminated string live for the whole call.
unsafe fn path(ptr: *const c_char, what: &str) -> Result<PathBuf> {
    // SAFETY: passed on from this function's contract.
    let text = unsafe { args::c_str(ptr, what) }?;
    #[cfg(unix)]
    {
        use std::os::unix::ffi::OsStrExt;
        Ok(PathBuf::from(std::ffi::OsStr::from_bytes(text.to_bytes())))
    }
    #[cfg(not(unix))]
    {
        text.to_str()
            .map(PathBuf::from)
            .map_err(|_| Error::invalid(format!("{what} is not valid UTF-8")))
    }
}

/// Queues a delete of every row of `category` with `start <= key < stop`
/// (fire-and-forget, like `persistency_delete_prefix`); `stop_len == 0`
/// means no upper bound. A `start` after a non-empty `stop` returns
/// `PERSISTENCY_ERR_INVALID_ARGUMENT` and queues nothing. In a batch, the
/// same operation is `PERSISTENCY_OP_DELETE_RANGE`.
///
/// # Safety
/// `job` is NULL or a live job handle; `category` is NULL or a
/// NUL-terminated string; `start` and `stop` are each NULL (with length 0)
/// or point at that many readable bytes.
#[no_mangle]
pub unsafe extern "C" fn persistency_delete_range(
    job: *mut JobHandle,
    category: *const c_char,
    start: *const u8,
    start_len: usize,
    stop: *const u8,
    stop_len: usize,
) -> Status {
    // SAFETY: the pointers are as this function's `# Safety` requires.
    unsafe {
        super::writes::queue_call(
            job,
            category,
            [(start, start_len, "start"), (stop, stop_len, "stop")],
            |job, category, [start, stop]| job.delete_range(category, start, stop),
        )
    }
}

/// Copies the job's data into a new database file at `dest_path`, in order
/// like a read: the copy holds every write accepted before this call. The
/// copy is written to a hidden temporary file beside `dest_path`, synced,
/// then linked into place, so `dest_path` appears complete or not at all.
/// A job file is copied in steps (SQLite's online backup API) from a
/// snapshot, and the job keeps serving requests between steps; an
/// in-memory job is copied in one step. The callback (required) gets `OK`
/// once the copy is in place. An existing `dest_path`, or a directory that
/// does not exist: `PERSISTENCY_ERR_INVALID_ARGUMENT` (returned, or in the
/// callback if the file appeared after the call). The copy opens as a job
/// file.
///
/// # Safety
/// `job` is NULL or a live job handle; `dest_path` is NULL or a
/// NUL-terminated string. `user_data` is only passed back.
#[no_mangle]
pub unsafe extern "C" fn persistency_job_backup(
    job: *mut JobHandle,
    dest_path: *const c_char,
    callback: Callback,
    user_data: *mut c_void,
) -> Status {
    status(|| {
        // SAFETY: the pointers are as this function's `# Safety` requires.
        let (job, dest) = unsafe { (borrow(job, "job")?, path(dest_path, "dest_path")?) };
        let callback = args::required(callback)?;
        job.job().backup_then(dest, reporter(callback, user_data))
    })
}

/// Gives the free pages of the job's file back to the file system, in
/// order like a read; the callback (required) gets `OK` when done. Files
/// created by this library have `auto_vacuum = INCREMENTAL` and are
/// compacted with `incremental_vacuum`; an older file without it is
/// rewritten once with a full `VACUUM` (which also turns incremental
/// auto-vacuum on). The write-ahead log is then checkpointed and truncated.
/// Incremental compaction runs in small steps, and the job serves the
/// requests queued meanwhile between them (a full `VACUUM` is one step).
///
/// # Safety
/// `job` is NULL or a live job handle. `user_data` is only passed back.
#[no_mangle]
pub unsafe extern "C" fn persistency_job_compact(
    job: *mut JobHandle,
    callback: Callback,
    user_data: *mut c_void,
) -> Status {
    status(|| {
        // SAFETY: the pointer is as this function's `# Safety` requires.
        let job = unsafe { borrow(job, "job") }?;
        let callback = args::required(callback)?;
        job.job().compact_then(reporter(callback, user_data))
    })
}

/// Runs SQLite's integrity check on the job's database, in order like a
/// read. The callback (required) gets `OK` when the database is sound,
/// otherwise `PERSISTENCY_ERR_BACKEND` (`backend_code` `SQLITE_CORRUPT`)
/// with the first problems found in `error`.
///
/// # Safety
/// `job` is NULL or a live job handle. `user_data` is only passed back.
#[no_mangle]
pub unsafe extern "C" fn persistency_job_check(
    job: *mut JobHandle,
    callback: Callback,
    user_data: *mut c_void,
) -> Status {
    status(|| {
        // SAFETY: the pointer is as this function's `# Safety` requires.
        let job = unsafe { borrow(job, "job") }?;
        let callback = args::required(callback)?;
        job.job().check_then(reporter(callback, user_data))
    })
}

/// The figures of every open job of the instance in the Prometheus text
/// exposition format (version 0.0.4), as a NUL-terminated string the
/// caller frees with `persistency_string_free`; NULL on error (see
/// `persistency_last_error`). Counters: `persistency_ops_applied_total`,
/// `_ops_failed_total`, `_transactions_total`, `_written_bytes_total`,
/// `_reads_total`, `_errors_total` (label `kind`); gauges:
/// `persistency_queue_depth_operations`, `_file_size_bytes`,
/// `_live_bytes`, `_read_connections`, `_sync_memory_elements`. Every
/// series has a `job` label. The values are those of
/// `persistency_job_stats`, and of the Rust `Stats` for the last two.
///
/// # Safety
/// `instance` is NULL or a live instance handle.
#[no_mangle]
pub unsafe extern "C" fn persistency_metrics_text(
    instance: *const PersistencyHandle,
) -> *mut c_char {
    boundary(|| {
        // SAFETY: the pointer is as this function's `# Safety` requires.
        let text = unsafe { borrow(instance, "instance") }
            .and_then(|p| p.instance().metrics_text())
            .and_then(|text| {
                CString::new(text).map_err(|_| Error::internal("metrics text contains NUL"))
            });
        match text {
            Ok(text) => {
                set_last_error(None);
                text.into_raw()
            }
            Err(e) => {
                set_last_error(Some(&e));
                std::ptr::null_mut()
            }
        }
    })
}

/// Frees a string returned by `persistency_metrics_text`; NULL is a no-op.
///
/// # Safety
/// `text` is NULL or a string returned by this library's
/// `persistency_metrics_text`, not freed before.
#[no_mangle]
pub unsafe extern "C" fn persistency_string_free(text: *mut c_char) {
    boundary(|| {
        if !text.is_null() {
            // SAFETY: made by `CString::into_raw` in this library and given
            // back once (this function's contract).
            drop(unsafe { CString::from_raw(text) });
        }
    })
}
