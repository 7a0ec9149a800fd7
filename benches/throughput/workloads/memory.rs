//! Workloads 9 and 10: memory figures, taken in child processes (this
//! executable re-run with `--child ...`), whose `VmHWM` is not raised by
//! the workloads that ran before.

use std::path::{Path, PathBuf};
use std::thread;
use std::time::{Duration, Instant};

use super::{rate, Bench, W10, W9};
use crate::config::{
    CATEGORY, FLOOD_SLACK_MIB, IDLE_GOAL_KIB, KEY_LEN, PAYLOAD_LEN, QUEUED_OP_OVERHEAD,
};
use crate::data::Data;
use crate::lib_driver::{options, Instance, LibJob, Waiter, PERSISTENCY_SYNC_NORMAL};
use crate::machine::proc_status;
use crate::rng::Rng;

/// The `name=value` pairs a child printed on its `RESULT` line.
struct ChildResult(Vec<(String, f64)>);

impl ChildResult {
    /// The value of `name`, NaN if the child did not print it.
    fn get(&self, name: &str) -> f64 {
        self.0
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| *v)
            .unwrap_or(f64::NAN)
    }
}

/// Runs `kind` with `n` in `dir` in a child process: this executable with
/// `--child kind n dir` (see `run_child`).
fn child(kind: &str, n: usize, dir: &Path) -> ChildResult {
    let exe = std::env::current_exe().expect("current_exe");
    let args = [kind.to_string(), n.to_string(), dir.display().to_string()];
    let out = std::process::Command::new(exe)
        .arg("--child")
        .args(&args)
        .output()
        .expect("run child");
    assert!(
        out.status.success(),
        "child {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8_lossy(&out.stdout);
    let line = text
        .lines()
        .find_map(|l| l.strip_prefix("RESULT "))
        .expect("child printed its result");
    ChildResult(
        line.split_whitespace()
            .filter_map(|kv| {
                let (k, v) = kv.split_once('=')?;
                Some((k.to_string(), v.parse().ok()?))
            })
            .collect(),
    )
}

impl Bench {
    /// Workload 9: a flood of puts, peak RSS measured in a child process.
    pub fn flood(&mut self) {
        let mut queue = 0.0;
        for _ in 0..self.config.reps {
            let dir = self.tempdir();
            let r = child("flood", self.config.flood, dir.path());
            queue = r.get("queue_capacity");
            self.report
                .record(W9, "lib put flood", "rows/s", r.get("rate"));
            self.report.record(
                W9,
                "peak RSS growth (VmHWM delta)",
                "MiB",
                r.get("hwm_growth_kib") / 1024.0,
            );
            self.report.record(
                W9,
                "RSS after flush",
                "MiB",
                r.get("rss_after_kib") / 1024.0,
            );
        }
        let per_op = (KEY_LEN + PAYLOAD_LEN + CATEGORY.len()) as u64 + QUEUED_OP_OVERHEAD;
        let bound = queue * per_op as f64 / (1024.0 * 1024.0) + FLOOD_SLACK_MIB;
        self.report.at_most(
            W9,
            &format!(
                "peak RSS growth <= queue ({queue} ops x {per_op} B) + {FLOOD_SLACK_MIB} MiB, MiB"
            ),
            "peak RSS growth (VmHWM delta)",
            bound,
        );
        self.report.print_workload(W9);
    }

    /// Workload 10: idle open jobs, in a child process.
    pub fn idle(&mut self) {
        let n = self.config.idle_jobs;
        for _ in 0..self.config.reps {
            let dir = self.tempdir();
            let r = child("idle", n, dir.path());
            self.report.record(
                W10,
                "RSS per idle job",
                "KiB",
                r.get("rss_delta_kib") / n as f64,
            );
            self.report.record(
                W10,
                "threads per idle job",
                "threads",
                r.get("threads_delta") / n as f64,
            );
        }
        self.report.at_most(
            W10,
            &format!("RSS per idle job ({n} jobs), KiB"),
            "RSS per idle job",
            IDLE_GOAL_KIB,
        );
        self.report.print_workload(W10);
    }
}

/// `flood N DIR`: opens a job, floods N puts, flushes; prints the VmHWM
/// growth from just before the flood (job open and warm) to after it.
fn child_flood(n: usize, dir: &Path) {
    let data = Data::new();
    let job = LibJob::open(dir, "flood", None);
    let waiter = Waiter::new();
    let opts = options(PERSISTENCY_SYNC_NORMAL);
    job.put(&data, &[0u8; KEY_LEN], data.payload(0));
    job.flush(waiter);
    let hwm_before = proc_status("VmHWM");
    // Ascending keys (a counter, then random bytes): the worker appends
    // instead of inserting at random, so 2M rows take seconds, not
    // minutes; the host still outruns it, so the queue stays full.
    let mut rng = Rng(9);
    let mut key = [0u8; KEY_LEN];
    let mut max_queued = 0;
    let start = Instant::now();
    for i in 0..n {
        key[..8].copy_from_slice(&(i as u64 + 1).to_be_bytes());
        rng.fill(&mut key[8..]);
        job.put(&data, &key, data.payload(i));
        if i % 4096 == 0 {
            max_queued = max_queued.max(job.stats().queued);
        }
    }
    job.flush(waiter);
    let t = start.elapsed();
    let hwm_after = proc_status("VmHWM");
    let rss_after = proc_status("VmRSS");
    assert_eq!(job.stats().ops_applied, n as u64 + 1);
    println!(
        "RESULT rate={} hwm_growth_kib={} rss_after_kib={} queue_capacity={} max_queued={max_queued}",
        rate(n, t),
        hwm_after.saturating_sub(hwm_before),
        rss_after,
        opts.queue_capacity
    );
}

/// `idle N DIR`: with one job open and used (one-time costs paid), opens N
/// more, each written once and then left idle; prints the RSS and thread
/// deltas.
fn child_idle(n: usize, dir: &Path) {
    let data = Data::new();
    let waiter = Waiter::new();
    let warm = LibJob::open(dir, "warm", None);
    warm.put(&data, &[1u8; KEY_LEN], data.payload(0));
    warm.flush(waiter);
    let instance = Instance::new(dir);
    thread::sleep(Duration::from_millis(100));
    let rss_before = proc_status("VmRSS");
    let threads_before = proc_status("Threads");
    let mut jobs = Vec::with_capacity(n);
    for i in 0..n {
        let job = instance.open_job(&format!("idle{i}"), None);
        job.put(&data, &[2u8; KEY_LEN], data.payload(i));
        job.flush(waiter);
        jobs.push(job);
    }
    thread::sleep(Duration::from_millis(200));
    let rss_after = proc_status("VmRSS");
    let threads_after = proc_status("Threads");
    println!(
        "RESULT rss_delta_kib={} threads_delta={}",
        rss_after as f64 - rss_before as f64,
        threads_after as f64 - threads_before as f64
    );
    // Released in the original order: the jobs, their instance, the warm
    // job.
    drop(jobs);
    drop(instance);
    drop(warm);
}

pub fn run_child(args: &[String]) {
    let n: usize = args.get(1).and_then(|s| s.parse().ok()).expect("count");
    let dir = PathBuf::from(args.get(2).expect("dir"));
    match args[0].as_str() {
        "flood" => child_flood(n, &dir),
        "idle" => child_idle(n, &dir),
        other => panic!("unknown child {other}"),
    }
}
