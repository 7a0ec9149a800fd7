//! What a set keeps in memory ([`SetCache`]) and the connection a tree
//! reads through ([`Port`]): the worker's store, or a read-only connection
//! on a caller's thread.
//!
//! Levels from [`CACHED_FROM`] up are loaded whole from their rows. Level
//! 1 is loaded one region (level-2 bucket) at a time, into that bucket
//! (`region.rs`). The elements of a
//! level-1 bucket are loaded when a query first descends into it, and kept
//! as one sorted array in the bucket (`kept.rs`: the query that reaches
//! the bucket has them, where a B-tree of every kept element cost a
//! fingerprint several cache misses); the elements of all sets of a job
//! are bounded by [`MAX_CACHED_ELEMENTS`].

use std::collections::BTreeMap;

use super::region::Region;
use super::tree::{anchor_of, bucket_key, inconsistent, Anchor, CACHED_FROM, MAX_LEVEL};
use super::Summary;
use crate::backend::{Backend, Range, Reader};
use crate::error::{Error, Result};
use crate::ops::Op;
use crate::rows::Rows;

/// Most elements a job keeps in memory over all its sets (2^20: about
/// 52 MiB at about 52 bytes each with their level-1 buckets; a node's
/// in-memory array of 10^6 ids takes 38 MiB); past it, every set forgets
/// its elements (the levels stay), and the sets are filled only while all
/// of them fit.
pub(super) const MAX_CACHED_ELEMENTS: usize = 1 << 20;

/// Where a tree reads (and, on the worker, writes) its rows.
pub(super) enum Port<'a> {
    /// The worker's store, inside its transaction.
    Worker(&'a mut dyn Backend),
    /// A read-only connection to the committed data.
    Reader(&'a mut dyn Reader),
}

impl Port<'_> {
    /// The same connection, borrowed again.
    pub(super) fn reborrow(&mut self) -> Port<'_> {
        match self {
            Port::Worker(b) => Port::Worker(&mut **b),
            Port::Reader(r) => Port::Reader(&mut **r),
        }
    }

    pub(super) fn scan(&mut self, range: &Range, reverse: bool, limit: u32) -> Result<Rows> {
        match self {
            Port::Worker(b) => b.scan(range, reverse, limit),
            Port::Reader(r) => r.scan(range, reverse, limit),
        }
    }

    pub(super) fn exists(&mut self, category: &[u8], key: &[u8]) -> Result<bool> {
        match self {
            Port::Worker(b) => b.exists(category, key),
            Port::Reader(r) => r.exists(category, key),
        }
    }

    pub(super) fn apply(&mut self, ops: &[Op]) -> Result<()> {
        self.store()?.apply(ops)
    }

    /// Adds an element's row unless it is there; tells whether it was not.
    pub(super) fn put_new(&mut self, category: &[u8], key: &[u8]) -> Result<bool> {
        self.store()?.put_new(category, key, &[])
    }

    /// Deletes an element's row; tells whether it was there.
    pub(super) fn delete_acked(&mut self, category: &[u8], key: &[u8]) -> Result<bool> {
        self.store()?.delete_acked(category, key)
    }

    fn store(&mut self) -> Result<&mut dyn Backend> {
        match self {
            Port::Worker(b) => Ok(&mut **b),
            Port::Reader(_) => Err(Error::internal("a sync write on a read-only connection")),
        }
    }
}

/// A bucket of level 2 or above in memory.
#[derive(Debug, Clone, Default)]
pub(super) struct Bucket {
    /// Its count and XOR.
    pub(super) summary: Summary,
    /// Level 2 only: its region's level-1 buckets, once loaded
    /// (`region.rs`).
    pub(super) region: Option<Region>,
    /// Changed since it was written (listed in `SetCache::changed`).
    pub(super) dirty: bool,
}

