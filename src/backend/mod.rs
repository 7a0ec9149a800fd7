//! The storage port: what the worker needs from a store. Nothing above this
//! module writes SQL; another engine is added as another adapter.

pub(crate) mod sqlite;

use crate::error::Result;
use crate::ops::Op;
use crate::rows::Rows;

/// A half-open key range `[start, stop)` of one category; `stop == None`
/// means no upper bound.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Range {
    pub category: Vec<u8>,
    pub start: Vec<u8>,
    pub stop: Option<Vec<u8>>,
}

/// A store owned by one worker thread.
///
/// Writes happen inside a transaction opened with [`Backend::begin`]; reads
/// may run inside or outside one. Every method reports failures as errors
/// and leaves the store usable.
pub(crate) trait Backend: Send {
    /// Opens a transaction.
    fn begin(&mut self) -> Result<()>;
    /// Commits the open transaction.
    fn commit(&mut self) -> Result<()>;
    /// Rolls the open transaction back; a no-op without one.
    fn rollback(&mut self);
    /// Whether a transaction is open (a failed statement may have ended it).
    fn in_transaction(&self) -> bool;
    /// Applies `ops` atomically inside the open transaction: on error none
    /// of them has an effect.
    fn apply(&mut self, ops: &[Op]) -> Result<()>;
    /// Deletes one row; tells whether it existed.
    fn delete_acked(&mut self, category: &[u8], key: &[u8]) -> Result<bool>;
    /// The payload stored under a key.
    fn get(&mut self, category: &[u8], key: &[u8]) -> Result<Option<Vec<u8>>>;
    /// Whether a key is present.
    fn exists(&mut self, category: &[u8], key: &[u8]) -> Result<bool>;
    /// The rows in a range, in key order (descending when `reverse`), at
    /// most `limit` of them (0: no limit), telling whether more remain.
    fn scan(&mut self, range: &Range, reverse: bool, limit: u32) -> Result<Rows>;
    /// How many rows a range holds.
    fn count(&mut self, range: &Range) -> Result<u64>;
    /// The rows of the keys that exist, in the order the keys are given.
    fn get_many(&mut self, category: &[u8], keys: &[Vec<u8>]) -> Result<Rows>;
    /// Bytes the store occupies (on disk: database plus write-ahead log).
    fn size(&mut self) -> u64;
}
