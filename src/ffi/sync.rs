//! Sync sets (`docs/c-api-sync.md`, `docs/sync-index.md`): adds, removes
//! and prunes, fire-and-forget or blocking until committed, and blocking
//! queries (summary, split, items, length) that write into the caller's
//! memory.

use std::ffi::c_char;

use super::args;
use super::boundary::status;
use super::handles::{borrow, JobHandle};
use super::status::Status;
use crate::error::{Error, Result};
use crate::job::Job;
use crate::sync::{SyncId, SyncRange};

/// One element of a sync set (C `persistency_sync_id`): a timestamp in
/// nanoseconds and a 32-byte message hash, ordered by time, then hash.
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CSyncId {
    /// Timestamp in nanoseconds.
    pub time: i64,
    /// The message hash.
    pub hash: [u8; 32],
}

/// The count and fingerprint of a range (C `persistency_sync_summary`).
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CSyncSummary {
    /// Elements in the range.
    pub count: u64,
    /// XOR of their hashes (all zero for none).
    pub fingerprint: [u8; 32],
}

/// One part of a split (C `persistency_sync_part`): `[start, stop)`, its
/// count and fingerprint.
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CSyncPart {
    /// The part's first id (inclusive).
    pub start: CSyncId,
    /// The part's end (exclusive).
    pub stop: CSyncId,
    /// Elements in the part.
    pub count: u64,
    /// XOR of their hashes.
    pub fingerprint: [u8; 32],
}

impl From<CSyncId> for SyncId {
    fn from(id: CSyncId) -> SyncId {
        SyncId::new(id.time, id.hash)
    }
}

impl From<SyncId> for CSyncId {
    fn from(id: SyncId) -> CSyncId {
        CSyncId {
            time: id.time,
            hash: id.hash,
        }
    }
}

/// A set name.
///
/// # Safety
/// `set` is NULL or a NUL-terminated string live for the call.
unsafe fn set_name<'a>(set: *const c_char) -> Result<&'a [u8]> {
    // SAFETY: this function's contract.
    Ok(unsafe { args::c_str(set, "set") }?.to_bytes())
}

/// The ids of a write.
///
/// # Safety
/// `ids` is NULL with `count` 0 or points at `count` ids live for the call.
unsafe fn id_list(ids: *const CSyncId, count: usize) -> Result<Vec<SyncId>> {
    // SAFETY: this function's contract.
    let ids = unsafe { args::array(ids, count, "ids") }?;
    Ok(ids.iter().map(|&id| id.into()).collect())
}

/// The sets and range of a query.
///
/// # Safety
/// As `persistency_sync_summary_sync` requires of these arguments.
unsafe fn query<'a>(
    sets: *const *const c_char,
    set_count: usize,
    start: *const CSyncId,
    stop: *const CSyncId,
) -> Result<(Vec<&'a [u8]>, SyncRange)> {
    // SAFETY: this function's contract.
    let names = unsafe { args::array(sets, set_count, "sets") }?;
    let names = names
        .iter()
        // SAFETY: each entry is NULL or a NUL-terminated string.
        .map(|&name| unsafe { set_name(name) })
        .collect::<Result<Vec<_>>>()?;
    // SAFETY: this function's contract.
    let (start, stop) = unsafe {
        (
            args::non_null(start, "start")?,
            args::non_null(stop, "stop")?,
        )
    };
    Ok((names, SyncRange::new((*start).into(), (*stop).into())))
}

/// Runs a write on one set.
///
/// # Safety
/// `job` is NULL or a live job handle; `set` as for [`set_name`].
unsafe fn on_set(
    job: *mut JobHandle,
    set: *const c_char,
    call: impl FnOnce(&Job, &[u8]) -> Result<()>,
) -> Status {
    status(|| {
        // SAFETY: this function's contract.
        let (job, set) = unsafe { (borrow(job, "job")?, set_name(set)?) };
        call(job.job(), set)
    })
}

/// Stores an optional count.
fn put_count(out: *mut u64, value: u64) {
    // SAFETY: callers pass NULL or a writable `uint64_t` (their contract).
    if let Some(out) = unsafe { out.as_mut() } {
        *out = value;
    }
}

