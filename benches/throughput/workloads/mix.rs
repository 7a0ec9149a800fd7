//! Workload 8: gets and puts from several host threads at once.

use std::path::Path;

use super::{rate, rotated, timed_threads, Bench, W8};
use crate::baselines::raw_sqlite::{raw_get, raw_open, raw_put, GET, PUT};
use crate::config::{KEY_LEN, MIX_THREADS};
use crate::data::{pick, Key};
use crate::lib_driver::{GetSlot, LibJob, Waiter};
use crate::rng::Rng;

/// The ops of one thread, the same for the library and the baseline:
/// every tenth a put of a new random key (`put(key, op index)`), the others
/// a get of a random key of `table`.
fn run_ops(
    ops: usize,
    rng: &mut Rng,
    table: &[Key],
    mut put: impl FnMut(&[u8], usize),
    mut get: impl FnMut(&Key),
) {
    let mut new_key = [0u8; KEY_LEN];
    for i in 0..ops {
        if i % 10 == 9 {
            rng.fill(&mut new_key);
            put(&new_key, i);
        } else {
            get(pick(rng, table));
        }
    }
}

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
                let elapsed = timed_threads(MIX_THREADS, |t, line| {
                    let seed = 80 + (rep * MIX_THREADS + t) as u64 * 2 + variant as u64;
                    let mut rng = Rng(seed);
                    if variant == 0 {
                        let waiter = Waiter::new();
                        let mut slot = GetSlot::new(waiter);
                        line.wait();
                        run_ops(
                            per_thread,
                            &mut rng,
                            table,
                            |key, i| job.put(data, key, data.payload(i)),
                            |key| {
                                job.get(data, key, &mut slot);
                                assert!(slot.found);
                            },
                        );
                        job.flush(waiter);
                    } else {
                        let conn = raw_open(raw_path, "NORMAL");
                        let mut get = conn.prepare_cached(GET).expect("prepare");
                        let mut put = conn.prepare_cached(PUT).expect("prepare");
                        let mut value = Vec::new();
                        line.wait();
                        run_ops(
                            per_thread,
                            &mut rng,
                            table,
                            |key, i| raw_put(&mut put, key, data.payload(i)),
                            |key| assert!(raw_get(&mut get, key, &mut value)),
                        );
                    }
                    line.wait();
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
        self.report.print_workload(W8);
    }
}
