//! Workload 11: several jobs written at once.

use super::{put_all, rate, rotated, timed_threads, Bench, W11};
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
                let (data, dir) = (&self.data, dir.path());
                let elapsed = timed_threads(jobs, |j, line| {
                    let keys = &per_job[j];
                    if lib {
                        let job = LibJob::open(dir, &format!("busy{j}"), None);
                        let waiter = Waiter::new();
                        line.wait();
                        put_all(&job, data, keys, waiter);
                        line.wait();
                    } else {
                        let mut conn = raw_open(&dir.join(format!("raw{j}.db")), "NORMAL");
                        line.wait();
                        raw_load(&mut conn, data, keys);
                        line.wait();
                    }
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
        self.report.print_workload(W11);
    }
}
