//! The process-wide instance slot (upstream's singleton).

use parking_lot::Mutex;

use super::Persistency;
use crate::error::{Error, Result};

static GLOBAL: Mutex<Option<Persistency>> = Mutex::new(None);

/// The process-wide instance: the first call installs `root`; later calls
/// with the same string return the same instance, with another root fail
/// with [`ErrorKind::InvalidArgument`](crate::ErrorKind::InvalidArgument).
pub fn instance(root: &str) -> Result<Persistency> {
    let mut slot = GLOBAL.lock();
    match slot.as_ref() {
        Some(p) if p.root_dir() == root => Ok(p.clone()),
        Some(p) => Err(Error::invalid(format!(
            "the process-wide instance is installed with root {:?}, not {root:?}; reset it first",
            p.root_dir()
        ))),
        None => {
            let p = Persistency::new(root)?;
            *slot = Some(p.clone());
            Ok(p)
        }
    }
}

/// The installed process-wide instance, or [`ErrorKind::Closed`](crate::ErrorKind::Closed).
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
    p.retire();
    p.close_all()
}
