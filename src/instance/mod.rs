//! Instances: a root directory and its open jobs; the process-wide slot;
//! the registry that keeps two jobs off the same job file.
//!
//! Each job id of an instance is open, closing or being dropped. An open
//! of a closing job finishes the close itself (joins the old worker) and
//! opens anew; an open of a job being dropped waits until its files are
//! gone and gets a fresh file. A call from a callback that would wait for
//! a worker waiting for it is refused (`worker::waits`). Nothing is
//! logged with the job map locked: a logger may call back in.

mod claims;
mod drop;
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
use crate::worker::{self, waits, WorkerTag};
use claims::{Claim, Owner, Taken};
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

/// What a job id of an instance is going through.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// Open: opens return the job.
    Open,
    /// Being closed: stays in the map until its worker is joined, so every
    /// closer waits for that join and an open can finish it.
    Closing,
    /// Being dropped: stays in the map until its files are deleted, so
    /// opens of the id wait and then get a fresh file.
    Dropping,
}

/// A job id of an instance; `job` is `None` only while dropping a job that
/// was not open.
struct Slot {
    job: Option<Job>,
    state: State,
}

impl Slot {
    /// The tags of the worker a wait for this slot waits for.
    fn tags(&self) -> Vec<WorkerTag> {
        self.job.iter().map(Job::tag).collect()
    }
}

struct InstanceShared {
    serial: u64,
    root: String,
    store: Store,
    jobs: Mutex<HashMap<String, Slot>>,
    /// Signalled whenever a closing or dropped job leaves `jobs`.
    closed: Condvar,
    /// Set when the process-wide slot let go of this instance: closed for good.
    retired: AtomicBool,
}

