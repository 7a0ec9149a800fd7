//! Workload 12: blocking reads (`persistency_*_sync`), which run on the
//! calling thread while the job has no uncommitted write: one get at a time
//! against a direct prepared get, 4 host threads against 1, and a paginated
//! scan of blocking pages against raw SQLite's.

use std::path::Path;
use std::time::{Duration, Instant};

use rusqlite::Connection;

use super::{alternating_threads, rate, rotated, Bench, W12};
use crate::baselines::raw_sqlite::{raw_get, raw_open, raw_scan, GET};
use crate::config::{PAGE_ROWS, PAYLOAD_LEN, SCAN_ROWS};
use crate::data::{pick, Key};
use crate::lib_driver::LibJob;
use crate::rng::Rng;

/// Host threads of the parallel variant.
const THREADS: usize = 4;

/// Turns each thread variant takes per repetition, alternating with the
/// other's.
const THREAD_ROUNDS: usize = 10;

/// Untimed gets each thread makes first.
const WARM_UP: usize = 500;

const LIB_GET: &str = "lib blocking get, one at a time";
const DIRECT_GET: &str = "direct get, same thread (rotated with 12)";
const ONE_THREAD: &str = "lib blocking gets, 1 thread";
const FOUR_THREADS: &str = "lib blocking gets, 4 threads";
const RAW_ONE: &str = "raw gets, 1 thread, own connection";
const RAW_FOUR: &str = "raw gets, 4 threads, a connection each";
const LIB_PAGES: &str = "lib blocking paginated scan, pages of 1000";
const LIB_CURSOR: &str = "lib cursor, pages of 1000";
const RAW_PAGES: &str = "raw paginated scan, pages of 1000 (rotated with 12)";

impl Bench {
    /// Workload 12, on the table of workloads 4 to 8.
    pub(super) fn blocking_reads(
        &mut self,
        job: &LibJob,
        conn: &Connection,
        raw_path: &Path,
        table: &[Key],
        sorted: &[Key],
    ) {
        self.blocking_gets(job, conn, table);
        self.blocking_threads(job, table);
        self.raw_threads(raw_path, table);
        self.blocking_pages(job, conn, sorted);
        self.report.ratio(
            W12,
            "lib blocking get / direct get (throughput)",
            LIB_GET,
            DIRECT_GET,
            Some(0.85),
        );
        self.report.ratio(
            W12,
            "direct get p50 / lib blocking get p50",
            &format!("{DIRECT_GET}: p50"),
            &format!("{LIB_GET}: p50"),
            Some(0.85),
        );
        self.report.ratio(
            W12,
            "4 threads / 1 thread of blocking gets (one job)",
            FOUR_THREADS,
            ONE_THREAD,
            Some(1.6),
        );
        self.report.ratio(
            W12,
            "raw: 4 threads / 1 thread (the machine's ceiling)",
            RAW_FOUR,
            RAW_ONE,
            None,
        );
        self.report.ratio(
            W12,
            "lib blocking paginated / raw paginated",
            LIB_PAGES,
            RAW_PAGES,
            None,
        );
        self.report.ratio(
            W12,
            "lib cursor / raw paginated (cursor goal)",
            LIB_CURSOR,
            RAW_PAGES,
            Some(0.9),
        );
        self.report.print_workload(W12);
    }

    fn blocking_gets(&mut self, job: &LibJob, conn: &Connection, table: &[Key]) {
        let m = self.config.seq_gets;
        let mut rng = Rng(120);
        let mut value = Vec::new();
        let mut lat = [Vec::with_capacity(m), Vec::with_capacity(m)];
        // The variants take turns in runs of `CHUNK` gets (the first
        // rotating), so a slow spell of a shared machine falls on both.
        const CHUNK: usize = 500;
        for rep in 0..self.config.reps {
            let mut spent = [Duration::ZERO; 2];
            lat.iter_mut().for_each(Vec::clear);
            for chunk in 0..m.div_ceil(CHUNK) {
                let n = CHUNK.min(m - chunk * CHUNK);
                for variant in rotated(2, rep + chunk) {
                    let lat = &mut lat[variant];
                    let start = Instant::now();
                    if variant == 0 {
                        for _ in 0..n {
                            let k = pick(&mut rng, table);
                            let t0 = Instant::now();
                            let found = job.get_sync(&self.data, k, &mut value);
                            lat.push(t0.elapsed());
                            assert!(found && value.len() == PAYLOAD_LEN);
                        }
                    } else {
                        let mut stmt = conn.prepare_cached(GET).expect("prepare");
                        for _ in 0..n {
                            let k = pick(&mut rng, table);
                            let t0 = Instant::now();
                            let found = raw_get(&mut stmt, k, &mut value);
                            lat.push(t0.elapsed());
                            assert!(found && value.len() == PAYLOAD_LEN);
                        }
                    }
                    spent[variant] += start.elapsed();
                }
            }
            for (variant, lat) in lat.iter_mut().enumerate() {
                lat.sort();
                let us =
                    |q: usize| lat[(lat.len() * q / 100).min(lat.len() - 1)].as_secs_f64() * 1e6;
                let name = if variant == 0 { LIB_GET } else { DIRECT_GET };
                self.report
                    .record(W12, name, "gets/s", rate(m, spent[variant]));
                self.report
                    .record(W12, &format!("{name}: p50"), "us", us(50));
                self.report
                    .record(W12, &format!("{name}: p99"), "us", us(99));
            }
        }
    }

