//! Cursors: a key range read page by page.
//!
//! Read-your-writes: the page a call to [`Cursor::next_page`] returns sees
//! every write accepted before that call (by any thread, as for a blocking
//! read: a write whose acceptance the caller learnt of before the call).
//! Writes accepted during the call may or may not be seen.
//!
//! How a page is read: while the job has no accepted write that is not yet
//! committed, the page is read on the calling thread, on a read-only
//! connection of the job's read pool, as a blocking scan is (`fast.rs`).
//! Otherwise it is read by the worker, behind those writes, and the cursor
//! then has the worker read the next page ahead at once, behind the page
//! just handed out, while the host consumes it. A page read ahead is
//! handed out only if the job accepted no other request after it was
//! queued (then every write accepted before the next call was queued
//! before it and is in it); otherwise it is dropped and the page read
//! again. In-memory jobs have no read pool: their pages always come from
//! the worker, read ahead.
//!
//! The snapshot rule: a cursor holds its snapshot no longer than it is used.
//! Each page is read in its own snapshot, which ends before the page is
//! handed out; between calls a cursor holds no snapshot and no connection
//! (a page read ahead holds the worker's snapshot only while the worker
//! reads it). A cursor therefore never holds back a checkpoint, pages after
//! a write see it, and dropping a cursor early costs at most the one page
//! being read ahead.

use crossbeam_channel::{bounded, Receiver};

use super::reads::{range_of, rows};
use super::{check_category, Job, ScanOptions};
use crate::backend::Range;
use crate::error::{Error, Result};
use crate::protocol::{Read, Request};
use crate::rows::Rows;

/// Rows per page when the options give no limit.
pub const DEFAULT_PAGE_ROWS: u32 = 256;

/// A page the worker reads ahead.
struct Ahead {
    page: Receiver<Result<Rows>>,
    /// The job's accepted-request count once this page was queued: the
    /// page is handed out only if it is still that.
    accepted: u64,
}

/// A key range read page by page (see [`Job::cursor`]). A cursor is used
/// by one thread at a time; dropping it is cheap.
pub struct Cursor {
    job: Job,
    /// What is left of the range.
    range: Range,
    options: ScanOptions,
    ahead: Option<Ahead>,
    done: bool,
}

impl std::fmt::Debug for Cursor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Cursor")
            .field("job", &self.job.id())
            .field("reverse", &self.options.reverse)
            .field("page_rows", &self.options.limit)
            .field("done", &self.done)
            .finish()
    }
}

impl Job {
    /// A cursor over `[start, stop)` (`stop` empty: no upper bound), in key
    /// order or reversed, handing out pages of `options.limit` rows
    /// ([`DEFAULT_PAGE_ROWS`] when 0). Nothing is read yet. Each page sees
    /// every write accepted before the call that returns it and is its own
    /// snapshot (see the module's rules).
    ///
    /// ```
    /// use persistency::{Persistency, ScanOptions};
    /// let db = Persistency::new(":memory:")?;
    /// let job = db.open_job("j")?;
    /// for i in 0u8..5 {
    ///     job.put("c", &[i], b"v")?;
    /// }
    /// let mut cursor = job.cursor("c", b"", b"", ScanOptions::new().limit(2))?;
    /// let mut keys = Vec::new();
    /// while let Some(page) = cursor.next_page()? {
    ///     keys.extend(page.iter().map(|r| r.key[0]));
    /// }
    /// assert_eq!(keys, [0, 1, 2, 3, 4]);
    /// # Ok::<(), persistency::Error>(())
    /// ```
    pub fn cursor(
        &self,
        category: impl AsRef<[u8]>,
        start: &[u8],
        stop: &[u8],
        options: ScanOptions,
    ) -> Result<Cursor> {
        let category = category.as_ref();
        check_category(category)?;
        let limit = if options.limit == 0 {
            DEFAULT_PAGE_ROWS
        } else {
            options.limit
        };
        Ok(Cursor {
            job: self.clone(),
            range: range_of(category, start, stop),
            options: options.limit(limit),
            ahead: None,
            done: false,
        })
    }
}

impl Cursor {
    /// The next page, `None` once the range is exhausted. A page may be
    /// shorter than the page size. It sees every write accepted before this
    /// call. After an error the cursor is done.
    pub fn next_page(&mut self) -> Result<Option<Rows>> {
        if self.done {
            return Ok(None);
        }
        let (page, from_worker) = match self.ahead.take() {
            Some(ahead) if self.job.shared.queue.accepted() == ahead.accepted => (
                ahead
                    .page
                    .recv()
                    .unwrap_or_else(|_| Err(Error::internal("the read-ahead page was dropped"))),
                true,
            ),
            // A stale page read ahead is dropped (the worker's reply then
            // goes nowhere).
            _ => self.read_page(),
        };
        let rows = match page {
            Ok(rows) => rows,
            Err(e) => {
                self.done = true;
                return Err(e);
            }
        };
        self.advance(&rows);
        if from_worker && !self.done {
            self.read_ahead();
        }
        Ok((!rows.is_empty()).then_some(rows))
    }

    /// Reads the next page now: on the calling thread when the job has no
    /// uncommitted write, else through the worker. Tells which.
    fn read_page(&self) -> (Result<Rows>, bool) {
        let (range, options) = (&self.range, self.options);
        let here = self.job.read_here(&range.category, |reader| {
            reader.scan(range, options.reverse, options.limit)
        });
        match here {
            Some(page) => (page, false),
            None => (
                self.job.wait(
                    |done| Request::Read {
                        read: self.scan(),
                        done,
                    },
                    rows,
                ),
                true,
            ),
        }
    }

    fn scan(&self) -> Read {
        Read::Scan {
            range: self.range.clone(),
            reverse: self.options.reverse,
            limit: self.options.limit,
        }
    }

    /// Moves the range past `page`, or marks the cursor done.
    fn advance(&mut self, page: &Rows) {
        if !self.range.advance(page, self.options.reverse) {
            self.done = true;
        }
    }

    /// Has the worker read the next page now, behind the page just handed
    /// out; if it cannot be queued (a full queue), the page is read when
    /// asked for.
    fn read_ahead(&mut self) {
        let (tx, rx) = bounded(1);
        // Read before queueing: a request accepted in between makes the
        // page stale, which only costs a second read.
        let accepted = self.job.shared.queue.accepted() + 1;
        let queued = self.job.read_then(self.scan(), rows, move |page| {
            let _ = tx.send(page);
        });
        if queued.is_ok() {
            self.ahead = Some(Ahead { page: rx, accepted });
        }
    }
}
