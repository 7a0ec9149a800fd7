//! The sync layer over a job's store: it wraps the worker's [`Backend`],
//! passing every call through, and keeps the sets' upper aggregate levels
//! (and some elements) in memory between requests, in a [`SyncMemory`] the
//! job's callers share. Changed buckets are written inside the open
//! transaction just before it commits, so elements and aggregates always
//! commit together; a rollback (or a transaction the store ended) drops
//! the memory, which is reloaded from the committed rows.
//!
//! Callers read the memory (and the committed rows, on a read-only
//! connection) only while it holds no uncommitted change, under its lock:
//! the worker changes it only under that lock, and commits its changes
//! before releasing it, so what a caller sees in memory is what is
//! committed (see [`Committed`]).

use std::collections::HashMap;
use std::path::Path;

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;

use parking_lot::{Mutex, MutexGuard};

use super::cache::{Port, SetCache, MAX_CACHED_ELEMENTS};
use super::tree::Tree;
use super::{
    aggregates_category, elements_category, id_of, IdKey, SplitPart, Summary, SyncId, SyncRange,
    SyncRead, SyncReply, SyncWrite,
};
use crate::backend::{Backend, BackupCopy, Range, Reader};
use crate::error::{Error, Result};
use crate::ops::Op;
use crate::progress::Progress;
use crate::rows::Rows;

/// The memory of a job's sync sets, shared by its worker and its callers.
#[derive(Debug)]
pub(crate) struct SyncMemory {
    sets: Mutex<Sets>,
    /// A `Request::SyncFill` waits in the job's queue.
    fill_queued: AtomicBool,
    /// `Sets::kept`, read without the lock.
    kept: Arc<AtomicU64>,
}

impl Default for SyncMemory {
    fn default() -> SyncMemory {
        let kept = Arc::new(AtomicU64::new(0));
        SyncMemory {
            sets: Mutex::new(Sets {
                kept: kept.clone(),
                ..Sets::default()
            }),
            fill_queued: AtomicBool::new(false),
            kept,
        }
    }
}

impl SyncMemory {
    /// Elements of the job's sync sets held in memory, as of the last
    /// request that changed them (`Stats::sync_elements_in_memory`); read
    /// without waiting for the memory's lock.
    pub(crate) fn elements_in_memory(&self) -> u64 {
        self.kept.load(Ordering::Relaxed)
    }

    /// The memory, locked, when it holds no uncommitted change: the
    /// worker can neither change it nor commit a sync change while the
    /// lock is held. `None` when it holds changes not yet committed.
    pub(crate) fn committed(&self) -> Option<Committed<'_>> {
        let sets = self.sets.lock();
        (!sets.uncommitted).then_some(Committed(sets))
    }

    /// Whether the caller is the one to queue a fill step: false while one
    /// is queued already. A caller that then fails to queue it calls
    /// [`SyncMemory::fill_dequeued`].
    pub(crate) fn claim_fill(&self) -> bool {
        !self.fill_queued.swap(true, Ordering::AcqRel)
    }

    /// The queued fill step was taken off the queue (or never got there).
    pub(crate) fn fill_dequeued(&self) {
        self.fill_queued.store(false, Ordering::Release);
    }
}

/// The sync memory, locked while it equals the committed rows.
pub(crate) struct Committed<'a>(MutexGuard<'a, Sets>);

impl Committed<'_> {
    /// Answers a query from the memory and a read-only connection, which
    /// must see the latest commit. On failure the memory is dropped (a
    /// query interrupted half-way may have loaded part of a bucket).
    pub(crate) fn read(&mut self, reader: &mut dyn Reader, read: &SyncRead) -> Result<SyncReply> {
        let answer = self.0.read(&mut Port::Reader(reader), read);
        if answer.is_err() {
            self.0.forget();
        } else {
            self.0.trim();
        }
        answer
    }

    /// Drops the memory (after a query that panicked).
    pub(crate) fn forget(&mut self) {
        self.0.forget();
    }

    /// Whether a set's memory is still to be filled.
    pub(crate) fn wants_fill(&self) -> bool {
        self.0.wants_fill()
    }
}