impl Drop for InstanceShared {
    fn drop(&mut self) {
        let jobs: Vec<Job> = self
            .jobs
            .get_mut()
            .drain()
            .filter_map(|(_, s)| s.job)
            .collect();
        jobs.iter().for_each(Job::close_intake);
        jobs.iter().for_each(Job::shut_down);
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
    /// it: the options of the first open stand. An open of a job being
    /// closed waits for that close (and may finish it); an open of a job
    /// being dropped waits until its files are deleted and gets a fresh,
    /// empty file. Every error names the job and, past the id checks, its
    /// file.
    pub fn open_job_with(&self, id: &str, options: &JobOptions) -> Result<Job> {
        self.check_live()?;
        validate_job_id(id)?;
        if options
            .retention_categories
            .iter()
            .any(|c| crate::sync::is_reserved(c))
        {
            // Retention deletes rows one by one: in a sync set's categories
            // it would leave the aggregates counting removed elements.
            return Err(Error::invalid(format!(
                "cannot open job {id:?}: retention_categories names a category starting with a \
                 NUL byte, which the library reserves (sync sets); to bound a sync set, prune it"
            )));
        }
        let (job, opened) = self
            .open_or_get(id, options)
            .map_err(|e| e.context(format!("cannot open job {id:?}")))?;
        if opened {
            log(Level::Info, || {
                format!("job {id} opened under {:?}", self.shared.root)
            });
        }
        Ok(job)
    }

    /// The open job `id`, if it is open.
    fn open_slot(&self, id: &str) -> Option<Job> {
        let jobs = self.shared.jobs.lock();
        let slot = jobs.get(id).filter(|s| s.state == State::Open)?;
        slot.job.clone()
    }

    /// The job `id`, and whether this call opened it.
    fn open_or_get(&self, id: &str, options: &JobOptions) -> Result<(Job, bool)> {
        // An open job is returned without touching the file system.
        if let Some(job) = self.open_slot(id) {
            return Ok((job, false));
        }
        let tag = WorkerTag {
            instance: self.shared.serial,
            job: next_serial(),
        };
        let owner = Owner {
            tag,
            job: Arc::from(id),
            dropping: false,
        };
        let mut site = self.shared.store.site(id)?;
        let mut jobs = self.shared.jobs.lock();
        let claim = loop {
            if let Some(slot) = jobs.get(id) {
                let targets = slot.tags();
                match (slot.state, slot.job.clone()) {
                    (State::Open, Some(job)) => return Ok((job, false)),
                    (State::Closing, Some(job)) => {
                        if worker::current() == Some(job.tag()) {
                            return Err(Error::invalid(format!(
                                "job {id} is closing; cannot reopen it from its own callback"
                            )));
                        }
                        let _waiting =
                            waits::enter(&targets, || format!("open_job({id:?}) while it closes"))?;
                        drop(jobs);
                        // Finish the close here rather than wait for the
                        // closing thread: that one may be joining other jobs
                        // first, even the one whose callback this is.
                        self.finish_close(id, &job);
                        jobs = self.shared.jobs.lock();
                    }
                    _ => {
                        let _waiting = waits::enter(&targets, || {
                            format!("open_job({id:?}) while it is dropped")
                        })?;
                        #[cfg(feature = "fault-injection")]
                        crate::fault::note_open_waits_for_drop();
                        // Waiting releases the map, so the dropped job's
                        // callbacks can still reach the instance.
                        self.shared.closed.wait(&mut jobs);
                    }
                }
                continue;
            }
            // No slot, and the map stays locked: nothing else opens, closes
            // or drops this id until the job is in the map.
            let Some(identity) = site.identity()? else {
                break None;
            };
            match Claim::take(&identity, &owner)? {
                Taken::Claim(claim) => break Some(claim),
                Taken::Closing(holder) => {
                    // An earlier worker of this job has not let go yet:
                    // wait with the map unlocked.
                    drop(jobs);
                    Claim::wait_released(&identity, &holder)?;
                    jobs = self.shared.jobs.lock();
                }
            }
        };
        let opts = options.clone();
        let reader_site = site.clone();
        let job = Job::start(id, tag, options, move || site.open(&opts), claim)?;
        job.attach_readers(reader_site);
        jobs.insert(
            id.to_string(),
            Slot {
                job: Some(job.clone()),
                state: State::Open,
            },
        );
        Ok((job, true))
    }

    /// The open job `id`, or [`ErrorKind::JobNotFound`].
    pub fn find_job(&self, id: &str) -> Result<Job> {
        self.check_live()?;
        validate_job_id(id)?;
        self.open_slot(id)
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
            .filter(|(_, slot)| slot.state == State::Open)
            .map(|(id, _)| id.clone())
            .collect()
    }

    /// Closes the job `id`: returns after every operation accepted before
    /// was applied, every callback invoked and the worker joined. A job
    /// that is not open is a no-op. From a callback, refused with
    /// [`ErrorKind::InvalidArgument`] when the job is the callback's own or
    /// waits (through other closes, drops or blocking calls) for it.
    pub fn close_job(&self, id: &str) -> Result<()> {
        self.check_live()?;
        validate_job_id(id)?;
        let (job, _waiting) = {
            let mut jobs = self.shared.jobs.lock();
            let Some(slot) = jobs.get_mut(id) else {
                return Ok(());
            };
            let Some(job) = slot.job.clone() else {
                return Ok(());
            };
            self.check_not_in_callback(Some(&job), "close_job")?;
            let waiting = waits::enter(&[job.tag()], || format!("close_job({id:?})"))?;
            if slot.state == State::Open {
                slot.state = State::Closing;
            }
            (job, waiting)
        };
        self.finish_close(id, &job);
        log(Level::Info, || format!("job {id} closed"));
        Ok(())
    }

    /// Joins a job marked closing (every closer waits for the same join),
    /// then takes it out of the map and wakes waiting openers. A job being
    /// dropped stays: the drop takes it out.
    fn finish_close(&self, id: &str, job: &Job) {
        job.shut_down();
        let mut jobs = self.shared.jobs.lock();
        if jobs.get(id).is_some_and(|slot| {
            slot.state == State::Closing && slot.job.as_ref().is_some_and(|j| j.same(job))
        }) {
            jobs.remove(id);
        }
        drop(jobs);
        self.shared.closed.notify_all();
    }

    /// Closes every job; the instance stays usable for new jobs.
    pub fn close(&self) -> Result<()> {
        self.check_live()?;
        self.close_all()
    }

    /// Closes every job open when it starts: marks them all closing and
    /// stops their intake first, so each worker finishes on its own (a
    /// callback that waits for another of them, say by opening it, does
    /// not wait for this thread to reach it), then joins them. Jobs opened
    /// meanwhile stay open.
    pub(super) fn close_all(&self) -> Result<()> {
        let (closing, _waiting) = {
            let mut jobs = self.shared.jobs.lock();
            self.check_not_in_callback(None, "close")?;
            let closing: Vec<(String, Job)> = jobs
                .iter()
                .filter_map(|(id, slot)| Some((id.clone(), slot.job.clone()?)))
                .collect();
            let tags: Vec<WorkerTag> = closing.iter().map(|(_, job)| job.tag()).collect();
            let waiting = waits::enter(&tags, || "close".to_string())?;
            for slot in jobs.values_mut() {
                if slot.state == State::Open {
                    slot.state = State::Closing;
                }
            }
            (closing, waiting)
        };
        for (_, job) in &closing {
            job.close_intake();
        }
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
