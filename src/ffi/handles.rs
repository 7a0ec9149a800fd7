//! The C handles: reference-counted boxes around a core handle and the C
//! strings the host may borrow from it. A handle pointer is an `Arc`
//! turned raw: each reference the host holds is one strong count.

use std::collections::HashMap;
use std::ffi::{CStr, CString};
use std::sync::{Arc, LazyLock, Weak};

use parking_lot::Mutex;

use crate::error::{Error, Result};
use crate::instance::Persistency;
use crate::job::Job;

/// An instance handle (C `persistency`): one root directory and the jobs
/// open under it.
pub struct PersistencyHandle {
    instance: Persistency,
    root: CString,
}

/// A job handle (C `persistency_job`): one job of an instance. A job has
/// one handle at a time, so every call that hands out the same job returns
/// the same pointer (as `open_job` on an open job promises).
pub struct JobHandle {
    job: Job,
    id: CString,
}

/// The live handle of each job, by the job's serial number.
static JOB_HANDLES: LazyLock<Mutex<HashMap<u64, Weak<JobHandle>>>> =
    LazyLock::new(|| Mutex::new(HashMap::new()));

// Hosts pass handles between threads: both must stay `Send + Sync`.
const _: () = {
    const fn send_sync<T: Send + Sync>() {}
    send_sync::<PersistencyHandle>();
    send_sync::<JobHandle>();
};

fn c_string(text: &str, what: &str) -> Result<CString> {
    CString::new(text).map_err(|_| Error::invalid(format!("{what} contains NUL")))
}

impl PersistencyHandle {
    /// A new handle (one reference) for `instance`.
    pub(crate) fn new(instance: Persistency) -> Result<Arc<PersistencyHandle>> {
        let root = c_string(instance.root_dir(), "root")?;
        Ok(Arc::new(PersistencyHandle { instance, root }))
    }

    /// The instance.
    pub(crate) fn instance(&self) -> &Persistency {
        &self.instance
    }

    /// The root as given, as a C string living as long as the handle.
    pub(crate) fn root(&self) -> &CStr {
        &self.root
    }
}

impl JobHandle {
    /// One more reference to the handle of `job`, made if it has none.
    pub(crate) fn of(job: Job) -> Result<Arc<JobHandle>> {
        let serial = job.serial();
        let mut handles = JOB_HANDLES.lock();
        if let Some(handle) = handles.get(&serial).and_then(Weak::upgrade) {
            return Ok(handle);
        }
        let id = c_string(job.id(), "job id")?;
        let handle = Arc::new(JobHandle { job, id });
        handles.insert(serial, Arc::downgrade(&handle));
        Ok(handle)
    }

    /// The job.
    pub(crate) fn job(&self) -> &Job {
        &self.job
    }

    /// The job id as a C string living as long as the handle.
    pub(crate) fn id(&self) -> &CStr {
        &self.id
    }
}

impl Drop for JobHandle {
    fn drop(&mut self) {
        let serial = self.job.serial();
        let mut handles = JOB_HANDLES.lock();
        // A new handle may already have replaced this dying one.
        if handles
            .get(&serial)
            .is_some_and(|weak| std::ptr::eq(weak.as_ptr(), self))
        {
            handles.remove(&serial);
        }
    }
}

/// Hands one reference of `handle` to the host.
pub(crate) fn into_raw<T>(handle: Arc<T>) -> *mut T {
    Arc::into_raw(handle).cast_mut()
}

/// Borrows the handle behind a host pointer for the duration of a call.
///
/// # Safety
/// `ptr` is NULL or a handle of type `T` handed out by [`into_raw`] whose
/// reference the host still holds for the whole call.
pub(crate) unsafe fn borrow<'a, T>(ptr: *const T, what: &str) -> Result<&'a T> {
    // SAFETY: per this function's contract, a non-NULL `ptr` points at a
    // live `T` inside an `Arc` the host keeps alive.
    unsafe { ptr.as_ref() }.ok_or_else(|| Error::invalid(format!("{what} handle is NULL")))
}

/// Takes one more reference to a handle and returns it; NULL gives NULL.
///
/// # Safety
/// As for [`borrow`].
pub(crate) unsafe fn retain<T>(ptr: *mut T) -> *mut T {
    if !ptr.is_null() {
        // SAFETY: a live handle made by `into_raw` (this function's contract).
        unsafe { Arc::increment_strong_count(ptr.cast_const()) };
    }
    ptr
}

/// Gives back one reference; NULL is a no-op.
///
/// # Safety
/// `ptr` is NULL or a handle made by [`into_raw`] whose reference the host
/// owns and gives up with this call.
pub(crate) unsafe fn release<T>(ptr: *mut T) {
    if !ptr.is_null() {
        // SAFETY: the host gives back one reference it owns.
        drop(unsafe { Arc::from_raw(ptr.cast_const()) });
    }
}
