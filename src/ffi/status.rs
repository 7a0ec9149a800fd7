//! Status codes, the last error, names and the version.

use std::ffi::c_char;

use super::boundary::{boundary, last_error_ptr};

/// The status every synchronous call returns: `PERSISTENCY_OK` or an error
/// code. Codes are never renumbered.
pub type persistency_status = i32;

/// Success.
pub const PERSISTENCY_OK: persistency_status = 0;
/// SQLite or file-system failure.
pub const PERSISTENCY_ERR_BACKEND: persistency_status = 1;
/// The instance or job is closed, or no instance is installed.
pub const PERSISTENCY_ERR_CLOSED: persistency_status = 2;
/// A bad argument: NULL, bad job id, bad root, over-long part, bad option.
pub const PERSISTENCY_ERR_INVALID_ARGUMENT: persistency_status = 3;
/// A bounded wait ran out.
pub const PERSISTENCY_ERR_TIMEOUT: persistency_status = 4;
/// No open job with that id.
pub const PERSISTENCY_ERR_JOB_NOT_FOUND: persistency_status = 5;
/// The job's queue is full and the job fails fast instead of waiting.
pub const PERSISTENCY_ERR_BUSY: persistency_status = 6;
/// The job's disk quota (`max_db_bytes`) would be exceeded.
pub const PERSISTENCY_ERR_FULL: persistency_status = 7;
/// A bug inside the library (a caught panic); the call had no effect.
pub const PERSISTENCY_ERR_INTERNAL: persistency_status = 8;

/// The message of the last failed status-returning call on the calling
/// thread, or NULL after a success. The string is NUL-terminated and valid
/// until the next status-returning call on this thread.
#[no_mangle]
pub extern "C" fn persistency_last_error() -> *const c_char {
    boundary(last_error_ptr)
}

/// The name of a status constant as a static string, such as
/// `"PERSISTENCY_ERR_CLOSED"`; `"PERSISTENCY_UNKNOWN"` for an unknown value.
#[no_mangle]
pub extern "C" fn persistency_status_name(status: i32) -> *const c_char {
    boundary(|| {
        let name: &'static [u8] = match status {
            PERSISTENCY_OK => b"PERSISTENCY_OK\0",
            PERSISTENCY_ERR_BACKEND => b"PERSISTENCY_ERR_BACKEND\0",
            PERSISTENCY_ERR_CLOSED => b"PERSISTENCY_ERR_CLOSED\0",
            PERSISTENCY_ERR_INVALID_ARGUMENT => b"PERSISTENCY_ERR_INVALID_ARGUMENT\0",
            PERSISTENCY_ERR_TIMEOUT => b"PERSISTENCY_ERR_TIMEOUT\0",
            PERSISTENCY_ERR_JOB_NOT_FOUND => b"PERSISTENCY_ERR_JOB_NOT_FOUND\0",
            PERSISTENCY_ERR_BUSY => b"PERSISTENCY_ERR_BUSY\0",
            PERSISTENCY_ERR_FULL => b"PERSISTENCY_ERR_FULL\0",
            PERSISTENCY_ERR_INTERNAL => b"PERSISTENCY_ERR_INTERNAL\0",
            _ => b"PERSISTENCY_UNKNOWN\0",
        };
        name.as_ptr().cast()
    })
}

/// The library version (the crate version) as a static string.
#[no_mangle]
pub extern "C" fn persistency_version() -> *const c_char {
    boundary(|| concat!(env!("CARGO_PKG_VERSION"), "\0").as_ptr().cast())
}

/// The version of the SQLite library this library runs on, as a static
/// string such as `"3.46.0"`: the bundled copy (the default build), or the
/// system's libsqlite3 with the `system-sqlite` feature. It is not affected
/// by another SQLite that the host links or loads.
#[no_mangle]
pub extern "C" fn persistency_sqlite_version() -> *const c_char {
    boundary(|| {
        // SAFETY: sqlite3_libversion takes no arguments and returns a pointer
        // to a static NUL-terminated string inside the SQLite library.
        unsafe { rusqlite::ffi::sqlite3_libversion() }
    })
}
