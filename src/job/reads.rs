//! A job's reads: each sees every write accepted before it. The `_then`
//! forms are served by the worker; the blocking forms run on the calling
//! thread when no accepted write is still uncommitted (`fast.rs`), and
//! through the worker otherwise.

use super::{check_category, unexpected, Job};
use crate::backend::Range;
use crate::error::Result;
use crate::keys::prefix_stop;
use crate::protocol::{Read, Reply, Request};
use crate::rows::Rows;

/// Options of a scan. New options may be added: build one with
/// [`ScanOptions::new`] (or `default()`) and the setters.
///
/// ```
/// let options = persistency::ScanOptions::new().reverse(true).limit(10);
/// assert!(options.reverse);
/// assert_eq!(options.limit, 10);
/// ```
#[non_exhaustive]
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ScanOptions {
    /// Descending key order.
    pub reverse: bool,
    /// At most this many rows; 0 means no limit.
    pub limit: u32,
}

impl ScanOptions {
    /// Ascending, no limit.
    pub fn new() -> ScanOptions {
        ScanOptions::default()
    }

    /// Sets descending (`true`) or ascending key order.
    pub fn reverse(mut self, reverse: bool) -> ScanOptions {
        self.reverse = reverse;
        self
    }

    /// Sets the most rows returned; 0 means no limit.
    pub fn limit(mut self, limit: u32) -> ScanOptions {
        self.limit = limit;
        self
    }
}

pub(super) fn range_of(category: &[u8], start: &[u8], stop: &[u8]) -> Range {
    Range {
        category: category.to_vec(),
        start: start.to_vec(),
        stop: (!stop.is_empty()).then(|| stop.to_vec()),
    }
}

fn prefix_range(category: &[u8], prefix: &[u8]) -> Range {
    Range {
        category: category.to_vec(),
        start: prefix.to_vec(),
        stop: prefix_stop(prefix),
    }
}

