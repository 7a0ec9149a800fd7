//! The workloads, each comparing the library with its baselines, and what
//! they share: the run's state, the rotation of variants, timing, rates and
//! the steps that several workloads take.

mod blocking;
mod busy;
mod memory;
mod mix;
mod reads;
mod scans;
mod writes;

use std::path::PathBuf;
use std::sync::Barrier;
use std::thread;
use std::time::{Duration, Instant};

use crate::config::Config;
use crate::data::{Data, Key};
use crate::lib_driver::{Job, Waiter};
use crate::report::Report;

pub use memory::run_child;

/// The state of one run: its sizes, the rows, a scratch directory and the
/// figures recorded so far.
pub struct Bench {
    pub config: Config,
    pub data: Data,
    pub scratch: PathBuf,
    pub report: Report,
}

// The workloads' names, as the tables and results.json show them.
const W1: &str = "1 puts + flush";
const W2: &str = "2 equal rows per commit";
const W3: &str = "3 durable batches (FULL)";
const W4: &str = "4 sequential gets";
const W5: &str = "5 pipelined gets";
const W6: &str = "6 get_many";
const W7: &str = "7 scans";
const W8: &str = "8 90/10 mix, 4 threads";
const W9: &str = "9 flood";
const W10: &str = "10 idle jobs";
const W11: &str = "11 busy jobs";
const W12: &str = "12 blocking reads";

impl Bench {
    fn tempdir(&self) -> tempfile::TempDir {
        tempfile::Builder::new()
            .prefix("run-")
            .tempdir_in(&self.scratch)
            .expect("tempdir")
    }
}

/// Puts `keys` one at a time, fire-and-forget, then flushes.
fn put_all(job: &Job, data: &Data, keys: &[Key], waiter: &'static Waiter) {
    for (i, k) in keys.iter().enumerate() {
        job.put(data, k, data.payload(i));
    }
    job.flush(waiter);
}

/// Runs `body(t, line)` on `threads` host threads at once and times them
/// from the moment all are ready to the moment all are done: each thread
/// sets up, waits on `line`, works, and waits on `line` again.
fn timed_threads<F>(threads: usize, body: F) -> Duration
where
    F: Fn(usize, &Barrier) + Sync,
{
    let line = Barrier::new(threads + 1);
    thread::scope(|s| {
        for t in 0..threads {
            let (body, line) = (&body, &line);
            s.spawn(move || body(t, line));
        }
        line.wait();
        let start = Instant::now();
        line.wait();
        start.elapsed()
    })
}

fn rate(n: usize, elapsed: Duration) -> f64 {
    n as f64 / elapsed.as_secs_f64()
}

/// The variants of one repetition, starting at a different one each
/// repetition so that no variant always runs first.
fn rotated(n: usize, rep: usize) -> impl Iterator<Item = usize> {
    (0..n).map(move |i| (i + rep) % n)
}
