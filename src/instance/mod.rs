//! Instances: a root directory and its open jobs; the process-wide slot;
//! the registry that keeps two live instances off the same job file.

mod claims;
mod global;
mod metrics;

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;

use parking_lot::{Condvar, Mutex};

use crate::backend::Store;
use crate::error::{Error, ErrorKind, Result};
use crate::job::Job;
use crate::log::{log, Level};
use crate::options::JobOptions;
use crate::worker::{self, WorkerTag};
use claims::Claim;
pub use global::{current, instance, reset};

/// The root that keeps every job in a private in-memory database.
pub const MEMORY_ROOT: &str = crate::backend::MEMORY_ROOT;

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
    store: Store,
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
        self.same(other)
    }
}

impl Eq for Persistency {}

impl Persistency {
    /// Makes an independent instance over `root` (or [`MEMORY_ROOT`]). The
    /// directory is created by the first [`Persistency::open_job`].
    pub fn new(root: &str) -> Result<Persistency> {
        let store = Store::for_root(root)?;
        Ok(Persistency {
            shared: Arc::new(InstanceShared {
                serial: next_serial(),
                root: root.to_string(),
                store,
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

    /// Whether two handles refer to the same instance.
    pub fn same(&self, other: &Persistency) -> bool {
        Arc::ptr_eq(&self.shared, &other.shared)
    }

    /// Closes the instance for good (the process-wide slot let go of it).
    fn retire(&self) {
        self.shared.retired.store(true, Ordering::Release);
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
    pub(super) fn check_not_in_callback(&self, job: Option<&Job>, what: &str) -> Result<()> {
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
        let site = self.shared.store.site(id)?;
        let identity = site.identity();
        let (mut jobs, claim) = loop {
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
            let Some(identity) = &identity else {
                break (jobs, None);
            };
            match Claim::try_take(identity, tag)? {
                Some(claim) => break (jobs, Some(claim)),
                None => {
                    // This instance is still closing the job: wait with the
                    // job map unlocked, so the closing job's callbacks can
                    // still reach the instance.
                    drop(jobs);
                    Claim::wait_released(identity, self.shared.serial)?;
                }
            }
        };
        let opts = options.clone();
        let job = Job::start(
            id,
            tag,
            options.full_policy,
            options.effective_queue_capacity(),
            move || site.open(&opts),
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
        let Some(site) = self.shared.store.existing_site(id) else {
            return Ok(());
        };
        if let Some(identity) = site.identity() {
            if Claim::holder(&identity).is_some_and(|o| o.instance != self.shared.serial) {
                return Err(Error::invalid(format!(
                    "{identity} is open in another instance"
                )));
            }
        }
        site.remove()
    }

    /// Closes every job; the instance stays usable for new jobs.
    pub fn close(&self) -> Result<()> {
        self.check_live()?;
        self.close_all()
    }

    pub(super) fn close_all(&self) -> Result<()> {
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
