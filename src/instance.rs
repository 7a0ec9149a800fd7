//! Instances: a root directory and its open jobs; the process-wide slot;
//! the registry that keeps two live instances off the same job file.

use std::collections::HashMap;
use std::ffi::CString;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;

use parking_lot::{Condvar, Mutex};

use crate::backend::sqlite::{job_files, Location, SqliteBackend};
use crate::error::{Error, ErrorKind, Result};
use crate::job::Job;
use crate::log::{log, Level};
use crate::options::JobOptions;
use crate::worker::{self, WorkerTag};

/// The root that keeps every job in a private in-memory database.
pub const MEMORY_ROOT: &str = ":memory:";

/// The longest job id, in bytes.
pub const MAX_JOB_ID_LEN: usize = 128;

static SERIAL: AtomicU64 = AtomicU64::new(1);

fn next_serial() -> u64 {
    SERIAL.fetch_add(1, Ordering::Relaxed)
}

/// Checks a job id: 1 to 128 bytes of `[A-Za-z0-9_.-]`, not starting with `.`.
pub fn validate_job_id(id: &str) -> Result<()> {
    if id.is_empty() || id.len() > MAX_JOB_ID_LEN {
        return Err(Error::invalid(format!(
            "job id must be 1 to {MAX_JOB_ID_LEN} bytes, got {}",
            id.len()
        )));
    }
    if id.starts_with('.') {
        return Err(Error::invalid(format!("job id {id:?} starts with '.'")));
    }
    if let Some(c) = id
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-')))
    {
        return Err(Error::invalid(format!(
            "job id {id:?} contains {c:?}; allowed are [A-Za-z0-9_.-]"
        )));
    }
    Ok(())
}

/// Checks a root directory as upstream: not empty; not an existing
/// non-directory; if missing, its first existing ancestor is a directory.
fn validate_root(root: &str) -> Result<()> {
    if root.is_empty() {
        return Err(Error::invalid("root directory is empty"));
    }
    if root.contains('\0') {
        return Err(Error::invalid("root directory contains NUL"));
    }
    if root == MEMORY_ROOT {
        return Ok(());
    }
    let path = Path::new(root);
    let mut ancestor = Some(path);
    while let Some(p) = ancestor {
        let probe = if p.as_os_str().is_empty() {
            Path::new(".")
        } else {
            p
        };
        match std::fs::metadata(probe) {
            Ok(meta) if meta.is_dir() => return Ok(()),
            Ok(_) if p == path => {
                return Err(Error::invalid(format!(
                    "root {root:?} exists and is not a directory"
                )))
            }
            Ok(_) => {
                return Err(Error::invalid(format!(
                    "root {root:?} cannot be created: {} is not a directory",
                    p.display()
                )))
            }
            Err(_) => ancestor = p.parent(),
        }
    }
    Ok(())
}

/// Which instance holds which job file, process-wide.
struct Claims {
    held: Mutex<HashMap<PathBuf, WorkerTag>>,
    released: Condvar,
}

static CLAIMS: std::sync::LazyLock<Claims> = std::sync::LazyLock::new(|| Claims {
    held: Mutex::new(HashMap::new()),
    released: Condvar::new(),
});

/// A job file held by one job; released when dropped (by the worker
/// thread, after the database connection is closed).
pub(crate) struct Claim(PathBuf);

impl Claim {
    /// Takes the claim on `path`, or returns `None` while the same instance
    /// is still closing the job that holds it (see [`Claim::wait_released`]).
    fn try_take(path: &Path, tag: WorkerTag) -> Result<Option<Claim>> {
        let mut held = CLAIMS.held.lock();
        match held.get(path) {
            None => {
                held.insert(path.to_path_buf(), tag);
                Ok(Some(Claim(path.to_path_buf())))
            }
            Some(owner) if owner.instance != tag.instance => Err(Error::invalid(format!(
                "job file {} is open in another instance",
                path.display()
            ))),
            Some(_) => Ok(None),
        }
    }

