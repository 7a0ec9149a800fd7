//! The sync layer over a job's store: it wraps the worker's [`Backend`],
//! passing every call through, and keeps the sets' upper aggregate levels
//! in memory between requests. Changed buckets are written inside the
//! open transaction just before it commits, so elements and aggregates
//! always commit together; a rollback (or a transaction the store ended)
//! drops the memory, which is reloaded from the committed rows.

use std::collections::HashMap;
use std::path::Path;

use super::tree::{SetCache, Tree};
use super::{
    aggregates_category, elements_category, id_of, IdKey, SplitPart, Summary, SyncId, SyncRange,
    SyncRead, SyncReply, SyncWrite,
};
use crate::backend::{Backend, BackupCopy, Range};
use crate::error::{Error, Result};
use crate::ops::Op;
use crate::progress::Progress;
use crate::rows::Rows;

/// A job's store with its sync sets.
pub(crate) struct SyncLayer {
    inner: Box<dyn Backend>,
    sets: HashMap<Vec<u8>, SetCache>,
    /// The memory holds changes the store has not committed.
    uncommitted: bool,
}

impl SyncLayer {
    /// Wraps a store.
    pub(crate) fn new(inner: Box<dyn Backend>) -> SyncLayer {
        SyncLayer {
            inner,
            sets: HashMap::new(),
            uncommitted: false,
        }
    }

    /// Forgets the memory of every set.
    fn forget(&mut self) {
        self.sets.clear();
        self.uncommitted = false;
    }

    /// Drops memory whose changes the store lost (it ended the
    /// transaction on its own).
    fn check_memory(&mut self) {
        if self.uncommitted && !self.inner.in_transaction() {
            self.forget();
        }
    }

