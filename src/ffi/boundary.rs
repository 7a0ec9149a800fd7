//! The panic boundary and the thread-local last error.

use std::cell::RefCell;
use std::ffi::{c_char, CString};
use std::panic::{catch_unwind, AssertUnwindSafe};

use super::status::{Status, PERSISTENCY_ERR_INTERNAL, PERSISTENCY_OK};
use crate::error::{Error, Result};

thread_local! {
    static LAST_ERROR: RefCell<Option<CString>> = const { RefCell::new(None) };
}

/// Sets (or with `None` clears) the calling thread's last error.
pub(crate) fn set_last_error(error: Option<&Error>) {
    let text = error.map(|e| CString::new(e.to_string().replace('\0', " ")).unwrap_or_default());
    LAST_ERROR.with(|slot| *slot.borrow_mut() = text);
}

/// The calling thread's last error message, or NULL.
pub(crate) fn last_error_ptr() -> *const c_char {
    LAST_ERROR.with(|slot| {
        slot.borrow()
            .as_ref()
            .map_or(std::ptr::null(), |s| s.as_ptr())
    })
}

/// What an entry point returns when its body panicked.
pub(crate) trait OnPanic {
    fn on_panic() -> Self;
}

impl OnPanic for Status {
    fn on_panic() -> Self {
        set_last_error(Some(&Error::internal(
            "a bug inside the library (a caught panic); the call had no effect",
        )));
        PERSISTENCY_ERR_INTERNAL
    }
}

impl<T> OnPanic for *const T {
    fn on_panic() -> Self {
        std::ptr::null()
    }
}

impl<T> OnPanic for *mut T {
    fn on_panic() -> Self {
        std::ptr::null_mut()
    }
}

impl OnPanic for u32 {
    fn on_panic() -> Self {
        0
    }
}

impl OnPanic for bool {
    fn on_panic() -> Self {
        false
    }
}

impl OnPanic for () {
    fn on_panic() -> Self {}
}

/// Runs an entry point's body; a panic becomes the return type's failure
/// value and never unwinds into the host.
pub(crate) fn boundary<R: OnPanic>(body: impl FnOnce() -> R) -> R {
    crate::log::with_quiet_panics(|| catch_unwind(AssertUnwindSafe(body)))
        .unwrap_or_else(|_| R::on_panic())
}

/// Runs a status-returning body: sets the last error on failure, clears it
/// on success.
pub(crate) fn status(body: impl FnOnce() -> Result<()>) -> Status {
    boundary(|| match body() {
        Ok(()) => {
            set_last_error(None);
            PERSISTENCY_OK
        }
        Err(e) => {
            set_last_error(Some(&e));
            e.kind().code()
        }
    })
}
