//! Cursors: a key range read page by page, the next page read ahead by the
//! job's worker while the host consumes the current one.
//!
//! The snapshot rule: a cursor holds no snapshot between pages. Each page
//! is read in its own snapshot, the first when the cursor is asked for it,
//! each next one when the page before it was handed out (that is the read
//! ahead): a page sees every write accepted before it was asked for (the
//! first) or before the page before it was handed out (the others), and
//! may or may not see writes accepted later. A cursor therefore never holds
//! back a checkpoint, and dropping it early costs at most the one page
//! being read ahead.

use crossbeam_channel::{bounded, Receiver};

use super::{check_category, Job, ScanOptions};
use crate::error::{Error, Result};
use crate::rows::Rows;

/// Rows per page when the options give no limit.
pub const DEFAULT_PAGE_ROWS: u32 = 256;

/// A key range read page by page (see [`Job::cursor`]). A cursor is used
/// by one thread at a time; dropping it is cheap.
pub struct Cursor {
    job: Job,
    category: Vec<u8>,
    start: Vec<u8>,
    stop: Vec<u8>,
    options: ScanOptions,
    /// The next page, being read by the worker.
    ahead: Option<Receiver<Result<Rows>>>,
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
    /// ([`DEFAULT_PAGE_ROWS`] when 0). See the module's snapshot rule: each
    /// page is its own snapshot, and the next one is read ahead.
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
            category: category.to_vec(),
            start: start.to_vec(),
            stop: stop.to_vec(),
            options: options.limit(limit),
            ahead: None,
            done: false,
        })
    }
}

impl Cursor {
    /// The next page, `None` once the range is exhausted. A page may be
    /// shorter than the page size. After an error the cursor is done.
    pub fn next_page(&mut self) -> Result<Option<Rows>> {
        if self.done {
            return Ok(None);
        }
        let page = match self.ahead.take() {
            Some(ahead) => ahead
                .recv()
                .unwrap_or_else(|_| Err(Error::internal("the read-ahead page was dropped"))),
            None => self
                .job
                .scan(&self.category, &self.start, &self.stop, self.options),
        };
        let rows = match page {
            Ok(rows) => rows,
            Err(e) => {
                self.done = true;
                return Err(e);
            }
        };
        self.advance(&rows);
        if !self.done {
            self.read_ahead();
        }
        Ok((!rows.is_empty()).then_some(rows))
    }

    /// Moves the range past `page`: ascending, the new start is the last key
    /// with `0x00` appended; descending, the last key becomes the stop.
    fn advance(&mut self, page: &Rows) {
        let last = match page.last() {
            Some(row) if page.has_more() => row.key,
            _ => {
                self.done = true;
                return;
            }
        };
        if self.options.reverse {
            if last.is_empty() {
                // Nothing is below the empty key (and an empty stop would
                // mean no bound).
                self.done = true;
                return;
            }
            self.stop = last.to_vec();
        } else {
            self.start = last.to_vec();
            self.start.push(0);
        }
    }

    /// Asks the worker for the next page now; if it cannot be queued (a
    /// full queue), the page is read when asked for.
    fn read_ahead(&mut self) {
        let (tx, rx) = bounded(1);
        let queued = self.job.scan_then(
            &self.category,
            &self.start,
            &self.stop,
            self.options,
            move |page| {
                let _ = tx.send(page);
            },
        );
        if queued.is_ok() {
            self.ahead = Some(rx);
        }
    }
}
