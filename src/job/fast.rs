//! Blocking reads on the caller's thread.
//!
//! A blocking read skips the worker when the job has no write that was
//! accepted but is not yet committed (`Counters::pending_writes`, which
//! counts every accepted request but reads until the worker settles it, is
//! 0): a
//! read-only connection from the job's pool then sees every accepted write,
//! because a new WAL snapshot holds every commit. Otherwise (or on an
//! in-memory job, on the job's own worker thread, or when the pool cannot
//! serve) the read is queued behind those writes as before.
//!
//! Why 0 is enough: the job adds 1 for a write before queueing it, and the
//! worker takes it off (Release) only once it has nothing open, after the
//! commit that made the write visible. A read that starts after a write was
//! accepted, on any thread that learnt of the acceptance, loads the count
//! (Acquire) and sees either that write still counted, or 0 after its
//! commit, whose effects its fresh snapshot then includes.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::Ordering;

use super::Job;
use crate::backend::Reader;
use crate::error::{Error, Result};
use crate::protocol::{Read, Reply};

impl Job {
    /// Runs `read` on the calling thread, on a pooled read-only connection,
    /// when that sees every accepted write; `None` when it must go through
    /// the worker. A failure on the read connection also answers `None`:
    /// the worker then gives the authoritative answer or error.
    pub(super) fn read_here<T>(
        &self,
        category: &[u8],
        read: impl FnOnce(&mut dyn Reader) -> Result<T>,
    ) -> Option<Result<T>> {
        let shared = &self.shared;
        if !shared.readers.enabled()
            || shared.counters.pending_writes.load(Ordering::Acquire) != 0
            || self.on_own_worker()
        {
            return None;
        }
        // A closed job's pool is closed: its reads go to the worker, which
        // reports the job closed.
        let mut lease = shared.readers.lease()?;
        let reader = lease.reader();
        let served = catch_unwind(AssertUnwindSafe(|| {
            inject_fault(category);
            read(reader)
        }));
        // Counted by the pool when the lease ends (see `Stats::reads`).
        match served {
            Ok(Ok(answer)) => {
                lease.served();
                drop(lease);
                Some(Ok(answer))
            }
            Ok(Err(_)) => {
                lease.discard();
                None
            }
            Err(_) => {
                lease.served();
                lease.discard();
                Some(Err(Error::internal("a read request panicked")
                    .context(format!("job {}", self.id()))))
            }
        }
    }
}

/// Serves a queued-form read on a reader.
pub(super) fn serve(reader: &mut dyn Reader, read: &Read) -> Result<Reply> {
    Ok(match read {
        Read::Get { category, key } => Reply::Value(reader.get(category, key)?),
        Read::Exists { category, key } => Reply::Found(reader.exists(category, key)?),
        Read::Scan {
            range,
            reverse,
            limit,
        } => Reply::Rows(reader.scan(range, *reverse, *limit)?),
        Read::Count { range } => Reply::Count(reader.count(range)?),
        Read::GetMany { category, keys } => Reply::Rows(reader.get_many(category, keys)?),
        Read::Sync(_) => {
            return Err(Error::internal(
                "a sync query is served by the worker, not on a reader",
            ))
        }
    })
}

/// With the `fault-injection` feature, panics on the test category, as the
/// worker does.
#[cfg(feature = "fault-injection")]
fn inject_fault(category: &[u8]) {
    crate::fault::worker_request(category);
}

#[cfg(not(feature = "fault-injection"))]
fn inject_fault(_category: &[u8]) {}
