//! The key builder and the prefix-range stop.

use std::ffi::c_char;

use super::args;
use super::boundary::{boundary, status};
use super::status::Status;
use crate::error::{Error, Result};
use crate::keys::{prefix_stop, Key};

/// A key under construction (C `persistency_key`; owned by the caller:
/// `persistency_key_new`, `persistency_key_free`). Not thread-safe: one
/// thread at a time.
pub struct KeyHandle {
    key: Key,
}

/// A new empty key (free it with `persistency_key_free`), or NULL if out of
/// memory.
///
/// # Safety
/// None: takes no pointers. (Unsafe like every C entry point.)
#[no_mangle]
pub unsafe extern "C" fn persistency_key_new() -> *mut KeyHandle {
    boundary(|| Box::into_raw(Box::new(KeyHandle { key: Key::new() })))
}

/// Frees a key; NULL is a no-op.
///
/// # Safety
/// `key` is NULL or a key from `persistency_key_new`, not freed before and
/// not used afterwards.
#[no_mangle]
pub unsafe extern "C" fn persistency_key_free(key: *mut KeyHandle) {
    boundary(|| {
        if !key.is_null() {
            // SAFETY: a key made by `persistency_key_new`, given back once.
            drop(unsafe { Box::from_raw(key) });
        }
    })
}

/// Removes every part; NULL is a no-op.
///
/// # Safety
/// `key` is NULL or a live key used by no other thread during the call.
#[no_mangle]
pub unsafe extern "C" fn persistency_key_clear(key: *mut KeyHandle) {
    boundary(|| {
        // SAFETY: the pointer is as this function's `# Safety` requires.
        if let Ok(key) = unsafe { args::out_ptr(key, "key") } {
            key.key.clear();
        }
    })
}

/// Appends a part to a key.
///
/// # Safety
/// `key` is NULL or a live key used by no other thread during the call.
unsafe fn push(key: *mut KeyHandle, part: impl FnOnce(&mut Key) -> Result<()>) -> Status {
    status(|| {
        // SAFETY: this function's contract.
        let key = unsafe { args::out_ptr(key, "key") }?;
        part(&mut key.key)
    })
}

/// Appends a NUL-terminated string (2-byte big-endian length, then the
/// bytes; at most 65535 bytes, else `PERSISTENCY_ERR_INVALID_ARGUMENT` and
/// the key is unchanged).
///
/// # Safety
/// `key` is NULL or a live key used by no other thread during the call;
/// `s` is NULL or a NUL-terminated string.
#[no_mangle]
pub unsafe extern "C" fn persistency_key_push_str(key: *mut KeyHandle, s: *const c_char) -> Status {
    // SAFETY: the pointers are as this function's `# Safety` requires.
    unsafe {
        push(key, |k| {
            k.push_bytes(args::c_str(s, "s")?.to_bytes())?;
            Ok(())
        })
    }
}

/// Appends a byte string (length-prefixed like a string; at most 65535).
///
/// # Safety
/// `key` as for `persistency_key_push_str`; `bytes` is NULL (with `len` 0)
/// or points at `len` readable bytes.
#[no_mangle]
pub unsafe extern "C" fn persistency_key_push_bytes(
    key: *mut KeyHandle,
    bytes: *const u8,
    len: usize,
) -> Status {
    // SAFETY: the pointers are as this function's `# Safety` requires.
    unsafe {
        push(key, |k| {
            k.push_bytes(args::bytes(bytes, len, "bytes")?)?;
            Ok(())
        })
    }
}

/// Appends a signed integer (sign bit flipped, 8 bytes big-endian).
///
/// # Safety
/// `key` is NULL or a live key used by no other thread during the call.
#[no_mangle]
pub unsafe extern "C" fn persistency_key_push_i64(key: *mut KeyHandle, v: i64) -> Status {
    // SAFETY: the pointer is as this function's `# Safety` requires.
    unsafe { push(key, |k| k.push_i64(v).map(drop)) }
}

