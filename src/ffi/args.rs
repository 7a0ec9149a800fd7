//! Turning C arguments into Rust values: NULL checks and copies, in one
//! place.

use std::ffi::{c_char, CStr};
use std::mem::ManuallyDrop;

use super::instance::persistency;
use super::job::persistency_job;
use crate::error::{Error, Result};
use crate::instance::Persistency;
use crate::job::Job;
use crate::keys::MAX_PART_LEN;

/// A required pointer, or an invalid-argument error naming it.
pub(crate) fn non_null<'a, T>(ptr: *const T, what: &str) -> Result<&'a T> {
    // SAFETY: a non-NULL pointer from the host points at a live `T`, as the
    // header documents for every pointer argument.
    unsafe { ptr.as_ref() }.ok_or_else(|| Error::invalid(format!("{what} is NULL")))
}

/// A required mutable out-pointer.
pub(crate) fn out_ptr<'a, T>(ptr: *mut T, what: &str) -> Result<&'a mut T> {
    // SAFETY: as for `non_null`; the host gives a writable location.
    unsafe { ptr.as_mut() }.ok_or_else(|| Error::invalid(format!("{what} is NULL")))
}

/// A NUL-terminated string argument.
pub(crate) fn c_str<'a>(ptr: *const c_char, what: &str) -> Result<&'a CStr> {
    if ptr.is_null() {
        return Err(Error::invalid(format!("{what} is NULL")));
    }
    // SAFETY: non-NULL and NUL-terminated, as documented.
    Ok(unsafe { CStr::from_ptr(ptr) })
}

/// A UTF-8 string argument (job ids, roots).
pub(crate) fn utf8<'a>(ptr: *const c_char, what: &str) -> Result<&'a str> {
    c_str(ptr, what)?
        .to_str()
        .map_err(|_| Error::invalid(format!("{what} is not valid UTF-8")))
}

/// A category: non-NULL, at most 65535 bytes.
pub(crate) fn category<'a>(ptr: *const c_char) -> Result<&'a [u8]> {
    let bytes = c_str(ptr, "category")?.to_bytes();
    if bytes.len() > MAX_PART_LEN {
        return Err(Error::invalid(format!(
            "category of {} bytes is longer than {MAX_PART_LEN}",
            bytes.len()
        )));
    }
    #[cfg(feature = "fault-injection")]
    if bytes == crate::FAULT_PANIC_ENTRY_CATEGORY.as_bytes() {
        panic!("fault injection: entry point panics");
    }
    Ok(bytes)
}

/// A byte buffer: NULL is allowed only with length 0.
pub(crate) fn bytes<'a>(ptr: *const u8, len: usize, what: &str) -> Result<&'a [u8]> {
    if ptr.is_null() {
        return match len {
            0 => Ok(&[]),
            _ => Err(Error::invalid(format!("{what} is NULL with length {len}"))),
        };
    }
    if len > isize::MAX as usize {
        return Err(Error::invalid(format!("{what} length {len} is too large")));
    }
    // SAFETY: the host passes `len` readable bytes at `ptr`.
    Ok(unsafe { std::slice::from_raw_parts(ptr, len) })
}

/// An array argument: NULL is allowed only with count 0.
pub(crate) fn array<'a, T>(ptr: *const T, n: usize, what: &str) -> Result<&'a [T]> {
    if ptr.is_null() {
        return match n {
            0 => Ok(&[]),
            _ => Err(Error::invalid(format!("{what} is NULL with count {n}"))),
        };
    }
    if n.checked_mul(std::mem::size_of::<T>())
        .is_none_or(|b| b > isize::MAX as usize)
    {
        return Err(Error::invalid(format!("{what} count {n} is too large")));
    }
    // SAFETY: the host passes `n` initialised elements at `ptr`.
    Ok(unsafe { std::slice::from_raw_parts(ptr, n) })
}

/// Borrows the instance behind a handle for the duration of a call; the
/// host's reference keeps it alive.
pub(crate) fn instance(ptr: *const persistency) -> Result<ManuallyDrop<Persistency>> {
    if ptr.is_null() {
        return Err(Error::invalid("instance handle is NULL"));
    }
    // SAFETY: a non-NULL handle is a live reference made by `into_raw`;
    // ManuallyDrop keeps this borrow from releasing it.
    Ok(ManuallyDrop::new(unsafe {
        Persistency::from_raw(ptr.cast())
    }))
}

/// Borrows the job behind a handle for the duration of a call.
pub(crate) fn job(ptr: *const persistency_job) -> Result<ManuallyDrop<Job>> {
    if ptr.is_null() {
        return Err(Error::invalid("job handle is NULL"));
    }
    // SAFETY: as for `instance`.
    Ok(ManuallyDrop::new(unsafe { Job::from_raw(ptr.cast()) }))
}

/// A callback that must be present.
pub(crate) fn required<T>(callback: Option<T>) -> Result<T> {
    callback.ok_or_else(|| Error::invalid("callback is NULL"))
}
