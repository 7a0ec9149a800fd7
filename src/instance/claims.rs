//! Which job holds which job storage, process-wide: no two jobs, of one
//! instance or of two, ever use the same file (by path or by device and
//! inode), and a drop holds the file while it deletes it.

use std::collections::HashMap;
use std::sync::Arc;

use parking_lot::{Condvar, Mutex};

use crate::backend::{ClaimKey, Identity};
use crate::error::{Error, Result};
use crate::worker::waits;
use crate::worker::WorkerTag;

/// Who holds a claim: a job (its worker's tag and its id) or a drop.
#[derive(Debug, Clone)]
pub(super) struct Owner {
    pub tag: WorkerTag,
    pub job: Arc<str>,
    /// A drop, which holds the claim only while it deletes the files.
    pub dropping: bool,
}

/// Which job holds which key, process-wide.
struct Claims {
    held: Mutex<HashMap<ClaimKey, Owner>>,
    released: Condvar,
}

static CLAIMS: std::sync::LazyLock<Claims> = std::sync::LazyLock::new(|| Claims {
    held: Mutex::new(HashMap::new()),
    released: Condvar::new(),
});

/// A job's storage held by one job (or drop); released when dropped (for a
/// job, by its worker thread after the database connection is closed).
pub(crate) struct Claim(Vec<ClaimKey>);

/// The outcome of [`Claim::take`].
pub(super) enum Taken {
    Claim(Claim),
    /// An earlier incarnation of the same job of the same instance, or a
    /// drop of the same instance that is deleting its files, still holds it:
    /// see [`Claim::wait_released`].
    Closing(Owner),
}

impl Claim {
    /// Takes every key of `id` for `owner`, or none: refused when another
    /// instance, or another job of the same instance, holds one of them.
    pub(super) fn take(id: &Identity, owner: &Owner) -> Result<Taken> {
        let keys = id.keys();
        let mut held = CLAIMS.held.lock();
        for key in &keys {
            let Some(holder) = held.get(key) else {
                continue;
            };
            if holder.dropping && holder.tag.instance == owner.tag.instance {
                // A drop of this instance is deleting its files, and may
                // hold a device and inode that the file system has already
                // given to a new file (this one): wait for it, then take
                // again. (Another instance's drop is refused below.)
                return Ok(Taken::Closing(holder.clone()));
            }
            if holder.tag.instance != owner.tag.instance {
                return Err(Error::invalid(format!(
                    "{id} is open (or being dropped) in another instance"
                )));
            }
            if holder.job != owner.job {
                return Err(Error::invalid(format!(
                    "{id} is the same file as job {:?}'s, which is open",
                    &*holder.job
                )));
            }
            return Ok(Taken::Closing(holder.clone()));
        }
        for key in &keys {
            held.insert(key.clone(), owner.clone());
        }
        Ok(Taken::Claim(Claim(keys)))
    }

    /// Waits until `holder` (of the caller's instance) has let go of every
    /// key of `id`; refused when that would close a wait cycle (the caller
    /// is that job's callback, or one it waits for).
    pub(super) fn wait_released(id: &Identity, holder: &Owner) -> Result<()> {
        let _waiting = waits::enter(&[holder.tag], || format!("reopening {id} while it closes"))?;
        let keys = id.keys();
        let mut held = CLAIMS.held.lock();
        while keys
            .iter()
            .any(|k| held.get(k).is_some_and(|h| h.tag == holder.tag))
        {
            CLAIMS.released.wait(&mut held);
        }
        Ok(())
    }
}

impl Drop for Claim {
    fn drop(&mut self) {
        let mut held = CLAIMS.held.lock();
        for key in &self.0 {
            held.remove(key);
        }
        drop(held);
        CLAIMS.released.notify_all();
    }
}