/// A job's store with its sync sets.
pub(crate) struct SyncLayer {
    inner: Box<dyn Backend>,
    memory: Arc<SyncMemory>,
}

/// What one set keeps in memory, and its two categories.
#[derive(Debug)]
pub(super) struct SetMemory {
    elements: Vec<u8>,
    aggregates: Vec<u8>,
    pub(super) cache: SetCache,
}

/// Every set's memory.
#[derive(Debug, Default)]
pub(super) struct Sets {
    pub(super) sets: HashMap<Vec<u8>, SetMemory>,
    /// Elements in memory over every set, as of the last `trim` (shared
    /// with `SyncMemory::kept`).
    kept: Arc<AtomicU64>,
    /// The memory holds changes the store has not committed.
    uncommitted: bool,
}

impl SyncLayer {
    /// Wraps a store; `memory` is shared with the job's callers.
    pub(crate) fn new(inner: Box<dyn Backend>, memory: Arc<SyncMemory>) -> SyncLayer {
        SyncLayer { inner, memory }
    }

    /// Applies a sync write inside the open transaction. On error the
    /// whole transaction is rolled back (the worker applies the group's
    /// earlier writes again), so a write never half-applies.
    pub(crate) fn write(&mut self, write: &SyncWrite) -> Result<u64> {
        let memory = self.memory.clone();
        let mut sets = memory.sets.lock();
        if sets.uncommitted && !self.inner.in_transaction() {
            sets.forget();
        }
        sets.uncommitted = true;
        let result = sets.apply_write(&mut Port::Worker(self.inner.as_mut()), write);
        sets.trim();
        if result.is_err() {
            self.inner.rollback();
            sets.forget();
        }
        result
    }

    /// Whether a set's memory is still to be filled.
    pub(crate) fn wants_fill(&self) -> bool {
        self.memory.sets.lock().wants_fill()
    }

    /// The job's sync memory.
    pub(crate) fn memory(&self) -> &SyncMemory {
        &self.memory
    }

    /// Reads the next regions of a set into memory (`fill.rs`); tells
    /// whether more remain. A failure drops the memory (it is reloaded,
    /// and the fill starts again, on the next query).
    pub(crate) fn fill(&mut self) -> bool {
        let memory = self.memory.clone();
        let mut sets = memory.sets.lock();
        if sets.uncommitted && !self.inner.in_transaction() {
            sets.forget();
        }
        // The fill reads each page once: not through the page cache the
        // worker's other reads use.
        self.inner.read_once(true);
        let filled = sets.fill_step(&mut Port::Worker(self.inner.as_mut()));
        self.inner.read_once(false);
        if filled.is_err() {
            sets.forget();
        }
        sets.trim();
        let more = sets.wants_fill();
        // Straight to a caller waiting for the memory, if any: the next
        // step would otherwise often take the lock back first.
        MutexGuard::unlock_fair(sets);
        more
    }

    /// Answers a sync query.
    pub(crate) fn read(&mut self, read: &SyncRead) -> Result<SyncReply> {
        let memory = self.memory.clone();
        let mut sets = memory.sets.lock();
        if sets.uncommitted && !self.inner.in_transaction() {
            sets.forget();
        }
        let answer = sets.read(&mut Port::Worker(self.inner.as_mut()), read);
        sets.trim();
        answer
    }
}

impl Sets {
    /// Forgets the memory of every set.
    fn forget(&mut self) {
        self.sets.clear();
        self.uncommitted = false;
        self.kept.store(0, Ordering::Relaxed);
    }

