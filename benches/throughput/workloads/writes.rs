//! Workloads 1 to 3: inserts into an empty table.

use std::time::Instant;

use super::{put_all, rate, rotated, Bench, W1, W2, W3};
use crate::baselines::lmdb::lmdb_insert;
use crate::baselines::raw_sqlite::{raw_load, raw_open};
use crate::baselines::upstream::Upstream;
use crate::data::{batches, keys, Data, Key};
use crate::lib_driver::{options, Job, LibJob, PutBatch, Waiter, PERSISTENCY_SYNC_FULL};

/// Writes `keys` as atomic batches of 1,000, each awaited before the next
/// is made and queued.
fn write_awaited(job: &Job, data: &Data, keys: &[Key], waiter: &'static Waiter) {
    for (first, chunk) in batches(keys) {
        let batch = PutBatch::new(data, chunk, first);
        waiter.arm(1);
        job.write(&batch, Some(waiter));
        waiter.wait();
    }
}

/// Rows per commit of a job that has applied exactly `n` rows.
fn rows_per_commit(job: &Job, n: usize) -> f64 {
    let s = job.stats();
    assert_eq!(s.ops_applied, n as u64);
    n as f64 / s.transactions.max(1) as f64
}

impl Bench {
    /// Workloads 1 and 2: every writer inserts the same `puts` rows into an
    /// empty table.
    pub fn writes(&mut self) {
        let n = self.config.puts;
        let keys = keys(1, n);
        let waiter = Waiter::new();
        for rep in 0..self.config.reps {
            for variant in rotated(5, rep) {
                let dir = self.tempdir();
                match variant {
                    0 => {
                        let job = LibJob::open(dir.path(), "puts", None);
                        let start = Instant::now();
                        put_all(&job, &self.data, &keys, waiter);
                        let t = start.elapsed();
                        self.report
                            .record(W1, "lib put (default options)", "rows/s", rate(n, t));
                        self.report.record(
                            W1,
                            "lib put: rows per commit",
                            "rows",
                            rows_per_commit(&job, n),
                        );
                    }
                    1 => {
                        let job = LibJob::open(dir.path(), "batches", None);
                        let start = Instant::now();
                        write_awaited(&job, &self.data, &keys, waiter);
                        let t = start.elapsed();
                        self.report
                            .record(W2, "lib write 1000, awaited", "rows/s", rate(n, t));
                        self.report.record(
                            W2,
                            "lib write 1000, awaited: rows per commit",
                            "rows",
                            rows_per_commit(&job, n),
                        );
                    }
                    2 => {
                        let mut conn = raw_open(&dir.path().join("raw.db"), "NORMAL");
                        let start = Instant::now();
                        raw_load(&mut conn, &self.data, &keys);
                        let t = start.elapsed();
                        self.report
                            .record(W1, "raw SQLite 1000/txn", "rows/s", rate(n, t));
                    }
                    3 => {
                        let up = Upstream::open(&dir.path().join("upstream.db"));
                        let start = Instant::now();
                        for (i, k) in keys.iter().enumerate() {
                            up.put(k, self.data.payload(i));
                        }
                        up.flush();
                        let t = start.elapsed();
                        self.report.record(
                            W1,
                            "upstream design (autocommit per put)",
                            "rows/s",
                            rate(n, t),
                        );
                    }
                    _ => {
                        let t = lmdb_insert(dir.path(), &self.data, &keys);
                        self.report
                            .record(W1, "LMDB (heed) 1000/txn", "rows/s", rate(n, t));
                    }
                }
            }
        }
        // Raw SQLite is the baseline of workload 2 as well.
        let raw = self.report.samples("raw SQLite 1000/txn").to_vec();
        for v in raw {
            self.report
                .record(W2, "raw SQLite 1000/txn (same run as 1)", "rows/s", v);
        }
        self.report.ratio(
            W1,
            "lib put / raw SQLite 1000/txn",
            "lib put (default options)",
            "raw SQLite 1000/txn",
            Some(1.5),
        );
        self.report.ratio(
            W1,
            "lib put / upstream design",
            "lib put (default options)",
            "upstream design (autocommit per put)",
            Some(4.0),
        );
        self.report.ratio(
            W1,
            "LMDB / lib put",
            "LMDB (heed) 1000/txn",
            "lib put (default options)",
            None,
        );
        self.report.ratio(
            W1,
            "LMDB / raw SQLite 1000/txn",
            "LMDB (heed) 1000/txn",
            "raw SQLite 1000/txn",
            None,
        );
        self.report.ratio(
            W2,
            "lib write 1000 awaited / raw SQLite 1000/txn",
            "lib write 1000, awaited",
            "raw SQLite 1000/txn",
            Some(0.9),
        );
        self.report.print_workload(W1);
        self.report.print_workload(W2);
    }

    /// Workload 3: batches of 1,000 under synchronous FULL.
    pub fn durable(&mut self) {
        let n = self.config.durable_rows;
        let keys = keys(3, n);
        let waiter = Waiter::new();
        let full = options(PERSISTENCY_SYNC_FULL);
        for rep in 0..self.config.reps {
            for variant in rotated(3, rep) {
                let dir = self.tempdir();
                match variant {
                    0 => {
                        let job = LibJob::open(dir.path(), "durable", Some(&full));
                        let start = Instant::now();
                        write_awaited(&job, &self.data, &keys, waiter);
                        let t = start.elapsed();
                        assert_eq!(job.stats().transactions, batches(&keys).count() as u64);
                        self.report.record(
                            W3,
                            "lib write 1000 + callback, awaited",
                            "rows/s",
                            rate(n, t),
                        );
                    }
                    1 => {
                        let job = LibJob::open(dir.path(), "durable", Some(&full));
                        let batches: Vec<PutBatch> = batches(&keys)
                            .map(|(first, chunk)| PutBatch::new(&self.data, chunk, first))
                            .collect();
                        let start = Instant::now();
                        waiter.arm(batches.len());
                        for ops in &batches {
                            job.write(ops, Some(waiter));
                        }
                        waiter.wait();
                        let t = start.elapsed();
                        self.report.record(
                            W3,
                            "lib write 1000 + callback, all in flight",
                            "rows/s",
                            rate(n, t),
                        );
                    }
                    _ => {
                        let mut conn = raw_open(&dir.path().join("raw.db"), "FULL");
                        let start = Instant::now();
                        raw_load(&mut conn, &self.data, &keys);
                        let t = start.elapsed();
                        self.report
                            .record(W3, "raw SQLite 1000/txn, FULL", "rows/s", rate(n, t));
                    }
                }
            }
        }
        self.report.ratio(
            W3,
            "lib durable 1000 awaited / raw 1000/txn FULL",
            "lib write 1000 + callback, awaited",
            "raw SQLite 1000/txn, FULL",
            Some(0.9),
        );
        self.report.ratio(
            W3,
            "lib durable, all in flight / raw 1000/txn FULL",
            "lib write 1000 + callback, all in flight",
            "raw SQLite 1000/txn, FULL",
            None,
        );
        self.report.print_workload(W3);
    }
}
