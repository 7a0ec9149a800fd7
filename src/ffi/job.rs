//! Jobs: open, find, close, drop, options, stats.

use std::ffi::c_char;

use super::args;
use super::boundary::{boundary, status};
use super::handles::{borrow, into_raw, release, retain, JobHandle, PersistencyHandle};
use super::status::Status;
use crate::error::{Error, Result};
use crate::options::{FullPolicy, JobOptions, Synchronous};

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

/// Options of a job (C `persistency_job_options`), read when it is first
/// opened. Initialise with `persistency_job_options_init`, then change
/// fields.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct CJobOptions {
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
    /// Size-capped retention: the most live bytes (pages in use × page
    /// size) the job keeps; 0 = off (the default). Past it the oldest rows
    /// (smallest keys) of `retention_categories` are removed and the space
    /// given back; a single write of more than half of it fails with
    /// `PERSISTENCY_ERR_FULL`. See docs/c-api-maintenance.md.
    pub retention_max_bytes: u64,
    /// The categories retention removes rows from, oldest first, in this
    /// order (NUL-terminated strings, copied when the job opens); NULL
    /// only with a count of 0.
    pub retention_categories: *const *const c_char,
    /// Number of `retention_categories`.
    pub retention_category_count: usize,
}

/// The size of the first version of the options (up to `max_db_bytes`).
const OPTIONS_V1_SIZE: u32 = (std::mem::offset_of!(CJobOptions, max_db_bytes) + 8) as u32;

/// The size of the options with the retention fields.
const OPTIONS_RETENTION_SIZE: u32 =
    (std::mem::offset_of!(CJobOptions, retention_category_count) + 8) as u32;

fn sync_code(mode: Synchronous) -> i32 {
    match mode {
        Synchronous::Normal => PERSISTENCY_SYNC_NORMAL,
        Synchronous::Off => PERSISTENCY_SYNC_OFF,
        Synchronous::Full => PERSISTENCY_SYNC_FULL,
    }
}

fn sync_of(code: i32) -> Result<Synchronous> {
    match code {
        PERSISTENCY_SYNC_NORMAL => Ok(Synchronous::Normal),
        PERSISTENCY_SYNC_OFF => Ok(Synchronous::Off),
        PERSISTENCY_SYNC_FULL => Ok(Synchronous::Full),
        _ => Err(Error::invalid(format!("unknown synchronous mode {code}"))),
    }
}

fn policy_code(policy: FullPolicy) -> i32 {
    match policy {
        FullPolicy::Block => PERSISTENCY_FULL_BLOCK,
        FullPolicy::Fail => PERSISTENCY_FULL_FAIL,
    }
}

fn policy_of(code: i32) -> Result<FullPolicy> {
    match code {
        PERSISTENCY_FULL_BLOCK => Ok(FullPolicy::Block),
        PERSISTENCY_FULL_FAIL => Ok(FullPolicy::Fail),
        _ => Err(Error::invalid(format!("unknown full policy {code}"))),
    }
}

/// Writes the defaults into every field of `options` (including
/// `struct_size`). NULL is a no-op.
///
/// # Safety
/// `options` is NULL or points at a writable `persistency_job_options`.
#[no_mangle]
pub unsafe extern "C" fn persistency_job_options_init(options: *mut CJobOptions) {
    boundary(|| {
        // SAFETY: the pointer is as this function's `# Safety` requires.
        if let Ok(options) = unsafe { args::out_ptr(options, "options") } {
            let d = JobOptions::default();
            *options = CJobOptions {
                struct_size: std::mem::size_of::<CJobOptions>() as u32,
                synchronous: sync_code(d.synchronous),
                queue_capacity: d.queue_capacity,
                full_policy: policy_code(d.full_policy),
                max_db_bytes: d.max_db_bytes,
                retention_max_bytes: d.retention_max_bytes,
                retention_categories: std::ptr::null(),
                retention_category_count: 0,
            };
        }
    })
}

/// The retention categories of C options, copied.
///
/// # Safety
/// `o.retention_categories` is NULL or points at
/// `o.retention_category_count` pointers, each NULL or NUL-terminated.
unsafe fn retention_categories(o: &CJobOptions) -> Result<Vec<Vec<u8>>> {
    // SAFETY: this function's contract.
    let pointers = unsafe {
        args::array(
            o.retention_categories,
            o.retention_category_count,
            "retention_categories",
        )
    }?;
    pointers
        .iter()
        .enumerate()
        .map(|(i, &p)| {
            // SAFETY: this function's contract.
            let c = unsafe { args::c_str(p, "retention category") }
                .map_err(|e| e.context(format!("retention_categories[{i}]")))?;
            Ok(c.to_bytes().to_vec())
        })
        .collect()
}

