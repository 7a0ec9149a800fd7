//! Read-only connections to a job file: what a job's read pool holds.
//!
//! A reader is a [`SqliteBackend`] opened read-only, with the worker's
//! page cache size; each statement runs in its own WAL snapshot, except `get_many`,
//! which reads every key in one.

use std::path::Path;
use std::time::Duration;

use rusqlite::OpenFlags;

use super::{sidecar, SqliteBackend};
use crate::backend::{Backend, Range, Reader};
use crate::error::Result;
use crate::rows::Rows;

/// The page cache of a reader, in KiB: as large as the worker's, so that a
/// hot read set that fits the worker's cache fits a reader's too (with
/// SQLite's default of 2 000 KiB, a blocking get of a 10,000-row job took
/// 5.3–6.2 µs on one VM, 3.7–4.8 µs with this size). Pages are allocated as they are read, a WAL
/// reader drops them whenever another connection committed, and an idle
/// reader is closed, so an idle job holds none of it.
const READER_CACHE_KIB: u32 = super::CACHE_KIB;

/// A read-only connection to a job file.
pub(in crate::backend) struct SqliteReader(SqliteBackend);

impl SqliteReader {
    /// Opens a read-only connection to the job file `path`, which the job's
    /// worker already holds open (so its WAL index exists).
    pub(in crate::backend) fn open(path: &Path) -> Result<SqliteReader> {
        let flags = OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX;
        // Through the same VFS as the worker's connection (with the
        // `fault-injection` feature, the fault-injecting one).
        let conn = super::open_file(path, flags)
            .map_err(|e| e.context(format!("cannot open reader {}", path.display())))?;
        conn.busy_timeout(Duration::from_millis(5000))?;
        conn.set_prepared_statement_cache_capacity(16);
        conn.execute_batch(&format!(
            "PRAGMA cache_size = -{READER_CACHE_KIB}; PRAGMA temp_store = MEMORY;"
        ))?;
        Ok(SqliteReader(SqliteBackend {
            stmts: Default::default(),
            conn,
            wal_path: Some(sidecar(path, "-wal")),
            path: Some(path.to_path_buf()),
            wrote: false,
            quota: 0,
            retention: None,
        }))
    }
}

impl Reader for SqliteReader {
    fn get(&mut self, category: &[u8], key: &[u8]) -> Result<Option<Vec<u8>>> {
        self.0.get(category, key)
    }

    fn exists(&mut self, category: &[u8], key: &[u8]) -> Result<bool> {
        self.0.exists(category, key)
    }

    fn scan(&mut self, range: &Range, reverse: bool, limit: u32) -> Result<Rows> {
        self.0.scan(range, reverse, limit)
    }

    fn count(&mut self, range: &Range) -> Result<u64> {
        self.0.count(range)
    }

    fn get_many(&mut self, category: &[u8], keys: &[Vec<u8>]) -> Result<Rows> {
        if keys.len() < 2 {
            return self.0.get_many(category, keys);
        }
        // One snapshot for every key.
        self.0.begin()?;
        let rows = self.0.get_many(category, keys);
        self.0.rollback();
        rows
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ops::Op;
    use crate::options::JobOptions;

    #[test]
    fn reader_sees_commits_and_refuses_writes() -> Result<()> {
        let dir = std::env::temp_dir().join(format!("pers-reader-{}", std::process::id()));
        std::fs::create_dir_all(&dir)?;
        let path = dir.join("r.db");
        let mut writer = SqliteBackend::open(Some(&path), &JobOptions::default())?;
        let mut reader = SqliteReader::open(&path)?;
        assert_eq!(reader.get(b"c", b"k")?, None);
        writer.begin()?;
        writer.apply(&[Op::put("c", b"k".to_vec(), b"v".to_vec())])?;
        // Uncommitted: invisible to the reader.
        assert_eq!(reader.get(b"c", b"k")?, None);
        writer.commit()?;
        assert_eq!(reader.get(b"c", b"k")?, Some(b"v".to_vec()));
        assert!(reader.exists(b"c", b"k")?);
        let rows = reader.get_many(b"c", &[b"x".to_vec(), b"k".to_vec()])?;
        assert_eq!(rows.to_pairs(), vec![(b"k".to_vec(), b"v".to_vec())]);
        assert!(reader.0.conn.execute_batch("DELETE FROM kv").is_err());
        drop((reader, writer));
        std::fs::remove_dir_all(&dir)?;
        Ok(())
    }
}
