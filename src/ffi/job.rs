//! Jobs: open, find, close, drop, options, stats.

use std::ffi::c_char;

use super::args;
use super::boundary::{boundary, status};
use super::instance::persistency;
use super::status::persistency_status;
use crate::error::Error;
use crate::job::Job;
use crate::options::{FullPolicy, JobOptions, Synchronous};

/// A job: one database file, one worker thread. Reference counted like
/// `persistency`; released with `persistency_job_release`.
pub struct persistency_job {
    _opaque: [u8; 0],
}

/// `synchronous`: durable across process crashes (the default).
pub const PERSISTENCY_SYNC_NORMAL: i32 = 0;
/// `synchronous`: no syncing.
pub const PERSISTENCY_SYNC_OFF: i32 = 1;
/// `synchronous`: sync on every commit.
pub const PERSISTENCY_SYNC_FULL: i32 = 2;
/// `full_policy`: a write that finds the queue full waits for room (default).
pub const PERSISTENCY_FULL_BLOCK: i32 = 0;
/// `full_policy`: a write that finds the queue full returns `PERSISTENCY_ERR_BUSY`.
pub const PERSISTENCY_FULL_FAIL: i32 = 1;

/// Options of a job, read when it is first opened. Initialise with
/// `persistency_job_options_init`, then change fields.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct persistency_job_options {
    /// Set by `persistency_job_options_init`; lets the struct grow.
    pub struct_size: u32,
    /// `PERSISTENCY_SYNC_NORMAL` (default), `_OFF` or `_FULL`.
    pub synchronous: i32,
    /// Most operations waiting for the worker; 0 = the default (16384).
    pub queue_capacity: u32,
    /// `PERSISTENCY_FULL_BLOCK` (default) or `PERSISTENCY_FULL_FAIL`.
    pub full_policy: i32,
    /// Cap on the main database file's size in bytes; 0 = unlimited.
    pub max_db_bytes: u64,
}

const OPTIONS_V1_SIZE: u32 = std::mem::size_of::<persistency_job_options>() as u32;

/// Writes the defaults into every field of `options` (including
/// `struct_size`). NULL is a no-op.
#[no_mangle]
pub extern "C" fn persistency_job_options_init(options: *mut persistency_job_options) {
    boundary(|| {
        if let Ok(options) = args::out_ptr(options, "options") {
            let d = JobOptions::default();
            *options = persistency_job_options {
                struct_size: OPTIONS_V1_SIZE,
                synchronous: d.synchronous.code(),
                queue_capacity: d.queue_capacity,
                full_policy: d.full_policy.code(),
                max_db_bytes: d.max_db_bytes,
            };
        }
    })
}

fn options_from_c(options: *const persistency_job_options) -> crate::Result<JobOptions> {
    if options.is_null() {
        return Ok(JobOptions::default());
    }
    let o = args::non_null(options, "options")?;
    if o.struct_size < OPTIONS_V1_SIZE {
        return Err(Error::invalid(format!(
            "options struct_size {} is smaller than {OPTIONS_V1_SIZE}; call persistency_job_options_init",
            o.struct_size
        )));
    }
    Ok(JobOptions {
        synchronous: Synchronous::from_code(o.synchronous)?,
        queue_capacity: o.queue_capacity,
        full_policy: FullPolicy::from_code(o.full_policy)?,
        max_db_bytes: o.max_db_bytes,
    })
}

fn hand_out(job: Job, out: &mut *mut persistency_job) {
    *out = job.into_raw() as *mut persistency_job;
}

/// Opens or creates the job `job_id` (`<root>/<job_id>.db`) with default
/// options; an open job is returned as is. A job id is 1 to 128 bytes of
/// `[A-Za-z0-9_.-]`, not starting with `.`. `*out` receives a new reference.
#[no_mangle]
pub extern "C" fn persistency_open_job(
    p: *mut persistency,
    job_id: *const c_char,
    out: *mut *mut persistency_job,
) -> persistency_status {
    persistency_open_job_with(p, job_id, std::ptr::null(), out)
}

/// As `persistency_open_job`, with `options` (NULL: the defaults). The
/// options of the first open stand. Unknown `synchronous`/`full_policy`
/// values or a too small `struct_size`: `PERSISTENCY_ERR_INVALID_ARGUMENT`.
/// A job file held by another live instance: `PERSISTENCY_ERR_INVALID_ARGUMENT`.
#[no_mangle]
pub extern "C" fn persistency_open_job_with(
    p: *mut persistency,
    job_id: *const c_char,
    options: *const persistency_job_options,
    out: *mut *mut persistency_job,
) -> persistency_status {
    status(|| {
        let out = args::out_ptr(out, "out")?;
        let instance = args::instance(p)?;
        let id = args::utf8(job_id, "job_id")?;
        let options = options_from_c(options)?;
        hand_out(instance.open_job_with(id, &options)?, out);
        Ok(())
    })
}

