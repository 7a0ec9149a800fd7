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
use std::sync::atomic::{AtomicUsize, Ordering};
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

/// Times one thread against `threads` threads doing the same work, in
/// `rounds` alternating turns (the first rotating with `rep`), and returns
/// the time each variant spent: `[one thread, all threads]`. The threads
/// live for every round: each builds its state with `setup(t)` (untimed),
/// then each round runs `work(&mut state)` on thread 0 alone or on all of
/// them. Short turns taken in turn let a slow spell of a shared machine
/// fall on both variants, as one turn each would not.
fn alternating_threads<S, I, W>(
    threads: usize,
    rounds: usize,
    rep: usize,
    setup: I,
    work: W,
) -> [Duration; 2]
where
    I: Fn(usize) -> S + Sync,
    W: Fn(&mut S) + Sync,
{
    // Threads 0..active work this turn; 0 ends them.
    let active = AtomicUsize::new(0);
    let line = Barrier::new(threads + 1);
    let mut spent = [Duration::ZERO; 2];
    thread::scope(|s| {
        for t in 0..threads {
            let (setup, work, line, active) = (&setup, &work, &line, &active);
            s.spawn(move || {
                let mut state = setup(t);
                loop {
                    line.wait();
                    let n = active.load(Ordering::Acquire);
                    if n == 0 {
                        return;
                    }
                    if t < n {
                        work(&mut state);
                    }
                    line.wait();
                }
            });
        }
        for round in 0..rounds {
            for variant in rotated(2, rep + round) {
                active.store(if variant == 0 { 1 } else { threads }, Ordering::Release);
                let start = Instant::now();
                line.wait();
                line.wait();
                spent[variant] += start.elapsed();
            }
        }
        active.store(0, Ordering::Release);
        line.wait();
    });
    spent
}

fn rate(n: usize, elapsed: Duration) -> f64 {
    n as f64 / elapsed.as_secs_f64()
}

/// The variants of one repetition, starting at a different one each
/// repetition so that no variant always runs first.
fn rotated(n: usize, rep: usize) -> impl Iterator<Item = usize> {
    (0..n).map(move |i| (i + rep) % n)
}
