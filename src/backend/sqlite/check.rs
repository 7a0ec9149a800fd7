//! The integrity check of a job database, reporting how far it has got
//! while it runs.
//!
//! SQLite checks the b-tree in one statement step; since 3.41 it calls
//! the connection's progress handler from inside the check as it visits
//! pages. The handler reads how many pages the connection has fetched
//! (`SQLITE_DBSTATUS_CACHE_HIT` + `_MISS`) since the check began and
//! turns that into bytes of the file. An older SQLite (the `system-sqlite`
//! build on an old system) reports only at the end.

use std::ffi::{c_int, c_void};
use std::panic::{catch_unwind, AssertUnwindSafe};

use rusqlite::ffi;

use super::{sqlite_error, SqliteBackend};
use crate::error::{Error, Result};
use crate::progress::Progress;

/// Problems the integrity check reports at most.
const MAX_PROBLEMS: u32 = 5;

/// The progress handler runs every this many steps of the check (virtual
/// machine instructions, and pages visited inside the b-tree check).
const STEPS_PER_CALL: c_int = 64;

/// Page fetches the check makes per page of the file, measured on job
/// files of this library (b-tree pages, the freelist and, with
/// auto-vacuum, a pointer-map lookup per page): the estimate's divisor.
const FETCHES_PER_PAGE_AUTO_VACUUM: u64 = 2;
const FETCHES_PER_PAGE: u64 = 1;

/// What the progress handler needs while one check runs.
struct Watch<'a> {
    db: *mut ffi::sqlite3,
    /// Page fetches of the connection when the check began.
    start: i64,
    /// Pages in the file, and fetches expected per page.
    pages: u64,
    per_page: u64,
    page_bytes: u64,
    /// Pages reported so far.
    done: u64,
    /// Cleared when a report panicked: no more reports.
    live: bool,
    report: &'a mut dyn FnMut(Progress),
}

impl Watch<'_> {
    /// Reports the pages visited so far, held below the total until the
    /// check ends.
    fn tick(&mut self) {
        let fetched = u64::try_from(page_fetches(self.db) - self.start).unwrap_or(0);
        let pages = (fetched / self.per_page).min(self.pages.saturating_sub(1));
        if pages > self.done {
            self.done = pages;
            self.report_done();
        }
    }

    /// Reports `done` pages, unless a report panicked before.
    fn report_done(&mut self) {
        if self.live {
            (self.report)(Progress {
                done: self.done * self.page_bytes,
                total: self.pages * self.page_bytes,
            });
        }
    }
}

/// Pages the connection has fetched from its cache or the file.
fn page_fetches(db: *mut ffi::sqlite3) -> i64 {
    let mut total = 0i64;
    for op in [
        ffi::SQLITE_DBSTATUS_CACHE_HIT,
        ffi::SQLITE_DBSTATUS_CACHE_MISS,
    ] {
        let (mut current, mut highest) = (0 as c_int, 0 as c_int);
        // SAFETY: `db` is the live connection running the check, on this
        // thread; the out-pointers are locals.
        unsafe { ffi::sqlite3_db_status(db, op, &mut current, &mut highest, 0) };
        total += i64::from(current);
    }
    total
}

/// The progress handler: `arg` is the check's [`Watch`].
unsafe extern "C" fn on_step(arg: *mut c_void) -> c_int {
    // SAFETY: the handler is installed with a pointer to a `Watch` that
    // outlives it (removed before the watch is dropped), and SQLite calls
    // it on the thread running the check, which holds no other reference
    // to the watch meanwhile.
    let watch = unsafe { &mut *arg.cast::<Watch<'_>>() };
    // A panic must not unwind into SQLite: it stops the reports, not the
    // check. (The worker's closure catches its host closure's panics.)
    if catch_unwind(AssertUnwindSafe(|| watch.tick())).is_err() {
        watch.live = false;
    }
    0
}

impl SqliteBackend {
    /// SQLite's `integrity_check`: `Ok` when sound, else a backend error
    /// (`SQLITE_CORRUPT`) naming the first problems. `progress` hears how
    /// far it has got (see [`Progress`]); `done == total` once it passed.
    pub(super) fn integrity_check(
        &mut self,
        progress: Option<&mut dyn FnMut(Progress)>,
    ) -> Result<()> {
        let problems = match progress {
            None => self.problems(),
            Some(report) => self.problems_watched(report),
        }
        .map_err(|e| Error::from(e).context("integrity check failed"))?;
        match problems.as_slice() {
            [ok] if ok == "ok" => Ok(()),
            _ => Err(sqlite_error(
                ffi::SQLITE_CORRUPT,
                format!("integrity check failed: {}", problems.join("; ")),
            )),
        }
    }

    /// The rows of `integrity_check`: `["ok"]` or the first problems.
    fn problems(&self) -> rusqlite::Result<Vec<String>> {
        let mut stmt = self
            .conn
            .prepare(&format!("PRAGMA integrity_check({MAX_PROBLEMS})"))?;
        let rows = stmt.query_map([], |r| r.get::<_, String>(0))?;
        rows.collect()
    }

    /// [`Self::problems`] with progress reports while it runs.
    fn problems_watched(&self, report: &mut dyn FnMut(Progress)) -> rusqlite::Result<Vec<String>> {
        let (pages, page_bytes, auto_vacuum): (i64, i64, i64) = self.conn.query_row(
            "SELECT page_count, page_size, auto_vacuum \
             FROM pragma_page_count(), pragma_page_size(), pragma_auto_vacuum()",
            [],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
        )?;
        let (pages, page_bytes) = (pages.max(0) as u64, page_bytes.max(0) as u64);
        // SAFETY: the handle of this backend's live connection, used on
        // this thread only.
        let db = unsafe { self.conn.handle() };
        let mut watch = Watch {
            db,
            start: page_fetches(db),
            pages,
            per_page: if auto_vacuum == 0 {
                FETCHES_PER_PAGE
            } else {
                FETCHES_PER_PAGE_AUTO_VACUUM
            },
            page_bytes,
            done: 0,
            live: true,
            report,
        };
        let arg: *mut Watch<'_> = &mut watch;
        // SAFETY: `arg` points to `watch`, which outlives the handler: it is
        // removed below, before `watch` goes out of scope, on every path.
        unsafe { ffi::sqlite3_progress_handler(db, STEPS_PER_CALL, Some(on_step), arg.cast()) };
        let outcome = self.problems();
        // SAFETY: removes the handler installed above from the same
        // connection.
        unsafe { ffi::sqlite3_progress_handler(db, 0, None, std::ptr::null_mut()) };
        if matches!(outcome.as_deref(), Ok([ok]) if ok == "ok") {
            watch.done = pages;
            watch.report_done();
        }
        outcome
    }
}
