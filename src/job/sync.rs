//! A job's sync sets (`docs/sync-index.md`): writes queue like every
//! write, in the job's order, and commit in the worker's group. Queries
//! see every write accepted before them: a blocking query runs on the
//! caller's thread when nothing is pending (no accepted write uncommitted,
//! as for the blocking reads of `fast.rs`, and the sets' memory equal to
//! the committed rows), on the memory the worker keeps and a read-only
//! connection; otherwise, and in the callback forms, the worker serves it.

use super::{unexpected, Job};
use crate::error::{Error, Result};
use crate::protocol::{Read, Reply, Request};
use crate::sync::{
    check_set, check_sets, SplitPart, Summary, SyncId, SyncRange, SyncRead, SyncReply, SyncWrite,
    MAX_SPLIT_PARTS,
};
use crate::worker::queue_fill;

fn changed(reply: Reply) -> Result<u64> {
    match reply {
        Reply::Sync(SyncReply::Changed(n)) => Ok(n),
        other => Err(unexpected(other)),
    }
}

fn summary(reply: Reply) -> Result<Summary> {
    match reply {
        Reply::Sync(SyncReply::Summary(s)) => Ok(s),
        other => Err(unexpected(other)),
    }
}

fn parts(reply: Reply) -> Result<Vec<SplitPart>> {
    match reply {
        Reply::Sync(SyncReply::Parts(p)) => Ok(p),
        other => Err(unexpected(other)),
    }
}

fn ids(reply: Reply) -> Result<Vec<SyncId>> {
    match reply {
        Reply::Sync(SyncReply::Ids(ids)) => Ok(ids),
        other => Err(unexpected(other)),
    }
}

fn len(reply: Reply) -> Result<u64> {
    match reply {
        Reply::Sync(SyncReply::Len(n)) => Ok(n),
        other => Err(unexpected(other)),
    }
}

/// The sets of a query, copied and checked.
fn set_list(sets: &[impl AsRef<[u8]>]) -> Result<Vec<Vec<u8>>> {
    let sets: Vec<Vec<u8>> = sets.iter().map(|s| s.as_ref().to_vec()).collect();
    check_sets(&sets)?;
    Ok(sets)
}

/// Which write: add, remove.
fn change(set: &[u8], ids: &[SyncId], add: bool) -> Result<SyncWrite> {
    check_set(set)?;
    let (set, ids) = (set.to_vec(), ids.to_vec());
    if add {
        if ids.contains(&SyncId::MAX) {
            return Err(Error::invalid(
                "SyncId::MAX bounds ranges and cannot be added to a set",
            ));
        }
        Ok(SyncWrite::Add { set, ids })
    } else {
        Ok(SyncWrite::Remove { set, ids })
    }
}

fn prune(set: &[u8], before: i64) -> Result<SyncWrite> {
    check_set(set)?;
    Ok(SyncWrite::Prune {
        set: set.to_vec(),
        before,
    })
}

impl Job {
    fn sync_write(&self, write: SyncWrite) -> Result<()> {
        self.submit(Request::Sync { write, done: None })
    }

    fn sync_write_then(
        &self,
        write: SyncWrite,
        then: impl FnOnce(Result<u64>) + Send + 'static,
    ) -> Result<()> {
        self.request(
            |done| Request::Sync {
                write,
                done: Some(done),
            },
            changed,
            then,
        )
    }

    fn sync_write_wait(&self, write: SyncWrite) -> Result<u64> {
        self.wait(
            |done| Request::Sync {
                write,
                done: Some(done),
            },
            changed,
        )
    }

    /// Queues adding `ids` to a set, atomically (fire-and-forget: a
    /// failure is counted in the stats). Ids already there stay.
    ///
    /// ```
    /// use persistency::{Persistency, SyncId, SyncRange};
    /// let db = Persistency::new(":memory:")?;
    /// let job = db.open_job("sync")?;
    /// job.sync_add("topic", &[SyncId::new(1, [1; 32]), SyncId::new(2, [2; 32])])?;
    /// let all = job.sync_summary(&["topic"], SyncRange::all())?;
    /// assert_eq!((all.count, all.fingerprint), (2, [3; 32]));
    /// # Ok::<(), persistency::Error>(())
    /// ```
    pub fn sync_add(&self, set: impl AsRef<[u8]>, ids: &[SyncId]) -> Result<()> {
        self.sync_write(change(set.as_ref(), ids, true)?)
    }

