//! Instances: the process-wide one and independent ones.

use std::ffi::c_char;

use super::args;
use super::boundary::{boundary, status};
use super::status::persistency_status;
use crate::instance::{self, Persistency};

/// An instance: one root directory and the jobs open under it. Reference
/// counted: every function that hands one out gives a new reference, which
/// the host returns with `persistency_release`.
pub struct persistency {
    _opaque: [u8; 0],
}

fn hand_out(p: Persistency, out: *mut *mut persistency) -> crate::Result<()> {
    let out = args::out_ptr(out, "out")?;
    *out = p.into_raw() as *mut persistency;
    Ok(())
}

/// The process-wide instance. The first call validates `root_dir` and
/// installs it (the directory is created by the first `persistency_open_job`;
/// `":memory:"` keeps every job in memory); a later call with the same
/// string returns the same instance (pointer-equal); a later call with
/// another string fails with `PERSISTENCY_ERR_INVALID_ARGUMENT`.
/// On success `*out` holds a new reference (release it with
/// `persistency_release`).
#[no_mangle]
pub extern "C" fn persistency_instance(
    root_dir: *const c_char,
    out: *mut *mut persistency,
) -> persistency_status {
    status(|| {
        args::out_ptr(out, "out")?;
        let root = args::utf8(root_dir, "root_dir")?;
        hand_out(instance::instance(root)?, out)
    })
}

/// The installed process-wide instance (a new reference in `*out`), or
/// `PERSISTENCY_ERR_CLOSED` when none is installed.
#[no_mangle]
pub extern "C" fn persistency_instance_current(out: *mut *mut persistency) -> persistency_status {
    status(|| {
        args::out_ptr(out, "out")?;
        hand_out(instance::current()?, out)
    })
}

/// Closes every job of the process-wide instance and empties the slot, so
/// the next `persistency_instance` may use another root. The old instance
/// is closed for good: calls on its handles, and its jobs' handles, return
/// `PERSISTENCY_ERR_CLOSED`. OK when no instance is installed. From a
/// callback of one of its jobs: `PERSISTENCY_ERR_INVALID_ARGUMENT`.
#[no_mangle]
pub extern "C" fn persistency_reset() -> persistency_status {
    status(instance::reset)
}

/// Makes an independent instance over `root_dir`, owned by the caller
/// (`*out`, released with `persistency_release`). Root validation is as for
/// `persistency_instance`. Two live instances never open the same job file.
#[no_mangle]
pub extern "C" fn persistency_new(
    root_dir: *const c_char,
    out: *mut *mut persistency,
) -> persistency_status {
    status(|| {
        args::out_ptr(out, "out")?;
        let root = args::utf8(root_dir, "root_dir")?;
        hand_out(Persistency::new(root)?, out)
    })
}

/// Closes every job of the instance (each as `persistency_close_job`); the
/// instance stays usable for new jobs. Idempotent. From a callback of one of
/// its jobs: `PERSISTENCY_ERR_INVALID_ARGUMENT`.
#[no_mangle]
pub extern "C" fn persistency_close(p: *mut persistency) -> persistency_status {
    status(|| args::instance(p)?.close())
}

/// Gives back one reference to an instance; NULL is a no-op. Releasing the
/// last reference closes its jobs. The handle must not be used afterwards.
#[no_mangle]
pub extern "C" fn persistency_release(p: *mut persistency) {
    boundary(|| {
        if !p.is_null() {
            // SAFETY: the host gives back a reference it owns.
            drop(unsafe { Persistency::from_raw(p.cast()) });
        }
    })
}

/// Takes one more reference to an instance (for another thread or owner)
/// and returns `p`; release it with `persistency_release`. NULL gives NULL.
#[no_mangle]
pub extern "C" fn persistency_retain(p: *mut persistency) -> *mut persistency {
    boundary(|| match args::instance(p) {
        Ok(instance) => Persistency::clone(&instance).into_raw() as *mut persistency,
        Err(_) => std::ptr::null_mut(),
    })
}

/// The root directory as given, valid as long as `p` is; NULL for NULL.
#[no_mangle]
pub extern "C" fn persistency_root_dir(p: *const persistency) -> *const c_char {
    boundary(|| match args::instance(p) {
        // The string lives in the instance, which the host keeps alive.
        Ok(instance) => instance.root_c().as_ptr(),
        Err(_) => std::ptr::null(),
    })
}