    /// Waits until the job of `instance` holding `path` has closed, unless
    /// the caller is that job's own worker, which would wait for itself.
    fn wait_released(path: &Path, instance: u64) -> Result<()> {
        let mut held = CLAIMS.held.lock();
        while let Some(owner) = held.get(path).copied() {
            if owner.instance != instance {
                break;
            }
            if worker::current() == Some(owner) {
                return Err(Error::invalid(format!(
                    "job file {} is closing; cannot reopen it from its own callback",
                    path.display()
                )));
            }
            CLAIMS.released.wait(&mut held);
        }
        Ok(())
    }

    fn holder(path: &Path) -> Option<WorkerTag> {
        CLAIMS.held.lock().get(path).copied()
    }
}

impl Drop for Claim {
    fn drop(&mut self) {
        CLAIMS.held.lock().remove(&self.0);
        CLAIMS.released.notify_all();
    }
}

/// A job of an instance. A closing job stays in the map until its worker
/// is joined, so concurrent closers all wait for that join and a reopen
/// waits until the close is over.
struct Slot {
    job: Job,
    closing: bool,
}

struct InstanceShared {
    serial: u64,
    root: String,
    root_c: CString,
    jobs: Mutex<HashMap<String, Slot>>,
    /// Signalled whenever a closing job leaves `jobs`.
    closed: Condvar,
    /// Set when the process-wide slot let go of this instance: closed for good.
    retired: AtomicBool,
}

impl Drop for InstanceShared {
    fn drop(&mut self) {
        for slot in self.jobs.get_mut().drain().map(|(_, s)| s) {
            slot.job.shut_down();
        }
    }
}

/// An instance: one root directory and the jobs open under it. Clones share
/// the instance; when the last one is dropped its jobs are closed.
///
/// ```
/// use persistency::Persistency;
/// let db = Persistency::new(":memory:")?;
/// let job = db.open_job("chat")?;
/// job.put("msgs", b"id-1", b"hello")?;
/// assert_eq!(job.get("msgs", b"id-1")?.as_deref(), Some(&b"hello"[..]));
/// assert!(db.has_job("chat"));
/// db.close_job("chat")?;
/// assert!(job.get("msgs", b"id-1").is_err());
/// # Ok::<(), persistency::Error>(())
/// ```
#[derive(Clone)]
pub struct Persistency {
    shared: Arc<InstanceShared>,
}

impl std::fmt::Debug for Persistency {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Persistency")
            .field("root", &self.shared.root)
            .finish()
    }
}

impl PartialEq for Persistency {
    fn eq(&self, other: &Persistency) -> bool {
        Arc::ptr_eq(&self.shared, &other.shared)
    }
}

impl Eq for Persistency {}

impl Persistency {
    /// Makes an independent instance over `root` (or [`MEMORY_ROOT`]). The
    /// directory is created by the first [`Persistency::open_job`].
    pub fn new(root: &str) -> Result<Persistency> {
        validate_root(root)?;
        Ok(Persistency {
            shared: Arc::new(InstanceShared {
                serial: next_serial(),
                root: root.to_string(),
                root_c: CString::new(root).map_err(|_| Error::invalid("root contains NUL"))?,
                jobs: Mutex::new(HashMap::new()),
                closed: Condvar::new(),
                retired: AtomicBool::new(false),
            }),
        })
    }

    /// The root directory, as given.
    pub fn root_dir(&self) -> &str {
        &self.shared.root
    }

    pub(crate) fn root_c(&self) -> &std::ffi::CStr {
        &self.shared.root_c
    }

    pub(crate) fn into_raw(self) -> *const () {
        Arc::into_raw(self.shared).cast()
    }

    /// # Safety
    /// `ptr` must come from [`Persistency::into_raw`] and still own its reference.
    pub(crate) unsafe fn from_raw(ptr: *const ()) -> Persistency {
        // SAFETY: the caller hands back a pointer made by `into_raw`.
        Persistency {
            shared: unsafe { Arc::from_raw(ptr.cast()) },
        }
    }

    fn check_live(&self) -> Result<()> {
        if self.shared.retired.load(Ordering::Acquire) {
            return Err(Error::closed(format!(
                "instance {:?} was reset",
                self.shared.root
            )));
        }
        Ok(())
    }