/// Appends an unsigned integer (8 bytes big-endian).
///
/// # Safety
/// `key` is NULL or a live key used by no other thread during the call.
#[no_mangle]
pub unsafe extern "C" fn persistency_key_push_u64(key: *mut KeyHandle, v: u64) -> Status {
    // SAFETY: the pointer is as this function's `# Safety` requires.
    unsafe { push(key, |k| k.push_u64(v).map(drop)) }
}

/// Appends one byte.
///
/// # Safety
/// `key` is NULL or a live key used by no other thread during the call.
#[no_mangle]
pub unsafe extern "C" fn persistency_key_push_u8(key: *mut KeyHandle, v: u8) -> Status {
    // SAFETY: the pointer is as this function's `# Safety` requires.
    unsafe { push(key, |k| k.push_u8(v).map(drop)) }
}

/// Appends a bool as one byte (0 or 1).
///
/// # Safety
/// `key` is NULL or a live key used by no other thread during the call.
#[no_mangle]
pub unsafe extern "C" fn persistency_key_push_bool(key: *mut KeyHandle, v: bool) -> Status {
    // SAFETY: the pointer is as this function's `# Safety` requires.
    unsafe { push(key, |k| k.push_bool(v).map(drop)) }
}

/// Appends an already encoded key verbatim.
///
/// # Safety
/// As for `persistency_key_push_bytes`.
#[no_mangle]
pub unsafe extern "C" fn persistency_key_push_raw(
    key: *mut KeyHandle,
    bytes: *const u8,
    len: usize,
) -> Status {
    // SAFETY: the pointers are as this function's `# Safety` requires.
    unsafe {
        push(key, |k| {
            k.push_raw(args::bytes(bytes, len, "bytes")?)?;
            Ok(())
        })
    }
}

/// The encoded bytes, valid until the key is next changed or freed, and
/// their length in `*len` (when `len` is not NULL). NULL for an empty key
/// (with `*len` 0) or a NULL key.
///
/// # Safety
/// `key` is NULL or a live key not changed by another thread during the
/// call; `len` is NULL or points at a writable `size_t`.
#[no_mangle]
pub unsafe extern "C" fn persistency_key_data(key: *const KeyHandle, len: *mut usize) -> *const u8 {
    boundary(|| {
        // SAFETY: the pointers are as this function's `# Safety` requires.
        let (key, len) = unsafe { (args::non_null(key, "key"), args::out_ptr(len, "len")) };
        let bytes = key.map_or(&[][..], |k| k.key.as_bytes());
        if let Ok(len) = len {
            *len = bytes.len();
        }
        if bytes.is_empty() {
            std::ptr::null()
        } else {
            bytes.as_ptr()
        }
    })
}

/// Writes the exclusive upper bound of the range of keys that start with
/// `prefix` into `out` (room for `prefix_len` bytes) and its length into
/// `*out_len`. Length 0 means open-ended (an empty or all-`0xFF` prefix);
/// `out` may then be NULL. `out_len` is required.
///
/// # Safety
/// `prefix` is NULL (with `prefix_len` 0) or points at `prefix_len`
/// readable bytes; `out` is NULL or has room for `prefix_len` bytes;
/// `out_len` is NULL or points at a writable `size_t`.
#[no_mangle]
pub unsafe extern "C" fn persistency_prefix_stop(
    prefix: *const u8,
    prefix_len: usize,
    out: *mut u8,
    out_len: *mut usize,
) -> Status {
    status(|| {
        // SAFETY: the pointers are as this function's `# Safety` requires.
        let (out_len, prefix) = unsafe {
            (
                args::out_ptr(out_len, "out_len")?,
                args::bytes(prefix, prefix_len, "prefix")?,
            )
        };
        let stop = prefix_stop(prefix).unwrap_or_default();
        if !stop.is_empty() {
            if out.is_null() {
                return Err(Error::invalid("out is NULL"));
            }
            // SAFETY: `out` has room for `prefix_len` bytes and the stop is
            // never longer than the prefix.
            unsafe { std::ptr::copy_nonoverlapping(stop.as_ptr(), out, stop.len()) };
        }
        *out_len = stop.len();
        Ok(())
    })
}
