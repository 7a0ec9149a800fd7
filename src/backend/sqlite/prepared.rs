//! Statements prepared once per connection and stepped through SQLite's C
//! API: point lookups (get, exists, the keys of a get_many) and range scans.
//!
//! These are the library's hottest paths, and most of what rusqlite adds to
//! them is bookkeeping: finding the statement in the connection's cache by
//! its SQL text (hashed twice, on the way out and back in), copying the
//! bound keys into SQLite, the row iterator, and a check of the column index
//! on every read of a column. Measured on 300,000 gets of a 10,000-row table
//! in one read transaction, one VM: 2.9 µs per get through
//! `prepare_cached`, 2.5 µs on a statement held, 2.2 µs here. The keys are
//! bound without a copy (`SQLITE_STATIC`) and unbound before the call
//! returns, so SQLite never holds a pointer past their lifetime.

use std::ffi::{c_int, CStr};
use std::marker::PhantomData;
use std::ptr::{self, NonNull};

use rusqlite::{ffi, Connection};

use crate::error::{Error, Result};

/// `SELECT payload ...` by category and key.
const GET: &CStr = c"SELECT payload FROM kv WHERE category = ?1 AND key = ?2";
/// `SELECT 1 ...` by category and key.
const EXISTS: &CStr = c"SELECT 1 FROM kv WHERE category = ?1 AND key = ?2";

/// The scans, indexed by [`scan_index`]: bounded or not above, ascending or
/// descending. Each takes the category, the start, the stop if bounded, and
/// a row limit (-1: none).
const SCANS: [&CStr; 4] = [
    c"SELECT key, payload FROM kv WHERE category = ?1 AND key >= ?2 ORDER BY key ASC LIMIT ?3",
    c"SELECT key, payload FROM kv WHERE category = ?1 AND key >= ?2 ORDER BY key DESC LIMIT ?3",
    c"SELECT key, payload FROM kv WHERE category = ?1 AND key >= ?2 AND key < ?3 \
      ORDER BY key ASC LIMIT ?4",
    c"SELECT key, payload FROM kv WHERE category = ?1 AND key >= ?2 AND key < ?3 \
      ORDER BY key DESC LIMIT ?4",
];

/// The index in [`SCANS`] of a scan bounded above or not, in descending
/// order or not.
fn scan_index(bounded: bool, reverse: bool) -> usize {
    usize::from(bounded) * 2 + usize::from(reverse)
}

/// A connection's statements, each prepared on first use (an idle
/// connection prepares none). Must be dropped before the connection
/// closes: `SqliteBackend` declares them before its connection.
#[derive(Default)]
pub(super) struct Statements {
    get: Option<Prepared>,
    exists: Option<Prepared>,
    scans: [Option<Prepared>; 4],
}

impl Statements {
    /// `SELECT payload` by category and key.
    pub(super) fn get(&mut self, conn: &Connection) -> Result<&mut Prepared> {
        prepared_in(&mut self.get, conn, GET)
    }

    /// `SELECT 1` by category and key.
    pub(super) fn exists(&mut self, conn: &Connection) -> Result<&mut Prepared> {
        prepared_in(&mut self.exists, conn, EXISTS)
    }

    /// The scan bounded above or not, in descending order or not (its
    /// parameters are in [`SCANS`]).
    pub(super) fn scan(
        &mut self,
        conn: &Connection,
        bounded: bool,
        reverse: bool,
    ) -> Result<&mut Prepared> {
        let which = scan_index(bounded, reverse);
        prepared_in(&mut self.scans[which], conn, SCANS[which])
    }
}

/// The statement in `slot`, prepared on `conn` first if it is not yet.
fn prepared_in<'a>(
    slot: &'a mut Option<Prepared>,
    conn: &Connection,
    sql: &CStr,
) -> Result<&'a mut Prepared> {
    if slot.is_none() {
        *slot = Some(Prepared::prepare(conn, sql)?);
    }
    Ok(slot.as_mut().expect("prepared just above"))
}

/// A statement prepared on a connection. Finalized when dropped, which must
/// happen before its connection closes (see [`Statements`]).
pub(super) struct Prepared {
    stmt: NonNull<ffi::sqlite3_stmt>,
}

// SAFETY: a statement may move to another thread with its connection
// (SQLite's multi-thread mode, which `SQLITE_OPEN_NO_MUTEX` selects, only
// forbids using one connection from two threads at once). A `Prepared` is
// owned by the `SqliteBackend` that owns its connection, moves with it, and
// is only stepped through `&mut self` with that connection borrowed.
unsafe impl Send for Prepared {}

/// The current row of a statement being stepped: valid during the call it
/// is lent to.
pub(super) struct Row<'a> {
    stmt: *mut ffi::sqlite3_stmt,
    _stepped: PhantomData<&'a mut Prepared>,
}