    /// Adds `ids` to a set, atomically; `then` runs after the commit and
    /// receives how many were new.
    pub fn sync_add_then(
        &self,
        set: impl AsRef<[u8]>,
        ids: &[SyncId],
        then: impl FnOnce(Result<u64>) + Send + 'static,
    ) -> Result<()> {
        self.sync_write_then(change(set.as_ref(), ids, true)?, then)
    }

    /// Adds `ids` to a set, atomically, waits for the commit and returns
    /// how many were new.
    pub fn sync_add_acked(&self, set: impl AsRef<[u8]>, ids: &[SyncId]) -> Result<u64> {
        self.sync_write_wait(change(set.as_ref(), ids, true)?)
    }

    /// Queues removing `ids` from a set, atomically (fire-and-forget).
    /// Absent ids are ignored.
    pub fn sync_remove(&self, set: impl AsRef<[u8]>, ids: &[SyncId]) -> Result<()> {
        self.sync_write(change(set.as_ref(), ids, false)?)
    }

    /// Removes `ids` from a set, atomically; `then` runs after the commit
    /// and receives how many were there.
    pub fn sync_remove_then(
        &self,
        set: impl AsRef<[u8]>,
        ids: &[SyncId],
        then: impl FnOnce(Result<u64>) + Send + 'static,
    ) -> Result<()> {
        self.sync_write_then(change(set.as_ref(), ids, false)?, then)
    }

    /// Removes `ids` from a set, waits for the commit and returns how many
    /// were there.
    pub fn sync_remove_acked(&self, set: impl AsRef<[u8]>, ids: &[SyncId]) -> Result<u64> {
        self.sync_write_wait(change(set.as_ref(), ids, false)?)
    }

    /// Queues removing every id of a set whose time is before `before`
    /// (fire-and-forget).
    pub fn sync_prune(&self, set: impl AsRef<[u8]>, before: i64) -> Result<()> {
        self.sync_write(prune(set.as_ref(), before)?)
    }

    /// Removes every id of a set whose time is before `before`; `then`
    /// runs after the commit and receives how many were removed.
    pub fn sync_prune_then(
        &self,
        set: impl AsRef<[u8]>,
        before: i64,
        then: impl FnOnce(Result<u64>) + Send + 'static,
    ) -> Result<()> {
        self.sync_write_then(prune(set.as_ref(), before)?, then)
    }

    /// Removes every id of a set whose time is before `before`, waits for
    /// the commit and returns how many were removed.
    ///
    /// ```
    /// use persistency::{Persistency, SyncId};
    /// let db = Persistency::new(":memory:")?;
    /// let job = db.open_job("sync")?;
    /// job.sync_add("t", &[SyncId::new(1, [1; 32]), SyncId::new(5, [2; 32])])?;
    /// assert_eq!(job.sync_prune_acked("t", 5)?, 1);
    /// assert_eq!(job.sync_len("t")?, 1);
    /// # Ok::<(), persistency::Error>(())
    /// ```
    pub fn sync_prune_acked(&self, set: impl AsRef<[u8]>, before: i64) -> Result<u64> {
        self.sync_write_wait(prune(set.as_ref(), before)?)
    }

