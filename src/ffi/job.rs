//! Jobs: open, find, close, drop, options, stats.

use std::ffi::c_char;
use std::time::Duration;

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
/// opened. Initialise with `persistency_job_options_init_sized(&o, sizeof o)`
/// (or, for the first version's fields only, `persistency_job_options_init`),
/// then change fields.
///
/// Fields are only ever added at the end, and `struct_size` says how many
/// bytes of the struct the host has: a struct from an older header (the
/// first version's `struct_size` 24) is accepted, its missing fields taking
/// their defaults; a size between versions is refused.
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
    /// Most bytes of requests waiting for the worker (keys, payloads and a
    /// small cost per request); 0 = the default (64 MiB). Without room a
    /// write waits or returns `PERSISTENCY_ERR_BUSY` by `full_policy`; a
    /// single larger request is accepted only into an empty queue. Added in
    /// the second version of the struct (`struct_size` 32): read only when
    /// `struct_size` says so, so initialise with
    /// `persistency_job_options_init_sized`.
    pub max_queue_bytes: u64,
    /// Size-capped retention: the most live bytes (pages in use × page
    /// size) the job keeps; 0 = off (the default). Past it the oldest rows
    /// (smallest keys) of `retention_categories` are removed and the space
    /// given back; a single write of more than half of it fails with
    /// `PERSISTENCY_ERR_FULL`. Added in the third version of the struct
    /// (`struct_size` 56). See docs/c-api-maintenance.md.
    pub retention_max_bytes: u64,
    /// The categories retention removes rows from, oldest first, in this
    /// order (NUL-terminated strings, copied when the job opens); NULL
    /// only with a count of 0.
    pub retention_categories: *const *const c_char,
    /// Number of `retention_categories`.
    pub retention_category_count: usize,
}

/// The size of the first version of the struct (up to `max_db_bytes`).
const OPTIONS_V1_SIZE: u32 = std::mem::offset_of!(CJobOptions, max_queue_bytes) as u32;
/// The size of the second version (up to `max_queue_bytes`).
const OPTIONS_V2_SIZE: u32 = std::mem::offset_of!(CJobOptions, retention_max_bytes) as u32;
/// The size of this version of the struct.
const OPTIONS_SIZE: u32 = std::mem::size_of::<CJobOptions>() as u32;
const _: () = assert!(OPTIONS_V1_SIZE == 24 && OPTIONS_V2_SIZE == 32 && OPTIONS_SIZE == 56);

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

/// Writes the defaults into the fields of the first version of the struct
/// (`struct_size` 24: up to `max_db_bytes`) and sets `struct_size` to 24.
/// NULL is a no-op. It never writes past those 24 bytes, so a host built
/// against any header may call it. To use fields added later (such as
/// `max_queue_bytes`), initialise with
/// `persistency_job_options_init_sized(&options, sizeof options)` instead:
/// with `struct_size` 24 the library ignores them.
///
/// # Safety
/// `options` is NULL or points at a writable `persistency_job_options` of
/// at least the first version's 24 bytes.
#[no_mangle]
pub unsafe extern "C" fn persistency_job_options_init(options: *mut CJobOptions) {
    boundary(|| {
        // SAFETY: the pointer is as this function's `# Safety` requires.
        unsafe { write_defaults(options, OPTIONS_V1_SIZE) };
    })
}