impl Row<'_> {
    /// Column `index` as bytes: a blob's or a text's bytes, empty for any
    /// other type (a payload stored by another writer as an integer reads
    /// as empty). `index` is a column of the statement's result (every
    /// caller passes a constant below its column count).
    pub(super) fn bytes(&self, index: c_int) -> &[u8] {
        // SAFETY: the statement has just returned `SQLITE_ROW` and is not
        // stepped, reset or finalized while `self` is borrowed (a `Row`
        // lives for one call of `Prepared::each`'s closure). The blob's
        // pointer is read before its length, as SQLite documents.
        unsafe {
            match ffi::sqlite3_column_type(self.stmt, index) {
                ffi::SQLITE_BLOB | ffi::SQLITE_TEXT => {
                    let data = ffi::sqlite3_column_blob(self.stmt, index);
                    let len =
                        usize::try_from(ffi::sqlite3_column_bytes(self.stmt, index)).unwrap_or(0);
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
}

impl Prepared {
    /// Prepares `sql` on `conn` (`sqlite3_prepare_v2`: the system-SQLite
    /// build's bindings have no `_v3`).
    pub(super) fn prepare(conn: &Connection, sql: &CStr) -> Result<Prepared> {
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
            .map(|stmt| Prepared { stmt })
            .ok_or_else(|| Error::internal("a statement compiled to nothing"))
    }

    /// Runs the statement on `conn` (the connection it was prepared on)
    /// with `blobs` bound to its first parameters and `int`, if given, to
    /// the next one, and hands each row to `row` until it answers false or
    /// the rows end. The statement is reset and its parameters unbound
    /// before this returns, however it returns.
    pub(super) fn each(
        &mut self,
        conn: &Connection,
        blobs: &[&[u8]],
        int: Option<i64>,
        mut row: impl FnMut(&Row<'_>) -> bool,
    ) -> Result<()> {
        let stmt = self.stmt.as_ptr();
        // SAFETY: `stmt` is a live statement of `conn`, not in use elsewhere
        // (`&mut self`). The blobs are bound without a copy and unbound by
        // `sqlite3_clear_bindings` before this returns, while they are still
        // borrowed. Each `Row` is lent for one call of `row`, before the
        // next step or the reset that invalidates its columns.
        unsafe {
            let out = bind_all(stmt, blobs, int)
                .map_err(|rc| failure(conn, rc))
                .and_then(|()| loop {
                    match ffi::sqlite3_step(stmt) {
                        ffi::SQLITE_ROW => {
                            let current = Row {
                                stmt,
                                _stepped: PhantomData,
                            };
                            if !row(&current) {
                                break Ok(());
                            }
                        }
                        ffi::SQLITE_DONE => break Ok(()),
                        rc => break Err(failure(conn, rc)),
                    }
                });
            ffi::sqlite3_reset(stmt);
            ffi::sqlite3_clear_bindings(stmt);
            out
        }
    }

    /// Runs the statement with `?1 = first` and `?2 = second` and hands
    /// `answer` the first column of the first row as bytes
    /// ([`Row::bytes`]), or `None` when there is no row.
    pub(super) fn first<T>(
        &mut self,
        conn: &Connection,
        first: &[u8],
        second: &[u8],
        answer: impl FnOnce(Option<&[u8]>) -> T,
    ) -> Result<T> {
        let mut answer = Some(answer);
        let mut out = None;
        self.each(conn, &[first, second], None, |row| {
            out = answer.take().map(|answer| answer(Some(row.bytes(0))));
            false
        })?;
        match (out, answer) {
            (Some(out), _) => Ok(out),
            (None, Some(answer)) => Ok(answer(None)),
            (None, None) => Err(Error::internal("a lookup answered without a value")),
        }
    }
}

impl Drop for Prepared {
    fn drop(&mut self) {
        // SAFETY: the statement is live and finalized once, here; its
        // connection is still open (see the type's documentation).
        unsafe {
            ffi::sqlite3_finalize(self.stmt.as_ptr());
        }
    }
}

/// Binds `blobs` to parameters 1.. and `int` to the next; the first
/// failing call's code on error.
///
/// # Safety
///
/// `stmt` is a live statement, and the blobs outlive their binding (the
/// caller clears it before they go).
unsafe fn bind_all(
    stmt: *mut ffi::sqlite3_stmt,
    blobs: &[&[u8]],
    int: Option<i64>,
) -> std::result::Result<(), c_int> {
    let mut index: c_int = 0;
    for blob in blobs {
        index += 1;
        // SAFETY: as the caller promises.
        let rc = unsafe { bind(stmt, index, blob) };
        if rc != ffi::SQLITE_OK {
            return Err(rc);
        }
    }
    if let Some(int) = int {
        // SAFETY: `stmt` is live.
        let rc = unsafe { ffi::sqlite3_bind_int64(stmt, index + 1, int) };
        if rc != ffi::SQLITE_OK {
            return Err(rc);
        }
    }
    Ok(())
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
