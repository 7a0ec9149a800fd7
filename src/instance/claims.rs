//! Which instance holds which job storage, process-wide, so two live
//! instances never open the same job.

use std::collections::HashMap;

use parking_lot::{Condvar, Mutex};

use crate::backend::Identity;
use crate::error::{Error, Result};
use crate::worker::{self, WorkerTag};

/// Which instance holds which job file, process-wide.
struct Claims {
    held: Mutex<HashMap<Identity, WorkerTag>>,
    released: Condvar,
}

static CLAIMS: std::sync::LazyLock<Claims> = std::sync::LazyLock::new(|| Claims {
    held: Mutex::new(HashMap::new()),
    released: Condvar::new(),
});

/// A job file held by one job; released when dropped (by the worker
/// thread, after the database connection is closed).
pub(crate) struct Claim(Identity);

impl Claim {
    /// Takes the claim on `path`, or returns `None` while the same instance
    /// is still closing the job that holds it (see [`Claim::wait_released`]).
    pub(super) fn try_take(id: &Identity, tag: WorkerTag) -> Result<Option<Claim>> {
        let mut held = CLAIMS.held.lock();
        match held.get(id) {
            None => {
                held.insert(id.clone(), tag);
                Ok(Some(Claim(id.clone())))
            }
            Some(owner) if owner.instance != tag.instance => {
                Err(Error::invalid(format!("{id} is open in another instance")))
            }
            Some(_) => Ok(None),
        }
    }

    /// Waits until the job of `instance` holding `path` has closed, unless
    /// the caller is that job's own worker, which would wait for itself.
    pub(super) fn wait_released(id: &Identity, instance: u64) -> Result<()> {
        let mut held = CLAIMS.held.lock();
        while let Some(owner) = held.get(id).copied() {
            if owner.instance != instance {
                break;
            }
            if worker::current() == Some(owner) {
                return Err(Error::invalid(format!(
                    "{id} is closing; cannot reopen it from its own callback"
                )));
            }
            CLAIMS.released.wait(&mut held);
        }
        Ok(())
    }

    pub(super) fn holder(id: &Identity) -> Option<WorkerTag> {
        CLAIMS.held.lock().get(id).copied()
    }
}

impl Drop for Claim {
    fn drop(&mut self) {
        CLAIMS.held.lock().remove(&self.0);
        CLAIMS.released.notify_all();
    }
}