    /// Keeps the elements in memory within [`MAX_CACHED_ELEMENTS`]; past
    /// it, no set is filled any more (queries still keep what they read).
    fn trim(&mut self) {
        let mut total: usize = self.sets.values().map(|s| s.cache.kept_len()).sum();
        if total > MAX_CACHED_ELEMENTS {
            for memory in self.sets.values_mut() {
                memory.cache.forget_elements();
                memory.cache.fill = None;
            }
            total = 0;
        }
        self.kept.store(total as u64, Ordering::Relaxed);
    }

    pub(super) fn tree<'a>(&'a mut self, mut port: Port<'a>, set: &[u8]) -> Result<Tree<'a>> {
        if !self.sets.contains_key(set) {
            let aggregates = aggregates_category(set);
            let cache = SetCache::load(&mut port, &aggregates)?;
            let memory = SetMemory {
                elements: elements_category(set),
                aggregates,
                cache,
            };
            self.sets.insert(set.to_vec(), memory);
        }
        let memory = self
            .sets
            .get_mut(set)
            .ok_or_else(|| Error::internal("sync set memory vanished"))?;
        Ok(Tree {
            port,
            cache: &mut memory.cache,
            elements: &memory.elements,
            aggregates: &memory.aggregates,
        })
    }

    fn apply_write(&mut self, port: &mut Port<'_>, write: &SyncWrite) -> Result<u64> {
        match write {
            SyncWrite::Add { set, ids } | SyncWrite::Remove { set, ids } => {
                let add = matches!(write, SyncWrite::Add { .. });
                // Key order: neighbouring elements share pages and buckets.
                let mut keys: Vec<IdKey> = ids.iter().map(SyncId::key).collect();
                keys.sort_unstable();
                keys.dedup();
                let mut tree = self.tree(port.reborrow(), set)?;
                let mut changed = 0;
                for key in &keys {
                    let done = if add {
                        tree.insert(key)?
                    } else {
                        tree.remove(key)?
                    };
                    changed += u64::from(done);
                }
                Ok(changed)
            }
            SyncWrite::Prune { set, before } => {
                let cut = SyncId::new(*before, [0; 32]).key();
                self.tree(port.reborrow(), set)?.prune(&cut)
            }
        }
    }

    /// Answers a sync query.
    fn read(&mut self, port: &mut Port<'_>, read: &SyncRead) -> Result<SyncReply> {
        Ok(match read {
            SyncRead::Summary { sets, range } => {
                SyncReply::Summary(self.summary(port, sets, range)?)
            }
            SyncRead::Split { sets, range, parts } => {
                SyncReply::Parts(self.split(port, sets, range, *parts)?)
            }
            SyncRead::Items { sets, range, limit } => {
                SyncReply::Ids(self.items(port, sets, range, *limit)?)
            }
            SyncRead::Len { set } => SyncReply::Len(self.tree(port.reborrow(), set)?.len()),
        })
    }

    /// The summary of the elements before `key`, over the sets.
    fn prefix(&mut self, port: &mut Port<'_>, sets: &[Vec<u8>], key: &IdKey) -> Result<Summary> {
        let mut acc = Summary::default();
        for set in sets {
            acc = acc.plus(&self.tree(port.reborrow(), set)?.prefix(key)?);
        }
        Ok(acc)
    }

    fn summary(
        &mut self,
        port: &mut Port<'_>,
        sets: &[Vec<u8>],
        range: &SyncRange,
    ) -> Result<Summary> {
        if range.is_empty() {
            return Ok(Summary::default());
        }
        let below = self.prefix(port, sets, &range.start.key())?;
        self.prefix(port, sets, &range.stop.key())?.minus(&below)
    }

    fn items(
        &mut self,
        port: &mut Port<'_>,
        sets: &[Vec<u8>],
        range: &SyncRange,
        limit: u32,
    ) -> Result<Vec<SyncId>> {
        if range.is_empty() {
            return Ok(Vec::new());
        }
        let (start, stop) = (range.start.key(), range.stop.key());
        let mut keys = Vec::new();
        for set in sets {
            keys.extend(
                self.tree(port.reborrow(), set)?
                    .items(&start, &stop, limit)?,
            );
        }
        keys.sort_unstable();
        if limit > 0 {
            keys.truncate(limit as usize);
        }
        Ok(keys.iter().map(|k| id_of(k)).collect())
    }

