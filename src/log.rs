//! The process-wide logger hook. With none set, the library prints nothing.

use std::sync::atomic::{AtomicI32, Ordering};
use std::sync::Arc;

use parking_lot::RwLock;

/// Severity of a log message; lower is more severe.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Level {
    /// Something failed (status 1).
    Error = 1,
    /// Something may be wrong (status 2).
    Warn = 2,
    /// Lifecycle events (status 3).
    Info = 3,
    /// Detail for debugging (status 4).
    Debug = 4,
}

/// A logger: called with a level and a message, from any library thread,
/// possibly concurrently.
pub type Logger = Arc<dyn Fn(Level, &str) + Send + Sync>;

static LOGGER: RwLock<Option<Logger>> = RwLock::new(None);
static MAX_LEVEL: AtomicI32 = AtomicI32::new(0);

/// Installs `logger` (or removes it with `None`); messages at most as
/// verbose as `max_level` are delivered.
///
/// ```
/// use std::sync::Arc;
/// persistency::set_logger(Some(Arc::new(|level, msg: &str| eprintln!("{level:?}: {msg}"))),
///                         persistency::Level::Warn);
/// persistency::set_logger(None, persistency::Level::Error);
/// ```
pub fn set_logger(logger: Option<Logger>, max_level: Level) {
    install(logger, max_level as i32);
}

/// Installs a logger with a raw maximum level (0 or less delivers nothing).
pub(crate) fn install(logger: Option<Logger>, max_level: i32) {
    let mut slot = LOGGER.write();
    let level = if logger.is_some() { max_level } else { 0 };
    *slot = logger;
    MAX_LEVEL.store(level, Ordering::Release);
}

thread_local! {
    static QUIET: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

/// Keeps panics caught inside the library off stderr (the library never
/// prints): for the rest of this thread's life (a library thread) they go
/// to the logger instead. Other threads keep the process's panic hook.
pub(crate) fn quiet_panics() {
    install_hook();
    QUIET.with(|q| q.set(true));
}

/// Runs `body` with panics on this thread sent to the logger, not stderr.
pub(crate) fn with_quiet_panics<R>(body: impl FnOnce() -> R) -> R {
    install_hook();
    let previous = QUIET.with(|q| q.replace(true));
    struct Restore(bool);
    impl Drop for Restore {
        fn drop(&mut self) {
            QUIET.with(|q| q.set(self.0));
        }
    }
    let _restore = Restore(previous);
    body()
}

fn install_hook() {
    static HOOK: std::sync::Once = std::sync::Once::new();
    HOOK.call_once(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            if QUIET.with(std::cell::Cell::get) {
                log(Level::Error, || format!("caught panic: {info}"));
            } else {
                previous(info);
            }
        }));
    });
}

/// Whether a message at `level` would be delivered.
pub(crate) fn enabled(level: Level) -> bool {
    level as i32 <= MAX_LEVEL.load(Ordering::Acquire)
}

/// Delivers a message built only when a logger wants it; no lock is held
/// while the logger runs, and a panicking logger is contained.
pub(crate) fn log(level: Level, message: impl FnOnce() -> String) {
    if !enabled(level) {
        return;
    }
    let Some(logger) = LOGGER.read().clone() else {
        return;
    };
    let text = message();
    let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| logger(level, &text)));
}
