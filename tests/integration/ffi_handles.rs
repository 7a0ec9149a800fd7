//! Reference counting of C handles, driven through the C ABI from Rust.

use std::ffi::{CStr, CString};
use std::ptr;

use ::persistency::ffi::*;

#[test]
fn retain_and_release_balance() {
    let root = CString::new(":memory:").expect("cstr");
    let id = CString::new("held").expect("cstr");
    let mut p: *mut PersistencyHandle = ptr::null_mut();
    let mut job: *mut JobHandle = ptr::null_mut();
    unsafe {
        assert_eq!(persistency_new(root.as_ptr(), &mut p), PERSISTENCY_OK);
        assert_eq!(
            persistency_open_job(p, id.as_ptr(), &mut job),
            PERSISTENCY_OK
        );
        let p2 = persistency_retain(p);
        let job2 = persistency_job_retain(job);
        assert_eq!(p2, p);
        assert_eq!(job2, job);
        assert!(persistency_retain(ptr::null_mut()).is_null());
        assert!(persistency_job_retain(ptr::null_mut()).is_null());
        // One reference of each is given back: the others still work.
        persistency_release(p);
        persistency_job_release(job);
        assert!(persistency_has_job(p2, id.as_ptr()));
        assert_eq!(
            CStr::from_ptr(persistency_job_id(job2)).to_str(),
            Ok("held")
        );
        let mut stats = CStats::default();
        assert_eq!(persistency_job_stats(job2, &mut stats), PERSISTENCY_OK);
        // The last instance reference closes the job; its handle stays valid memory.
        persistency_release(p2);
        assert_eq!(
            persistency_job_stats(job2, &mut stats),
            PERSISTENCY_ERR_CLOSED
        );
        assert!(!persistency_last_error().is_null());
        persistency_job_release(job2);
    }
}
