//! Turning C arguments into Rust values: NULL checks and copies, in one
//! place. Each function is `unsafe`: its caller (an entry point) vouches for
//! the pointers as its own `# Safety` section requires of the host.

use std::ffi::{c_char, CStr};

use crate::error::{Error, Result};

/// A required pointer, or an invalid-argument error naming it.
///
/// # Safety
/// `ptr` is NULL or points at a live `T` for the whole call.
pub(crate) unsafe fn non_null<'a, T>(ptr: *const T, what: &str) -> Result<&'a T> {
    // SAFETY: this function's contract.
    unsafe { ptr.as_ref() }.ok_or_else(|| Error::invalid(format!("{what} is NULL")))
}

/// A required mutable out-pointer.
///
/// # Safety
/// `ptr` is NULL or points at a writable `T`, unaliased for the whole call.
pub(crate) unsafe fn out_ptr<'a, T>(ptr: *mut T, what: &str) -> Result<&'a mut T> {
    // SAFETY: this function's contract.
    unsafe { ptr.as_mut() }.ok_or_else(|| Error::invalid(format!("{what} is NULL")))
}

/// A NUL-terminated string argument.
///
/// # Safety
/// `ptr` is NULL or a NUL-terminated string live for the whole call.
pub(crate) unsafe fn c_str<'a>(ptr: *const c_char, what: &str) -> Result<&'a CStr> {
    if ptr.is_null() {
        return Err(Error::invalid(format!("{what} is NULL")));
    }
    // SAFETY: non-NULL, and NUL-terminated per this function's contract.
    Ok(unsafe { CStr::from_ptr(ptr) })
}

/// A UTF-8 string argument (job ids, roots).
///
/// # Safety
/// As for [`c_str`].
pub(crate) unsafe fn utf8<'a>(ptr: *const c_char, what: &str) -> Result<&'a str> {
    // SAFETY: passed on from this function's contract.
    unsafe { c_str(ptr, what) }?
        .to_str()
        .map_err(|_| Error::invalid(format!("{what} is not valid UTF-8")))
}

/// A category: a NUL-terminated string (its length is checked by the core).
///
/// # Safety
/// As for [`c_str`].
pub(crate) unsafe fn category<'a>(ptr: *const c_char) -> Result<&'a [u8]> {
    // SAFETY: passed on from this function's contract.
    let bytes = unsafe { c_str(ptr, "category") }?.to_bytes();
    #[cfg(feature = "fault-injection")]
    crate::fault::entry_point(bytes);
    Ok(bytes)
}

/// A byte buffer: NULL is allowed only with length 0.
///
/// # Safety
/// `ptr` is NULL or points at `len` readable bytes live for the whole call.
pub(crate) unsafe fn bytes<'a>(ptr: *const u8, len: usize, what: &str) -> Result<&'a [u8]> {
    if ptr.is_null() && len > 0 {
        return Err(Error::invalid(format!("{what} is NULL with length {len}")));
    }
    if len > isize::MAX as usize {
        return Err(Error::invalid(format!("{what} length {len} is too large")));
    }
    // SAFETY: passed on from this function's contract.
    unsafe { array(ptr, len, what) }
}

/// An array argument: NULL is allowed only with count 0.
///
/// # Safety
/// `ptr` is NULL or points at `n` initialised elements live for the call.
pub(crate) unsafe fn array<'a, T>(ptr: *const T, n: usize, what: &str) -> Result<&'a [T]> {
    if ptr.is_null() {
        return match n {
            0 => Ok(&[]),
            _ => Err(Error::invalid(format!("{what} is NULL with count {n}"))),
        };
    }
    if n.checked_mul(std::mem::size_of::<T>().max(1))
        .is_none_or(|b| b > isize::MAX as usize)
    {
        return Err(Error::invalid(format!("{what} count {n} is too large")));
    }
    // SAFETY: non-NULL, `n` elements per this function's contract, and the
    // total size fits in `isize`.
    Ok(unsafe { std::slice::from_raw_parts(ptr, n) })
}

/// A callback that must be present.
pub(crate) fn required<T>(callback: Option<T>) -> Result<T> {
    callback.ok_or_else(|| Error::invalid("callback is NULL"))
}
