//! Workload 8: gets and puts from several host threads at once.

use std::path::Path;
use std::sync::Barrier;
use std::thread;
use std::time::Instant;

use rusqlite::params;

use super::{rate, rotated, Bench, W8};
use crate::baselines::raw_sqlite::{raw_get, raw_open, GET, PUT};
use crate::config::{CATEGORY, KEY_LEN, MIX_THREADS};
use crate::data::{pick, Key};
use crate::lib_driver::{GetSlot, LibJob, Waiter};
use crate::rng::Rng;

impl Bench {
    /// Workload 8: 4 host threads, each 90 % gets (awaited) and 10 % puts
    /// (fire-and-forget), on one job; the baseline gives each thread its
    /// own raw connection (WAL: readers run concurrently, writers take
    /// turns under busy_timeout), one autocommit per statement.
    pub(super) fn mix(&mut self, lib_root: &Path, raw_path: &Path, table: &[Key]) {
        let per_thread = self.config.mix_ops_per_thread;
        let total = per_thread * MIX_THREADS;
        let job = LibJob::open(lib_root, "reads", None);
        let data = &self.data;
        for rep in 0..self.config.reps {
            for variant in rotated(2, rep) {
                let barrier = Barrier::new(MIX_THREADS + 1);
                let elapsed = thread::scope(|s| {
                    for t in 0..MIX_THREADS {
                        let (job, barrier) = (&job, &barrier);
                        let seed = 80 + (rep * MIX_THREADS + t) as u64 * 2 + variant as u64;
                        s.spawn(move || {
                            let mut rng = Rng(seed);
                            let mut new_key = [0u8; KEY_LEN];
                            if variant == 0 {
                                let waiter = Waiter::new();
                                let mut slot = GetSlot::new(waiter);
                                barrier.wait();
                                for i in 0..per_thread {
                                    if i % 10 == 9 {
                                        rng.fill(&mut new_key);
                                        job.put(data, &new_key, data.payload(i));
                                    } else {
                                        job.get(data, pick(&mut rng, table), &mut slot);
                                        assert!(slot.found);
                                    }
                                }
                                job.flush(waiter);
                            } else {
                                let conn = raw_open(raw_path, "NORMAL");
                                let mut get = conn.prepare_cached(GET).expect("prepare");
                                let mut put = conn.prepare_cached(PUT).expect("prepare");
                                let mut value = Vec::new();
                                barrier.wait();
                                for i in 0..per_thread {
                                    if i % 10 == 9 {
                                        rng.fill(&mut new_key);
                                        put.execute(params![
                                            CATEGORY.as_bytes(),
                                            &new_key[..],
                                            data.payload(i)
                                        ])
                                        .expect("insert");
                                    } else {
                                        assert!(raw_get(
                                            &mut get,
                                            pick(&mut rng, table),
                                            &mut value
                                        ));
                                    }
                                }
                            }
                            barrier.wait();
                        });
                    }
                    barrier.wait();
                    let start = Instant::now();
                    barrier.wait();
                    start.elapsed()
                });
                let name = if variant == 0 {
                    "lib, one job shared by 4 threads"
                } else {
                    "raw SQLite, one connection per thread"
                };
                self.report.record(W8, name, "ops/s", rate(total, elapsed));
            }
        }
        self.report.ratio(
            W8,
            "lib mix / raw mix",
            "lib, one job shared by 4 threads",
            "raw SQLite, one connection per thread",
            None,
        );
        self.header(W8);
        self.report.print_workload(W8);
    }
}