/// Options from C; fields past `struct_size` keep their defaults.
///
/// # Safety
/// `options` is as `persistency_open_job_with` requires.
unsafe fn options_from_c(options: Option<&CJobOptions>) -> Result<JobOptions> {
    let Some(o) = options else {
        return Ok(JobOptions::default());
    };
    if o.struct_size < OPTIONS_V1_SIZE {
        return Err(Error::invalid(format!(
            "options struct_size {} is smaller than {OPTIONS_V1_SIZE}; call persistency_job_options_init",
            o.struct_size
        )));
    }
    // Only the sizes of whole versions: a size that ends inside a field is
    // not a struct any header declared.
    if o.struct_size > OPTIONS_V1_SIZE && o.struct_size < OPTIONS_RETENTION_SIZE {
        return Err(Error::invalid(format!(
            "options struct_size {} is not the size of a version ({OPTIONS_V1_SIZE} or at least {OPTIONS_RETENTION_SIZE}); call persistency_job_options_init",
            o.struct_size
        )));
    }
    let mut options = JobOptions::default()
        .synchronous(sync_of(o.synchronous)?)
        .queue_capacity(o.queue_capacity)
        .full_policy(policy_of(o.full_policy)?)
        .max_db_bytes(o.max_db_bytes);
    if o.struct_size >= OPTIONS_RETENTION_SIZE {
        // SAFETY: passed on from this function's contract.
        let categories = unsafe { retention_categories(o) }?;
        options = options.retention(o.retention_max_bytes, categories);
    }
    Ok(options)
}

/// Opens or creates the job `job_id` (`<root>/<job_id>.db`) with default
/// options; an open job is returned as is. A job id is 1 to 128 bytes of
/// `[A-Za-z0-9_.-]`, not starting with `.`. `*out` receives a new reference.
///
/// # Safety
/// `p` is NULL or a live instance handle; `job_id` is NULL or a
/// NUL-terminated string; `out` is NULL or points at writable storage for
/// one pointer.
#[no_mangle]
pub unsafe extern "C" fn persistency_open_job(
    p: *mut PersistencyHandle,
    job_id: *const c_char,
    out: *mut *mut JobHandle,
) -> Status {
    // SAFETY: passed on from this function's `# Safety` section; NULL
    // options are allowed.
    unsafe { persistency_open_job_with(p, job_id, std::ptr::null(), out) }
}

/// As `persistency_open_job`, with `options` (NULL: the defaults). The
/// options of the first open stand. Unknown `synchronous`/`full_policy`
/// values, a too small `struct_size` or a NULL retention category:
/// `PERSISTENCY_ERR_INVALID_ARGUMENT`. Fields past `struct_size` keep their
/// defaults.
/// A job file held by another live instance: `PERSISTENCY_ERR_INVALID_ARGUMENT`.
///
/// # Safety
/// As for `persistency_open_job`; `options` is NULL or points at a
/// `persistency_job_options` of at least its `struct_size` bytes, whose
/// `retention_categories` (if within `struct_size`) is NULL or points at
/// `retention_category_count` pointers, each NULL or NUL-terminated.
#[no_mangle]
pub unsafe extern "C" fn persistency_open_job_with(
    p: *mut PersistencyHandle,
    job_id: *const c_char,
    options: *const CJobOptions,
    out: *mut *mut JobHandle,
) -> Status {
    status(|| {
        // SAFETY: the pointers are as this function's `# Safety` requires.
        let (out, p, id, options) = unsafe {
            (
                args::out_ptr(out, "out")?,
                borrow(p, "instance")?,
                args::utf8(job_id, "job_id")?,
                options.as_ref(),
            )
        };
        // SAFETY: as above.
        let options = unsafe { options_from_c(options) }?;
        let job = p.instance().open_job_with(id, &options)?;
        *out = into_raw(JobHandle::of(job)?);
        Ok(())
    })
}

/// The open job `job_id` (a new reference in `*out`), or
/// `PERSISTENCY_ERR_JOB_NOT_FOUND`.
///
/// # Safety
/// As for `persistency_open_job`.
#[no_mangle]
pub unsafe extern "C" fn persistency_find_job(
    p: *mut PersistencyHandle,
    job_id: *const c_char,
    out: *mut *mut JobHandle,
) -> Status {
    status(|| {
        // SAFETY: the pointers are as this function's `# Safety` requires.
        let (out, p, id) = unsafe {
            (
                args::out_ptr(out, "out")?,
                borrow(p, "instance")?,
                args::utf8(job_id, "job_id")?,
            )
        };
        *out = into_raw(JobHandle::of(p.instance().find_job(id)?)?);
        Ok(())
    })
}

