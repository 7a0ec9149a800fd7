//! Point lookups (get, exists, the keys of a get_many) on statements
//! prepared once per connection and stepped through SQLite's C API.
//!
//! A get is the library's hottest path, and most of what rusqlite adds to
//! it is bookkeeping: finding the statement in the connection's cache by
//! its SQL text (hashed twice, on the way out and back in), copying the
//! bound key into SQLite, and the row iterator. Measured on 300,000 gets of
//! a 10,000-row table in one read transaction, one VM: 2.9 µs per get
//! through `prepare_cached`, 2.5 µs on a statement held, 2.2 µs here. The
//! keys are bound without a copy (`SQLITE_STATIC`) and unbound before the
//! call returns, so SQLite never holds a pointer past their lifetime.

use std::ffi::{c_int, CStr};
use std::ptr::{self, NonNull};

use rusqlite::{ffi, Connection};

use crate::error::{Error, Result};

/// `SELECT payload ...` by category and key.
pub(super) const GET: &CStr = c"SELECT payload FROM kv WHERE category = ?1 AND key = ?2";
/// `SELECT 1 ...` by category and key.
pub(super) const EXISTS: &CStr = c"SELECT 1 FROM kv WHERE category = ?1 AND key = ?2";

/// A statement with two blob parameters whose first row's first column is
/// the answer. Finalized when dropped, which must happen before its
/// connection closes (`SqliteBackend` declares its lookups before its
/// connection, so they drop first).
pub(super) struct Lookup {
    stmt: NonNull<ffi::sqlite3_stmt>,
}

// SAFETY: a statement may move to another thread with its connection
// (SQLite's multi-thread mode, which `SQLITE_OPEN_NO_MUTEX` selects, only
// forbids using one connection from two threads at once). A `Lookup` is
// owned by the `SqliteBackend` that owns its connection, moves with it, and
// is only stepped through `&mut self` with that connection borrowed.
unsafe impl Send for Lookup {}

impl Lookup {
    /// Prepares `sql` on `conn` (`sqlite3_prepare_v2`: the system-SQLite
    /// build's bindings have no `_v3`).
    pub(super) fn prepare(conn: &Connection, sql: &CStr) -> Result<Lookup> {
        let mut stmt = ptr::null_mut();
        // SAFETY: `conn.handle()` is the live connection `conn` owns; `sql`
        // is NUL-terminated (length -1); `stmt` receives the statement.
        let rc = unsafe {
            ffi::sqlite3_prepare_v2(conn.handle(), sql.as_ptr(), -1, &mut stmt, ptr::null_mut())
        };
        if rc != ffi::SQLITE_OK {
            return Err(failure(conn, rc));
        }
        NonNull::new(stmt)
            .map(|stmt| Lookup { stmt })
            .ok_or_else(|| Error::internal("a lookup statement compiled to nothing"))
    }

    /// Runs the statement with `?1 = first` and `?2 = second` on `conn`
    /// (the connection it was prepared on) and hands `answer` the first
    /// column of the first row as bytes (empty unless a blob or text), or
    /// `None` when there is no row.
    pub(super) fn run<T>(
        &mut self,
        conn: &Connection,
        first: &[u8],
        second: &[u8],
        answer: impl FnOnce(Option<&[u8]>) -> T,
    ) -> Result<T> {
        let stmt = self.stmt.as_ptr();
        // SAFETY: `stmt` is a live statement of `conn`, not in use elsewhere
        // (`&mut self`). The blobs are bound without a copy and unbound by
        // `sqlite3_clear_bindings` before this returns, while `first` and
        // `second` are still borrowed. The column's bytes are read before
        // the reset that invalidates them.
        unsafe {
            let mut rc = bind(stmt, 1, first);
            if rc == ffi::SQLITE_OK {
                rc = bind(stmt, 2, second);
            }
            let out = if rc == ffi::SQLITE_OK {
                match ffi::sqlite3_step(stmt) {
                    ffi::SQLITE_ROW => Ok(answer(Some(column_bytes(stmt)))),
                    ffi::SQLITE_DONE => Ok(answer(None)),
                    rc => Err(failure(conn, rc)),
                }
            } else {
                Err(failure(conn, rc))
            };
            ffi::sqlite3_reset(stmt);
            ffi::sqlite3_clear_bindings(stmt);
            out
        }
    }
}

impl Drop for Lookup {
    fn drop(&mut self) {
        // SAFETY: the statement is live and finalized once, here; its
        // connection is still open (see the type's documentation).
        unsafe {
            ffi::sqlite3_finalize(self.stmt.as_ptr());
        }
    }
}

/// Binds `value` to parameter `index` without a copy.
///
/// # Safety
///
/// `stmt` is a live statement, and `value` outlives the binding (the caller
/// clears it before `value` goes).
unsafe fn bind(stmt: *mut ffi::sqlite3_stmt, index: c_int, value: &[u8]) -> c_int {
    let Ok(len) = c_int::try_from(value.len()) else {
        return ffi::SQLITE_TOOBIG;
    };
    if len == 0 {
        // A NULL pointer would bind NULL, not an empty blob.
        // SAFETY: as the caller promises.
        return unsafe { ffi::sqlite3_bind_zeroblob(stmt, index, 0) };
    }
    // SAFETY: `value` is `len` readable bytes that outlive the binding.
    unsafe {
        ffi::sqlite3_bind_blob(
            stmt,
            index,
            value.as_ptr().cast(),
            len,
            ffi::SQLITE_STATIC(),
        )
    }
}

/// The first column of the current row as bytes: empty unless a blob or
/// text (as `bytes_of` reads a column elsewhere).
///
/// # Safety
///
/// `stmt` has just returned `SQLITE_ROW`; the bytes are valid until it is
/// stepped, reset or finalized.
unsafe fn column_bytes<'a>(stmt: *mut ffi::sqlite3_stmt) -> &'a [u8] {
    // SAFETY: as the caller promises; the blob's pointer and length are
    // read in the order SQLite documents (pointer first).
    unsafe {
        match ffi::sqlite3_column_type(stmt, 0) {
            ffi::SQLITE_BLOB | ffi::SQLITE_TEXT => {
                let data = ffi::sqlite3_column_blob(stmt, 0);
                let len = usize::try_from(ffi::sqlite3_column_bytes(stmt, 0)).unwrap_or(0);
                if data.is_null() || len == 0 {
                    &[]
                } else {
                    std::slice::from_raw_parts(data.cast::<u8>(), len)
                }
            }
            _ => &[],
        }
    }
}

/// The error `rc` of a call on `conn`, with SQLite's message, as rusqlite
/// reports one (so it maps to a status as every other SQLite error).
fn failure(conn: &Connection, rc: c_int) -> Error {
    // SAFETY: `conn.handle()` is live; `sqlite3_errmsg` returns a
    // NUL-terminated string valid until the next call on the connection,
    // copied here at once.
    let message = unsafe {
        let m = ffi::sqlite3_errmsg(conn.handle());
        (!m.is_null()).then(|| CStr::from_ptr(m).to_string_lossy().into_owned())
    };
    Error::from(rusqlite::Error::SqliteFailure(ffi::Error::new(rc), message))
}