/// The levels of a set kept in memory, which of their buckets changed
/// since they were last written, and the elements of some level-1
/// buckets.
#[derive(Debug, Default)]
pub(super) struct SetCache {
    /// Levels [`CACHED_FROM`] to [`MAX_LEVEL`]; level 1 lives in the
    /// loaded regions of level 2.
    pub(super) levels: Vec<BTreeMap<Anchor, Bucket>>,
    /// Buckets changed since they were written (level 1 included: its
    /// changes are written at commit too). A bucket in memory is listed
    /// once, when its `dirty` flag is first set (a flag is cheaper than a
    /// set's search on every change of every level); a removed one each
    /// time it goes.
    changed: Vec<(u8, Anchor)>,
    /// How many elements the level-1 buckets hold in memory.
    pub(super) kept: usize,
    /// The next region the idle fill reads (`fill.rs`); `None` once every
    /// region was read, or when the set is not to be filled.
    pub(super) fill: Option<Anchor>,
}

impl SetCache {
    /// Reads the cached levels' rows of a set (not its elements).
    pub(super) fn load(port: &mut Port<'_>, aggregates: &[u8]) -> Result<SetCache> {
        let mut levels = vec![BTreeMap::new(); usize::from(MAX_LEVEL - CACHED_FROM + 1)];
        let range = Range {
            category: aggregates.to_vec(),
            start: vec![CACHED_FROM],
            stop: None,
        };
        for row in port.scan(&range, false, 0)?.iter() {
            let level = row.key[0];
            let map = levels
                .get_mut(usize::from(level.wrapping_sub(CACHED_FROM)))
                .ok_or_else(|| inconsistent("an aggregate row of an unknown level"))?;
            let summary = Summary::decode(row.payload)?;
            map.insert(
                anchor_of(&row.key[1..])?,
                Bucket {
                    summary,
                    ..Bucket::default()
                },
            );
        }
        Ok(SetCache {
            levels,
            fill: Some(None),
            ..SetCache::default()
        })
    }

    /// Records that the bucket of `level` at `anchor` changed (a bucket
    /// in memory: when its `dirty` flag was not set yet; a removed one:
    /// always).
    pub(super) fn mark_changed(&mut self, level: u8, anchor: Anchor) {
        self.changed.push((level, anchor));
    }

    /// The writes that store the changed buckets, each once, in key order;
    /// forgets the changes.
    pub(super) fn take_changes(&mut self, aggregates: &[u8]) -> Vec<Op> {
        let mut changed = std::mem::take(&mut self.changed);
        // A bucket removed and added again is listed twice.
        changed.sort_unstable();
        changed.dedup();
        changed
            .into_iter()
            .map(|(level, anchor)| {
                let key = bucket_key(level, &anchor);
                let summary = if level < CACHED_FROM {
                    self.leaf_mut(&anchor).map(|leaf| {
                        leaf.dirty = false;
                        leaf.summary
                    })
                } else {
                    self.map_mut(level).get_mut(&anchor).map(|bucket| {
                        bucket.dirty = false;
                        bucket.summary
                    })
                };
                match summary {
                    Some(summary) => Op::put(aggregates, key, summary.encode()),
                    None => Op::delete(aggregates, key),
                }
            })
            .collect()
    }

    /// The buckets of `level` (≥ [`CACHED_FROM`]).
    pub(super) fn map(&self, level: u8) -> &BTreeMap<Anchor, Bucket> {
        &self.levels[usize::from(level - CACHED_FROM)]
    }

    /// The buckets of `level` (≥ [`CACHED_FROM`]).
    pub(super) fn map_mut(&mut self, level: u8) -> &mut BTreeMap<Anchor, Bucket> {
        &mut self.levels[usize::from(level - CACHED_FROM)]
    }

    /// Elements of the set: the sum of the top level.
    pub(super) fn len(&self) -> u64 {
        self.map(MAX_LEVEL).values().map(|b| b.summary.count).sum()
    }
}