/// Queues adding `count` ids to `set`, atomically (fire-and-forget: a
/// failure is counted in the stats and logged). Ids already in the set
/// stay; the largest id (`INT64_MAX` time, all-`0xff` hash) is refused
/// (it bounds ranges). Ordered with every other write of the job.
///
/// # Safety
/// `job` is NULL or a live job handle; `set` is NULL or a NUL-terminated
/// string; `ids` is NULL (with `count` 0) or points at `count` ids.
#[no_mangle]
pub unsafe extern "C" fn persistency_sync_add(
    job: *mut JobHandle,
    set: *const c_char,
    ids: *const CSyncId,
    count: usize,
) -> Status {
    // SAFETY: the pointers are as this function's `# Safety` requires.
    unsafe {
        on_set(job, set, |job, set| {
            job.sync_add(set, &id_list(ids, count)?)
        })
    }
}

/// Adds `count` ids to `set`, atomically, and waits for the commit; stores
/// how many were new in `*added` (when `added` is not NULL).
///
/// # Safety
/// As for `persistency_sync_add`; `added` is NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn persistency_sync_add_sync(
    job: *mut JobHandle,
    set: *const c_char,
    ids: *const CSyncId,
    count: usize,
    added: *mut u64,
) -> Status {
    put_count(added, 0);
    // SAFETY: the pointers are as this function's `# Safety` requires.
    unsafe {
        on_set(job, set, |job, set| {
            let n = job.sync_add_acked(set, &id_list(ids, count)?)?;
            put_count(added, n);
            Ok(())
        })
    }
}

/// Queues removing `count` ids from `set`, atomically (fire-and-forget).
/// Absent ids are ignored.
///
/// # Safety
/// As for `persistency_sync_add`.
#[no_mangle]
pub unsafe extern "C" fn persistency_sync_remove(
    job: *mut JobHandle,
    set: *const c_char,
    ids: *const CSyncId,
    count: usize,
) -> Status {
    // SAFETY: the pointers are as this function's `# Safety` requires.
    unsafe {
        on_set(job, set, |job, set| {
            job.sync_remove(set, &id_list(ids, count)?)
        })
    }
}

/// Removes `count` ids from `set`, atomically, and waits for the commit;
/// stores how many were there in `*removed` (when not NULL).
///
/// # Safety
/// As for `persistency_sync_add`; `removed` is NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn persistency_sync_remove_sync(
    job: *mut JobHandle,
    set: *const c_char,
    ids: *const CSyncId,
    count: usize,
    removed: *mut u64,
) -> Status {
    put_count(removed, 0);
    // SAFETY: the pointers are as this function's `# Safety` requires.
    unsafe {
        on_set(job, set, |job, set| {
            let n = job.sync_remove_acked(set, &id_list(ids, count)?)?;
            put_count(removed, n);
            Ok(())
        })
    }
}

/// Queues removing every id of `set` whose time is before `before`
/// (fire-and-forget).
///
/// # Safety
/// `job` is NULL or a live job handle; `set` is NULL or a NUL-terminated
/// string.
#[no_mangle]
pub unsafe extern "C" fn persistency_sync_prune(
    job: *mut JobHandle,
    set: *const c_char,
    before: i64,
) -> Status {
    // SAFETY: the pointers are as this function's `# Safety` requires.
    unsafe { on_set(job, set, |job, set| job.sync_prune(set, before)) }
}

/// Removes every id of `set` whose time is before `before` and waits for
/// the commit; stores how many were removed in `*removed` (when not NULL).
///
/// # Safety
/// As for `persistency_sync_prune`; `removed` is NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn persistency_sync_prune_sync(
    job: *mut JobHandle,
    set: *const c_char,
    before: i64,
    removed: *mut u64,
) -> Status {
    put_count(removed, 0);
    // SAFETY: the pointers are as this function's `# Safety` requires.
    unsafe {
        on_set(job, set, |job, set| {
            put_count(removed, job.sync_prune_acked(set, before)?);
            Ok(())
        })
    }
}

/// Stores in `*summary` the count and fingerprint of the ids in
/// `[*start, *stop)` over the union of the `set_count` distinct sets
/// `sets` (1 to 64; an id in several counts once per set). Waits for the
/// job's worker; sees every write accepted before it.
///
/// # Safety
/// `job` is NULL or a live job handle; `sets` is NULL (with `set_count`
/// 0) or points at `set_count` pointers, each NULL or a NUL-terminated
/// string; `start` and `stop` are NULL or point at ids; `summary` is NULL
/// or writable.
#[no_mangle]
pub unsafe extern "C" fn persistency_sync_summary_sync(
    job: *mut JobHandle,
    sets: *const *const c_char,
    set_count: usize,
    start: *const CSyncId,
    stop: *const CSyncId,
    summary: *mut CSyncSummary,
) -> Status {
    status(|| {
        // SAFETY: the pointers are as this function's `# Safety` requires.
        let out = unsafe { args::out_ptr(summary, "summary") }?;
        *out = CSyncSummary {
            count: 0,
            fingerprint: [0; 32],
        };
        // SAFETY: as above.
        let (job, (sets, range)) =
            unsafe { (borrow(job, "job")?, query(sets, set_count, start, stop)?) };
        let s = job.job().sync_summary(&sets, range)?;
        *out = CSyncSummary {
            count: s.count,
            fingerprint: s.fingerprint,
        };
        Ok(())
    })
}

