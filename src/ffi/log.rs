//! The logger hook.

use std::ffi::{c_char, c_void, CString};
use std::sync::Arc;

use super::boundary::boundary;

/// Log levels: a message is delivered when its level is at most the
/// logger's `max_level`.
pub const PERSISTENCY_LOG_ERROR: i32 = 1;
/// Something may be wrong.
pub const PERSISTENCY_LOG_WARN: i32 = 2;
/// Lifecycle events.
pub const PERSISTENCY_LOG_INFO: i32 = 3;
/// Detail for debugging; `max_level = PERSISTENCY_LOG_DEBUG` delivers all.
pub const PERSISTENCY_LOG_DEBUG: i32 = 4;

// The C levels are the discriminants of the core's `Level`.
const _: () = {
    assert!(crate::Level::Error as i32 == PERSISTENCY_LOG_ERROR);
    assert!(crate::Level::Warn as i32 == PERSISTENCY_LOG_WARN);
    assert!(crate::Level::Info as i32 == PERSISTENCY_LOG_INFO);
    assert!(crate::Level::Debug as i32 == PERSISTENCY_LOG_DEBUG);
};

/// A logger (C `persistency_log_callback`): `level` is a
/// `PERSISTENCY_LOG_*` constant, `message` a NUL-terminated string valid
/// only during the call.
pub type LogCallback =
    Option<unsafe extern "C" fn(level: i32, message: *const c_char, user_data: *mut c_void)>;

struct HostLogger {
    callback: unsafe extern "C" fn(i32, *const c_char, *mut c_void),
    user_data: *mut c_void,
}

// SAFETY: the library never dereferences `user_data`; it hands it back to
// the host's logger, which the host documents as callable from any thread.
unsafe impl Send for HostLogger {}
// SAFETY: as above; the logger may be called concurrently by contract.
unsafe impl Sync for HostLogger {}

impl HostLogger {
    fn call(&self, level: crate::Level, message: &str) {
        let text = CString::new(message.replace('\0', " ")).unwrap_or_default();
        // SAFETY: the host's logger, called as its typedef says, with a
        // message that lives until it returns.
        unsafe { (self.callback)(level as i32, text.as_ptr(), self.user_data) }
    }
}

/// Installs the process-wide logger, or removes it when `callback` is NULL.
/// The logger may be called from any library thread, concurrently; it must
/// not block for long. With no logger the library prints nothing. The
/// library never holds a lock while the logger runs: the logger may call
/// any function that does not wait for a job (not `close_job`, `drop_job`,
/// `persistency_close`, `persistency_reset` or the blocking calls), and
/// this one.
///
/// Returns once no other thread is inside the logger it replaced: after
/// that the old `user_data` may be freed. Called from inside a logger, it
/// replaces the logger at once and returns without waiting (the caller is
/// inside the old logger; another thread may be too): free the old
/// `user_data` only after a call made outside any logger returns.
/// `user_data` is passed back untouched and must stay valid until then.
///
/// # Safety
/// `callback` is NULL or a function that may be called as described, from
/// any thread; `user_data` is only passed back to it.
#[no_mangle]
pub unsafe extern "C" fn persistency_set_logger(
    callback: LogCallback,
    user_data: *mut c_void,
    max_level: i32,
) {
    boundary(|| {
        let Some(callback) = callback else {
            crate::log::install(None, 0);
            return;
        };
        let host = HostLogger {
            callback,
            user_data,
        };
        crate::log::install(
            Some(Arc::new(move |level: crate::Level, message: &str| {
                host.call(level, message)
            })),
            max_level,
        );
    })
}
