//! Status codes, the last error, names and the version.
//!
//! The C constants are written here once (cbindgen needs literals); the
//! table below ties each to its name and to its [`ErrorKind`] at compile
//! time, so the core and the header cannot drift apart.

use std::ffi::c_char;

use super::boundary::{boundary, last_error_ptr};
use crate::error::ErrorKind;

/// The status every synchronous call returns (C `persistency_status`):
/// `PERSISTENCY_OK` or an error code. Codes are never renumbered.
pub type Status = i32;

/// Success.
pub const PERSISTENCY_OK: Status = 0;
/// SQLite or file-system failure.
pub const PERSISTENCY_ERR_BACKEND: Status = 1;
/// The instance or job is closed, or no instance is installed.
pub const PERSISTENCY_ERR_CLOSED: Status = 2;
/// A bad argument: NULL, bad job id, bad root, over-long part, bad option.
pub const PERSISTENCY_ERR_INVALID_ARGUMENT: Status = 3;
/// A bounded wait ran out.
pub const PERSISTENCY_ERR_TIMEOUT: Status = 4;
/// No open job with that id.
pub const PERSISTENCY_ERR_JOB_NOT_FOUND: Status = 5;
/// The job's queue is full and the job fails fast instead of waiting.
pub const PERSISTENCY_ERR_BUSY: Status = 6;
/// The disk is full, or the job's disk quota (`max_db_bytes`) would be
/// exceeded: the write that did not fit failed alone and changed nothing.
pub const PERSISTENCY_ERR_FULL: Status = 7;
/// A bug inside the library (a caught panic); the call had no effect.
pub const PERSISTENCY_ERR_INTERNAL: Status = 8;

/// Builds the name table from the constants and checks, at compile time,
/// that each error constant is the code of its [`ErrorKind`] and that the
/// table covers every kind.
macro_rules! status_table {
    ($ok:ident; $($name:ident => $kind:ident),* $(,)?) => {
        /// Every status with its NUL-terminated name, indexed by code.
        const NAMES: &[(Status, &str)] = &[
            ($ok, concat!(stringify!($ok), "\0")),
            $(($name, concat!(stringify!($name), "\0"))),*
        ];
        const _: () = {
            assert!($ok == 0);
            $(assert!($name == ErrorKind::$kind.code());)*
            assert!(NAMES.len() == ErrorKind::ALL.len() + 1);
            let mut i = 0;
            while i < NAMES.len() {
                assert!(NAMES[i].0 == i as Status);
                i += 1;
            }
        };
    };
}

status_table! {
    PERSISTENCY_OK;
    PERSISTENCY_ERR_BACKEND => Backend,
    PERSISTENCY_ERR_CLOSED => Closed,
    PERSISTENCY_ERR_INVALID_ARGUMENT => InvalidArgument,
    PERSISTENCY_ERR_TIMEOUT => Timeout,
    PERSISTENCY_ERR_JOB_NOT_FOUND => JobNotFound,
    PERSISTENCY_ERR_BUSY => Busy,
    PERSISTENCY_ERR_FULL => Full,
    PERSISTENCY_ERR_INTERNAL => Internal,
}

/// The message of the last failed status-returning call on the calling
/// thread, or NULL after a success. The string is NUL-terminated and valid
/// until the next status-returning call on this thread.
///
/// # Safety
/// None: takes no pointers. (Unsafe like every C entry point.)
#[no_mangle]
pub unsafe extern "C" fn persistency_last_error() -> *const c_char {
    boundary(last_error_ptr)
}

/// The name of a status constant as a static string, such as
/// `"PERSISTENCY_ERR_CLOSED"`; `"PERSISTENCY_UNKNOWN"` for an unknown value.
///
/// # Safety
/// None: takes no pointers. (Unsafe like every C entry point.)
#[no_mangle]
pub unsafe extern "C" fn persistency_status_name(status: i32) -> *const c_char {
    boundary(|| {
        let name = usize::try_from(status)
            .ok()
            .and_then(|i| NAMES.get(i))
            .map_or("PERSISTENCY_UNKNOWN\0", |(_, name)| name);
        name.as_ptr().cast()
    })
}

/// The library version (the crate version) as a static string.
///
/// # Safety
/// None: takes no pointers. (Unsafe like every C entry point.)
#[no_mangle]
pub unsafe extern "C" fn persistency_version() -> *const c_char {
    boundary(|| concat!(env!("CARGO_PKG_VERSION"), "\0").as_ptr().cast())
}

/// The version of the SQLite library this library runs on, as a static
/// string such as `"3.46.0"`: the bundled copy (the default build), or the
/// system's libsqlite3 with the `system-sqlite` feature. It is not affected
/// by another SQLite that the host links or loads.
///
/// # Safety
/// None: takes no pointers. (Unsafe like every C entry point.)
#[no_mangle]
pub unsafe extern "C" fn persistency_sqlite_version() -> *const c_char {
    boundary(|| crate::sqlite_version().as_ptr())
}
