//! Model-based test: random sequences of operations are applied both to the
//! library (through the Rust API) and to an in-memory model, a
//! `BTreeMap<key, payload>` per category per job; every result must equal
//! the model's.
//!
//! - Keys come from a 4-letter alphabet (`00 01 61 ff`) and are 0 to 3 bytes
//!   long, so keys collide, prefixes overlap, and all-`ff` prefixes (whose
//!   range has no upper bound) occur often. Categories `""`, `"a"`, `"ab"`
//!   share prefixes too; two jobs run side by side in one instance.
//! - Blocking calls are mixed with the `_then` callback forms. A callback's
//!   expected result is taken from the model when the call is made (the
//!   library applies a job's operations in acceptance order); it is checked
//!   when the callback arrives. Callbacks of a job must arrive in acceptance
//!   order, exactly once, and all before a later blocking `flush` or
//!   `close_job` of that job returns.
//! - Fire-and-forget writes followed by reads must be visible
//!   (read-your-writes): nothing in the sequence waits between them. A
//!   third of the calls are made blocking on other threads (a read on
//!   several at once): each must see every write accepted before it, on
//!   whichever path it runs (on the caller's thread when nothing is
//!   pending, through the worker otherwise).
//! - Cursors stay open across steps, one per job at most; each page must
//!   hold the model's rows past the cursor's last key as of its call (every
//!   write accepted before it), asked for on this thread or another one.
//! - One case in eight runs on a temporary directory, where closing and
//!   reopening a job or the whole instance keeps the data; on `:memory:` a
//!   reopened job starts empty.
//!
//! A case is a sequence of `MODEL_MIN_OPS..=MODEL_MAX_OPS` steps (default
//! 150..=350). Shrinking replaces steps with `Skip` (the simplest step) and
//! simplifies the others; a failure prints the remaining steps and the seed.
//!
//! Environment: `PROPTEST_CASES` (default 2000), `PROPTEST_RNG_SEED`
//! (default fixed), `MODEL_MIN_OPS`, `MODEL_MAX_OPS`, `MODEL_DIR` (where the
//! on-disk cases live; default `/dev/shm` if present). `scripts/model_long.sh`
//! runs a longer version.
//!
//! The modules: [`steps`] (what a case is made of and how it is generated),
//! [`model`] (the expected contents and results), [`harness`] (the library
//! side: jobs, callbacks owed, reopening), and one module per kind of call:
//! [`writes`] (fire-and-forget writes and batches) and [`answered`] (calls
//! that answer, in their blocking or `_then` form), and [`cursors`].

mod answered;
mod cursors;
mod harness;
mod model;
mod steps;
mod writes;

#[path = "../common/mod.rs"]
mod common;

use std::sync::atomic::{AtomicU64, Ordering::Relaxed};

use proptest::test_runner::{Config, RngSeed, TestCaseError, TestRunner};

use common::env_or;
use harness::{Check, Harness};
use steps::Case;

const CATEGORIES: [&str; 3] = ["", "a", "ab"];
const JOBS: [&str; 2] = ["alpha", "beta"];
const DEFAULT_SEED: u64 = 0x005e_ed0f_1e55;

/// Figures of the run, printed at the end.
static ON_DISK_CASES: AtomicU64 = AtomicU64::new(0);
static STEPS: AtomicU64 = AtomicU64::new(0);
static CALLBACKS_CHECKED: AtomicU64 = AtomicU64::new(0);
static REOPENS: AtomicU64 = AtomicU64::new(0);

fn run_case(case: &Case) -> Check {
    ON_DISK_CASES.fetch_add(u64::from(case.on_disk), Relaxed);
    STEPS.fetch_add(case.steps.len() as u64, Relaxed);
    let mut h = Harness::new(case.on_disk)?;
    for (i, step) in case.steps.iter().enumerate() {
        step.run(&mut h, i)?;
    }
    h.final_check()?;
    h.db.close().map_err(|e| format!("close: {e}"))
}

#[test]
fn library_matches_the_model() {
    let cases: u32 = env_or("PROPTEST_CASES", 2000);
    let seed: u64 = env_or("PROPTEST_RNG_SEED", DEFAULT_SEED);
    let min_ops: usize = env_or("MODEL_MIN_OPS", 150);
    let max_ops: usize = env_or("MODEL_MAX_OPS", 350).max(min_ops);
    let config = Config {
        cases,
        rng_seed: RngSeed::Fixed(seed),
        failure_persistence: None,
        max_shrink_iters: 4096,
        ..Config::default()
    };
    let started = std::time::Instant::now();
    let mut runner = TestRunner::new(config);
    let result = runner.run(&steps::case(min_ops, max_ops), |case| {
        run_case(&case).map_err(TestCaseError::fail)
    });
    if let Err(e) = result {
        panic!("seed {seed}: {e}");
    }
    eprintln!(
        "model: {cases} sequences ({} on disk), {} steps, {} callbacks checked, \
         {} job/instance reopens, seed {seed}, {:.1?}",
        ON_DISK_CASES.load(Relaxed),
        STEPS.load(Relaxed),
        CALLBACKS_CHECKED.load(Relaxed),
        REOPENS.load(Relaxed),
        started.elapsed()
    );
}