    /// Splits a range into `parts` parts: part i ends before the element
    /// of rank ⌊n·(i+1)/parts⌋ of the range (n elements in all), so part
    /// counts differ by at most one (for a union, elements present in
    /// several sets stay in one part).
    fn split(
        &mut self,
        port: &mut Port<'_>,
        sets: &[Vec<u8>],
        range: &SyncRange,
        parts: u32,
    ) -> Result<Vec<SplitPart>> {
        let parts = u64::from(parts);
        let (start, stop) = (range.start.key(), range.stop.key());
        let empty = range.is_empty();
        // Bounds (as keys) and the summary of everything before each.
        let mut bounds: Vec<(IdKey, Summary)> = Vec::with_capacity(parts as usize + 1);
        let low = self.prefix(port, sets, &start)?;
        let high = if empty {
            low
        } else {
            self.prefix(port, sets, &stop)?
        };
        let n = high.count - low.count;
        bounds.push((start, low));
        for i in 1..parts {
            let rank = n * i / parts;
            let bound = if rank >= n {
                None
            } else if let [set] = sets {
                let mut tree = self.tree(port.reborrow(), set)?;
                tree.select(low.count + rank)?
            } else {
                let key = self.union_select(port, sets, &start, rank)?;
                let before = self.prefix(port, sets, &key)?;
                Some((key, before))
            };
            bounds.push(bound.unwrap_or((if empty { start } else { stop }, high)));
        }
        bounds.push((if empty { start } else { stop }, high));
        bounds
            .windows(2)
            .map(|w| {
                Ok(SplitPart {
                    range: SyncRange::new(id_of(&w[0].0), id_of(&w[1].0)),
                    summary: w[1].1.minus(&w[0].1)?,
                })
            })
            .collect()
    }

    /// The element of rank `rank` (0-based) among the elements at or
    /// after `start` in a union (an element in several sets counts once
    /// per set). Each step tests the middle of the widest set's window of
    /// candidate ranks, and narrows every window: O(sets · log n) steps,
    /// each a prefix per set.
    fn union_select(
        &mut self,
        port: &mut Port<'_>,
        sets: &[Vec<u8>],
        start: &IdKey,
        rank: u64,
    ) -> Result<IdKey> {
        let mut base = Vec::with_capacity(sets.len());
        let mut windows = Vec::with_capacity(sets.len());
        for set in sets {
            let mut tree = self.tree(port.reborrow(), set)?;
            let below = tree.prefix(start)?.count;
            base.push(below);
            windows.push((0u64, tree.len() - below));
        }
        let target = rank;
        loop {
            let (s, &(lo, hi)) = windows
                .iter()
                .enumerate()
                .max_by_key(|(_, (lo, hi))| hi - lo)
                .ok_or_else(|| Error::internal("a union of no sets"))?;
            if lo >= hi {
                return Err(Error::internal("sync union split found no element"));
            }
            let mid = lo + (hi - lo) / 2;
            let (key, _) = self
                .tree(port.reborrow(), &sets[s])?
                .select(base[s] + mid)?
                .ok_or_else(|| Error::internal("sync union split: rank past the set"))?;
            // Elements of the union before `key`, and copies of `key`.
            let mut below = Vec::with_capacity(sets.len());
            let mut copies = Vec::with_capacity(sets.len());
            for (t, set) in sets.iter().enumerate() {
                let mut tree = self.tree(port.reborrow(), set)?;
                let count = if t == s {
                    base[t] + mid
                } else {
                    tree.prefix(&key)?.count
                };
                below.push(count - base[t]);
                copies.push(t == s || tree.contains(&key)?);
            }
            let under: u64 = below.iter().sum();
            let with: u64 = under + copies.iter().filter(|c| **c).count() as u64;
            if under <= target && target < with {
                return Ok(key);
            }
            for (t, window) in windows.iter_mut().enumerate() {
                if with <= target {
                    window.0 = window.0.max(below[t] + u64::from(copies[t]));
                } else {
                    window.1 = window.1.min(below[t]);
                }
            }
        }
    }