/// Writes the defaults into every field that fits in `size` bytes (pass
/// `sizeof` of your struct) and sets `struct_size` to the size of the
/// largest version of the struct that fits: 24 (the first version), 32
/// (with `max_queue_bytes`) or 56 (with the retention fields); a larger
/// `size` (a newer header than this library) gets this library's version. `PERSISTENCY_ERR_INVALID_ARGUMENT`
/// for NULL or a `size` below 24, writing nothing.
///
/// # Safety
/// `options` is NULL or points at `size` writable bytes.
#[no_mangle]
pub unsafe extern "C" fn persistency_job_options_init_sized(
    options: *mut CJobOptions,
    size: usize,
) -> Status {
    status(|| {
        if options.is_null() {
            return Err(Error::invalid("options is NULL"));
        }
        let version = [OPTIONS_SIZE, OPTIONS_V2_SIZE, OPTIONS_V1_SIZE]
            .into_iter()
            .find(|&v| v as usize <= size)
            .ok_or_else(|| {
                Error::invalid(format!(
                    "options size {size} is smaller than the first version's {OPTIONS_V1_SIZE}"
                ))
            })?;
        // SAFETY: `options` has `size` writable bytes, and `version <= size`.
        unsafe { write_defaults(options, version) };
        Ok(())
    })
}

/// Writes the first `version` bytes of the defaults, with `struct_size`
/// set to `version`; NULL is a no-op.
///
/// # Safety
/// `options` is NULL or points at `version` writable bytes; `version` is
/// the size of a version of the struct.
unsafe fn write_defaults(options: *mut CJobOptions, version: u32) {
    if options.is_null() {
        return;
    }
    let mut defaults = default_c_options();
    defaults.struct_size = version;
    // SAFETY: the caller vouches for `version` writable bytes at `options`;
    // `defaults` is a whole struct, at least `version` bytes long, and a
    // local that cannot overlap the host's memory.
    unsafe {
        std::ptr::copy_nonoverlapping(
            (&defaults as *const CJobOptions).cast::<u8>(),
            options.cast::<u8>(),
            version as usize,
        )
    };
}

/// The defaults, as `persistency_job_options_init` writes them.
fn default_c_options() -> CJobOptions {
    let d = JobOptions::default();
    CJobOptions {
        struct_size: OPTIONS_SIZE,
        synchronous: sync_code(d.synchronous),
        queue_capacity: d.queue_capacity,
        full_policy: policy_code(d.full_policy),
        max_db_bytes: d.max_db_bytes,
        max_queue_bytes: d.max_queue_bytes,
        retention_max_bytes: d.retention_max_bytes,
        retention_categories: std::ptr::null(),
        retention_category_count: 0,
    }
}

