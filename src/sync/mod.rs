//! Sync sets: named, persistent sets of [`SyncId`]s (a timestamp and a
//! 32-byte message hash) that answer range fingerprints, counts and splits
//! without walking the range, for range-based set reconciliation (Waku
//! Sync). The values here are shared by every layer; the index itself
//! (`index.rs`, `tree.rs`, `cache.rs`) runs above the storage port, on the
//! job's worker and, for queries while nothing is pending, on the caller's
//! thread. `docs/sync-index.md` describes the design.

mod cache;
mod fill;
mod index;
mod kept;
mod region;
mod tree;

pub(crate) use index::{SyncLayer, SyncMemory};

use crate::error::{Error, Result};
use crate::keys::MAX_PART_LEN;

/// Length of a message hash.
pub const HASH_LEN: usize = 32;

/// Bytes of an element's stored key: the biased big-endian timestamp, then
/// the hash.
pub(crate) const ID_KEY_LEN: usize = 8 + HASH_LEN;

/// An element's stored key; byte order is element order.
///
/// Compared as five big-endian words rather than as bytes: the in-memory
/// levels are B-trees searched on every query, and a word comparison is
/// inlined where a byte comparison calls `memcmp` (it was most of a
/// fingerprint's time). The order is the same.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct IdKey(pub(crate) [u8; ID_KEY_LEN]);

impl IdKey {
    /// The big-endian word `i` (0 to 4) of the key.
    #[inline(always)]
    fn word(&self, i: usize) -> u64 {
        let mut word = [0u8; 8];
        word.copy_from_slice(&self.0[i * 8..i * 8 + 8]);
        u64::from_be_bytes(word)
    }
}

impl Ord for IdKey {
    #[inline]
    fn cmp(&self, other: &IdKey) -> std::cmp::Ordering {
        (0..ID_KEY_LEN / 8)
            .map(|i| self.word(i).cmp(&other.word(i)))
            .find(|o| o.is_ne())
            .unwrap_or(std::cmp::Ordering::Equal)
    }
}

impl PartialOrd for IdKey {
    #[inline]
    fn partial_cmp(&self, other: &IdKey) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl std::hash::Hash for IdKey {
    /// Hashes the time and the first word of the message hash, which is
    /// already uniform: equal keys hash equal, and hashing 16 bytes
    /// instead of 40 keeps a kept-bucket lookup cheap.
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        state.write_u64(self.word(0) ^ self.word(1).rotate_left(32));
    }
}

impl std::ops::Deref for IdKey {
    type Target = [u8; ID_KEY_LEN];

    fn deref(&self) -> &[u8; ID_KEY_LEN] {
        &self.0
    }
}

/// The first byte of every category the library keeps for itself: hosts
/// cannot write or read a category that starts with it (C hosts cannot
/// even name one, as C categories end at their first NUL byte).
pub(crate) const RESERVED_CATEGORY_BYTE: u8 = 0;

/// Prefix of the category holding a set's elements.
const ELEMENTS_PREFIX: &[u8] = b"\0sync:e:";
/// Prefix of the category holding a set's aggregates.
const AGGREGATES_PREFIX: &[u8] = b"\0sync:a:";

/// Longest set name, in bytes.
pub const MAX_SET_NAME_LEN: usize = MAX_PART_LEN - 8;

/// Most sets one query may name.
pub const MAX_UNION_SETS: usize = 64;

/// Most parts a split may ask for.
pub const MAX_SPLIT_PARTS: u32 = 1024;

/// One element of a sync set: a timestamp (nanoseconds) and a message
/// hash, ordered by time, then hash.
///
/// ```
/// use persistency::SyncId;
/// let a = SyncId::new(5, [9; 32]);
/// let b = SyncId::new(6, [0; 32]);
/// assert!(a < b && SyncId::MIN < a && b < SyncId::MAX);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct SyncId {
    /// Timestamp in nanoseconds.
    pub time: i64,
    /// The message hash.
    pub hash: [u8; HASH_LEN],
}

impl SyncId {
    /// The smallest id: a range starting here has no lower bound.
    pub const MIN: SyncId = SyncId {
        time: i64::MIN,
        hash: [0; HASH_LEN],
    };

    /// The largest id: a range ending here (ends are exclusive) has no
    /// upper bound. It cannot be added to a set.
    pub const MAX: SyncId = SyncId {
        time: i64::MAX,
        hash: [0xff; HASH_LEN],
    };

    /// An id from its parts.
    pub fn new(time: i64, hash: [u8; HASH_LEN]) -> SyncId {
        SyncId { time, hash }
    }

