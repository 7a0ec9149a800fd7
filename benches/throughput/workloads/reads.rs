//! Workloads 4 to 6 (and the table that workloads 4 to 8 read): gets one
//! at a time, pipelined and batched.

use std::time::{Duration, Instant};

use rusqlite::Connection;

use super::{rate, rotated, Bench, W4, W5, W6};
use crate::baselines::raw_sqlite::{raw_get, raw_load, raw_open, GET};
use crate::config::{IN_FLIGHT, PAYLOAD_LEN};
use crate::data::{keys, pick, Key};
use crate::lib_driver::{GetSlot, LibJob, RowsSlot, Waiter};
use crate::rng::Rng;

impl Bench {
    /// Workloads 4 to 8 read one table: a raw file, and a byte copy of it
    /// that the library opens, so both read the same pages.
    pub fn reads(&mut self) {
        let n = self.config.table_rows;
        let table = keys(4, n);
        let dir = self.tempdir();
        let raw_path = dir.path().join("raw.db");
        {
            let mut conn = raw_open(&raw_path, "NORMAL");
            raw_load(&mut conn, &self.data, &table);
        } // closing checkpoints the WAL into the file
        let lib_root = dir.path().join("lib");
        std::fs::create_dir_all(&lib_root).expect("mkdir");
        std::fs::copy(&raw_path, lib_root.join("reads.db")).expect("copy table");
        let mut sorted = table.clone();
        sorted.sort();
        let job = LibJob::open(&lib_root, "reads", None);
        let conn = raw_open(&raw_path, "NORMAL");
        let waiter = Waiter::new();

        self.sequential_gets(&job, &conn, &table, waiter);
        self.batched_gets(&job, &conn, &table, waiter);
        self.scans(&job, &conn, &sorted, waiter);
        self.blocking_reads(&job, &conn, &raw_path, &table, &sorted);
        drop(job);
        drop(conn);
        self.mix(&lib_root, &raw_path, &table);
    }

    fn sequential_gets(
        &mut self,
        job: &LibJob,
        conn: &Connection,
        table: &[Key],
        waiter: &'static Waiter,
    ) {
        let m = self.config.seq_gets;
        let mut rng = Rng(40);
        let mut slot = GetSlot::new(waiter);
        let mut value = Vec::new();
        let mut lat = Vec::with_capacity(m);
        for rep in 0..self.config.reps {
            for variant in rotated(2, rep) {
                lat.clear();
                let start = Instant::now();
                if variant == 0 {
                    for _ in 0..m {
                        let k = pick(&mut rng, table);
                        let t0 = Instant::now();
                        job.get(&self.data, k, &mut slot);
                        lat.push(t0.elapsed());
                        assert!(slot.found && slot.value.len() == PAYLOAD_LEN);
                    }
                } else {
                    let mut stmt = conn.prepare_cached(GET).expect("prepare");
                    for _ in 0..m {
                        let k = pick(&mut rng, table);
                        let t0 = Instant::now();
                        let found = raw_get(&mut stmt, k, &mut value);
                        lat.push(t0.elapsed());
                        assert!(found && value.len() == PAYLOAD_LEN);
                    }
                }
                let t = start.elapsed();
                lat.sort();
                let us =
                    |q: usize| lat[(lat.len() * q / 100).min(lat.len() - 1)].as_secs_f64() * 1e6;
                let name = if variant == 0 {
                    "lib get, one at a time"
                } else {
                    "direct get, same thread"
                };
                self.report.record(W4, name, "gets/s", rate(m, t));
                self.report
                    .record(W4, &format!("{name}: p50"), "us", us(50));
                self.report
                    .record(W4, &format!("{name}: p99"), "us", us(99));
            }
        }
        self.report.ratio(
            W4,
            "lib sequential get / direct same-thread get",
            "lib get, one at a time",
            "direct get, same thread",
            Some(0.25),
        );
        self.report.print_workload(W4);
    }

    /// Workloads 5 and 6 against one baseline: direct gets, 1,000 per read
    /// transaction.
    fn batched_gets(
        &mut self,
        job: &LibJob,
        conn: &Connection,
        table: &[Key],
        waiter: &'static Waiter,
    ) {
        let total = self.config.pipelined_gets;
        let rounds_many = self.config.many_rounds;
        let mut rng = Rng(50);
        let mut slots: Vec<GetSlot> = (0..IN_FLIGHT).map(|_| GetSlot::new(waiter)).collect();
        let mut rows = RowsSlot::new(waiter);
        let mut values: Vec<Vec<u8>> = (0..IN_FLIGHT)
            .map(|_| Vec::with_capacity(PAYLOAD_LEN))
            .collect();
        // The variants take turns round by round (the first rotating), so
        // a slow spell of a shared machine falls on all of them alike.
        let rounds = total / IN_FLIGHT;
        assert_eq!(rounds, rounds_many, "the variants' rounds interleave");
        for rep in 0..self.config.reps {
            let mut spent = [Duration::ZERO; 3];
            let mut found = 0;
            for round in 0..rounds {
                for variant in rotated(3, rep + round) {
                    let start = Instant::now();
                    match variant {
                        0 => {
                            waiter.arm(IN_FLIGHT);
                            for slot in slots.iter_mut() {
                                let k = pick(&mut rng, table);
                                // SAFETY: every slot waits on `waiter`, and
                                // `slots` is not touched before it is
                                // counted down to zero below.
                                unsafe { job.get_queued(&self.data, k, slot) };
                            }
                            waiter.wait();
                        }
                        1 => {
                            let keys = (0..IN_FLIGHT).map(|_| pick(&mut rng, table));
                            job.get_many(&self.data, keys, &mut rows);
                        }
                        _ => {
                            conn.execute_batch("BEGIN").expect("BEGIN");
                            {
                                let mut stmt = conn.prepare_cached(GET).expect("prepare");
                                for v in values.iter_mut() {
                                    let k = pick(&mut rng, table);
                                    assert!(raw_get(&mut stmt, k, v));
                                }
                            }
                            conn.execute_batch("COMMIT").expect("COMMIT");
                        }
                    }
                    spent[variant] += start.elapsed();
                    match variant {
                        0 => assert!(slots.iter().all(|s| s.found)),
                        1 => found += rows.rows,
                        _ => {}
                    }
                }
            }
            assert_eq!(found, rounds * IN_FLIGHT);
            self.report.record(
                W5,
                "lib get, 1000 in flight",
                "gets/s",
                rate(total, spent[0]),
            );
            self.report
                .record(W6, "lib get_many of 1000", "gets/s", rate(found, spent[1]));
            let r = rate(total, spent[2]);
            self.report
                .record(W5, "direct gets, 1000 per read txn", "gets/s", r);
            self.report.record(
                W6,
                "direct gets, 1000 per read txn (same as 5)",
                "gets/s",
                r,
            );
        }
        self.report.ratio(
            W5,
            "lib pipelined get / direct batched gets",
            "lib get, 1000 in flight",
            "direct gets, 1000 per read txn",
            Some(0.9),
        );
        self.report.ratio(
            W6,
            "lib get_many / direct batched gets",
            "lib get_many of 1000",
            "direct gets, 1000 per read txn",
            Some(0.9),
        );
        self.report.print_workload(W5);
        self.report.print_workload(W6);
    }
}