impl Job {
    pub(super) fn read_then<T: Send + 'static>(
        &self,
        read: Read,
        extract: fn(Reply) -> Result<T>,
        then: impl FnOnce(Result<T>) + Send + 'static,
    ) -> Result<()> {
        self.request(|done| Request::Read { read, done }, extract, then)
    }

    fn read_wait<T: Send + 'static>(
        &self,
        read: Read,
        extract: fn(Reply) -> Result<T>,
    ) -> Result<T> {
        let here = self.read_here(read.category(), |reader| {
            super::fast::serve(reader, &read).and_then(extract)
        });
        if let Some(answer) = here {
            return answer;
        }
        self.wait(|done| Request::Read { read, done }, extract)
    }

    fn key_read(category: &[u8], key: &[u8], exists: bool) -> Result<Read> {
        check_category(category)?;
        let (category, key) = (category.to_vec(), key.to_vec());
        Ok(if exists {
            Read::Exists { category, key }
        } else {
            Read::Get { category, key }
        })
    }

    /// Looks up a key; `then` receives the payload, `None` when absent.
    pub fn get_then(
        &self,
        category: impl AsRef<[u8]>,
        key: &[u8],
        then: impl FnOnce(Result<Option<Vec<u8>>>) + Send + 'static,
    ) -> Result<()> {
        self.read_then(Self::key_read(category.as_ref(), key, false)?, value, then)
    }

    /// The payload under a key, `None` when absent. Sees every write
    /// accepted before it.
    pub fn get(&self, category: impl AsRef<[u8]>, key: &[u8]) -> Result<Option<Vec<u8>>> {
        let category = category.as_ref();
        check_category(category)?;
        // The hot path borrows its arguments: nothing is copied.
        if let Some(answer) = self.read_here(category, |reader| reader.get(category, key)) {
            return answer;
        }
        self.read_wait(Self::key_read(category, key, false)?, value)
    }

    /// Tells `then` whether a key is present.
    pub fn exists_then(
        &self,
        category: impl AsRef<[u8]>,
        key: &[u8],
        then: impl FnOnce(Result<bool>) + Send + 'static,
    ) -> Result<()> {
        self.read_then(Self::key_read(category.as_ref(), key, true)?, found, then)
    }

    /// Whether a key is present.
    pub fn exists(&self, category: impl AsRef<[u8]>, key: &[u8]) -> Result<bool> {
        let category = category.as_ref();
        check_category(category)?;
        if let Some(answer) = self.read_here(category, |reader| reader.exists(category, key)) {
            return answer;
        }
        self.read_wait(Self::key_read(category, key, true)?, found)
    }

    fn scan_read(range: Range, options: ScanOptions) -> Result<Read> {
        check_category(&range.category)?;
        Ok(Read::Scan {
            range,
            reverse: options.reverse,
            limit: options.limit,
        })
    }

    /// Scans `[start, stop)` (`stop` empty: no upper bound); `then`
    /// receives the rows.
    pub fn scan_then(
        &self,
        category: impl AsRef<[u8]>,
        start: &[u8],
        stop: &[u8],
        options: ScanOptions,
        then: impl FnOnce(Result<Rows>) + Send + 'static,
    ) -> Result<()> {
        let read = Self::scan_read(range_of(category.as_ref(), start, stop), options)?;
        self.read_then(read, rows, then)
    }

    /// The rows of `[start, stop)` (`stop` empty: no upper bound), in key
    /// order or reversed, at most `options.limit` of them.
    ///
    /// To page through a range, resume ascending from the last key with a
    /// `0x00` byte appended, descending with the last key as `stop`.
    pub fn scan(
        &self,
        category: impl AsRef<[u8]>,
        start: &[u8],
        stop: &[u8],
        options: ScanOptions,
    ) -> Result<Rows> {
        let read = Self::scan_read(range_of(category.as_ref(), start, stop), options)?;
        self.read_wait(read, rows)
    }

    /// Scans every key that starts with `prefix`; `then` receives the rows.
    pub fn scan_prefix_then(
        &self,
        category: impl AsRef<[u8]>,
        prefix: &[u8],
        options: ScanOptions,
        then: impl FnOnce(Result<Rows>) + Send + 'static,
    ) -> Result<()> {
        let read = Self::scan_read(prefix_range(category.as_ref(), prefix), options)?;
        self.read_then(read, rows, then)
    }

    /// The rows of every key that starts with `prefix`.
    ///
    /// ```
    /// use persistency::{Key, Persistency, ScanOptions};
    /// let db = Persistency::new(":memory:")?;
    /// let job = db.open_job("j")?;
    /// for ts in 0..3i64 {
    ///     job.put("m", Key::new().push_str("topic")?.push_i64(ts)?.as_bytes(), b"x")?;
    /// }
    /// let prefix = Key::new().push_str("topic")?.to_vec();
    /// let rows = job.scan_prefix("m", &prefix, ScanOptions::new().reverse(true).limit(2))?;
    /// assert_eq!(rows.len(), 2);
    /// assert!(rows.has_more());
    /// # Ok::<(), persistency::Error>(())
    /// ```
    pub fn scan_prefix(
        &self,
        category: impl AsRef<[u8]>,
        prefix: &[u8],
        options: ScanOptions,
    ) -> Result<Rows> {
        let read = Self::scan_read(prefix_range(category.as_ref(), prefix), options)?;
        self.read_wait(read, rows)
    }

    fn count_read(category: &[u8], start: &[u8], stop: &[u8]) -> Result<Read> {
        check_category(category)?;
        Ok(Read::Count {
            range: range_of(category, start, stop),
        })
    }

    /// Counts the rows of `[start, stop)`; `then` receives the count.
    pub fn count_then(
        &self,
        category: impl AsRef<[u8]>,
        start: &[u8],
        stop: &[u8],
        then: impl FnOnce(Result<u64>) + Send + 'static,
    ) -> Result<()> {
        self.read_then(
            Self::count_read(category.as_ref(), start, stop)?,
            count,
            then,
        )
    }

    /// How many rows `[start, stop)` holds (`stop` empty: no upper bound).
    pub fn count(&self, category: impl AsRef<[u8]>, start: &[u8], stop: &[u8]) -> Result<u64> {
        self.read_wait(Self::count_read(category.as_ref(), start, stop)?, count)
    }

    fn many_read(category: &[u8], keys: Vec<Vec<u8>>) -> Result<Read> {
        check_category(category)?;
        Ok(Read::GetMany {
            category: category.to_vec(),
            keys,
        })
    }

    /// Looks up many keys in one request; `then` receives the rows that
    /// exist, in the order the keys were given.
    pub fn get_many_then(
        &self,
        category: impl AsRef<[u8]>,
        keys: Vec<Vec<u8>>,
        then: impl FnOnce(Result<Rows>) + Send + 'static,
    ) -> Result<()> {
        self.read_then(Self::many_read(category.as_ref(), keys)?, rows, then)
    }

    /// The rows of the keys that exist, in the order the keys were given,
    /// read in one transaction.
    pub fn get_many(&self, category: impl AsRef<[u8]>, keys: Vec<Vec<u8>>) -> Result<Rows> {
        self.read_wait(Self::many_read(category.as_ref(), keys)?, rows)
    }
}

fn value(reply: Reply) -> Result<Option<Vec<u8>>> {
    match reply {
        Reply::Value(v) => Ok(v),
        other => Err(unexpected(other)),
    }
}

pub(super) fn found(reply: Reply) -> Result<bool> {
    match reply {
        Reply::Found(b) => Ok(b),
        other => Err(unexpected(other)),
    }
}

fn count(reply: Reply) -> Result<u64> {
    match reply {
        Reply::Count(n) => Ok(n),
        other => Err(unexpected(other)),
    }
}

pub(super) fn rows(reply: Reply) -> Result<Rows> {
    match reply {
        Reply::Rows(r) => Ok(r),
        other => Err(unexpected(other)),
    }
}
