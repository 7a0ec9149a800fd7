//! The aggregate tree of one set, in terms of the storage port only.
//!
//! Elements are rows of the set's elements category (key: the 40-byte id
//! key, empty payload). Every element has a level, 0 to [`MAX_LEVEL`],
//! drawn from a hash of its key (a level-L element occurs with odds
//! 16^-L). An element of level ≥ L is an *anchor* of level L; a level-L
//! *bucket* covers the elements from its anchor up to the next level-L
//! anchor, and the *head* bucket (anchor `None`) those before the first.
//! Each bucket of levels 1 to [`MAX_LEVEL`] is a row of the aggregates
//! category (key: the level byte, then the anchor key; empty for the head)
//! holding its count and XOR. A level-L bucket is the union of about 16
//! level-(L−1) buckets, so a prefix aggregate descends the levels reading
//! about 16 buckets at each: O(log n) rows. Levels from [`CACHED_FROM`]
//! up live in memory too ([`SetCache`]), loaded from their rows (about
//! n/256 of them). Level 1 is read into memory one level-2 bucket (a
//! *region*) at a time, when first used, into that bucket (`region.rs`);
//! the elements of a level-1 bucket when a query first descends into it.
//! Changed buckets of every level are written back at commit.

use std::ops::Bound;

use super::cache::{Bucket, Port, SetCache};
use super::{IdKey, Summary, ID_KEY_LEN};
use crate::backend::Range;
use crate::error::{Error, Result};
use crate::ops::Op;

/// The highest level: 16^6 ≈ 1.7·10^7, so the top level holds a few
/// buckets up to about 10^8 elements.
pub(super) const MAX_LEVEL: u8 = 6;

/// The lowest level kept in memory.
pub(super) const CACHED_FROM: u8 = 2;

/// Elements read per statement when walking them.
const CHUNK: u32 = 32;

/// A bucket's anchor: `None` for the head bucket.
pub(super) type Anchor = Option<IdKey>;

/// The level of an element: a fixed mix of its key (time and hash), so
/// levels stay random even for equal hashes or equal times.
pub(super) fn level_of(key: &IdKey) -> u8 {
    let mut x = 0u64;
    for chunk in key.chunks(8) {
        let mut word = [0u8; 8];
        word.copy_from_slice(chunk);
        x = (x ^ u64::from_le_bytes(word)).rotate_left(23);
        x = x.wrapping_mul(0x9e37_79b9_7f4a_7c15);
    }
    x ^= x >> 30;
    x = x.wrapping_mul(0xbf58_476d_1ce4_e5b9);
    x ^= x >> 27;
    x = x.wrapping_mul(0x94d0_49bb_1331_11eb);
    x ^= x >> 31;
    ((x.leading_zeros() / 4) as u8).min(MAX_LEVEL)
}

fn anchor_level(anchor: &Anchor) -> u8 {
    anchor.as_ref().map_or(MAX_LEVEL + 1, level_of)
}

pub(super) fn inconsistent(what: &str) -> Error {
    Error::internal(format!("sync index inconsistent: {what}"))
}

pub(super) fn id_key(bytes: &[u8]) -> Result<IdKey> {
    bytes
        .try_into()
        .map(IdKey)
        .map_err(|_| inconsistent("an element key has the wrong length"))
}

pub(super) fn anchor_of(bytes: &[u8]) -> Result<Anchor> {
    if bytes.is_empty() {
        Ok(None)
    } else {
        id_key(bytes).map(Some)
    }
}

fn hash_of(key: &IdKey) -> [u8; 32] {
    let mut hash = [0u8; 32];
    hash.copy_from_slice(&key[8..]);
    hash
}

/// The stored key of a bucket.
pub(super) fn bucket_key(level: u8, anchor: &Anchor) -> Vec<u8> {
    let mut key = Vec::with_capacity(1 + ID_KEY_LEN);
    key.push(level);
    if let Some(a) = anchor {
        key.extend_from_slice(&a.0);
    }
    key
}

/// One set's tree over a backend.
pub(super) struct Tree<'a> {
    pub(super) port: Port<'a>,
    pub(super) cache: &'a mut SetCache,
    pub(super) elements: &'a [u8],
    pub(super) aggregates: &'a [u8],
}

