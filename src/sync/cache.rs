//! What a set keeps in memory ([`SetCache`]) and the connection a tree
//! reads through ([`Port`]): the worker's store, or a read-only connection
//! on a caller's thread.
//!
//! Levels from [`CACHED_FROM`] up are loaded whole from their rows. Level
//! 1 is loaded one region (level-2 bucket) at a time. The elements of a
//! level-1 bucket are loaded when a query first descends into it, and kept
//! as one sorted array in the bucket (`kept.rs`: the query that reaches
//! the bucket has them, where a B-tree of every kept element cost a
//! fingerprint several cache misses); the elements of all sets of a job
//! are bounded by [`MAX_CACHED_ELEMENTS`].

use std::collections::{BTreeMap, BTreeSet, HashSet};
use std::ops::Bound;

use super::tree::{anchor_of, bucket_key, inconsistent, Anchor, CACHED_FROM, MAX_LEVEL};
use super::{IdKey, Summary};
use crate::backend::{Backend, Range, Reader};
use crate::error::{Error, Result};
use crate::ops::Op;
use crate::rows::Rows;

/// Most elements a job keeps in memory over all its sets (2^20: about
/// 56 MiB at about 56 bytes each with their level-1 buckets; a node's
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

/// A bucket in memory.
#[derive(Debug, Clone, Default)]
pub(super) struct Bucket {
    /// Its count and XOR.
    pub(super) summary: Summary,
    /// Level 1 only: its elements, sorted, when all of them are in memory
    /// (`kept.rs`). Kept next to the summary, so the query that reaches
    /// the bucket finds them without another lookup.
    pub(super) elements: Option<Box<[IdKey]>>,
    /// Level 1 only: the summary of the level-1 buckets of its region
    /// before it, while the region is in [`SetCache::summed`]; a prefix
    /// then adds one value instead of walking the region's buckets.
    pub(super) before: Summary,
}

/// The levels of a set kept in memory, which of their buckets changed
/// since they were last written, and the elements of some level-1
/// buckets.
#[derive(Debug, Default)]
pub(super) struct SetCache {
    /// Levels 1 to [`MAX_LEVEL`]; level 1 holds only some of its buckets
    /// (those of the loaded regions, and changed ones).
    pub(super) levels: Vec<BTreeMap<Anchor, Bucket>>,
    /// Buckets changed since they were written (level 1 included: its
    /// changes are written at commit too).
    pub(super) changed: BTreeSet<(u8, Anchor)>,
    /// Level-2 anchors whose level-1 buckets are all in memory.
    pub(super) loaded: HashSet<Anchor>,
    /// Loaded regions whose level-1 buckets' `before` sums are up to date
    /// (any change to a level-1 bucket of the region, or to the region's
    /// bounds, takes it out; the next prefix in it sums it again).
    pub(super) summed: HashSet<Anchor>,
    /// How many elements the level-1 buckets hold in memory.
    pub(super) kept: usize,
    /// The next region the idle fill reads (`fill.rs`); `None` once every
    /// region was read, or when the set is not to be filled.
    pub(super) fill: Option<Anchor>,
}

impl SetCache {
    /// Reads the cached levels' rows of a set (not its elements).
    pub(super) fn load(port: &mut Port<'_>, aggregates: &[u8]) -> Result<SetCache> {
        let mut levels = vec![BTreeMap::new(); usize::from(MAX_LEVEL)];
        let range = Range {
            category: aggregates.to_vec(),
            start: vec![CACHED_FROM],
            stop: None,
        };
        for row in port.scan(&range, false, 0)?.iter() {
            let level = row.key[0];
            let map = levels
                .get_mut(usize::from(level.wrapping_sub(1)))
                .filter(|_| level >= CACHED_FROM)
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

    /// The writes that store the changed buckets; forgets the changes.
    pub(super) fn take_changes(&mut self, aggregates: &[u8]) -> Vec<Op> {
        let changed = std::mem::take(&mut self.changed);
        changed
            .into_iter()
            .map(|(level, anchor)| {
                let key = bucket_key(level, &anchor);
                match self.map(level).get(&anchor) {
                    Some(bucket) => Op::put(aggregates, key, bucket.summary.encode()),
                    None => Op::delete(aggregates, key),
                }
            })
            .collect()
    }

    pub(super) fn map(&self, level: u8) -> &BTreeMap<Anchor, Bucket> {
        &self.levels[usize::from(level - 1)]
    }

    pub(super) fn map_mut(&mut self, level: u8) -> &mut BTreeMap<Anchor, Bucket> {
        &mut self.levels[usize::from(level - 1)]
    }

    /// The region (level-2 bucket) holding `key`: the last level-2 anchor
    /// before it (or at it, when `inclusive`).
    pub(super) fn region_of(&self, key: &IdKey, inclusive: bool) -> Anchor {
        let upper = if inclusive {
            Bound::Included(Some(*key))
        } else {
            Bound::Excluded(Some(*key))
        };
        let map = self.map(CACHED_FROM);
        map.range((Bound::Unbounded, upper))
            .next_back()
            .and_then(|(a, _)| *a)
    }

    /// Where a region ends: the next level-2 anchor.
    pub(super) fn region_end(&self, region: &Anchor) -> Option<IdKey> {
        let map = self.map(CACHED_FROM);
        map.range((Bound::Excluded(*region), Bound::Unbounded))
            .next()
            .and_then(|(a, _)| *a)
    }

    /// Where the level-1 bucket at `anchor` ends (its region is loaded):
    /// the next level-1 anchor, which is at the latest the region's end.
    pub(super) fn bucket_end(&self, anchor: &Anchor) -> Option<IdKey> {
        let region = match anchor {
            Some(k) => self.region_of(k, true),
            None => None,
        };
        let next = self
            .map(1)
            .range((Bound::Excluded(*anchor), Bound::Unbounded))
            .next()
            .and_then(|(a, _)| *a);
        match (next, self.region_end(&region)) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    /// Sums the level-1 buckets of the loaded `region` into their
    /// `before` fields.
    pub(super) fn sum_region(&mut self, region: Anchor) {
        let end = self.region_end(&region);
        let upper = end.map_or(Bound::Unbounded, |e| Bound::Excluded(Some(e)));
        let mut running = Summary::default();
        for bucket in self
            .map_mut(1)
            .range_mut((Bound::Included(region), upper))
            .map(|(_, b)| b)
        {
            bucket.before = running;
            running = running.plus(&bucket.summary);
        }
        self.summed.insert(region);
    }

    /// A bucket of `level` at `anchor` changes: the sums of the region it
    /// is in (level 1) or that it bounds (level 2) are out of date.
    pub(super) fn unsum(&mut self, level: u8, anchor: &Anchor) {
        match level {
            1 => {
                let region = match anchor {
                    Some(k) => self.region_of(k, true),
                    None => None,
                };
                self.summed.remove(&region);
            }
            2 => {
                self.summed.remove(anchor);
            }
            _ => {}
        }
    }

    /// Elements of the set: the sum of the top level.
    pub(super) fn len(&self) -> u64 {
        self.map(MAX_LEVEL).values().map(|b| b.summary.count).sum()
    }
}