/// Splits `[*start, *stop)` over the union of `sets` into `parts` (1 to
/// 1024) consecutive parts whose counts differ by at most one, written to
/// `out[0..parts]` (`out_len` must be at least `parts`).
///
/// # Safety
/// As for `persistency_sync_summary_sync`; `out` is NULL or points at
/// `out_len` writable parts.
#[no_mangle]
#[allow(clippy::too_many_arguments)] // the C call's arguments, as they are
pub unsafe extern "C" fn persistency_sync_split_sync(
    job: *mut JobHandle,
    sets: *const *const c_char,
    set_count: usize,
    start: *const CSyncId,
    stop: *const CSyncId,
    parts: u32,
    out: *mut CSyncPart,
    out_len: usize,
) -> Status {
    status(|| {
        if out.is_null() {
            return Err(Error::invalid("out is NULL"));
        }
        if out_len < parts as usize {
            return Err(Error::invalid(format!(
                "out holds {out_len} parts, fewer than the {parts} asked for"
            )));
        }
        // SAFETY: the pointers are as this function's `# Safety` requires.
        let (job, (sets, range)) =
            unsafe { (borrow(job, "job")?, query(sets, set_count, start, stop)?) };
        let split = job.job().sync_split(&sets, range, parts)?;
        for (i, part) in split.iter().enumerate() {
            let c = CSyncPart {
                start: part.range.start.into(),
                stop: part.range.stop.into(),
                count: part.summary.count,
                fingerprint: part.summary.fingerprint,
            };
            // SAFETY: `out` points at `out_len >= parts` writable parts and
            // a split has exactly `parts` of them.
            unsafe { out.add(i).write(c) };
        }
        Ok(())
    })
}

/// Writes the ids in `[*start, *stop)` over the union of `sets`, in order,
/// to `out`, at most `capacity` (at least 1) of them, and their number to
/// `*count`.
///
/// # Safety
/// As for `persistency_sync_summary_sync`; `out` is NULL or points at
/// `capacity` writable ids; `count` is NULL or writable.
#[no_mangle]
#[allow(clippy::too_many_arguments)] // the C call's arguments, as they are
pub unsafe extern "C" fn persistency_sync_items_sync(
    job: *mut JobHandle,
    sets: *const *const c_char,
    set_count: usize,
    start: *const CSyncId,
    stop: *const CSyncId,
    out: *mut CSyncId,
    capacity: usize,
    count: *mut usize,
) -> Status {
    status(|| {
        // SAFETY: the pointers are as this function's `# Safety` requires.
        let count = unsafe { args::out_ptr(count, "count") }?;
        *count = 0;
        if out.is_null() || capacity == 0 {
            return Err(Error::invalid("out is NULL or capacity is 0"));
        }
        // SAFETY: as above.
        let (job, (sets, range)) =
            unsafe { (borrow(job, "job")?, query(sets, set_count, start, stop)?) };
        let limit = u32::try_from(capacity).unwrap_or(u32::MAX);
        let ids = job.job().sync_items(&sets, range, limit)?;
        for (i, id) in ids.iter().enumerate() {
            // SAFETY: `out` points at `capacity` writable ids and at most
            // `limit <= capacity` came back.
            unsafe { out.add(i).write((*id).into()) };
        }
        *count = ids.len();
        Ok(())
    })
}

/// Stores in `*len` how many ids `set` holds (0 for a set never written).
///
/// # Safety
/// `job` is NULL or a live job handle; `set` is NULL or a NUL-terminated
/// string; `len` is NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn persistency_sync_len_sync(
    job: *mut JobHandle,
    set: *const c_char,
    len: *mut u64,
) -> Status {
    status(|| {
        // SAFETY: the pointers are as this function's `# Safety` requires.
        let len = unsafe { args::out_ptr(len, "len") }?;
        *len = 0;
        // SAFETY: as above.
        let (job, set) = unsafe { (borrow(job, "job")?, set_name(set)?) };
        *len = job.job().sync_len(set)?;
        Ok(())
    })
}