/// The open job `job_id` (a new reference in `*out`), or
/// `PERSISTENCY_ERR_JOB_NOT_FOUND`.
#[no_mangle]
pub extern "C" fn persistency_find_job(
    p: *mut persistency,
    job_id: *const c_char,
    out: *mut *mut persistency_job,
) -> persistency_status {
    status(|| {
        let out = args::out_ptr(out, "out")?;
        let instance = args::instance(p)?;
        hand_out(instance.find_job(args::utf8(job_id, "job_id")?)?, out);
        Ok(())
    })
}

/// Whether the job `job_id` is open; false for NULL arguments.
#[no_mangle]
pub extern "C" fn persistency_has_job(p: *mut persistency, job_id: *const c_char) -> bool {
    boundary(|| {
        let (Ok(instance), Ok(id)) = (args::instance(p), args::utf8(job_id, "job_id")) else {
            return false;
        };
        instance.has_job(id)
    })
}

/// Closes the job `job_id`; a job that is not open is a no-op. Returns after
/// every operation accepted before it was applied, every callback of the job
/// invoked and its worker thread joined; later calls on its handles return
/// `PERSISTENCY_ERR_CLOSED`. From one of the job's own callbacks:
/// `PERSISTENCY_ERR_INVALID_ARGUMENT`.
#[no_mangle]
pub extern "C" fn persistency_close_job(
    p: *mut persistency,
    job_id: *const c_char,
) -> persistency_status {
    status(|| args::instance(p)?.close_job(args::utf8(job_id, "job_id")?))
}

/// Closes the job if open, then deletes its file and the `-wal` and `-shm`
/// sidecars; a missing file is not an error.
#[no_mangle]
pub extern "C" fn persistency_drop_job(
    p: *mut persistency,
    job_id: *const c_char,
) -> persistency_status {
    status(|| args::instance(p)?.drop_job(args::utf8(job_id, "job_id")?))
}

/// Gives back one reference to a job; NULL is a no-op. The job stays open
/// (it is closed by `persistency_close_job` or its instance).
#[no_mangle]
pub extern "C" fn persistency_job_release(job: *mut persistency_job) {
    boundary(|| {
        if !job.is_null() {
            // SAFETY: the host gives back a reference it owns.
            drop(unsafe { Job::from_raw(job.cast()) });
        }
    })
}

/// Takes one more reference to a job and returns `job`; release it with
/// `persistency_job_release`. NULL gives NULL.
#[no_mangle]
pub extern "C" fn persistency_job_retain(job: *mut persistency_job) -> *mut persistency_job {
    boundary(|| match args::job(job) {
        Ok(job) => Job::clone(&job).into_raw() as *mut persistency_job,
        Err(_) => std::ptr::null_mut(),
    })
}

/// The job id, valid until the handle is released; NULL for NULL.
#[no_mangle]
pub extern "C" fn persistency_job_id(job: *const persistency_job) -> *const c_char {
    boundary(|| match args::job(job) {
        Ok(job) => job.id_c().as_ptr(),
        Err(_) => std::ptr::null(),
    })
}

/// A job's figures. The worker updates them as it goes; a reader may see
/// figures from a moment earlier.
#[repr(C)]
#[derive(Debug, Clone, Copy, Default)]
pub struct persistency_stats {
    /// Operations waiting now.
    pub queued: u64,
    /// Write operations committed (a batch of n ops counts n; delete_acked counts 1).
    pub ops_applied: u64,
    /// Write operations that failed.
    pub ops_failed: u64,
    /// Commits.
    pub transactions: u64,
    /// get / get_many / exists / scan / count requests served.
    pub reads: u64,
    /// Bytes of the job's files on disk (db + wal).
    pub db_bytes: u64,
}

/// Writes the job's figures into `*out`; `PERSISTENCY_ERR_CLOSED` on a
/// closed job.
#[no_mangle]
pub extern "C" fn persistency_job_stats(
    job: *mut persistency_job,
    out: *mut persistency_stats,
) -> persistency_status {
    status(|| {
        let out = args::out_ptr(out, "out")?;
        let s = args::job(job)?.stats()?;
        *out = persistency_stats {
            queued: s.queued,
            ops_applied: s.ops_applied,
            ops_failed: s.ops_failed,
            transactions: s.transactions,
            reads: s.reads,
            db_bytes: s.db_bytes,
        };
        Ok(())
    })
}
