//! Level 1 in memory, one region at a time.
//!
//! A *region* is a level-2 bucket: the level-1 buckets anchored from its
//! anchor up to the next level-2 anchor (about 16). A loaded region keeps
//! them in one sorted array ([`Region`]) inside its level-2 bucket
//! ([`Bucket::region`]), so a query that has found the level-2 bucket
//! holding a key reaches that key's level-1 bucket without another search
//! from a root: a binary search over a few cache lines. (They were one
//! B-tree of about n/16 buckets, several MiB: its search from the root was
//! most of a fingerprint once the elements were in memory.)
//!
//! Rule: a level-1 bucket is in memory only within a loaded region, and a
//! level-1 bucket is changed only after its region is loaded; so a region
//! not loaded has nothing in memory, and loading it reads its rows as they
//! are. A level-2 split cuts a loaded region in two; a level-2 merge joins
//! two loaded regions. An empty head region has no level-2 bucket: it is
//! loaded and empty.

use std::ops::Bound;

use super::cache::{Bucket, SetCache};
use super::tree::{anchor_of, bucket_key, inconsistent, Anchor, Tree, CACHED_FROM};
use super::{IdKey, Summary};
use crate::backend::Range;
use crate::error::Result;

/// A level-1 bucket in memory.
#[derive(Debug, Clone, Default)]
pub(super) struct Leaf {
    /// Its count and XOR.
    pub(super) summary: Summary,
    /// Its elements, sorted, when all of them are in memory (`kept.rs`).
    /// Kept next to the summary, so the query that reaches the bucket
    /// finds them without another lookup.
    pub(super) elements: Option<Box<[IdKey]>>,
    /// The summary of the region's buckets before it, while the region is
    /// [`Region::summed`]: a prefix adds this one value instead of walking
    /// them.
    pub(super) before: Summary,
    /// Changed since it was written (listed in `SetCache::changed`).
    pub(super) dirty: bool,
}

/// The level-1 buckets of a loaded region, sorted by anchor.
#[derive(Debug, Clone, Default)]
pub(super) struct Region {
    /// The buckets and their anchors (the region's own anchor first, when
    /// it has a bucket).
    pub(super) leaves: Vec<(Anchor, Leaf)>,
    /// Whether every leaf's `before` is up to date; any change to the
    /// leaves or to the region's bounds clears it, and the next prefix
    /// in the region sums it again.
    pub(super) summed: bool,
}

/// The empty head region, for a set whose head level-2 bucket is empty.
static EMPTY: Region = Region {
    leaves: Vec::new(),
    summed: true,
};

impl Region {
    fn find(&self, anchor: &Anchor) -> std::result::Result<usize, usize> {
        self.leaves.binary_search_by(|(a, _)| a.cmp(anchor))
    }

    /// The last leaf anchored before `key` (or at it, when `inclusive`).
    pub(super) fn before(&self, key: &IdKey, inclusive: bool) -> Option<&(Anchor, Leaf)> {
        let at = self.leaves.partition_point(|(a, _)| match a {
            None => true,
            Some(a) if inclusive => a <= key,
            Some(a) => a < key,
        });
        at.checked_sub(1).map(|i| &self.leaves[i])
    }

    /// Sums the leaves into their `before` fields.
    pub(super) fn sum(&mut self) {
        let mut running = Summary::default();
        for (_, leaf) in &mut self.leaves {
            leaf.before = running;
            running = running.plus(&leaf.summary);
        }
        self.summed = true;
    }
}

impl SetCache {
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

    /// The region holding the level-1 bucket at `anchor`.
    pub(super) fn region_holding(&self, anchor: &Anchor) -> Anchor {
        anchor.and_then(|k| self.region_of(&k, true))
    }

    /// Where a region ends: the next level-2 anchor.
    pub(super) fn region_end(&self, region: &Anchor) -> Option<IdKey> {
        let map = self.map(CACHED_FROM);
        map.range((Bound::Excluded(*region), Bound::Unbounded))
            .next()
            .and_then(|(a, _)| *a)
    }

