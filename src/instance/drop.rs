//! `drop_job`: close a job and delete its files as one step with respect
//! to opens of the same id. While the drop runs, the id is marked dropping
//! in its instance (opens there wait, then get a fresh file) and the drop
//! holds the file's claim (opens from other instances are refused).

use std::sync::Arc;

use super::claims::{Claim, Owner, Taken};
use super::{next_serial, Persistency, Slot, State};
use crate::error::Result;
use crate::job::Job;
use crate::log::{log, Level};
use crate::worker::{waits, WorkerTag};

impl Persistency {
    /// Closes the job if open, then deletes its file and the `-wal` and
    /// `-shm` sidecars; missing files are not an error. Atomic with respect
    /// to opens of the same id: an open that returned before the drop
    /// began gets a job the drop closes (its handles then answer
    /// [`ErrorKind::Closed`](crate::ErrorKind)); an open that comes later
    /// waits until the files are deleted and gets a fresh, empty job; no
    /// open ever gets the file being deleted. Another instance's open of
    /// the same file during the drop is refused with `InvalidArgument`, and
    /// so is the drop while another instance (or another job) holds it.
    pub fn drop_job(&self, id: &str) -> Result<()> {
        self.check_live()?;
        super::validate_job_id(id)?;
        let (job, _waiting) = loop {
            let mut jobs = self.shared.jobs.lock();
            match jobs.get_mut(id) {
                None => {
                    jobs.insert(
                        id.to_string(),
                        Slot {
                            job: None,
                            state: State::Dropping,
                        },
                    );
                    break (None, None);
                }
                Some(slot) if slot.state == State::Dropping => {
                    // Another drop of the id: wait for it, then drop again
                    // (whatever is left, usually nothing).
                    let _waiting = waits::enter(&slot.tags(), || format!("drop_job({id:?})"))?;
                    self.shared.closed.wait(&mut jobs);
                }
                Some(slot) => {
                    let job = slot.job.clone();
                    if let Some(job) = &job {
                        self.check_not_in_callback(Some(job), "drop_job")?;
                    }
                    let waiting = waits::enter(&slot.tags(), || format!("drop_job({id:?})"))?;
                    slot.state = State::Dropping;
                    break (job, Some(waiting));
                }
            }
        };
        let result = self.close_and_delete(id, job.as_ref());
        {
            let mut jobs = self.shared.jobs.lock();
            if jobs
                .get(id)
                .is_some_and(|slot| slot.state == State::Dropping)
            {
                jobs.remove(id);
            }
        }
        self.shared.closed.notify_all();
        match &result {
            Ok(()) => log(Level::Info, || format!("job {id} dropped")),
            Err(e) => log(Level::Warn, || format!("dropping job {id} failed: {e}")),
        }
        result
    }

    /// Joins the job (if it was open) and deletes its files, holding the
    /// file's claim meanwhile.
    fn close_and_delete(&self, id: &str, job: Option<&Job>) -> Result<()> {
        if let Some(job) = job {
            job.shut_down();
        }
        let Some(site) = self.shared.store.existing_site(id) else {
            return Ok(());
        };
        let claim = match site.existing_identity() {
            None => None,
            Some(identity) => {
                let owner = Owner {
                    tag: WorkerTag {
                        instance: self.shared.serial,
                        job: next_serial(),
                    },
                    job: Arc::from(id),
                    dropping: true,
                };
                loop {
                    match Claim::take(&identity, &owner)
                        .map_err(|e| e.context(format!("cannot drop job {id:?}")))?
                    {
                        Taken::Claim(claim) => break Some(claim),
                        Taken::Closing(holder) => Claim::wait_released(&identity, &holder)?,
                    }
                }
            }
        };
        let removed = site
            .remove()
            .map_err(|e| e.context(format!("cannot drop job {id:?}")));
        drop(claim);
        removed
    }
}