/// Copies the host's options, of whatever version: the fields its
/// `struct_size` covers, the defaults for the others.
///
/// # Safety
/// `options` is NULL or points at a `persistency_job_options` of at least
/// its `struct_size` bytes (the first version's at least: 24).
unsafe fn read_c_options(options: *const CJobOptions) -> Result<Option<CJobOptions>> {
    if options.is_null() {
        return Ok(None);
    }
    // SAFETY: `struct_size` is the first field of every version, and the
    // caller guarantees a readable struct; `addr_of!` makes no reference
    // to a struct that may be shorter than this version's.
    let size = unsafe { std::ptr::addr_of!((*options).struct_size).read_unaligned() };
    if !(size == OPTIONS_V1_SIZE || size == OPTIONS_V2_SIZE || size >= OPTIONS_SIZE) {
        return Err(Error::invalid(format!(
            "options struct_size {size} is not the size of a version of the struct \
             ({OPTIONS_V1_SIZE}, {OPTIONS_V2_SIZE}, {OPTIONS_SIZE} or more); call persistency_job_options_init"
        )));
    }
    let mut copy = default_c_options();
    let len = size.min(OPTIONS_SIZE) as usize;
    // SAFETY: the caller guarantees `size` readable bytes at `options` and
    // `len <= size`; `copy` is a local of `OPTIONS_SIZE >= len` bytes whose
    // fields are plain integers and raw pointers (any bytes are valid; the
    // pointers are only read under the open call's own contract), not
    // overlapping.
    unsafe {
        std::ptr::copy_nonoverlapping(
            options.cast::<u8>(),
            std::ptr::addr_of_mut!(copy).cast::<u8>(),
            len,
        );
    }
    Ok(Some(copy))
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

/// Options from a copy of the host's struct (the defaults past its
/// `struct_size`).
///
/// # Safety
/// The retention categories of `options` are as [`retention_categories`]
/// requires.
unsafe fn options_from_c(options: Option<CJobOptions>) -> Result<JobOptions> {
    let Some(o) = options else {
        return Ok(JobOptions::default());
    };
    // SAFETY: passed on from this function's contract.
    let categories = unsafe { retention_categories(&o) }?;
    Ok(JobOptions::default()
        .synchronous(sync_of(o.synchronous)?)
        .queue_capacity(o.queue_capacity)
        .full_policy(policy_of(o.full_policy)?)
        .max_db_bytes(o.max_db_bytes)
        .max_queue_bytes(o.max_queue_bytes)
        .retention(o.retention_max_bytes, categories))
}

/// Opens or creates the job `job_id` (`<root>/<job_id>.db`) with default
/// options; an open job is returned as is. A job id is 1 to 128 bytes of
/// `[A-Za-z0-9_.-]`, not starting with `.`. `*out` receives a new reference.
/// A job being closed is reopened once its worker ended; a job being
/// dropped, once its files are deleted (with a fresh, empty file). The job
/// file must be a regular file, or a symbolic link to one inside the root:
/// anything else (a FIFO, a directory, a dangling link, a link leaving the
/// root) is `PERSISTENCY_ERR_BACKEND`. Every error message names the job
/// and its file.
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
/// values, a NULL retention category, or a `struct_size` below the first
/// version's (24): `PERSISTENCY_ERR_INVALID_ARGUMENT`; a struct of an older version (a
/// smaller `struct_size`) is accepted, its missing fields at their defaults.
/// A job file (the same file: same device and inode, through any path or
/// link) held by another live instance or another job, or a job kept in
/// PostgreSQL that another process holds (docs/postgres.md):
/// `PERSISTENCY_ERR_INVALID_ARGUMENT`. From a callback, when it would wait
/// for a job that waits for the callback's own job (opening a job that
/// closes while its close waits for this callback):
/// `PERSISTENCY_ERR_INVALID_ARGUMENT`.
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
                read_c_options(options)?,
            )
        };
        // SAFETY: the options' retention categories are as this function's
        // `# Safety` requires.
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
/// `PERSISTENCY_ERR_CLOSED`. From one of the job's own callbacks, or from
/// a callback whose job that job waits for (say, its callback is closing
/// the caller's job): `PERSISTENCY_ERR_INVALID_ARGUMENT`, changing nothing.
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
/// sidecars; a missing file is not an error. A symbolic link is deleted,
/// never its target. Atomic with respect to opens of the same id: an open
/// that returned before gets a job the drop closes (its handles then return
/// `PERSISTENCY_ERR_CLOSED`); an open during the drop waits for it and gets
/// a fresh, empty file; another instance's open during the drop is refused
/// with `PERSISTENCY_ERR_INVALID_ARGUMENT`, and so is the drop while
/// another instance holds the file. From callbacks: as `close_job`.
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

/// Bounds how long calls made afterwards on the calling thread wait for room
/// in a full queue (jobs with `PERSISTENCY_FULL_BLOCK`), in milliseconds; 0,
/// the default, waits as long as it takes. A wait that runs out returns
/// `PERSISTENCY_ERR_TIMEOUT` and queues nothing (its callback is never
/// invoked). The bound belongs to the calling thread and stays until it is
/// set again; returns the previous bound. Bindings use it so that a
/// cancelled context can interrupt a write: set a short bound, retry while
/// the context lives.
///
/// # Safety
/// None: takes no pointers. (Unsafe like every C entry point.)
#[no_mangle]
pub unsafe extern "C" fn persistency_set_wait_timeout(timeout_ms: u32) -> u32 {
    boundary(|| {
        let timeout = (timeout_ms > 0).then(|| Duration::from_millis(timeout_ms.into()));
        let previous = crate::set_wait_timeout(timeout);
        previous.map_or(0, |d| u32::try_from(d.as_millis()).unwrap_or(u32::MAX))
    })
}