    /// The region at `anchor`, when it is loaded.
    pub(super) fn region(&self, anchor: &Anchor) -> Option<&Region> {
        match self.map(CACHED_FROM).get(anchor) {
            Some(bucket) => bucket.region.as_ref(),
            None if anchor.is_none() => Some(&EMPTY),
            None => None,
        }
    }

    /// The region at `anchor`, which must be loaded (an empty head gets a
    /// bucket).
    pub(super) fn region_mut(&mut self, anchor: &Anchor) -> Result<&mut Region> {
        let map = self.map_mut(CACHED_FROM);
        if anchor.is_none() && !map.contains_key(&None) {
            map.entry(None).or_default().region = Some(Region::default());
        }
        map.get_mut(anchor)
            .ok_or_else(|| inconsistent("a region has no level-2 bucket"))?
            .region
            .as_mut()
            .ok_or_else(|| inconsistent("a level-1 bucket changes in a region not loaded"))
    }

    /// Removes the bucket of `level` (≥ 2) at `anchor`, with its region's
    /// kept elements.
    pub(super) fn remove_bucket(&mut self, level: u8, anchor: &Anchor) {
        if let Some(Bucket {
            region: Some(gone), ..
        }) = self.map_mut(level).remove(anchor)
        {
            let elements = gone
                .leaves
                .iter()
                .map(|(_, l)| l.elements.as_ref().map_or(0, |e| e.len()));
            self.kept -= elements.sum::<usize>();
        }
    }

    /// Installs the leaves read from a region's rows.
    pub(super) fn set_region(
        &mut self,
        anchor: &Anchor,
        leaves: Vec<(Anchor, Leaf)>,
    ) -> Result<()> {
        let region = Some(Region {
            leaves,
            summed: false,
        });
        match self.map_mut(CACHED_FROM).get_mut(anchor) {
            Some(bucket) => bucket.region = region,
            None if anchor.is_none() => {
                self.map_mut(CACHED_FROM).entry(None).or_default().region = region
            }
            None => return Err(inconsistent("a region has no level-2 bucket")),
        }
        Ok(())
    }

    /// The level-1 bucket at `anchor`, when its region is loaded.
    pub(super) fn leaf(&self, anchor: &Anchor) -> Option<&Leaf> {
        let region = self.region(&self.region_holding(anchor))?;
        region.find(anchor).ok().map(|i| &region.leaves[i].1)
    }

    /// The level-1 bucket at `anchor`, when its region is loaded.
    pub(super) fn leaf_mut(&mut self, anchor: &Anchor) -> Option<&mut Leaf> {
        let holding = self.region_holding(anchor);
        let region = self
            .map_mut(CACHED_FROM)
            .get_mut(&holding)?
            .region
            .as_mut()?;
        let at = region.find(anchor).ok()?;
        Some(&mut region.leaves[at].1)
    }

    /// Sets the summary of the level-1 bucket at `anchor` (added if
    /// absent; its region must be loaded). Tells whether the bucket was
    /// not dirty yet (it is now).
    pub(super) fn put_leaf(&mut self, anchor: Anchor, summary: Summary) -> Result<bool> {
        let holding = self.region_holding(&anchor);
        let region = self.region_mut(&holding)?;
        region.summed = false;
        let at = match region.find(&anchor) {
            Ok(at) => at,
            Err(at) => {
                region.leaves.insert(at, (anchor, Leaf::default()));
                at
            }
        };
        let leaf = &mut region.leaves[at].1;
        leaf.summary = summary;
        Ok(!std::mem::replace(&mut leaf.dirty, true))
    }

    /// Removes the level-1 bucket at `anchor`, and its kept elements; its
    /// region must be loaded.
    pub(super) fn remove_leaf(&mut self, anchor: &Anchor) -> Result<()> {
        let holding = self.region_holding(anchor);
        if holding.is_none() && !self.map(CACHED_FROM).contains_key(&None) {
            // An empty head region: nothing to remove.
            return Ok(());
        }
        let region = self.region_mut(&holding)?;
        if let Ok(at) = region.find(anchor) {
            let (_, gone) = region.leaves.remove(at);
            region.summed = false;
            self.kept -= gone.elements.map_or(0, |e| e.len());
        }
        Ok(())
    }

