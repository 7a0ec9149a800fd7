//! Cursors: a key range handed out page by page (`Job::cursor`), each page
//! an owned reply as the blocking reads return.

use std::ffi::c_char;

use super::args;
use super::blocking::rows_reply_raw;
use super::boundary::{boundary, status};
use super::callback::CResult;
use super::handles::{borrow, JobHandle};
use super::status::Status;
use crate::job::{Cursor, ScanOptions};

/// A cursor (C `persistency_cursor`): one range of one job, read page by
/// page. Owned by the host from `persistency_cursor_open` until
/// `persistency_cursor_close`.
pub struct CursorHandle(Cursor);

/// Opens a cursor over `[start, stop)` (`stop_len == 0`: no upper bound),
/// ascending or, with `reverse`, descending, handing out pages of
/// `page_rows` rows (0: 256). Nothing is read yet.
///
/// Read-your-writes: each page sees every write accepted before the
/// `persistency_cursor_next` call that returns it (by any thread, once the
/// calling thread learnt of the acceptance); writes accepted during the
/// call may or may not be seen. Snapshots: a cursor holds its snapshot no
/// longer than it is used. Each page is read in its own snapshot, ended
/// before the page is handed out; between calls a cursor holds none (so it
/// never holds back a checkpoint). Pages never repeat or reorder rows.
///
/// Threads: any thread may open, use and close a cursor, one thread at a
/// time. Statuses: `PERSISTENCY_ERR_INVALID_ARGUMENT` (a NULL argument, a
/// NULL buffer with a length, an over-long category); on any error `*out`
/// is set to NULL (when `out` is not NULL). The cursor stays valid after its
/// job is closed (its next page then fails with `PERSISTENCY_ERR_CLOSED`).
///
/// # Safety
/// `job` is NULL or a live job handle; `category` is NULL or a
/// NUL-terminated string; `start` and `stop` are each NULL (with length 0)
/// or point at that many readable bytes; `out` is NULL or points at a
/// writable pointer.
#[no_mangle]
pub unsafe extern "C" fn persistency_cursor_open(
    job: *mut JobHandle,
    category: *const c_char,
    start: *const u8,
    start_len: usize,
    stop: *const u8,
    stop_len: usize,
    reverse: bool,
    page_rows: u32,
    out: *mut *mut CursorHandle,
) -> Status {
    status(|| {
        // SAFETY: the pointers are as this function's `# Safety` requires.
        let out = unsafe { args::out_ptr(out, "out") }?;
        *out = std::ptr::null_mut();
        // SAFETY: as above.
        let (job, category, start, stop) = unsafe {
            (
                borrow(job, "job")?,
                args::category(category)?,
                args::bytes(start, start_len, "start")?,
                args::bytes(stop, stop_len, "stop")?,
            )
        };
        let options = ScanOptions::new().reverse(reverse).limit(page_rows);
        let cursor = job.job().cursor(category, start, stop, options)?;
        *out = Box::into_raw(Box::new(CursorHandle(cursor)));
        Ok(())
    })
}

/// Reads the cursor's next page. On `PERSISTENCY_OK`, `*reply` is an owned
/// reply (freed with `persistency_reply_free`, as those of the blocking
/// reads): `rows` / `row_count` (also in `count`) in the cursor's order, and
/// `has_more` (more pages follow). Once the range is exhausted the reply has
/// no rows and `has_more` false, and so has every later one.
///
/// While the job has no accepted write still uncommitted, the page is read
/// on the calling thread, as `persistency_scan_sync` reads; otherwise the
/// job's worker reads it behind those writes and reads the next page ahead
/// while the host consumes this one (a page read ahead is handed out only
/// if the job accepted no other request since; otherwise it is read
/// again). Statuses as `persistency_get_sync`
/// (`PERSISTENCY_ERR_CLOSED` once the job is closed); after an error the
/// cursor is exhausted. On an error `*reply` is set to NULL.
///
/// # Safety
/// `cursor` is NULL or an open cursor no other thread is using; `reply` is
/// NULL or points at a writable pointer.
#[no_mangle]
pub unsafe extern "C" fn persistency_cursor_next(
    cursor: *mut CursorHandle,
    reply: *mut *const CResult,
) -> Status {
    status(|| {
        // SAFETY: the pointers are as this function's `# Safety` requires.
        let reply = unsafe { args::out_ptr(reply, "reply") }?;
        *reply = std::ptr::null();
        // SAFETY: as above; the host uses the cursor from one thread at a
        // time, so this is the only reference.
        let cursor = unsafe { args::out_ptr(cursor, "cursor") }?;
        let page = cursor.0.next_page()?.unwrap_or_default();
        *reply = rows_reply_raw(page);
        Ok(())
    })
}

/// Closes a cursor and frees it; NULL is ignored. A page being read ahead
/// by the worker (if any) is dropped when it arrives. Replies already handed out stay valid.
///
/// # Safety
/// `cursor` is NULL or an open cursor, not used by another thread and not
/// used again after this call.
#[no_mangle]
pub unsafe extern "C" fn persistency_cursor_close(cursor: *mut CursorHandle) {
    boundary(|| {
        if !cursor.is_null() {
            // SAFETY: per this function's contract, `cursor` came from
            // `Box::into_raw` in `persistency_cursor_open` and is closed once.
            drop(unsafe { Box::from_raw(cursor) });
        }
    })
}