    /// Refuses a call that would wait for a worker of this instance from
    /// inside that worker's callback.
    fn check_not_in_callback(&self, job: Option<&Job>, what: &str) -> Result<()> {
        let Some(tag) = worker::current() else {
            return Ok(());
        };
        let would_wait = match job {
            Some(job) => job.tag() == tag,
            None => tag.instance == self.shared.serial,
        };
        if would_wait {
            return Err(Error::invalid(format!(
                "{what} from a callback of a job it would wait for would deadlock"
            )));
        }
        Ok(())
    }

    /// Opens (creating if missing) the job `id` with default options.
    pub fn open_job(&self, id: &str) -> Result<Job> {
        self.open_job_with(id, &JobOptions::default())
    }

    /// Opens (creating if missing) the job `id`. Opening an open job returns
    /// it: the options of the first open stand.
    pub fn open_job_with(&self, id: &str, options: &JobOptions) -> Result<Job> {
        self.check_live()?;
        validate_job_id(id)?;
        let tag = WorkerTag {
            instance: self.shared.serial,
            job: next_serial(),
        };
        // An open job is returned without touching the file system.
        if let Some(slot) = self.shared.jobs.lock().get(id).filter(|s| !s.closing) {
            return Ok(slot.job.clone());
        }
        let file = match self.shared.root.as_str() {
            MEMORY_ROOT => None,
            root => {
                std::fs::create_dir_all(root)
                    .map_err(|e| Error::from(e).context(format!("cannot create root {root:?}")))?;
                let [path, ..] = job_files(&std::fs::canonicalize(root)?, id);
                Some(path)
            }
        };
        let (mut jobs, location, claim) = loop {
            let mut jobs = self.shared.jobs.lock();
            if let Some(slot) = jobs.get(id) {
                if !slot.closing {
                    return Ok(slot.job.clone());
                }
                if worker::current() == Some(slot.job.tag()) {
                    return Err(Error::invalid(format!(
                        "job {id} is closing; cannot reopen it from its own callback"
                    )));
                }
                // Waiting releases the map, so the closing job's callbacks
                // can still reach the instance.
                self.shared.closed.wait(&mut jobs);
                continue;
            }
            let Some(path) = &file else {
                break (jobs, Location::Memory, None);
            };
            match Claim::try_take(path, tag)? {
                Some(claim) => break (jobs, Location::File(path.clone()), Some(claim)),
                None => {
                    // This instance is still closing the job: wait with the
                    // job map unlocked, so the closing job's callbacks can
                    // still reach the instance.
                    drop(jobs);
                    Claim::wait_released(path, self.shared.serial)?;
                }
            }
        };
        let opts = options.clone();
        let job = Job::start(
            id,
            tag,
            options.full_policy,
            options.effective_queue_capacity(),
            move || SqliteBackend::open(&location, &opts),
            claim,
        )?;
        log(Level::Info, || {
            format!("job {id} opened under {:?}", self.shared.root)
        });
        jobs.insert(
            id.to_string(),
            Slot {
                job: job.clone(),
                closing: false,
            },
        );
        Ok(job)
    }

    /// The open job `id`, or [`ErrorKind::JobNotFound`].
    pub fn find_job(&self, id: &str) -> Result<Job> {
        self.check_live()?;
        validate_job_id(id)?;
        self.shared
            .jobs
            .lock()
            .get(id)
            .filter(|slot| !slot.closing)
            .map(|slot| slot.job.clone())
            .ok_or_else(|| Error::new(ErrorKind::JobNotFound, format!("no open job {id:?}")))
    }

    /// Whether the job `id` is open.
    pub fn has_job(&self, id: &str) -> bool {
        self.find_job(id).is_ok()
    }

    /// The ids of the open jobs.
    pub fn job_ids(&self) -> Vec<String> {
        let jobs = self.shared.jobs.lock();
        jobs.iter()
            .filter(|(_, slot)| !slot.closing)
            .map(|(id, _)| id.clone())
            .collect()
    }

    /// Closes the job `id`: returns after every operation accepted before
    /// was applied, every callback invoked and the worker joined. A job
    /// that is not open is a no-op.
    pub fn close_job(&self, id: &str) -> Result<()> {
        self.check_live()?;
        validate_job_id(id)?;
        let job = {
            let mut jobs = self.shared.jobs.lock();
            let Some(slot) = jobs.get_mut(id) else {
                return Ok(());
            };
            self.check_not_in_callback(Some(&slot.job), "close_job")?;
            slot.closing = true;
            slot.job.clone()
        };
        self.finish_close(id, &job);
        log(Level::Info, || format!("job {id} closed"));
        Ok(())
    }

