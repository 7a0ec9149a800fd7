//! Size-capped retention (`JobOptions::retention`): after a commit leaves
//! more live bytes than the cap, the oldest rows of the named categories
//! are removed in whole key ranges, each in its own transaction, and the
//! space is given back.

use rusqlite::params;

use super::{sqlite_error, SqliteBackend};
use crate::backend::Backend;
use crate::error::Result;
use crate::log::{log, Level};
use crate::ops::Op;
use crate::options::JobOptions;

/// Retention removes rows until the live size is at most this share of the
/// cap (in percent), so it does not run again after every commit.
const TARGET_PERCENT: u64 = 80;

/// Most removal rounds after one commit (each round measures again).
const MAX_ROUNDS: usize = 8;

const OLDEST: &str =
    "SELECT key, length(key) + length(payload) FROM kv WHERE category = ?1 ORDER BY key";

/// The retention settings of a job.
#[derive(Debug, Clone)]
pub(super) struct Retention {
    max_bytes: u64,
    categories: Vec<Vec<u8>>,
}

impl Retention {
    /// The settings of `options`, `None` when retention is off.
    pub(super) fn of(options: &JobOptions) -> Option<Retention> {
        (options.retention_max_bytes > 0).then(|| Retention {
            max_bytes: options.retention_max_bytes,
            categories: options.retention_categories.clone(),
        })
    }
}

impl SqliteBackend {
    /// Refuses a write that puts more than half the cap: keeping it would
    /// need removing (almost) everything, itself included.
    pub(super) fn refuse_oversized(&self, ops: &[Op]) -> Result<()> {
        let Some(retention) = &self.retention else {
            return Ok(());
        };
        let bytes: u64 = ops
            .iter()
            .map(|op| match op {
                Op::Put { key, payload, .. } => (key.len() + payload.len()) as u64,
                _ => 0,
            })
            .sum();
        if bytes > retention.max_bytes / 2 {
            return Err(sqlite_error(
                rusqlite::ffi::SQLITE_FULL,
                format!(
                    "a write of {bytes} bytes is larger than half the retention cap of {} bytes",
                    retention.max_bytes
                ),
            ));
        }
        Ok(())
    }

    /// Brings the job back under its retention cap; tells whether it
    /// changed anything. Runs outside any transaction.
    pub(super) fn retain(&mut self) -> Result<bool> {
        let Some(retention) = self.retention.clone() else {
            return Ok(false);
        };
        let cap = retention.max_bytes;
        let target = cap / 100 * TARGET_PERCENT;
        let mut live = self.live_page_bytes();
        let mut changed = false;
        let mut rounds = 0;
        while live > cap || (changed && live > target && rounds < MAX_ROUNDS) {
            rounds += 1;
            let Some((category, stop)) = self.oldest_range(&retention.categories, live - target)?
            else {
                log(Level::Warn, || {
                    format!(
                        "retention: {live} live bytes over the cap of {cap}, \
                         and the retained categories are empty"
                    )
                });
                break;
            };
            self.begin()?;
            let deleted = self.apply(&[Op::delete_range(category, Vec::new(), stop)]);
            match deleted {
                Ok(()) => self.commit()?,
                Err(e) => {
                    self.rollback();
                    return Err(e);
                }
            }
            self.vacuum_free_pages()?;
            changed = true;
            live = self.live_page_bytes();
            if rounds >= MAX_ROUNDS {
                break;
            }
        }
        // Bring the files themselves under the cap: the write-ahead log
        // into the database file, then truncated.
        if self.path.is_some() && self.size() > cap {
            self.conn
                .query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(()))?;
            changed = true;
        }
        Ok(changed)
    }

    /// The oldest range of the first non-empty category that holds at least
    /// `bytes` bytes of keys and payloads: `(category, stop)`, where an
    /// empty `stop` means the whole category.
    fn oldest_range(
        &mut self,
        categories: &[Vec<u8>],
        bytes: u64,
    ) -> Result<Option<(Vec<u8>, Vec<u8>)>> {
        for category in categories {
            let mut stmt = self.conn.prepare_cached(OLDEST)?;
            let mut rows = stmt.query(params![category])?;
            let mut sum: u64 = 0;
            let mut any = false;
            while let Some(row) = rows.next()? {
                let key: Vec<u8> = row.get(0)?;
                if any && sum >= bytes {
                    // An empty key is the smallest, never a stop: fine, the
                    // first row is always included before this point.
                    return Ok(Some((category.clone(), key)));
                }
                any = true;
                sum += row.get::<_, i64>(1)?.max(0) as u64;
            }
            if any {
                return Ok(Some((category.clone(), Vec::new())));
            }
        }
        Ok(None)
    }
}
