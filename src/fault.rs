//! Test hooks of the `fault-injection` feature, which tests enable to
//! exercise the panic boundaries and disk faults. Never enable it in
//! production builds.
//!
//! With the feature, job files are opened through a SQLite VFS that wraps
//! the default one and consults a process-wide plan: [`inject`] makes
//! reads, writes or fsyncs of a job's database or WAL fail with `EIO` or
//! `ENOSPC`; [`track_power`] and [`power_cut`] simulate a power cut, which
//! drops every write not yet fsynced (or, with a seed, keeps random
//! sectors of them). Rules match files by a substring of their path, so
//! tests in one process stay apart by using their own directories.

pub use crate::backend::faultplan::{
    clear, inject, injected, power_cut, power_on, power_state, track_power, CutReport, Errno,
    Fault, IoOp, Target,
};

/// A request on this category panics inside the worker.
pub const PANIC_CATEGORY: &str = "persistency.fault.panic";

/// A C entry point called with this category panics before doing anything.
pub const PANIC_ENTRY_CATEGORY: &str = "persistency.fault.panic-entry";

/// Panics when a worker request names [`PANIC_CATEGORY`].
pub(crate) fn worker_request(category: &[u8]) {
    if category == PANIC_CATEGORY.as_bytes() {
        panic!("fault injection: worker request panics");
    }
}

/// Panics when a C entry point is given [`PANIC_ENTRY_CATEGORY`].
pub(crate) fn entry_point(category: &[u8]) {
    if category == PANIC_ENTRY_CATEGORY.as_bytes() {
        panic!("fault injection: entry point panics");
    }
}

/// A hook [`set_before_unlink`] installs.
pub type UnlinkHook = Box<dyn Fn(&std::path::Path) + Send + Sync>;

static BEFORE_UNLINK: parking_lot::RwLock<Option<UnlinkHook>> = parking_lot::RwLock::new(None);

static OPENS_WAITING_FOR_DROP: std::sync::atomic::AtomicUsize =
    std::sync::atomic::AtomicUsize::new(0);

/// Installs (or with `None` removes) a hook that `drop_job` runs with the
/// job file's path after it closed the job and just before it deletes the
/// files, so a test can race an open against the deletion deterministically.
pub fn set_before_unlink(hook: Option<UnlinkHook>) {
    *BEFORE_UNLINK.write() = hook;
}

/// Runs the hook of [`set_before_unlink`], if any.
pub(crate) fn before_unlink(path: &std::path::Path) {
    if let Some(hook) = BEFORE_UNLINK.read().as_ref() {
        hook(path);
    }
}

/// How many times an open has started waiting for a drop of the same job
/// to finish (so a test knows the open is parked, not racing).
pub fn opens_waiting_for_drop() -> usize {
    OPENS_WAITING_FOR_DROP.load(std::sync::atomic::Ordering::SeqCst)
}

/// Counts an open that waits for a drop.
pub(crate) fn note_open_waits_for_drop() {
    OPENS_WAITING_FOR_DROP.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
}

static SERVED_AHEAD: parking_lot::Mutex<Vec<(Vec<u8>, u64)>> = parking_lot::Mutex::new(Vec::new());

/// How many scans on `category` (in any job of this process) a worker has
/// answered with a page it read ahead, so a test knows the read-ahead ran.
pub fn served_ahead(category: &str) -> u64 {
    SERVED_AHEAD
        .lock()
        .iter()
        .find(|(c, _)| c == category.as_bytes())
        .map_or(0, |(_, n)| *n)
}

/// Counts a scan answered with a page read ahead.
pub(crate) fn note_served_ahead(category: &[u8]) {
    let mut counts = SERVED_AHEAD.lock();
    match counts.iter_mut().find(|(c, _)| c == category) {
        Some((_, n)) => *n += 1,
        None => counts.push((category.to_vec(), 1)),
    }
}
