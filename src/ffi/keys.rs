//! The key builder and the prefix-range stop.

use std::ffi::c_char;

use super::args;
use super::boundary::{boundary, status};
use super::status::persistency_status;
use crate::error::{Error, Result};
use crate::keys::{prefix_stop, Key};

/// A key under construction (owned by the caller: `persistency_key_new`,
/// `persistency_key_free`). Not thread-safe: one thread at a time.
pub struct persistency_key {
    key: Key,
}

/// A new empty key (free it with `persistency_key_free`), or NULL if out of
/// memory.
#[no_mangle]
pub extern "C" fn persistency_key_new() -> *mut persistency_key {
    boundary(|| Box::into_raw(Box::new(persistency_key { key: Key::new() })))
}

/// Frees a key; NULL is a no-op.
#[no_mangle]
pub extern "C" fn persistency_key_free(key: *mut persistency_key) {
    boundary(|| {
        if !key.is_null() {
            // SAFETY: a key made by `persistency_key_new`, given back once.
            drop(unsafe { Box::from_raw(key) });
        }
    })
}

/// Removes every part; NULL is a no-op.
#[no_mangle]
pub extern "C" fn persistency_key_clear(key: *mut persistency_key) {
    boundary(|| {
        if let Ok(key) = args::out_ptr(key, "key") {
            key.key.clear();
        }
    })
}

fn push(
    key: *mut persistency_key,
    part: impl FnOnce(&mut Key) -> Result<()>,
) -> persistency_status {
    status(|| part(&mut args::out_ptr(key, "key")?.key))
}

/// Appends a NUL-terminated string (2-byte big-endian length, then the
/// bytes; at most 65535 bytes, else `PERSISTENCY_ERR_INVALID_ARGUMENT` and
/// the key is unchanged).
#[no_mangle]
pub extern "C" fn persistency_key_push_str(
    key: *mut persistency_key,
    s: *const c_char,
) -> persistency_status {
    push(key, |k| {
        k.push_bytes(args::c_str(s, "s")?.to_bytes())?;
        Ok(())
    })
}

/// Appends a byte string (length-prefixed like a string; at most 65535).
#[no_mangle]
pub extern "C" fn persistency_key_push_bytes(
    key: *mut persistency_key,
    bytes: *const u8,
    len: usize,
) -> persistency_status {
    push(key, |k| {
        k.push_bytes(args::bytes(bytes, len, "bytes")?)?;
        Ok(())
    })
}

/// Appends a signed integer (sign bit flipped, 8 bytes big-endian).
#[no_mangle]
pub extern "C" fn persistency_key_push_i64(
    key: *mut persistency_key,
    v: i64,
) -> persistency_status {
    push(key, |k| k.push_i64(v).map(drop))
}

/// Appends an unsigned integer (8 bytes big-endian).
#[no_mangle]
pub extern "C" fn persistency_key_push_u64(
    key: *mut persistency_key,
    v: u64,
) -> persistency_status {
    push(key, |k| k.push_u64(v).map(drop))
}

/// Appends one byte.
#[no_mangle]
pub extern "C" fn persistency_key_push_u8(key: *mut persistency_key, v: u8) -> persistency_status {
    push(key, |k| k.push_u8(v).map(drop))
}

/// Appends a bool as one byte (0 or 1).
#[no_mangle]
pub extern "C" fn persistency_key_push_bool(
    key: *mut persistency_key,
    v: bool,
) -> persistency_status {
    push(key, |k| k.push_bool(v).map(drop))
}

/// Appends an already encoded key verbatim.
#[no_mangle]
pub extern "C" fn persistency_key_push_raw(
    key: *mut persistency_key,
    bytes: *const u8,
    len: usize,
) -> persistency_status {
    push(key, |k| {
        k.push_raw(args::bytes(bytes, len, "bytes")?)?;
        Ok(())
    })
}

/// The encoded bytes, valid until the key is next changed or freed, and
/// their length in `*len` (when `len` is not NULL). NULL for an empty key
/// (with `*len` 0) or a NULL key.
#[no_mangle]
pub extern "C" fn persistency_key_data(key: *const persistency_key, len: *mut usize) -> *const u8 {
    boundary(|| {
        let bytes = args::non_null(key, "key").map_or(&[][..], |k| k.key.as_bytes());
        if let Ok(len) = args::out_ptr(len, "len") {
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
#[no_mangle]
pub extern "C" fn persistency_prefix_stop(
    prefix: *const u8,
    prefix_len: usize,
    out: *mut u8,
    out_len: *mut usize,
) -> persistency_status {
    status(|| {
        let out_len = args::out_ptr(out_len, "out_len")?;
        let prefix = args::bytes(prefix, prefix_len, "prefix")?;
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