impl Tree<'_> {
    /// Visits the buckets of `level` (level 0: the elements) whose anchors
    /// are in `[from, stop)`, in order, while `visit` returns true.
    fn walk(
        &mut self,
        level: u8,
        from: Anchor,
        stop: Option<&IdKey>,
        mut visit: impl FnMut(Anchor, &Summary) -> bool,
    ) -> Result<()> {
        if level == 1 {
            return self.walk_regions(from, stop, visit);
        }
        if level >= CACHED_FROM {
            let upper = stop.map_or(Bound::Unbounded, |s| Bound::Excluded(Some(*s)));
            for (anchor, bucket) in self.cache.map(level).range((Bound::Included(from), upper)) {
                if !visit(*anchor, &bucket.summary) {
                    break;
                }
            }
            return Ok(());
        }
        let mut range = Range {
            category: self.elements.to_vec(),
            start: from.map_or_else(Vec::new, |k| k.to_vec()),
            stop: stop.map(|s| s.to_vec()),
        };
        loop {
            let rows = self.port.scan(&range, false, CHUNK)?;
            for row in rows.iter() {
                let key = id_key(row.key)?;
                if !visit(Some(key), &Summary::one(&hash_of(&key))) {
                    return Ok(());
                }
            }
            match rows.last() {
                Some(last) if rows.has_more() => {
                    range.start = [last.key, &[0]].concat();
                }
                _ => return Ok(()),
            }
        }
    }

    /// The last bucket of `level` (≥ 1) whose anchor is before `key`: the
    /// one holding `key`; the head (perhaps empty) when there is none.
    fn before(&mut self, level: u8, key: &IdKey) -> Result<(Anchor, Summary)> {
        if level == 1 {
            return self.leaf_before(key, false);
        }
        let found = self.cache.map(level).range(..Some(*key)).next_back();
        Ok(found.map_or((None, Summary::default()), |(a, b)| (*a, b.summary)))
    }

    /// The bucket of `level` (≥ 1) anchored at `key`.
    fn bucket(&mut self, level: u8, key: &IdKey) -> Result<Summary> {
        let found = if level == 1 {
            self.load_region(self.cache.region_of(key, true))?;
            self.cache.leaf(&Some(*key)).map(|l| l.summary)
        } else {
            self.cache.map(level).get(&Some(*key)).map(|b| b.summary)
        };
        found.ok_or_else(|| inconsistent("an anchor has no bucket"))
    }

    /// Stores a bucket of `level` (≥ 1); an empty head is removed. `None`
    /// removes the bucket.
    /// The change is written at commit (`SetCache::take_changes`), once
    /// per bucket however often it changed: the bucket is listed when its
    /// `dirty` flag is first set.
    fn store(&mut self, level: u8, anchor: Anchor, summary: Option<Summary>) -> Result<()> {
        let summary = summary.filter(|s| anchor.is_some() || s.count > 0);
        let listed = match summary {
            // Its region was loaded to find the bucket.
            Some(s) if level == 1 => !self.cache.put_leaf(anchor, s)?,
            Some(s) => {
                let bucket = self.cache.map_mut(level).entry(anchor).or_default();
                bucket.summary = s;
                std::mem::replace(&mut bucket.dirty, true)
            }
            None if level == 1 => {
                self.cache.remove_leaf(&anchor)?;
                false
            }
            None => {
                self.cache.remove_bucket(level, &anchor);
                false
            }
        };
        if !listed {
            self.cache.mark_changed(level, anchor);
        }
        Ok(())
    }

    /// Reads the elements of the level-1 bucket at `from` (an anchor of
    /// level 1 or the head) into memory, once.
    fn load_bucket(&mut self, from: &Anchor) -> Result<()> {
        self.load_region(self.cache.region_holding(from))?;
        let end = self.cache.bucket_end(from);
        if self.cache.kept_bucket(from).is_none() {
            let range = Range {
                category: self.elements.to_vec(),
                start: from.map_or_else(Vec::new, |k| k.to_vec()),
                stop: end.map(|e| e.to_vec()),
            };
            let rows = self.port.scan(&range, false, 0)?;
            // All or nothing: memory holds the elements of whole buckets
            // only.
            let keys: Vec<IdKey> = rows.iter().map(|r| id_key(r.key)).collect::<Result<_>>()?;
            self.cache.keep_bucket(*from, keys);
        }
        Ok(())
    }

    /// Visits the elements of the level-1 bucket at `from` (an anchor of
    /// level 1 or the head), in order, while `visit` returns true; the
    /// bucket's elements are read into memory the first time.
    fn walk_bucket(
        &mut self,
        from: Anchor,
        mut visit: impl FnMut(Anchor, &Summary) -> bool,
    ) -> Result<()> {
        self.load_bucket(&from)?;
        let elements = self.cache.kept_bucket(&from).unwrap_or_default();
        for key in elements {
            if !visit(Some(*key), &Summary::one(&hash_of(key))) {
                break;
            }
        }
        Ok(())
    }

    /// The summary of every element before `key`.
    ///
    /// The hot path of every fingerprint, so it searches each in-memory
    /// map once (from the anchor the level above chose, stopping at
    /// `key`) rather than through [`Tree::walk`]: at each level the
    /// buckets anchored from `from` up to `key` are all but the last
    /// added, and the last is descended into. The level-2 bucket chosen
    /// is the region that holds `key`, so level 1 is read from that one
    /// region, and the level-1 bucket chosen holds `key`.
    pub(super) fn prefix(&mut self, key: &IdKey) -> Result<Summary> {
        let mut acc = Summary::default();
        let mut from: Anchor = None;
        let mut holding: Option<&Bucket> = None;
        for level in (CACHED_FROM..=MAX_LEVEL).rev() {
            let lower = from.map_or(Bound::Unbounded, |a| Bound::Included(Some(a)));
            let mut last: Option<(&Anchor, &Bucket)> = None;
            for (anchor, bucket) in self.cache.map(level).range((lower, Bound::Unbounded)) {
                if anchor.as_ref().is_some_and(|a| a >= key) {
                    break;
                }
                if let Some((_, full)) = last.replace((anchor, bucket)) {
                    acc = acc.plus(&full.summary);
                }
            }
            if let Some((anchor, _)) = last {
                from = *anchor;
            }
            if level == CACHED_FROM {
                holding = last.map(|(_, bucket)| bucket);
            }
        }
        // Level 1: `from` is the region holding `key`. The last level-1
        // bucket before `key` is in it, and its `before` sum stands for
        // the region's buckets ahead of it.
        let region = holding.and_then(|b| b.region.as_ref());
        if let Some(region) = region.filter(|r| r.summed) {
            // The common case: the region summed, the elements in memory.
            match region.before(key, false) {
                Some((_, leaf)) => {
                    if let Some(elements) = leaf.elements.as_deref() {
                        return Ok(plus_before(acc.plus(&leaf.before), elements, key));
                    }
                }
                // An empty head: nothing before `key` in the region.
                None if from.is_none() => return Ok(acc),
                None => {}
            }
        }
        self.load_region(from)?;
        if self.cache.region(&from).is_some_and(|r| !r.summed) {
            self.cache.region_mut(&from)?.sum();
        }
        let region = self.cache.region(&from);
        let leaf = region
            .and_then(|r| r.before(key, false))
            .map(|(a, l)| (*a, l.before));
        if let Some((anchor, before)) = leaf {
            acc = acc.plus(&before);
            from = anchor;
        }
        if self.cache.kept_bucket(&from).is_none() {
            self.load_bucket(&from)?;
        }
        let elements = self.cache.kept_bucket(&from).unwrap_or_default();
        Ok(plus_before(acc, elements, key))
    }

    /// Elements of the set.
    pub(super) fn len(&self) -> u64 {
        self.cache.len()
    }

    /// The element of rank `rank` (0-based) and the summary of those
    /// before it; `None` past the end.
    pub(super) fn select(&mut self, rank: u64) -> Result<Option<(IdKey, Summary)>> {
        if rank >= self.len() {
            return Ok(None);
        }
        let mut acc = Summary::default();
        let mut from: Anchor = None;
        for level in (1..=MAX_LEVEL).rev() {
            let mut chosen = None;
            self.walk(level, from, None, |anchor, summary| {
                if acc.count + summary.count > rank {
                    chosen = Some(anchor);
                    false
                } else {
                    acc = acc.plus(summary);
                    true
                }
            })?;
            from = chosen.ok_or_else(|| inconsistent("a rank is past the buckets"))?;
        }
        let mut found = None;
        self.walk_bucket(from, |anchor, summary| {
            if acc.count == rank {
                found = anchor;
                false
            } else {
                acc = acc.plus(summary);
                true
            }
        })?;
        let key = found.ok_or_else(|| inconsistent("a rank is past the elements"))?;
        Ok(Some((key, acc)))
    }

    /// Whether the set holds `key`.
    pub(super) fn contains(&mut self, key: &IdKey) -> Result<bool> {
        let bucket = self.holding_bucket(key)?;
        self.contains_in(&bucket, key)
    }

    /// Whether the set holds `key`, which would be in the level-1 bucket
    /// at `bucket`: from memory when that bucket's elements are there.
    fn contains_in(&mut self, bucket: &Anchor, key: &IdKey) -> Result<bool> {
        if let Some(elements) = self.cache.kept_bucket(bucket) {
            return Ok(elements.binary_search(key).is_ok());
        }
        self.port.exists(self.elements, &key.0)
    }

    /// The level-1 bucket that holds (or would hold) `key`: the last
    /// level-1 anchor at or before it, or the head.
    fn holding_bucket(&mut self, key: &IdKey) -> Result<Anchor> {
        Ok(self.leaf_before(key, true)?.0)
    }

    /// The last level-1 bucket anchored before `key` (or at it, when
    /// `inclusive`), with its summary, its region read first; the head
    /// (perhaps empty) when there is none.
    fn leaf_before(&mut self, key: &IdKey, inclusive: bool) -> Result<(Anchor, Summary)> {
        // The region before `key` (or at it): `key` may itself be a
        // level-2 anchor.
        let region = self.cache.region_of(key, inclusive);
        self.load_region(region)?;
        let found = self
            .cache
            .region(&region)
            .and_then(|r| r.before(key, inclusive));
        Ok(found.map_or((None, Summary::default()), |(a, l)| (*a, l.summary)))
    }

    /// Adds an element; false when it was there.
    pub(super) fn insert(&mut self, key: &IdKey) -> Result<bool> {
        let bucket = self.holding_bucket(key)?;
        // Whether it is new: from memory when its bucket is there,
        // otherwise from the store as it adds the row.
        let known = self
            .cache
            .kept_bucket(&bucket)
            .map(|elements| elements.binary_search(key).is_err());
        let new = if let Some(new) = known {
            if new {
                self.port
                    .apply(&[Op::put(self.elements, key.to_vec(), Vec::new())])?;
            }
            new
        } else {
            self.port.put_new(self.elements, &key.0)?
        };
        if !new {
            return Ok(false);
        }
        let one = Summary::one(&hash_of(key));
        let own = level_of(key);
        for level in 1..=MAX_LEVEL {
            let (holder, held) = self.before(level, key)?;
            if level <= own {
                // The element splits its holder: its new bucket takes the
                // lower-level buckets from it to the next anchor of `level`.
                let split = if level == 1 {
                    self.split_elements(&holder, key)?
                } else {
                    let mut split = Summary::default();
                    self.walk(level - 1, Some(*key), None, |anchor, summary| {
                        if anchor != Some(*key) && anchor_level(&anchor) >= level {
                            return false;
                        }
                        split = split.plus(summary);
                        true
                    })?;
                    split
                };
                if level == CACHED_FROM {
                    // Loaded while its bounds are the old ones.
                    self.load_region(holder)?;
                }
                self.store(level, Some(*key), Some(split))?;
                if level == CACHED_FROM {
                    // The region splits: its buckets from `key` on are
                    // the new one's (before the holder's bucket changes:
                    // an empty head goes, with its region).
                    self.cache.move_leaves(&holder, key, &Some(*key))?;
                }
                self.store(level, holder, Some(held.plus(&one).minus(&split)?))?;
            } else {
                self.store(level, holder, Some(held.plus(&one)))?;
            }
        }
        // When its bucket's elements are in memory, it joins them; when it
        // is an anchor, so are those of the bucket it starts (part of that
        // one).
        self.cache.kept_insert(&bucket, *key, own >= 1);
        Ok(true)
    }

    /// The elements from `key` (just added, not yet a level-1 anchor) to
    /// the end of the level-1 bucket at `holder`: what the bucket `key`
    /// starts takes from it. From memory when the bucket's elements are
    /// there; otherwise read up to the bucket's end only (not a chunk
    /// past it, which may be pages the add did not touch).
    fn split_elements(&mut self, holder: &Anchor, key: &IdKey) -> Result<Summary> {
        let one = Summary::one(&hash_of(key));
        if let Some(elements) = self.cache.kept_bucket(holder) {
            let from = elements.partition_point(|e| e < key);
            let rest = elements[from..].iter().filter(|e| *e != key);
            return Ok(rest.fold(one, |acc, e| acc.plus(&Summary::one(&hash_of(e)))));
        }
        let end = self.cache.bucket_end(holder);
        let mut split = Summary::default();
        self.walk(0, Some(*key), end.as_ref(), |_, summary| {
            split = split.plus(summary);
            true
        })?;
        Ok(split)
    }

    /// Removes an element; false when it was not there.
    pub(super) fn remove(&mut self, key: &IdKey) -> Result<bool> {
        let bucket = self.holding_bucket(key)?;
        // Whether it was there: from memory when its bucket is, otherwise
        // from the store as it deletes the row.
        let known = self
            .cache
            .kept_bucket(&bucket)
            .map(|elements| elements.binary_search(key).is_ok());
        let present = if let Some(present) = known {
            if present {
                self.port
                    .apply(&[Op::delete(self.elements, key.to_vec())])?;
            }
            present
        } else {
            self.port.delete_acked(self.elements, &key.0)?
        };
        if !present {
            return Ok(false);
        }
        let own = level_of(key);
        // Before the buckets change: the bucket before the key's level-1
        // bucket (the same one unless the key anchors its own).
        let previous = if own >= 1 {
            self.before(1, key)?.0
        } else {
            bucket
        };
        // Its own bucket's kept elements, taken before the bucket goes.
        let own_kept = (own >= 1).then(|| self.cache.take_kept(&bucket));
        let one = Summary::one(&hash_of(key));
        for level in 1..=MAX_LEVEL {
            let (holder, held) = self.before(level, key)?;
            if level <= own {
                // Its bucket joins the one before it.
                let merged = self.bucket(level, key)?.minus(&one)?;
                if level == CACHED_FROM {
                    // The region joins the one before.
                    self.load_region(holder)?;
                    self.load_region(Some(*key))?;
                    self.cache.merge_region(&holder, key)?;
                }
                self.store(level, holder, Some(held.plus(&merged)))?;
                self.store(level, Some(*key), None)?;
            } else {
                self.store(level, holder, Some(held.minus(&one)?))?;
            }
        }
        match own_kept {
            // It anchored its bucket, which joined the previous one: kept
            // in memory only if both were.
            Some(own_kept) => self.cache.kept_merge(&previous, own_kept, key),
            None => self.cache.kept_remove(&bucket, key),
        }
        Ok(true)
    }

    /// Removes every element before `cut`; returns how many there were.
    pub(super) fn prune(&mut self, cut: &IdKey) -> Result<u64> {
        let removed = self.prefix(cut)?;
        if removed.count == 0 {
            return Ok(0);
        }
        // The new head of each level: the elements from `cut` to the
        // level's first anchor at or after it.
        let mut heads = Vec::with_capacity(usize::from(MAX_LEVEL));
        for level in 1..=MAX_LEVEL {
            let mut next = None;
            self.walk(level, Some(*cut), None, |anchor, _| {
                next = anchor;
                false
            })?;
            let upto = match next {
                Some(anchor) => self.prefix(&anchor)?,
                // `SyncId::MAX` is never an element: all of them.
                None => self.prefix(&super::SyncId::MAX.key())?,
            };
            heads.push(upto.minus(&removed)?);
        }
        let old = self.cache.region_of(cut, false);
        self.load_region(old)?;
        self.cache.forget_elements();
        self.port.apply(&[
            Op::delete_range(self.elements, Vec::new(), cut.to_vec()),
            Op::delete_range(self.aggregates, vec![1], bucket_key(1, &Some(*cut))),
        ])?;
        // The level-1 buckets before `cut` are gone with their rows; the
        // new head region is the rest of the region holding `cut`.
        self.cache.move_leaves(&old, cut, &None)?;
        for (level, head) in (1..=MAX_LEVEL).zip(heads) {
            if level >= CACHED_FROM {
                // The buckets before `cut`, but the head: it is replaced
                // below (and at level 2 holds the new head region).
                let gone: Vec<Anchor> = self
                    .cache
                    .map(level)
                    .range(Some(IdKey([0; ID_KEY_LEN]))..Some(*cut))
                    .map(|(a, _)| *a)
                    .collect();
                for anchor in gone {
                    self.store(level, anchor, None)?;
                }
            }
            self.store(level, None, Some(head))?;
        }
        Ok(removed.count)
    }

    /// The ids in `[start, stop)`, at most `limit` (0: no limit).
    pub(super) fn items(&mut self, start: &IdKey, stop: &IdKey, limit: u32) -> Result<Vec<IdKey>> {
        let mut out = Vec::new();
        self.walk(0, Some(*start), Some(stop), |anchor, _| {
            out.extend(anchor);
            limit == 0 || out.len() < limit as usize
        })?;
        Ok(out)
    }
}

/// `acc` plus the elements before `key` of a bucket's sorted `elements`.
fn plus_before(mut acc: Summary, elements: &[IdKey], key: &IdKey) -> Summary {
    for element in elements.iter().take_while(|e| *e < key) {
        acc.count += 1;
        acc.fingerprint
            .iter_mut()
            .zip(&element.0[8..])
            .for_each(|(a, b)| *a ^= b);
    }
    acc
}