    /// Joins a job marked closing (every closer waits for the same join),
    /// then takes it out of the map and wakes waiting openers.
    fn finish_close(&self, id: &str, job: &Job) {
        job.shut_down();
        let mut jobs = self.shared.jobs.lock();
        if jobs.get(id).is_some_and(|slot| slot.job.same(job)) {
            jobs.remove(id);
        }
        drop(jobs);
        self.shared.closed.notify_all();
    }

    /// Closes the job if open, then deletes its file and the `-wal` and
    /// `-shm` sidecars; missing files are not an error.
    pub fn drop_job(&self, id: &str) -> Result<()> {
        self.close_job(id)?;
        if self.shared.root == MEMORY_ROOT {
            return Ok(());
        }
        let root = match std::fs::canonicalize(&self.shared.root) {
            Ok(root) => root,
            Err(_) => return Ok(()),
        };
        let files = job_files(&root, id);
        if let Some(owner) = Claim::holder(&files[0]) {
            if owner.instance != self.shared.serial {
                return Err(Error::invalid(format!(
                    "job file {} is open in another instance",
                    files[0].display()
                )));
            }
        }
        for file in &files {
            match std::fs::remove_file(file) {
                Ok(()) => {}
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => {
                    return Err(Error::from(e).context(format!("cannot remove {}", file.display())))
                }
            }
        }
        Ok(())
    }

    /// Closes every job; the instance stays usable for new jobs.
    pub fn close(&self) -> Result<()> {
        self.check_live()?;
        self.close_all()
    }

    fn close_all(&self) -> Result<()> {
        let closing: Vec<(String, Job)> = {
            let mut jobs = self.shared.jobs.lock();
            self.check_not_in_callback(None, "close")?;
            jobs.iter_mut()
                .map(|(id, slot)| {
                    slot.closing = true;
                    (id.clone(), slot.job.clone())
                })
                .collect()
        };
        for (id, job) in closing {
            self.finish_close(&id, &job);
        }
        Ok(())
    }
}

static GLOBAL: Mutex<Option<Persistency>> = Mutex::new(None);

/// The process-wide instance: the first call installs `root`; later calls
/// with the same string return the same instance, with another root fail
/// with [`ErrorKind::InvalidArgument`].
pub fn instance(root: &str) -> Result<Persistency> {
    let mut slot = GLOBAL.lock();
    match slot.as_ref() {
        Some(p) if p.shared.root == root => Ok(p.clone()),
        Some(p) => Err(Error::invalid(format!(
            "the process-wide instance is installed with root {:?}, not {root:?}; reset it first",
            p.shared.root
        ))),
        None => {
            let p = Persistency::new(root)?;
            *slot = Some(p.clone());
            Ok(p)
        }
    }
}

/// The installed process-wide instance, or [`ErrorKind::Closed`].
pub fn current() -> Result<Persistency> {
    GLOBAL
        .lock()
        .clone()
        .ok_or_else(|| Error::closed("no process-wide instance is installed"))
}

/// Closes every job of the process-wide instance and empties the slot. The
/// old instance is closed for good. Idempotent.
pub fn reset() -> Result<()> {
    let mut slot = GLOBAL.lock();
    let Some(p) = slot.as_ref() else {
        return Ok(());
    };
    p.check_not_in_callback(None, "reset")?;
    let p = slot.take().expect("slot checked above");
    drop(slot);
    p.shared.retired.store(true, Ordering::Release);
    p.close_all()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn job_ids() {
        for ok in ["a", "job-1", "A.b_c", &"x".repeat(128)] {
            assert!(validate_job_id(ok).is_ok(), "{ok}");
        }
        for bad in ["", ".hidden", "a/b", "..", "a b", "é", &"x".repeat(129)] {
            let err = validate_job_id(bad).unwrap_err();
            assert_eq!(err.kind(), ErrorKind::InvalidArgument, "{bad}");
        }
    }
}
