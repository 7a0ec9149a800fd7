//! Instances: the process-wide one and independent ones.

use std::ffi::c_char;
use std::sync::Arc;

use parking_lot::Mutex;

use super::args;
use super::boundary::{boundary, status};
use super::handles::{borrow, into_raw, release, retain, PersistencyHandle};
use super::status::Status;
use crate::error::Result;
use crate::instance::{self, Persistency};

/// The handle of the process-wide instance, so every call that returns it
/// returns the same pointer. Checked against the core's slot on each use.
static GLOBAL: Mutex<Option<Arc<PersistencyHandle>>> = Mutex::new(None);

/// The handle of the process-wide instance that `get` returns (called with
/// the handle slot locked, so a concurrent reset cannot interleave): the one
/// handed out before while it is still that instance, else a new one.
fn global_handle(get: impl FnOnce() -> Result<Persistency>) -> Result<*mut PersistencyHandle> {
    let mut slot = GLOBAL.lock();
    let p = get()?;
    if let Some(handle) = slot.as_ref().filter(|h| h.instance().same(&p)) {
        return Ok(into_raw(handle.clone()));
    }
    let handle = PersistencyHandle::new(p)?;
    let stale = slot.replace(handle.clone());
    drop(slot);
    // Dropped with the slot unlocked: it may close a retired instance's jobs.
    drop(stale);
    Ok(into_raw(handle))
}

/// The process-wide instance. The first call validates `root_dir` and
/// installs it (the directory is created by the first `persistency_open_job`;
/// `":memory:"` keeps every job in memory); a later call with the same
/// string returns the same instance (pointer-equal); a later call with
/// another string fails with `PERSISTENCY_ERR_INVALID_ARGUMENT`.
/// On success `*out` holds a new reference (release it with
/// `persistency_release`).
///
/// # Safety
/// `root_dir` is NULL or a NUL-terminated string; `out` is NULL or points
/// at writable storage for one pointer.
#[no_mangle]
pub unsafe extern "C" fn persistency_instance(
    root_dir: *const c_char,
    out: *mut *mut PersistencyHandle,
) -> Status {
    status(|| {
        // SAFETY: the pointers are as this function's `# Safety` requires.
        let (out, root) = unsafe {
            (
                args::out_ptr(out, "out")?,
                args::utf8(root_dir, "root_dir")?,
            )
        };
        *out = global_handle(|| instance::instance(root))?;
        Ok(())
    })
}

/// The installed process-wide instance (a new reference in `*out`), or
/// `PERSISTENCY_ERR_CLOSED` when none is installed.
///
/// # Safety
/// `out` is NULL or points at writable storage for one pointer.
#[no_mangle]
pub unsafe extern "C" fn persistency_instance_current(out: *mut *mut PersistencyHandle) -> Status {
    status(|| {
        // SAFETY: the pointer is as this function's `# Safety` requires.
        let out = unsafe { args::out_ptr(out, "out") }?;
        *out = global_handle(instance::current)?;
        Ok(())
    })
}

/// Closes every job of the process-wide instance and empties the slot, so
/// the next `persistency_instance` may use another root. The old instance
/// is closed for good: calls on its handles, and its jobs' handles, return
/// `PERSISTENCY_ERR_CLOSED`. OK when no instance is installed. From a
/// callback of one of its jobs: `PERSISTENCY_ERR_INVALID_ARGUMENT`.
///
/// # Safety
/// None: takes no pointers. (Unsafe like every C entry point.)
#[no_mangle]
pub unsafe extern "C" fn persistency_reset() -> Status {
    status(|| {
        instance::reset()?;
        let stale = GLOBAL.lock().take();
        drop(stale);
        Ok(())
    })
}

/// Makes an independent instance over `root_dir`, owned by the caller
/// (`*out`, released with `persistency_release`). Root validation is as for
/// `persistency_instance`. Two live instances never open the same job file.
///
/// # Safety
/// As for `persistency_instance`.
#[no_mangle]
pub unsafe extern "C" fn persistency_new(
    root_dir: *const c_char,
    out: *mut *mut PersistencyHandle,
) -> Status {
    status(|| {
        // SAFETY: the pointers are as this function's `# Safety` requires.
        let (out, root) = unsafe {
            (
                args::out_ptr(out, "out")?,
                args::utf8(root_dir, "root_dir")?,
            )
        };
        *out = into_raw(PersistencyHandle::new(Persistency::new(root)?)?);
        Ok(())
    })
}

/// Closes every job of the instance (each as `persistency_close_job`); the
/// instance stays usable for new jobs. Idempotent. The intake of every job
/// stops before any is joined, so a callback may still open (reopen) any
/// job meanwhile; jobs opened during the close stay open. From a callback
/// of one of its jobs, or of a job one of its jobs waits for:
/// `PERSISTENCY_ERR_INVALID_ARGUMENT`.
///
/// # Safety
/// `p` is NULL or a live instance handle.
#[no_mangle]
pub unsafe extern "C" fn persistency_close(p: *mut PersistencyHandle) -> Status {
    // SAFETY: the pointer is as this function's `# Safety` requires.
    status(|| unsafe { borrow(p, "instance") }?.instance().close())
}

/// Gives back one reference to an instance; NULL is a no-op. Releasing the
/// last reference closes its jobs. The handle must not be used afterwards.
///
/// # Safety
/// `p` is NULL or an instance handle whose reference the caller owns and
/// gives up.
#[no_mangle]
pub unsafe extern "C" fn persistency_release(p: *mut PersistencyHandle) {
    // SAFETY: the pointer is as this function's `# Safety` requires.
    boundary(|| unsafe { release(p) })
}

/// Takes one more reference to an instance (for another thread or owner)
/// and returns `p`; release it with `persistency_release`. NULL gives NULL.
///
/// # Safety
/// `p` is NULL or a live instance handle.
#[no_mangle]
pub unsafe extern "C" fn persistency_retain(p: *mut PersistencyHandle) -> *mut PersistencyHandle {
    // SAFETY: the pointer is as this function's `# Safety` requires.
    boundary(|| unsafe { retain(p) })
}

/// The root directory as given, valid as long as `p` is; NULL for NULL.
///
/// # Safety
/// `p` is NULL or a live instance handle.
#[no_mangle]
pub unsafe extern "C" fn persistency_root_dir(p: *const PersistencyHandle) -> *const c_char {
    boundary(|| {
        // SAFETY: the pointer is as this function's `# Safety` requires.
        unsafe { borrow(p, "instance") }.map_or(std::ptr::null(), |h| h.root().as_ptr())
    })
}