    /// The stored key: the timestamp with its sign bit flipped, big-endian,
    /// then the hash, so byte order is element order.
    pub(crate) fn key(&self) -> IdKey {
        let mut key = [0u8; ID_KEY_LEN];
        key[..8].copy_from_slice(&((self.time as u64) ^ (1 << 63)).to_be_bytes());
        key[8..].copy_from_slice(&self.hash);
        IdKey(key)
    }
}

/// The id of a stored key.
pub(crate) fn id_of(key: &[u8; ID_KEY_LEN]) -> SyncId {
    let mut time = [0u8; 8];
    time.copy_from_slice(&key[..8]);
    let mut hash = [0u8; HASH_LEN];
    hash.copy_from_slice(&key[8..]);
    SyncId {
        time: (u64::from_be_bytes(time) ^ (1 << 63)) as i64,
        hash,
    }
}

/// A half-open range of ids `[start, stop)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SyncRange {
    /// The first id in the range (inclusive).
    pub start: SyncId,
    /// The end of the range (exclusive).
    pub stop: SyncId,
}

impl SyncRange {
    /// The range `[start, stop)`; empty when `start >= stop`.
    pub fn new(start: SyncId, stop: SyncId) -> SyncRange {
        SyncRange { start, stop }
    }

    /// Every id a set can hold.
    pub fn all() -> SyncRange {
        SyncRange::new(SyncId::MIN, SyncId::MAX)
    }

    /// Whether the range holds no id.
    pub fn is_empty(&self) -> bool {
        self.start >= self.stop
    }
}

/// The count and fingerprint (XOR of the hashes) of a range.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Summary {
    /// How many elements the range holds.
    pub count: u64,
    /// The XOR of their hashes (all zero for an empty range).
    pub fingerprint: [u8; HASH_LEN],
}

impl Summary {
    /// The summary of one element.
    pub(crate) fn one(hash: &[u8; HASH_LEN]) -> Summary {
        Summary {
            count: 1,
            fingerprint: *hash,
        }
    }

    /// Adds the elements of `other` (the ranges are disjoint).
    pub(crate) fn plus(mut self, other: &Summary) -> Summary {
        self.count += other.count;
        xor_into(&mut self.fingerprint, &other.fingerprint);
        self
    }

    /// Takes away the elements of `other`, which this summary includes;
    /// fails when it cannot (the index is inconsistent).
    pub(crate) fn minus(mut self, other: &Summary) -> Result<Summary> {
        self.count = self
            .count
            .checked_sub(other.count)
            .ok_or_else(|| Error::internal("sync index: an aggregate count went negative"))?;
        xor_into(&mut self.fingerprint, &other.fingerprint);
        Ok(self)
    }

    /// The stored form: count (big-endian u64), then the fingerprint.
    pub(crate) fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(8 + HASH_LEN);
        out.extend_from_slice(&self.count.to_be_bytes());
        out.extend_from_slice(&self.fingerprint);
        out
    }

    /// A stored summary.
    pub(crate) fn decode(bytes: &[u8]) -> Result<Summary> {
        if bytes.len() != 8 + HASH_LEN {
            return Err(Error::internal(format!(
                "sync aggregate of {} bytes",
                bytes.len()
            )));
        }
        let mut count = [0u8; 8];
        count.copy_from_slice(&bytes[..8]);
        let mut fingerprint = [0u8; HASH_LEN];
        fingerprint.copy_from_slice(&bytes[8..]);
        Ok(Summary {
            count: u64::from_be_bytes(count),
            fingerprint,
        })
    }
}

fn xor_into(into: &mut [u8; HASH_LEN], from: &[u8; HASH_LEN]) {
    into.iter_mut().zip(from).for_each(|(a, b)| *a ^= b);
}

/// One part of a split range: its bounds and summary.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SplitPart {
    /// The part's range.
    pub range: SyncRange,
    /// Its count and fingerprint.
    pub summary: Summary,
}

/// Whether a category is one the library keeps for itself.
pub(crate) fn is_reserved(category: &[u8]) -> bool {
    category.first() == Some(&RESERVED_CATEGORY_BYTE)
}

/// What a row of a reserved category holds, for tools that read job files
/// directly ([`JobReader`](crate::JobReader)): an export writes a sync
/// set's elements and rebuilds its aggregates on import by adding them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReservedRow<'a> {
    /// An element of the sync set `set`.
    SyncElement {
        /// The set's name.
        set: &'a [u8],
        /// The element.
        id: SyncId,
    },
    /// An aggregate bucket of the sync set `set`, derived from its
    /// elements.
    SyncAggregate {
        /// The set's name.
        set: &'a [u8],
    },
    /// A reserved row this version of the library does not know (a later
    /// version's, or a damaged one).
    Unknown,
}

