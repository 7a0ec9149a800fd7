//! Which job worker waits for which: a callback (running on its job's
//! worker) that is about to wait for other jobs' workers — a close, a drop,
//! an open of a closing job, a blocking call, a full queue — registers the
//! wait here first. A wait that would close a cycle (the awaited workers
//! wait, directly or through others, for this one) is refused instead of
//! hanging. Waits of host threads are not recorded: no worker ever waits
//! for a host thread through the library.

use std::collections::HashMap;

use parking_lot::Mutex;

use super::{current, WorkerTag};
use crate::error::{Error, Result};

/// For each waiting worker (by job serial), the workers it waits for.
static WAITS: Mutex<Option<HashMap<u64, Vec<u64>>>> = Mutex::new(None);

/// A registered wait; unregistered when dropped.
#[must_use = "the wait is registered only while this lives"]
pub(crate) struct Waiting(Option<(u64, Option<Vec<u64>>)>);

impl Drop for Waiting {
    fn drop(&mut self) {
        if let Some((me, previous)) = self.0.take() {
            let mut waits = WAITS.lock();
            let map = waits.get_or_insert_with(HashMap::new);
            match previous {
                Some(previous) => {
                    map.insert(me, previous);
                }
                None => {
                    map.remove(&me);
                }
            }
        }
    }
}

/// Registers that the current thread is about to wait for the workers of
/// `targets`. On a host thread it registers nothing. On a job's worker it
/// fails with [`ErrorKind::InvalidArgument`](crate::ErrorKind) when one of
/// `targets` is this worker or waits for it, directly or through other
/// workers; `what` names the call for the message.
pub(crate) fn enter(targets: &[WorkerTag], what: impl FnOnce() -> String) -> Result<Waiting> {
    let Some(me) = current() else {
        return Ok(Waiting(None));
    };
    let mut waits = WAITS.lock();
    let map = waits.get_or_insert_with(HashMap::new);
    // Depth-first through the waits; they never form a cycle, so this ends.
    let mut stack: Vec<u64> = targets.iter().map(|t| t.job).collect();
    let mut seen = Vec::new();
    while let Some(job) = stack.pop() {
        if job == me.job {
            return Err(Error::invalid(format!(
                "{} from a callback would deadlock: it waits for a job that waits for this callback's job",
                what()
            )));
        }
        if !seen.contains(&job) {
            seen.push(job);
            stack.extend(map.get(&job).into_iter().flatten().copied());
        }
    }
    let mut awaited: Vec<u64> = targets.iter().map(|t| t.job).collect();
    let previous = map.get(&me.job).cloned();
    if let Some(previous) = &previous {
        awaited.extend(previous);
    }
    map.insert(me.job, awaited);
    Ok(Waiting(Some((me.job, previous))))
}
