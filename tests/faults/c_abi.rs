//! The C ABI's panic boundary: an entry point that panics returns
//! `PERSISTENCY_ERR_INTERNAL` and never runs the caller's callback; a
//! worker-side panic behind the C ABI fails alone.
//!
//! Every call is in an `unsafe` block, as the C exports are about to become
//! `unsafe extern "C" fn`s; until then the blocks are redundant.

use std::ffi::{c_void, CStr, CString};
use std::sync::atomic::{AtomicU64, Ordering};

use ::persistency::ffi::*;

static CALLS: AtomicU64 = AtomicU64::new(0);

unsafe extern "C" fn count_call(result: *const CResult, user_data: *mut c_void) {
    // SAFETY: the library passes a valid result for the callback's duration.
    let status = unsafe { (*result).status };
    assert_eq!(status, PERSISTENCY_OK);
    assert!(user_data.is_null());
    CALLS.fetch_add(1, Ordering::SeqCst);
}

fn last_error() -> String {
    // SAFETY: takes no arguments.
    let p = unsafe { persistency_last_error() };
    assert!(!p.is_null(), "no last error");
    // SAFETY: NUL-terminated, valid until the next call on this thread.
    unsafe { CStr::from_ptr(p) }.to_string_lossy().into_owned()
}

#[test]
fn an_entry_point_that_panics_returns_internal() {
    let entry = CString::new(::persistency::fault::PANIC_ENTRY_CATEGORY).expect("cstring");
    let worker = CString::new(::persistency::fault::PANIC_CATEGORY).expect("cstring");
    let good = CString::new("c").expect("cstring");
    let root = CString::new(::persistency::MEMORY_ROOT).expect("cstring");
    let id = CString::new("c-abi-faults").expect("cstring");
    let mut p = std::ptr::null_mut();
    // SAFETY: `root` is NUL-terminated and `p` is a valid out-pointer.
    let st = unsafe { persistency_new(root.as_ptr(), &mut p) };
    assert_eq!(st, PERSISTENCY_OK);
    let mut job = std::ptr::null_mut();
    // SAFETY: `p` is a live instance, `id` is NUL-terminated and `job` is a
    // valid out-pointer.
    let st = unsafe { persistency_open_job(p, id.as_ptr(), &mut job) };
    assert_eq!(st, PERSISTENCY_OK);
    let (k, v) = (b"k", b"v");

    let before = CALLS.load(Ordering::SeqCst);
    // SAFETY (this and every call on `job` below): `job` is a live handle
    // until `persistency_job_release`, the strings are NUL-terminated, and
    // each pointer with a length points to that many readable bytes.
    let st = unsafe { persistency_put(job, entry.as_ptr(), k.as_ptr(), 1, v.as_ptr(), 1) };
    assert_eq!(st, PERSISTENCY_ERR_INTERNAL);
    assert!(last_error().contains("panic"), "{}", last_error());
    // SAFETY: as above; `count_call` accepts a null `user_data`.
    let st = unsafe {
        persistency_get(
            job,
            entry.as_ptr(),
            k.as_ptr(),
            1,
            Some(count_call),
            std::ptr::null_mut(),
        )
    };
    assert_eq!(st, PERSISTENCY_ERR_INTERNAL, "an entry that panicked");
    let op = COp {
        kind: PERSISTENCY_OP_PUT,
        category: entry.as_ptr(),
        key: k.as_ptr(),
        key_len: 1,
        payload: v.as_ptr(),
        payload_len: 1,
    };
    // SAFETY: as above; `op` is one valid op whose pointers outlive the call.
    let st = unsafe { persistency_write(job, &op, 1, Some(count_call), std::ptr::null_mut()) };
    assert_eq!(st, PERSISTENCY_ERR_INTERNAL);

    // A worker-side panic behind the C ABI: accepted, then fails alone.
    // SAFETY: as above.
    let st = unsafe { persistency_put(job, worker.as_ptr(), k.as_ptr(), 1, v.as_ptr(), 1) };
    assert_eq!(st, PERSISTENCY_OK);

    // The job keeps serving through the C ABI, and no callback of a
    // refused call ever ran.
    // SAFETY: as above.
    let st = unsafe { persistency_put(job, good.as_ptr(), k.as_ptr(), 1, v.as_ptr(), 1) };
    assert_eq!(st, PERSISTENCY_OK);
    // SAFETY: as above; `count_call` accepts a null `user_data`.
    let st = unsafe { persistency_flush(job, Some(count_call), std::ptr::null_mut()) };
    assert_eq!(st, PERSISTENCY_OK);
    let mut stats = CStats {
        queued: 0,
        ops_applied: 0,
        ops_failed: 0,
        transactions: 0,
        reads: 0,
        db_bytes: 0,
    };
    // SAFETY: `p` is a live instance and `id` is NUL-terminated.
    let st = unsafe { persistency_close_job(p, id.as_ptr()) };
    assert_eq!(st, PERSISTENCY_OK);
    assert_eq!(
        CALLS.load(Ordering::SeqCst),
        before + 1,
        "callbacks of refused calls ran"
    );
    // SAFETY: `job` is still a live handle (of a closed job) and `stats` a
    // valid out-pointer.
    let st = unsafe { persistency_job_stats(job, &mut stats) };
    assert_eq!(st, PERSISTENCY_ERR_CLOSED);
    // SAFETY: each handle is given back once, and not used afterwards.
    unsafe {
        persistency_job_release(job);
        persistency_release(p);
    }
}