    /// Moves the leaves from `at` on of the loaded region at `from` into
    /// the region at `to`, which they replace:
    /// - a level-2 bucket was just added at `at`, after `from`: `to` is
    ///   `Some(at)`;
    /// - after a prune at `at`, of the region that held it: `to` is the
    ///   head (`None`), and the regions before `at` go with their level-2
    ///   buckets.
    pub(super) fn move_leaves(&mut self, from: &Anchor, at: &IdKey, to: &Anchor) -> Result<()> {
        let region = self.region_mut(from)?;
        let cut = region
            .leaves
            .partition_point(|(a, _)| a.is_none_or(|a| a < *at));
        let tail = region.leaves.split_off(cut);
        region.summed = false;
        self.set_region(to, tail)
    }

    /// The level-2 bucket at `at` is about to go, joining `holder`: its
    /// region joins the holder's (both loaded).
    pub(super) fn merge_region(&mut self, holder: &Anchor, at: &IdKey) -> Result<()> {
        let gone = self
            .map_mut(CACHED_FROM)
            .get_mut(&Some(*at))
            .and_then(|b| b.region.take())
            .ok_or_else(|| inconsistent("a level-2 merge of a region not loaded"))?;
        let region = self.region_mut(holder)?;
        region.leaves.extend(gone.leaves);
        region.summed = false;
        Ok(())
    }

    /// Where the level-1 bucket at `anchor` ends (its region is loaded):
    /// the next level-1 anchor, or the region's end.
    pub(super) fn bucket_end(&self, anchor: &Anchor) -> Option<IdKey> {
        let holding = self.region_holding(anchor);
        let next = self.region(&holding).and_then(|region| {
            let at = region.leaves.partition_point(|(a, _)| a <= anchor);
            region.leaves.get(at).and_then(|(a, _)| *a)
        });
        next.or_else(|| self.region_end(&holding))
    }

    /// Every loaded region's leaves (to forget their elements).
    pub(super) fn leaves_mut(&mut self) -> impl Iterator<Item = &mut Leaf> {
        self.map_mut(CACHED_FROM)
            .values_mut()
            .filter_map(|b: &mut Bucket| b.region.as_mut())
            .flat_map(|r| r.leaves.iter_mut().map(|(_, l)| l))
    }
}

impl Tree<'_> {
    /// [`Tree::walk`] at level 1: region by region, each read into memory
    /// when first used.
    pub(super) fn walk_regions(
        &mut self,
        from: Anchor,
        stop: Option<&IdKey>,
        mut visit: impl FnMut(Anchor, &Summary) -> bool,
    ) -> Result<()> {
        let mut region = self.cache.region_holding(&from);
        loop {
            self.load_region(region)?;
            let end = self.cache.region_end(&region);
            let leaves = self.cache.region(&region).map_or(&[][..], |r| &r.leaves);
            for (anchor, leaf) in leaves {
                if *anchor < from {
                    continue;
                }
                if stop.is_some_and(|s| anchor.is_some_and(|a| a >= *s)) {
                    return Ok(());
                }
                if !visit(*anchor, &leaf.summary) {
                    return Ok(());
                }
            }
            match end {
                Some(e) if stop.is_none_or(|s| e < *s) => region = Some(e),
                _ => return Ok(()),
            }
        }
    }

    /// Reads the level-1 buckets of a region into memory, once. (A region
    /// not loaded has no level-1 bucket in memory, changed or not: see
    /// `region.rs`.)
    pub(super) fn load_region(&mut self, region: Anchor) -> Result<()> {
        if self.cache.region(&region).is_some() {
            return Ok(());
        }
        let end = self.cache.region_end(&region);
        let range = Range {
            category: self.aggregates.to_vec(),
            start: bucket_key(1, &region),
            stop: Some(end.map_or_else(|| vec![2], |e| bucket_key(1, &Some(e)))),
        };
        let rows = self.port.scan(&range, false, 0)?;
        let leaves = rows
            .iter()
            .map(|row| {
                let leaf = Leaf {
                    summary: Summary::decode(row.payload)?,
                    ..Leaf::default()
                };
                Ok((anchor_of(&row.key[1..])?, leaf))
            })
            .collect::<Result<Vec<_>>>()?;
        self.cache.set_region(&region, leaves)
    }
}
