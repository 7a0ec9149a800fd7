//! Workload 11: several jobs written at once.

use std::sync::Barrier;
use std::thread;
use std::time::Instant;

use super::{rate, rotated, Bench, W11};
use crate::baselines::raw_sqlite::{raw_load, raw_open};
use crate::data::{keys, Key};
use crate::lib_driver::{LibJob, Waiter};

impl Bench {
    /// Workload 11: k jobs written at once, each by its own host thread;
    /// the baseline gives each thread its own raw SQLite file.
    pub fn busy(&mut self) {
        let n = self.config.busy_puts;
        let per_job: Vec<Vec<Key>> = (0..4).map(|j| keys(110 + j, n)).collect();
        for rep in 0..self.config.reps {
            for variant in rotated(6, rep) {
                let jobs = [1, 2, 4][variant % 3];
                let lib = variant < 3;
                let dir = self.tempdir();
                let barrier = Barrier::new(jobs + 1);
                let data = &self.data;
                let elapsed = thread::scope(|s| {
                    for (j, keys) in per_job.iter().enumerate().take(jobs) {
                        let (barrier, dir) = (&barrier, dir.path());
                        s.spawn(move || {
                            if lib {
                                let job = LibJob::open(dir, &format!("busy{j}"), None);
                                let waiter = Waiter::new();
                                barrier.wait();
                                for (i, k) in keys.iter().enumerate() {
                                    job.put(data, k, data.payload(i));
                                }
                                job.flush(waiter);
                                barrier.wait();
                            } else {
                                let mut conn = raw_open(&dir.join(format!("raw{j}.db")), "NORMAL");
                                barrier.wait();
                                raw_load(&mut conn, data, keys);
                                barrier.wait();
                            }
                        });
                    }
                    barrier.wait();
                    let start = Instant::now();
                    barrier.wait();
                    start.elapsed()
                });
                let name = if lib {
                    format!("lib put, {jobs} job(s) at once")
                } else {
                    format!("raw SQLite 1000/txn, {jobs} file(s) at once")
                };
                self.report
                    .record(W11, &name, "rows/s", rate(n * jobs, elapsed));
            }
        }
        for jobs in [1, 2, 4] {
            self.report.ratio(
                W11,
                &format!("lib / raw, {jobs} at once"),
                &format!("lib put, {jobs} job(s) at once"),
                &format!("raw SQLite 1000/txn, {jobs} file(s) at once"),
                None,
            );
        }
        self.header(W11);
        self.report.print_workload(W11);
    }
}
