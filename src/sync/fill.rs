//! Filling a set's memory while the worker has nothing else to do: region
//! by region (a level-2 bucket, about 256 elements), its level-1 buckets
//! and the elements of each, so that a long-running job answers every
//! fingerprint from memory, as the node's in-memory array does, without
//! reading the whole set when it opens. Each step reads one region's
//! elements in one statement; the worker queues its steps behind the
//! requests already waiting (`Request::SyncFill`), so they never hold a
//! request up by more than one step.

use super::cache::{Port, MAX_CACHED_ELEMENTS};
use super::index::Sets;
use super::tree::{Anchor, Tree};
use super::IdKey;
use crate::backend::Range;
use crate::error::Result;

/// Regions (about 256 elements each) one fill step reads: one, so a
/// caller waiting for the memory waits for one region's read at most.
const FILL_REGIONS: usize = 1;

impl Sets {
    /// Whether a set's memory is still to be filled: one is not whole yet,
    /// and every set in memory fits within [`MAX_CACHED_ELEMENTS`].
    pub(super) fn wants_fill(&self) -> bool {
        self.sets.values().any(|s| s.cache.fill.is_some()) && {
            let total: u64 = self.sets.values().map(|s| s.cache.len()).sum();
            total <= MAX_CACHED_ELEMENTS as u64
        }
    }

    /// Reads the next [`FILL_REGIONS`] regions of a set still to be
    /// filled.
    pub(super) fn fill_step(&mut self, port: &mut Port<'_>) -> Result<()> {
        if !self.wants_fill() {
            return Ok(());
        }
        let next = self.sets.iter().find(|(_, s)| s.cache.fill.is_some());
        let Some(set) = next.map(|(name, _)| name.clone()) else {
            return Ok(());
        };
        let mut tree = self.tree(port.reborrow(), &set)?;
        for _ in 0..FILL_REGIONS {
            let Some(region) = tree.cache.fill else {
                break;
            };
            tree.cache.fill = tree.fill_region(region)?;
        }
        Ok(())
    }
}

impl Tree<'_> {
    /// Reads the level-1 buckets of `region` and the elements of those not
    /// yet in memory; returns the next region, `None` after the last.
    pub(super) fn fill_region(&mut self, region: Anchor) -> Result<Option<Anchor>> {
        self.load_region(region)?;
        let end = self.cache.region_end(&region);
        let whole = self
            .cache
            .region(&region)
            .is_none_or(|r| r.leaves.iter().all(|(_, leaf)| leaf.elements.is_some()));
        if !whole {
            let range = Range {
                category: self.elements.to_vec(),
                start: region.map_or_else(Vec::new, |k| k.to_vec()),
                stop: end.map(|e| e.to_vec()),
            };
            let rows = self.port.scan(&range, false, 0)?;
            let keys: Vec<IdKey> = rows
                .iter()
                .map(|r| super::tree::id_key(r.key))
                .collect::<Result<_>>()?;
            // The region's elements (in key order, as the rows are), cut
            // at its level-1 anchors, for the buckets not yet kept.
            let leaves = &mut self.cache.region_mut(&region)?.leaves;
            let mut added = 0;
            for i in 0..leaves.len() {
                let from = leaves[i].0.map_or(0, |k| keys.partition_point(|x| *x < k));
                let to = leaves.get(i + 1).and_then(|(a, _)| *a);
                let to = to.map_or(keys.len(), |k| keys.partition_point(|x| *x < k));
                let leaf = &mut leaves[i].1;
                if leaf.elements.is_none() {
                    added += to - from;
                    leaf.elements = Some(keys[from..to].into());
                }
            }
            self.cache.kept += added;
        }
        if self.cache.region(&region).is_some_and(|r| !r.summed) {
            self.cache.region_mut(&region)?.sum();
        }
        Ok(end.map(Some))
    }
}