/// What the row `(category, key)` holds when `category` is reserved (its
/// first byte is NUL); `None` for a host's category.
///
/// ```
/// use persistency::{reserved_row, ReservedRow};
/// assert_eq!(reserved_row(b"messages", b"k"), None);
/// assert_eq!(
///     reserved_row(b"\0sync:a:topic", b"\x01"),
///     Some(ReservedRow::SyncAggregate { set: b"topic" })
/// );
/// ```
pub fn reserved_row<'a>(category: &'a [u8], key: &[u8]) -> Option<ReservedRow<'a>> {
    if !is_reserved(category) {
        return None;
    }
    let named = |prefix: &[u8]| {
        category
            .strip_prefix(prefix)
            .filter(|set| check_set(set).is_ok())
    };
    Some(if let Some(set) = named(ELEMENTS_PREFIX) {
        match <&[u8; ID_KEY_LEN]>::try_from(key) {
            Ok(key) => ReservedRow::SyncElement {
                set,
                id: id_of(key),
            },
            Err(_) => ReservedRow::Unknown,
        }
    } else if let Some(set) = named(AGGREGATES_PREFIX) {
        ReservedRow::SyncAggregate { set }
    } else {
        ReservedRow::Unknown
    })
}

/// Checks a set name.
pub(crate) fn check_set(set: &[u8]) -> Result<()> {
    if set.is_empty() {
        return Err(Error::invalid("a sync set name is empty"));
    }
    if set.len() > MAX_SET_NAME_LEN {
        return Err(Error::invalid(format!(
            "sync set name of {} bytes is longer than {MAX_SET_NAME_LEN}",
            set.len()
        )));
    }
    Ok(())
}

/// Checks the sets of a query: 1 to [`MAX_UNION_SETS`] distinct names.
pub(crate) fn check_sets(sets: &[Vec<u8>]) -> Result<()> {
    if sets.is_empty() || sets.len() > MAX_UNION_SETS {
        return Err(Error::invalid(format!(
            "a sync query names {} sets (1 to {MAX_UNION_SETS})",
            sets.len()
        )));
    }
    sets.iter().try_for_each(|s| check_set(s))?;
    if sets.len() == 1 {
        return Ok(());
    }
    let mut sorted: Vec<&Vec<u8>> = sets.iter().collect();
    sorted.sort();
    if sorted.windows(2).any(|w| w[0] == w[1]) {
        return Err(Error::invalid("a sync query names the same set twice"));
    }
    Ok(())
}

/// The category of a set's elements.
pub(crate) fn elements_category(set: &[u8]) -> Vec<u8> {
    [ELEMENTS_PREFIX, set].concat()
}

/// The category of a set's aggregates.
pub(crate) fn aggregates_category(set: &[u8]) -> Vec<u8> {
    [AGGREGATES_PREFIX, set].concat()
}

/// A write to a sync set, as the worker applies it.
#[derive(Debug)]
pub(crate) enum SyncWrite {
    /// Adds these ids (those present are left alone).
    Add { set: Vec<u8>, ids: Vec<SyncId> },
    /// Removes these ids (those absent are ignored).
    Remove { set: Vec<u8>, ids: Vec<SyncId> },
    /// Removes every id whose time is before this one.
    Prune { set: Vec<u8>, before: i64 },
}

impl SyncWrite {
    /// Elements this write names (1 for a prune).
    pub(crate) fn size(&self) -> usize {
        match self {
            SyncWrite::Add { ids, .. } | SyncWrite::Remove { ids, .. } => ids.len(),
            SyncWrite::Prune { .. } => 1,
        }
    }

    /// Bytes this write holds.
    pub(crate) fn bytes(&self) -> usize {
        match self {
            SyncWrite::Add { set, ids } | SyncWrite::Remove { set, ids } => {
                set.len() + ids.len() * ID_KEY_LEN
            }
            SyncWrite::Prune { set, .. } => set.len() + 8,
        }
    }
}

/// A query over one set or a union of distinct sets.
#[derive(Debug)]
pub(crate) enum SyncRead {
    /// Count and fingerprint of a range.
    Summary {
        sets: Vec<Vec<u8>>,
        range: SyncRange,
    },
    /// The range in `parts` parts of (nearly) equal count.
    Split {
        sets: Vec<Vec<u8>>,
        range: SyncRange,
        parts: u32,
    },
    /// The ids of a range, in order, at most `limit` (0: no limit).
    Items {
        sets: Vec<Vec<u8>>,
        range: SyncRange,
        limit: u32,
    },
    /// How many ids a set holds.
    Len { set: Vec<u8> },
}

/// What a sync request answers with.
#[derive(Debug)]
pub(crate) enum SyncReply {
    /// Ids added, removed or pruned.
    Changed(u64),
    /// A summary.
    Summary(Summary),
    /// A split.
    Parts(Vec<SplitPart>),
    /// Ids.
    Ids(Vec<SyncId>),
    /// A length.
    Len(u64),
}
