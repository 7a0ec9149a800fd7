//! The elements a set keeps in memory: for some level-1 buckets, all of
//! their elements, sorted, in the bucket itself ([`Leaf::elements`](super::region::Leaf::elements)).
//! Adds and removes keep them exact; [`SetCache::kept`] counts them for
//! the job's bound.

use super::cache::SetCache;
use super::tree::Anchor;
use super::IdKey;

impl SetCache {
    /// The elements of the level-1 bucket at `anchor`, sorted, when they
    /// are in memory. An empty head has no bucket: once its region is
    /// loaded, it is known to hold nothing.
    pub(super) fn kept_bucket(&self, anchor: &Anchor) -> Option<&[IdKey]> {
        if self.kept == 0 && anchor.is_some() {
            // Nothing in memory (a bucket's elements are never kept as an
            // empty array: a bucket has at least its anchor): no lookup.
            return None;
        }
        match self.leaf(anchor) {
            Some(leaf) => leaf.elements.as_deref(),
            None if anchor.is_none() && self.region(&None).is_some() => Some(&[]),
            None => None,
        }
    }

    /// Keeps the elements (sorted, all of them) of the level-1 bucket at
    /// `anchor`, which is in memory (an empty head is not: nothing to
    /// keep).
    pub(super) fn keep_bucket(&mut self, anchor: Anchor, elements: Vec<IdKey>) {
        let added = elements.len();
        if let Some(bucket) = self.leaf_mut(&anchor) {
            let old = bucket.elements.replace(elements.into_boxed_slice());
            let removed = old.map_or(0, |o| o.len());
            self.kept = self.kept + added - removed;
        }
    }

    /// Records an element added to the level-1 bucket at `bucket`, if that
    /// bucket's elements are kept. When the element `anchors` a level-1
    /// bucket of its own (already in memory), the kept elements from it on
    /// become that bucket's.
    pub(super) fn kept_insert(&mut self, bucket: &Anchor, key: IdKey, anchors: bool) {
        if self.kept == 0 {
            // No bucket's elements are in memory: no lookup.
            return;
        }
        let Some(holder) = self.leaf_mut(bucket) else {
            return;
        };
        let Some(elements) = holder.elements.take() else {
            return;
        };
        let mut elements = elements.into_vec();
        let at = elements.partition_point(|k| *k < key);
        let new = elements.get(at) != Some(&key);
        if new {
            elements.insert(at, key);
        }
        let own = if new && anchors {
            elements.split_off(at)
        } else {
            Vec::new()
        };
        holder.elements = Some(elements.into_boxed_slice());
        self.kept += usize::from(new);
        if !own.is_empty() {
            let moved = own.len();
            match self.leaf_mut(&Some(key)) {
                Some(started) => started.elements = Some(own.into_boxed_slice()),
                None => self.kept -= moved,
            }
        }
    }

    /// Takes the kept elements of the level-1 bucket at `anchor` out of
    /// memory (before the bucket goes).
    pub(super) fn take_kept(&mut self, anchor: &Anchor) -> Option<Box<[IdKey]>> {
        let taken = self.leaf_mut(anchor)?.elements.take()?;
        self.kept -= taken.len();
        Some(taken)
    }

    /// Records the removal of `key`, which anchored its own level-1 bucket
    /// (whose kept elements, `own`, were taken before the bucket went):
    /// that bucket has joined the one at `previous`, which stays kept only
    /// if both were.
    pub(super) fn kept_merge(&mut self, previous: &Anchor, own: Option<Box<[IdKey]>>, key: &IdKey) {
        let Some(before) = self.leaf_mut(previous) else {
            return;
        };
        let Some(kept) = before.elements.take() else {
            return;
        };
        // `before` gives its elements back only when `own` was kept too.
        let (added, removed) = match own {
            Some(own) => {
                let counted = kept.len();
                let mut merged = kept.into_vec();
                merged.extend(own.iter().filter(|k| *k != key));
                let added = merged.len() - counted;
                before.elements = Some(merged.into_boxed_slice());
                (added, 0)
            }
            None => (0, kept.len()),
        };
        self.kept = self.kept + added - removed;
    }

    /// Records the removal of `key` from the level-1 bucket at `bucket`
    /// (which it did not anchor).
    pub(super) fn kept_remove(&mut self, bucket: &Anchor, key: &IdKey) {
        let Some(holder) = self.leaf_mut(bucket) else {
            return;
        };
        let Some(elements) = holder.elements.take() else {
            return;
        };
        let mut elements = elements.into_vec();
        let removed = match elements.binary_search(key) {
            Ok(at) => {
                elements.remove(at);
                true
            }
            Err(_) => false,
        };
        holder.elements = Some(elements.into_boxed_slice());
        self.kept -= usize::from(removed);
    }

    /// Forgets every element in memory; the fill starts again from the
    /// first region.
    pub(super) fn forget_elements(&mut self) {
        for leaf in self.leaves_mut() {
            leaf.elements = None;
        }
        self.kept = 0;
        self.fill = Some(None);
    }

    /// How many elements are in memory.
    pub(super) fn kept_len(&self) -> usize {
        self.kept
    }
}