    fn sync_read_then<T: Send + 'static>(
        &self,
        read: SyncRead,
        extract: fn(Reply) -> Result<T>,
        then: impl FnOnce(Result<T>) + Send + 'static,
    ) -> Result<()> {
        let read = Read::Sync(read);
        self.request(|done| Request::Read { read, done }, extract, then)
    }

    fn sync_read_wait<T: Send + 'static>(
        &self,
        read: SyncRead,
        extract: fn(Reply) -> Result<T>,
    ) -> Result<T> {
        // The memory is locked first: while it is held and clean, the
        // worker cannot change it or commit a sync change, so the memory
        // and the connection's snapshot agree; a pending count of 0 then
        // says that every write accepted before this query is in both.
        if let Some(mut memory) = self.shared.sync.committed() {
            match self.read_here(&[], |reader| memory.read(reader, &read)) {
                Some(Ok(reply)) => {
                    let fill = memory.wants_fill();
                    drop(memory);
                    if fill {
                        // The worker reads the rest of the set into memory
                        // while it has nothing else to do.
                        queue_fill(&self.shared.sync, &self.shared.queue);
                    }
                    return extract(Reply::Sync(reply));
                }
                Some(Err(e)) => {
                    // The query panicked half-way through the memory.
                    memory.forget();
                    return Err(e);
                }
                None => {}
            }
        }
        let read = Read::Sync(read);
        self.wait(|done| Request::Read { read, done }, extract)
    }

    /// The count and fingerprint (XOR of hashes) of the ids in `range`
    /// over the union of `sets` (distinct names; an id in several of them
    /// counts once per set). Reads O(log n) aggregates, whatever the
    /// range's length.
    pub fn sync_summary(&self, sets: &[impl AsRef<[u8]>], range: SyncRange) -> Result<Summary> {
        let sets = set_list(sets)?;
        self.sync_read_wait(SyncRead::Summary { sets, range }, summary)
    }

    /// As [`Job::sync_summary`], answered through `then` on the worker.
    pub fn sync_summary_then(
        &self,
        sets: &[impl AsRef<[u8]>],
        range: SyncRange,
        then: impl FnOnce(Result<Summary>) + Send + 'static,
    ) -> Result<()> {
        let sets = set_list(sets)?;
        self.sync_read_then(SyncRead::Summary { sets, range }, summary, then)
    }

    /// Splits `range` over the union of `sets` into `parts` (1 to
    /// [`MAX_SPLIT_PARTS`]) consecutive parts whose counts differ by at
    /// most one (for a union, an id in several sets stays in one part),
    /// each with its bounds and summary. The parts cover the range
    /// exactly; when it holds fewer ids than parts, some are empty.
    ///
    /// ```
    /// use persistency::{Persistency, SyncId, SyncRange};
    /// let db = Persistency::new(":memory:")?;
    /// let job = db.open_job("sync")?;
    /// let ids: Vec<SyncId> = (0..10).map(|t| SyncId::new(t, [t as u8; 32])).collect();
    /// job.sync_add("t", &ids)?;
    /// let parts = job.sync_split(&["t"], SyncRange::all(), 2)?;
    /// assert_eq!(parts[0].summary.count, 5);
    /// assert_eq!(parts[1].range.start, ids[5]);
    /// # Ok::<(), persistency::Error>(())
    /// ```
    pub fn sync_split(
        &self,
        sets: &[impl AsRef<[u8]>],
        range: SyncRange,
        parts: u32,
    ) -> Result<Vec<SplitPart>> {
        let read = split_read(sets, range, parts)?;
        self.sync_read_wait(read, self::parts)
    }

    /// As [`Job::sync_split`], answered through `then` on the worker.
    pub fn sync_split_then(
        &self,
        sets: &[impl AsRef<[u8]>],
        range: SyncRange,
        parts: u32,
        then: impl FnOnce(Result<Vec<SplitPart>>) + Send + 'static,
    ) -> Result<()> {
        let read = split_read(sets, range, parts)?;
        self.sync_read_then(read, self::parts, then)
    }

    /// The ids in `range` over the union of `sets`, in order, at most
    /// `limit` of them (0: no limit).
    pub fn sync_items(
        &self,
        sets: &[impl AsRef<[u8]>],
        range: SyncRange,
        limit: u32,
    ) -> Result<Vec<SyncId>> {
        let sets = set_list(sets)?;
        self.sync_read_wait(SyncRead::Items { sets, range, limit }, ids)
    }

    /// As [`Job::sync_items`], answered through `then` on the worker.
    pub fn sync_items_then(
        &self,
        sets: &[impl AsRef<[u8]>],
        range: SyncRange,
        limit: u32,
        then: impl FnOnce(Result<Vec<SyncId>>) + Send + 'static,
    ) -> Result<()> {
        let sets = set_list(sets)?;
        self.sync_read_then(SyncRead::Items { sets, range, limit }, ids, then)
    }

    /// How many ids a set holds (0 for a set never written).
    pub fn sync_len(&self, set: impl AsRef<[u8]>) -> Result<u64> {
        check_set(set.as_ref())?;
        let set = set.as_ref().to_vec();
        self.sync_read_wait(SyncRead::Len { set }, len)
    }

    /// As [`Job::sync_len`], answered through `then` on the worker.
    pub fn sync_len_then(
        &self,
        set: impl AsRef<[u8]>,
        then: impl FnOnce(Result<u64>) + Send + 'static,
    ) -> Result<()> {
        check_set(set.as_ref())?;
        let set = set.as_ref().to_vec();
        self.sync_read_then(SyncRead::Len { set }, len, then)
    }
}

fn split_read(sets: &[impl AsRef<[u8]>], range: SyncRange, parts: u32) -> Result<SyncRead> {
    if parts == 0 || parts > MAX_SPLIT_PARTS {
        return Err(Error::invalid(format!(
            "a split into {parts} parts (1 to {MAX_SPLIT_PARTS})"
        )));
    }
    Ok(SyncRead::Split {
        sets: set_list(sets)?,
        range,
        parts,
    })
}
