//! Workload 7: range scans, in one request and paginated.

use std::time::Instant;

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
            for variant in rotated(4, rep) {
                let mut rows = 0;
                let start = Instant::now();
                for s in &starts {
                    match variant {
                        0 => {
                            job.scan(&self.data, s, rows_per_scan as u32, &mut slot);
                            rows += slot.rows;
                        }
                        1 => {
                            rows += paginated(s, rows_per_scan, |from| {
                                job.scan(&self.data, from, PAGE_ROWS as u32, &mut slot);
                                if slot.has_more {
                                    from.clone_from(&slot.last_key);
                                }
                                (slot.rows, slot.has_more)
                            })
                        }
                        2 => rows += raw_scan(conn, s, rows_per_scan, &mut buf, &mut last),
                        _ => {
                            rows += paginated(s, rows_per_scan, |from| {
                                let n = raw_scan(conn, from, PAGE_ROWS, &mut buf, &mut last);
                                let more = n >= PAGE_ROWS;
                                if more {
                                    from.clone_from(&last);
                                }
                                (n, more)
                            })
                        }
                    }
                }
                let t = start.elapsed();
                assert_eq!(rows, scans * rows_per_scan);
                let name = match variant {
                    0 => "lib scan of 10k rows",
                    1 => "lib paginated scan, pages of 1000",
                    2 => "raw scan of 10k rows",
                    _ => "raw paginated scan, pages of 1000",
                };
                self.report.record(W7, name, "rows/s", rate(rows, t));
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