    fn blocking_threads(&mut self, job: &LibJob, table: &[Key]) {
        let per_round = self.config.seq_gets * 2 / THREAD_ROUNDS;
        for rep in 0..self.config.reps {
            let data = &self.data;
            let spent = alternating_threads(
                THREADS,
                THREAD_ROUNDS,
                rep,
                |t| {
                    let mut rng = Rng(130 + t as u64);
                    let mut value = Vec::with_capacity(PAYLOAD_LEN);
                    // Untimed: the pool opens (or reuses) this thread's
                    // connection and warms its page cache.
                    for _ in 0..WARM_UP {
                        assert!(job.get_sync(data, pick(&mut rng, table), &mut value));
                    }
                    (rng, value)
                },
                |(rng, value)| {
                    for _ in 0..per_round {
                        assert!(job.get_sync(data, pick(rng, table), value));
                    }
                },
            );
            self.record_threads(spent, ONE_THREAD, FOUR_THREADS);
        }
    }

    /// The same gets on raw SQLite, one connection per thread, to the copy
    /// of the table workloads 4 to 8 use: how far this machine lets 4
    /// threads scale.
    fn raw_threads(&mut self, path: &Path, table: &[Key]) {
        let per_round = self.config.seq_gets * 2 / THREAD_ROUNDS;
        for rep in 0..self.config.reps {
            let spent = alternating_threads(
                THREADS,
                THREAD_ROUNDS,
                rep,
                |t| {
                    let conn = raw_open(path, "NORMAL");
                    let mut rng = Rng(150 + t as u64);
                    let mut value = Vec::with_capacity(PAYLOAD_LEN);
                    {
                        let mut stmt = conn.prepare_cached(GET).expect("prepare");
                        for _ in 0..WARM_UP {
                            assert!(raw_get(&mut stmt, pick(&mut rng, table), &mut value));
                        }
                    }
                    (conn, rng, value)
                },
                |(conn, rng, value)| {
                    let mut stmt = conn.prepare_cached(GET).expect("prepare");
                    for _ in 0..per_round {
                        assert!(raw_get(&mut stmt, pick(rng, table), value));
                    }
                },
            );
            self.record_threads(spent, RAW_ONE, RAW_FOUR);
        }
    }

    /// Records the rates of one repetition of a thread workload, from the
    /// time each variant spent in its `THREAD_ROUNDS` turns.
    fn record_threads(&mut self, spent: [Duration; 2], one: &str, all: &str) {
        let gets = self.config.seq_gets * 2 / THREAD_ROUNDS * THREAD_ROUNDS;
        self.report.record(W12, one, "gets/s", rate(gets, spent[0]));
        self.report
            .record(W12, all, "gets/s", rate(THREADS * gets, spent[1]));
    }

    fn blocking_pages(&mut self, job: &LibJob, conn: &Connection, sorted: &[Key]) {
        let scans = self.config.scans;
        let rows_per_scan = SCAN_ROWS.min(sorted.len() / 2);
        let mut rng = Rng(140);
        let (mut buf, mut last) = (Vec::new(), Vec::new());
        let mut starts = Vec::with_capacity(scans);
        for rep in 0..self.config.reps {
            starts.clear();
            for _ in 0..scans {
                starts.push(*pick(&mut rng, &sorted[..sorted.len() - rows_per_scan]));
            }
            // The variants take turns scan by scan (the first rotating).
            let mut spent = [Duration::ZERO; 3];
            let mut rows = [0; 3];
            for (i, s) in starts.iter().enumerate() {
                for variant in rotated(3, rep + i) {
                    let start = Instant::now();
                    rows[variant] += if variant == 2 {
                        // Bounded to the rows wanted, so the cursor reads
                        // no page ahead that is not used.
                        let i = sorted.binary_search(s).expect("a start is a key");
                        let stop = &sorted[i + rows_per_scan];
                        job.cursor_rows(&self.data, s, stop, PAGE_ROWS as u32)
                    } else {
                        let mut from = s.to_vec();
                        let mut got = 0;
                        while got < rows_per_scan {
                            let (n, more) = if variant == 0 {
                                job.scan_sync(&self.data, &from, PAGE_ROWS as u32, &mut last)
                            } else {
                                let n = raw_scan(conn, &from, PAGE_ROWS, &mut buf, &mut last);
                                (n, n >= PAGE_ROWS)
                            };
                            got += n;
                            if !more {
                                break;
                            }
                            from.clone_from(&last);
                            from.push(0);
                        }
                        got
                    };
                    spent[variant] += start.elapsed();
                }
            }
            for (variant, name) in [LIB_PAGES, RAW_PAGES, LIB_CURSOR].into_iter().enumerate() {
                assert_eq!(rows[variant], scans * rows_per_scan);
                self.report
                    .record(W12, name, "rows/s", rate(rows[variant], spent[variant]));
            }
        }
    }
}