/// Whether the job `job_id` is open; false for NULL arguments.
///
/// # Safety
/// `p` is NULL or a live instance handle; `job_id` is NULL or a
/// NUL-terminated string.
#[no_mangle]
pub unsafe extern "C" fn persistency_has_job(
    p: *mut PersistencyHandle,
    job_id: *const c_char,
) -> bool {
    boundary(|| {
        // SAFETY: the pointers are as this function's `# Safety` requires.
        let (Ok(p), Ok(id)) = (unsafe { borrow(p, "instance") }, unsafe {
            args::utf8(job_id, "job_id")
        }) else {
            return false;
        };
        p.instance().has_job(id)
    })
}

/// Closes the job `job_id`; a job that is not open is a no-op. Returns after
/// every operation accepted before it was applied, every callback of the job
/// invoked and its worker thread joined; later calls on its handles return
/// `PERSISTENCY_ERR_CLOSED`. From one of the job's own callbacks:
/// `PERSISTENCY_ERR_INVALID_ARGUMENT`.
///
/// # Safety
/// `p` is NULL or a live instance handle; `job_id` is NULL or a
/// NUL-terminated string.
#[no_mangle]
pub unsafe extern "C" fn persistency_close_job(
    p: *mut PersistencyHandle,
    job_id: *const c_char,
) -> Status {
    status(|| {
        // SAFETY: the pointers are as this function's `# Safety` requires.
        let (p, id) = unsafe { (borrow(p, "instance")?, args::utf8(job_id, "job_id")?) };
        p.instance().close_job(id)
    })
}

/// Closes the job if open, then deletes its file and the `-wal` and `-shm`
/// sidecars; a missing file is not an error.
///
/// # Safety
/// As for `persistency_close_job`.
#[no_mangle]
pub unsafe extern "C" fn persistency_drop_job(
    p: *mut PersistencyHandle,
    job_id: *const c_char,
) -> Status {
    status(|| {
        // SAFETY: the pointers are as this function's `# Safety` requires.
        let (p, id) = unsafe { (borrow(p, "instance")?, args::utf8(job_id, "job_id")?) };
        p.instance().drop_job(id)
    })
}

/// Gives back one reference to a job; NULL is a no-op. The job stays open
/// (it is closed by `persistency_close_job` or its instance).
///
/// # Safety
/// `job` is NULL or a job handle whose reference the caller owns and gives
/// up.
#[no_mangle]
pub unsafe extern "C" fn persistency_job_release(job: *mut JobHandle) {
    // SAFETY: the pointer is as this function's `# Safety` requires.
    boundary(|| unsafe { release(job) })
}

/// Takes one more reference to a job and returns `job`; release it with
/// `persistency_job_release`. NULL gives NULL.
///
/// # Safety
/// `job` is NULL or a live job handle.
#[no_mangle]
pub unsafe extern "C" fn persistency_job_retain(job: *mut JobHandle) -> *mut JobHandle {
    // SAFETY: the pointer is as this function's `# Safety` requires.
    boundary(|| unsafe { retain(job) })
}

/// The job id, valid until the handle is released; NULL for NULL.
///
/// # Safety
/// `job` is NULL or a live job handle.
#[no_mangle]
pub unsafe extern "C" fn persistency_job_id(job: *const JobHandle) -> *const c_char {
    boundary(|| {
        // SAFETY: the pointer is as this function's `# Safety` requires.
        unsafe { borrow(job, "job") }.map_or(std::ptr::null(), |h| h.id().as_ptr())
    })
}

/// A job's figures (C `persistency_stats`). The worker updates them as it
/// goes; a reader may see figures from a moment earlier.
#[repr(C)]
#[derive(Debug, Clone, Copy, Default)]
pub struct CStats {
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
///
/// # Safety
/// `job` is NULL or a live job handle; `out` is NULL or points at a
/// writable `persistency_stats`.
#[no_mangle]
pub unsafe extern "C" fn persistency_job_stats(job: *mut JobHandle, out: *mut CStats) -> Status {
    status(|| {
        // SAFETY: the pointers are as this function's `# Safety` requires.
        let (out, job) = unsafe { (args::out_ptr(out, "out")?, borrow(job, "job")?) };
        let s = job.job().stats()?;
        *out = CStats {
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
