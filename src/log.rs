//! The process-wide logger hook. With none set, the library prints nothing.

use std::cell::Cell;
use std::sync::atomic::{AtomicI32, AtomicUsize, Ordering};
use std::sync::Arc;

use parking_lot::{Condvar, Mutex, RwLock};

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
/// possibly concurrently. It may call back into the library (the library
/// never holds a lock while it runs), including [`set_logger`].
pub type Logger = Arc<dyn Fn(Level, &str) + Send + Sync>;

/// An installed logger and how many calls are inside it now.
struct Installed {
    logger: Logger,
    inside: AtomicUsize,
}

static LOGGER: RwLock<Option<Arc<Installed>>> = RwLock::new(None);
static MAX_LEVEL: AtomicI32 = AtomicI32::new(0);
/// Signalled when the last call leaves a logger.
static LEFT: Mutex<()> = Mutex::new(());
static LEFT_CV: Condvar = Condvar::new();

/// Installs `logger` (or removes it with `None`); messages at most as
/// verbose as `max_level` are delivered.
///
/// Returns once no other thread is inside the logger it replaced, so the
/// caller may then free whatever that logger used. Called from inside a
/// logger (on a thread that is running one), it replaces the logger at
/// once and returns without waiting: waiting there could wait for a thread
/// that is itself waiting for this one.
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

/// Installs a logger with a raw maximum level (0 or less delivers nothing);
/// waits as [`set_logger`] says.
pub(crate) fn install(logger: Option<Logger>, max_level: i32) {
    let level = if logger.is_some() { max_level } else { 0 };
    let installed = logger.map(|logger| {
        Arc::new(Installed {
            logger,
            inside: AtomicUsize::new(0),
        })
    });
    let old = {
        let mut slot = LOGGER.write();
        MAX_LEVEL.store(level, Ordering::Release);
        std::mem::replace(&mut *slot, installed)
    };
    let Some(old) = old else {
        return;
    };
    if DEPTH.with(Cell::get) > 0 {
        return;
    }
    // No new call can enter `old` (calls count themselves under the read
    // lock): wait for those inside it to leave.
    let mut left = LEFT.lock();
    while old.inside.load(Ordering::Acquire) > 0 {
        LEFT_CV.wait(&mut left);
    }
}

thread_local! {
    static QUIET: Cell<bool> = const { Cell::new(false) };
    /// How many logger calls this thread is inside.
    static DEPTH: Cell<usize> = const { Cell::new(0) };
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
            if QUIET.with(Cell::get) {
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

/// Delivers a message built only when a logger wants it. Callers hold no
/// lock of the library (a logger may call back into it); a panicking logger
/// is contained.
pub(crate) fn log(level: Level, message: impl FnOnce() -> String) {
    if !enabled(level) {
        return;
    }
    let text = message();
    let installed = {
        let slot = LOGGER.read();
        let Some(installed) = slot.as_ref() else {
            return;
        };
        // Counted under the read lock, so `install` sees every call that
        // took this logger.
        installed.inside.fetch_add(1, Ordering::AcqRel);
        installed.clone()
    };
    struct Leave(Arc<Installed>);
    impl Drop for Leave {
        fn drop(&mut self) {
            DEPTH.with(|d| d.set(d.get() - 1));
            if self.0.inside.fetch_sub(1, Ordering::AcqRel) == 1 {
                let _left = LEFT.lock();
                LEFT_CV.notify_all();
            }
        }
    }
    DEPTH.with(|d| d.set(d.get() + 1));
    let inside = Leave(installed);
    let logger = &inside.0.logger;
    let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| logger(level, &text)));
}