    /// The writes that store the changed buckets of every set.
    fn changes(&mut self) -> Vec<Op> {
        let mut ops: Vec<Op> = Vec::new();
        for memory in self.sets.values_mut() {
            ops.extend(memory.cache.take_changes(&memory.aggregates));
        }
        ops
    }
}

impl Backend for SyncLayer {
    fn begin(&mut self) -> Result<()> {
        // Changes still in memory at a new transaction were lost with the
        // last one.
        let mut sets = self.memory.sets.lock();
        if sets.uncommitted {
            sets.forget();
        }
        drop(sets);
        self.inner.begin()
    }

    fn commit(&mut self) -> Result<()> {
        // Held until the commit is done: callers must not see the memory
        // ahead of the committed rows.
        let memory = self.memory.clone();
        let mut sets = memory.sets.lock();
        if sets.uncommitted && self.inner.in_transaction() {
            let ops = sets.changes();
            if !ops.is_empty() {
                self.inner.apply(&ops)?;
            }
        }
        self.inner.commit()?;
        sets.uncommitted = false;
        Ok(())
    }

    fn rollback(&mut self) {
        let memory = self.memory.clone();
        let mut sets = memory.sets.lock();
        self.inner.rollback();
        sets.forget();
    }

    fn in_transaction(&self) -> bool {
        self.inner.in_transaction()
    }

    fn apply(&mut self, ops: &[Op]) -> Result<()> {
        self.inner.apply(ops)
    }

    fn delete_acked(&mut self, category: &[u8], key: &[u8]) -> Result<bool> {
        self.inner.delete_acked(category, key)
    }

    fn put_new(&mut self, category: &[u8], key: &[u8], payload: &[u8]) -> Result<bool> {
        self.inner.put_new(category, key, payload)
    }

    fn get(&mut self, category: &[u8], key: &[u8]) -> Result<Option<Vec<u8>>> {
        self.inner.get(category, key)
    }

    fn exists(&mut self, category: &[u8], key: &[u8]) -> Result<bool> {
        self.inner.exists(category, key)
    }

    fn scan(&mut self, range: &Range, reverse: bool, limit: u32) -> Result<Rows> {
        self.inner.scan(range, reverse, limit)
    }

    fn scan_unless(
        &mut self,
        range: &Range,
        reverse: bool,
        limit: u32,
        give_up: &dyn Fn() -> bool,
    ) -> Result<Option<Rows>> {
        self.inner.scan_unless(range, reverse, limit, give_up)
    }

    fn count(&mut self, range: &Range) -> Result<u64> {
        self.inner.count(range)
    }

    fn get_many(&mut self, category: &[u8], keys: &[Vec<u8>]) -> Result<Rows> {
        self.inner.get_many(category, keys)
    }

    fn size(&mut self) -> u64 {
        self.inner.size()
    }

    fn live_bytes(&mut self) -> u64 {
        self.inner.live_bytes()
    }

    fn start_backup(&mut self, dest: &Path) -> Result<Box<dyn BackupCopy>> {
        self.inner.start_backup(dest)
    }

    fn compact_step(&mut self, pages: u32) -> Result<u64> {
        self.inner.compact_step(pages)
    }

    fn free_bytes(&mut self) -> u64 {
        self.inner.free_bytes()
    }

    fn check(&mut self, progress: Option<&mut dyn FnMut(Progress)>) -> Result<()> {
        self.inner.check(progress)
    }

    fn enforce_retention(&mut self) -> Result<bool> {
        self.inner.enforce_retention()
    }

    fn read_once(&mut self, once: bool) {
        self.inner.read_once(once)
    }
}
