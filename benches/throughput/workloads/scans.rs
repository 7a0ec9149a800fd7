//! Workload 7: range scans, in one request and paginated.

use std::time::{Duration, Instant};

use rusqlite::Connection;

use super::{rate, rotated, Bench, W7};
use crate::baselines::raw_sqlite::raw_scan;
use crate::config::{PAGE_ROWS, SCAN_ROWS};
use crate::data::{pick, Key};
use crate::lib_driver::{LibJob, RowsSlot, Waiter};
use crate::rng::Rng;

/// Reads `want` rows from key `start` a page at a time: `page(from)` reads
/// the page that starts at `from` and returns its row count and whether
/// rows follow, in which case it has left the page's last key in `from`;
/// the next page starts just after that key.
fn paginated(
    start: &[u8],
    want: usize,
    mut page: impl FnMut(&mut Vec<u8>) -> (usize, bool),
) -> usize {
    let mut from = start.to_vec();
    let mut got = 0;
    while got < want {
        let (n, more) = page(&mut from);
        got += n;
        if !more {
            break;
        }
        from.push(0);
    }
    got
}

impl Bench {
    /// Workload 7: 10k-row scans in one request, and as pages of 1,000.
    pub(super) fn scans(
        &mut self,
        job: &LibJob,
        conn: &Connection,
        sorted: &[Key],
        waiter: &'static Waiter,
    ) {
        let scans = self.config.scans;
        let rows_per_scan = SCAN_ROWS.min(sorted.len() / 2);
        let mut rng = Rng(70);
        let mut slot = RowsSlot::new(waiter);
        let mut buf = Vec::new();
        let mut last = Vec::new();
        let mut starts = Vec::with_capacity(scans);
        for rep in 0..self.config.reps {
            starts.clear();
            for _ in 0..scans {
                starts.push(*pick(&mut rng, &sorted[..sorted.len() - rows_per_scan]));
            }
            // The variants take turns scan by scan (the first rotating), so
            // a slow spell of a shared machine falls on all of them alike.
            let mut spent = [Duration::ZERO; 4];
            let mut rows = [0; 4];
            for (i, s) in starts.iter().enumerate() {
                for variant in rotated(4, rep + i) {
                    let start = Instant::now();
                    rows[variant] += match variant {
                        0 => {
                            job.scan(&self.data, s, rows_per_scan as u32, &mut slot);
                            slot.rows
                        }
                        1 => paginated(s, rows_per_scan, |from| {
                            job.scan(&self.data, from, PAGE_ROWS as u32, &mut slot);
                            if slot.has_more {
                                from.clone_from(&slot.last_key);
                            }
                            (slot.rows, slot.has_more)
                        }),
                        2 => raw_scan(conn, s, rows_per_scan, &mut buf, &mut last),
                        _ => paginated(s, rows_per_scan, |from| {
                            let n = raw_scan(conn, from, PAGE_ROWS, &mut buf, &mut last);
                            let more = n >= PAGE_ROWS;
                            if more {
                                from.clone_from(&last);
                            }
                            (n, more)
                        }),
                    };
                    spent[variant] += start.elapsed();
                }
            }
            for (variant, name) in [
                "lib scan of 10k rows",
                "lib paginated scan, pages of 1000",
                "raw scan of 10k rows",
                "raw paginated scan, pages of 1000",
            ]
            .into_iter()
            .enumerate()
            {
                assert_eq!(rows[variant], scans * rows_per_scan);
                self.report
                    .record(W7, name, "rows/s", rate(rows[variant], spent[variant]));
            }
        }
        self.report.ratio(
            W7,
            "lib scan / raw scan",
            "lib scan of 10k rows",
            "raw scan of 10k rows",
            Some(0.8),
        );
        self.report.ratio(
            W7,
            "lib paginated / raw paginated",
            "lib paginated scan, pages of 1000",
            "raw paginated scan, pages of 1000",
            Some(0.8),
        );
        self.report.print_workload(W7);
    }
}
