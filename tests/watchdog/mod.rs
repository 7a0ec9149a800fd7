//! Turns a hang into a test failure: the body runs on its own thread and
//! the test fails if it has not finished in time. The limit is far above
//! what the body needs; it says nothing about speed.

use std::panic::{catch_unwind, resume_unwind, AssertUnwindSafe};
use std::sync::mpsc;
use std::time::Duration;

/// How long a body may take before it counts as hung.
pub const LIMIT: Duration = Duration::from_secs(60);

/// Runs `body` and returns its result; panics (fails the test) if it has
/// not returned within [`LIMIT`], which means it deadlocked. The stuck
/// thread is left behind: the test binary still exits.
pub fn watchdog<T: Send + 'static>(what: &str, body: impl FnOnce() -> T + Send + 'static) -> T {
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(catch_unwind(AssertUnwindSafe(body)));
    });
    match rx.recv_timeout(LIMIT) {
        Ok(Ok(value)) => value,
        Ok(Err(panic)) => resume_unwind(panic),
        Err(_) => panic!("hang: {what} did not finish within {LIMIT:?} (deadlock)"),
    }
}
