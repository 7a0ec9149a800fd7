//! Cursors in the model: at most one open cursor per job, its pages asked
//! for between the other steps (writes of every form, reads, reopens). Each
//! page must hold what a scan of the model past the cursor's last key gives
//! at that moment: every write accepted before the call, in order, at most
//! a page, with `has_more` as a scan's. A page is asked for on this thread
//! or on another one.

use persistency::{Cursor, ScanOptions};

use crate::harness::{Check, Harness};
use crate::model::Outcome;
use crate::CATEGORIES;

/// Asks a job's cursor for its next page (opening one over the whole
/// category first if the job has none with these settings).
#[derive(Debug, Clone)]
pub struct CursorPage {
    pub job: usize,
    pub cat: usize,
    pub reverse: bool,
    pub page_rows: u32,
    /// Asked for on another thread.
    pub elsewhere: bool,
}

/// A job's open cursor and how far it went.
pub struct OpenCursor {
    cursor: Cursor,
    cat: usize,
    reverse: bool,
    page_rows: u32,
    /// The last key handed out.
    last: Option<Vec<u8>>,
}

impl Harness {
    /// Step `i`: the next page of `step.job`'s cursor, against the model.
    pub fn cursor_page(&mut self, i: usize, step: &CursorPage) -> Check {
        let job = step.job;
        let same = |open: &OpenCursor| {
            open.cat == step.cat && open.reverse == step.reverse && open.page_rows == step.page_rows
        };
        if !self.cursors[job].as_ref().is_some_and(same) {
            let options = ScanOptions::new()
                .reverse(step.reverse)
                .limit(step.page_rows);
            let cursor = self.jobs[job]
                .cursor(CATEGORIES[step.cat], b"", b"", options)
                .map_err(|e| format!("step {i}: cursor: {e}"))?;
            self.cursors[job] = Some(OpenCursor {
                cursor,
                cat: step.cat,
                reverse: step.reverse,
                page_rows: step.page_rows,
                last: None,
            });
        }
        let open = self.cursors[job].as_mut().expect("opened above");
        let (last, reverse) = (open.last.clone(), open.reverse);
        let past = |k: &[u8]| match &last {
            None => true,
            Some(last) if reverse => k < last.as_slice(),
            Some(last) => k > last.as_slice(),
        };
        let expected = self.models[job].rows(open.cat, past, reverse, open.page_rows);
        let page = if step.elsewhere {
            let cursor = &mut open.cursor;
            std::thread::scope(|s| s.spawn(|| cursor.next_page()).join())
                .map_err(|_| format!("step {i}: the cursor's thread panicked"))?
        } else {
            open.cursor.next_page()
        };
        let page = page.map_err(|e| format!("step {i}: cursor page: {e}"))?;
        let got = match page {
            Some(rows) => Outcome::from(rows),
            None => Outcome::Rows(Vec::new(), false),
        };
        match &got {
            Outcome::Rows(rows, true) => open.last = rows.last().map(|(k, _)| k.clone()),
            // The cursor is exhausted: a later step opens a new one.
            _ => self.cursors[job] = None,
        }
        Harness::compare(i, "cursor page", Ok(got), expected)
    }
}