    fn tree(&mut self, set: &[u8]) -> Result<Tree<'_>> {
        let aggregates = aggregates_category(set);
        if !self.sets.contains_key(set) {
            let cache = SetCache::load(self.inner.as_mut(), &aggregates)?;
            self.sets.insert(set.to_vec(), cache);
        }
        let cache = self
            .sets
            .get_mut(set)
            .ok_or_else(|| Error::internal("sync set memory vanished"))?;
        Ok(Tree {
            backend: self.inner.as_mut(),
            cache,
            elements: elements_category(set),
            aggregates,
        })
    }

    /// Applies a sync write inside the open transaction. On error the
    /// whole transaction is rolled back (the worker applies the group's
    /// earlier writes again), so a write never half-applies.
    pub(crate) fn write(&mut self, write: &SyncWrite) -> Result<u64> {
        self.check_memory();
        self.uncommitted = true;
        let result = self.apply_write(write);
        if result.is_err() {
            self.rollback();
        }
        result
    }

    fn apply_write(&mut self, write: &SyncWrite) -> Result<u64> {
        match write {
            SyncWrite::Add { set, ids } | SyncWrite::Remove { set, ids } => {
                let add = matches!(write, SyncWrite::Add { .. });
                // Key order: neighbouring elements share pages and buckets.
                let mut keys: Vec<IdKey> = ids.iter().map(SyncId::key).collect();
                keys.sort_unstable();
                keys.dedup();
                let mut tree = self.tree(set)?;
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
                self.tree(set)?.prune(&cut)
            }
        }
    }

    /// Answers a sync query.
    pub(crate) fn read(&mut self, read: &SyncRead) -> Result<SyncReply> {
        self.check_memory();
        Ok(match read {
            SyncRead::Summary { sets, range } => SyncReply::Summary(self.summary(sets, range)?),
            SyncRead::Split { sets, range, parts } => {
                SyncReply::Parts(self.split(sets, range, *parts)?)
            }
            SyncRead::Items { sets, range, limit } => {
                SyncReply::Ids(self.items(sets, range, *limit)?)
            }
            SyncRead::Len { set } => SyncReply::Len(self.tree(set)?.len()),
        })
    }

    /// The summary of the elements before `key`, over the sets.
    fn prefix(&mut self, sets: &[Vec<u8>], key: &IdKey) -> Result<Summary> {
        let mut acc = Summary::default();
        for set in sets {
            acc = acc.plus(&self.tree(set)?.prefix(key)?);
        }
        Ok(acc)
    }

    fn summary(&mut self, sets: &[Vec<u8>], range: &SyncRange) -> Result<Summary> {
        if range.is_empty() {
            return Ok(Summary::default());
        }
        let below = self.prefix(sets, &range.start.key())?;
        self.prefix(sets, &range.stop.key())?.minus(&below)
    }

    fn items(&mut self, sets: &[Vec<u8>], range: &SyncRange, limit: u32) -> Result<Vec<SyncId>> {
        if range.is_empty() {
            return Ok(Vec::new());
        }
        let (start, stop) = (range.start.key(), range.stop.key());
        let mut keys = Vec::new();
        for set in sets {
            keys.extend(self.tree(set)?.items(&start, &stop, limit)?);
        }
        keys.sort_unstable();
        if limit > 0 {
            keys.truncate(limit as usize);
        }
        Ok(keys.iter().map(id_of).collect())
    }

    /// Splits a range into `parts` parts: part i ends before the element
    /// of rank ⌊n·(i+1)/parts⌋ of the range (n elements in all), so part
    /// counts differ by at most one (for a union, elements present in
    /// several sets stay in one part).
    fn split(&mut self, sets: &[Vec<u8>], range: &SyncRange, parts: u32) -> Result<Vec<SplitPart>> {
        let parts = u64::from(parts);
        let (start, stop) = (range.start.key(), range.stop.key());
        let empty = range.is_empty();
        // Bounds (as keys) and the summary of everything before each.
        let mut bounds: Vec<(IdKey, Summary)> = Vec::with_capacity(parts as usize + 1);
        let low = self.prefix(sets, &start)?;
        let high = if empty {
            low
        } else {
            self.prefix(sets, &stop)?
        };
        let n = high.count - low.count;
        bounds.push((start, low));
        for i in 1..parts {
            let rank = n * i / parts;
            let bound = if rank >= n {
                None
            } else if let [set] = sets {
                let mut tree = self.tree(set)?;
                tree.select(low.count + rank)?
            } else {
                let key = self.union_select(sets, &start, rank)?;
                let before = self.prefix(sets, &key)?;
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
    fn union_select(&mut self, sets: &[Vec<u8>], start: &IdKey, rank: u64) -> Result<IdKey> {
        let mut base = Vec::with_capacity(sets.len());
        let mut windows = Vec::with_capacity(sets.len());
        for set in sets {
            let mut tree = self.tree(set)?;
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
                .tree(&sets[s])?
                .select(base[s] + mid)?
                .ok_or_else(|| Error::internal("sync union split: rank past the set"))?;
            // Elements of the union before `key`, and copies of `key`.
            let mut below = Vec::with_capacity(sets.len());
            let mut copies = Vec::with_capacity(sets.len());
            for (t, set) in sets.iter().enumerate() {
                let mut tree = self.tree(set)?;
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

    /// Writes the changed buckets of every set into the open transaction.
    fn write_back(&mut self) -> Result<()> {
        let mut ops: Vec<Op> = Vec::new();
        for (set, cache) in self.sets.iter_mut() {
            ops.extend(cache.take_changes(&aggregates_category(set)));
        }
        if ops.is_empty() {
            return Ok(());
        }
        self.inner.apply(&ops)
    }
}

impl Backend for SyncLayer {
    fn begin(&mut self) -> Result<()> {
        // Changes still in memory at a new transaction were lost with the
        // last one.
        if self.uncommitted {
            self.forget();
        }
        self.inner.begin()
    }

    fn commit(&mut self) -> Result<()> {
        if self.uncommitted && self.inner.in_transaction() {
            self.write_back()?;
        }
        self.inner.commit()?;
        self.uncommitted = false;
        Ok(())
    }

    fn rollback(&mut self) {
        self.inner.rollback();
        self.forget();
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

    fn get(&mut self, category: &[u8], key: &[u8]) -> Result<Option<Vec<u8>>> {
        self.inner.get(category, key)
    }

    fn exists(&mut self, category: &[u8], key: &[u8]) -> Result<bool> {
        self.inner.exists(category, key)
    }

    fn scan(&mut self, range: &Range, reverse: bool, limit: u32) -> Result<Rows> {
        self.inner.scan(range, reverse, limit)
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
}
