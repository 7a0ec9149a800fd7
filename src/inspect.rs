//! Looking into job files from outside a node: for tools such as the
//! `persistency` command.
//!
//! A [`JobReader`] opens `<root>/<job>.db` read-only. It takes no claim,
//! creates and writes nothing, and works while another process (a running
//! node) has the job open: it reads the last committed state, as any WAL
//! reader does. It is not a [`Job`](crate::Job): writes go through
//! [`Persistency`](crate::Persistency) as always.
//!
//! ```
//! use persistency::{JobReader, Op, Persistency, ReadRange};
//!
//! let dir = std::env::temp_dir().join(format!("inspect-doc-{}", std::process::id()));
//! let root = dir.to_str().unwrap();
//! let db = Persistency::new(root)?;
//! db.open_job("store")?.write(vec![Op::put("m", b"k".to_vec(), b"v".to_vec())])?;
//!
//! let reader = JobReader::open(root, "store")?;
//! assert_eq!(reader.categories()?[0].rows, 1);
//! let mut keys = Vec::new();
//! reader.scan(&ReadRange::new().category("m"), |_, key, _| {
//!     keys.push(key.to_vec());
//!     Ok(true)
//! })?;
//! assert_eq!(keys, [b"k".to_vec()]);
//! # drop(db); std::fs::remove_dir_all(&dir).ok();
//! # Ok::<(), persistency::Error>(())
//! ```

use std::path::{Path, PathBuf};
use std::time::SystemTime;

use crate::backend::inspect::{holder, Reader};
use crate::error::{Error, Result};
use crate::instance::{validate_job_id, MEMORY_ROOT};
use crate::keys::prefix_stop;

/// What the file system and the database say about a job file.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct FileFacts {
    /// Size of the database file in bytes (without its WAL).
    pub file_bytes: u64,
    /// Size of the `-wal` file (0 when there is none).
    pub wal_bytes: u64,
    /// Bytes in pages that hold data: (pages − free pages) × page size.
    pub live_bytes: u64,
    /// Pages on the free list, reusable or reclaimed by a compaction.
    pub free_pages: u64,
    /// The database page size in bytes.
    pub page_size: u64,
    /// Last modification of the database file, when the system knows it.
    pub modified: Option<SystemTime>,
}

/// The rows of one category and their sizes.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct CategoryStats {
    /// The category.
    pub category: Vec<u8>,
    /// How many rows it has.
    pub rows: u64,
    /// The sum of its key lengths.
    pub key_bytes: u64,
    /// The sum of its payload lengths.
    pub payload_bytes: u64,
    /// Its smallest key.
    pub min_key: Vec<u8>,
    /// Its largest key.
    pub max_key: Vec<u8>,
}

/// Which rows a [`JobReader::scan`] visits: by default every row of every
/// category, in (category, key) order.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct ReadRange {
    /// Only this category.
    pub category: Option<Vec<u8>>,
    /// Only keys `>=` this.
    pub start: Option<Vec<u8>>,
    /// Only keys `<` this.
    pub stop: Option<Vec<u8>>,
    /// Largest first.
    pub reverse: bool,
    /// At most this many rows.
    pub limit: Option<u64>,
}

impl ReadRange {
    /// Every row.
    pub fn new() -> ReadRange {
        ReadRange::default()
    }

    /// Only rows of `category`.
    pub fn category(mut self, category: impl AsRef<[u8]>) -> ReadRange {
        self.category = Some(category.as_ref().to_vec());
        self
    }

    /// Only keys from `start` on (inclusive).
    pub fn start(mut self, start: &[u8]) -> ReadRange {
        self.start = Some(start.to_vec());
        self
    }

    /// Only keys before `stop` (exclusive).
    pub fn stop(mut self, stop: &[u8]) -> ReadRange {
        self.stop = Some(stop.to_vec());
        self
    }

    /// Only keys that start with `prefix` (sets both bounds).
    pub fn prefix(mut self, prefix: &[u8]) -> ReadRange {
        self.start = Some(prefix.to_vec());
        self.stop = prefix_stop(prefix);
        self
    }

    /// Largest key first.
    pub fn reverse(mut self, reverse: bool) -> ReadRange {
        self.reverse = reverse;
        self
    }

    /// At most `limit` rows.
    pub fn limit(mut self, limit: u64) -> ReadRange {
        self.limit = Some(limit);
        self
    }
}

/// The path of job `job_id` under an existing `root`: `<root>/<job_id>.db`.
/// Fails with `InvalidArgument` for a bad job id, the in-memory root, or a
/// root that is not an existing directory.
pub fn job_path(root: &str, job_id: &str) -> Result<PathBuf> {
    validate_job_id(job_id)?;
    Ok(existing_root(root)?.join(format!("{job_id}.db")))
}

fn existing_root(root: &str) -> Result<&Path> {
    if root == MEMORY_ROOT {
        return Err(Error::invalid("the in-memory root has no files to inspect"));
    }
    let path = Path::new(root);
    if !path.is_dir() {
        return Err(Error::invalid(format!(
            "root {root:?} is not an existing directory"
        )));
    }
    Ok(path)
}

/// The ids of the job files under `root` (`*.db` whose name is a valid job
/// id), sorted.
pub fn job_ids(root: &str) -> Result<Vec<String>> {
    let dir = existing_root(root)?;
    let entries = std::fs::read_dir(dir)
        .map_err(|e| Error::from(e).context(format!("cannot list {root:?}")))?;
    let mut ids = Vec::new();
    for entry in entries {
        let entry = entry.map_err(|e| Error::from(e).context(format!("cannot list {root:?}")))?;
        let name = entry.file_name();
        let Some(id) = name.to_str().and_then(|n| n.strip_suffix(".db")) else {
            continue;
        };
        if validate_job_id(id).is_ok() && entry.path().is_file() {
            ids.push(id.to_string());
        }
    }
    ids.sort();
    Ok(ids)
}

/// The process id of another process that has job `job_id` open, or
/// `None`. A running node keeps a lock on the job's `-shm` file for as long
/// as the job is open (WAL mode); this tests that lock without taking it,
/// and the database file's own lock bytes (held in exclusive locking mode
/// or during a rollback-journal transaction).
///
/// The answer holds for the moment of the call only: a process may open
/// the job right after. It says nothing about the calling process itself.
/// Call it before this process opens the job: it opens and closes the
/// `-shm` and database files, and on POSIX systems closing a file drops every lock the
/// process holds on it, including those of an open connection.
pub fn job_holder(root: &str, job_id: &str) -> Result<Option<i32>> {
    holder(&job_path(root, job_id)?)
}

/// A read-only view of one job file (see the module docs).
pub struct JobReader {
    reader: Reader,
    path: PathBuf,
}

impl std::fmt::Debug for JobReader {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("JobReader")
            .field("path", &self.path)
            .finish()
    }
}

impl JobReader {
    /// Opens job `job_id` under `root` read-only. A missing job is
    /// `JobNotFound`; a file that is not a job file is refused.
    pub fn open(root: &str, job_id: &str) -> Result<JobReader> {
        let path = job_path(root, job_id)?;
        let reader = Reader::open(&path)?;
        Ok(JobReader { reader, path })
    }

    /// The job file's path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Sizes and pages of the file.
    pub fn facts(&self) -> Result<FileFacts> {
        let f = self.reader.facts()?;
        Ok(FileFacts {
            file_bytes: f.file_bytes,
            wal_bytes: f.wal_bytes,
            live_bytes: f.pages.saturating_sub(f.free_pages) * f.page_size,
            free_pages: f.free_pages,
            page_size: f.page_size,
            modified: f.modified,
        })
    }

    /// Every category with its row count, sizes and key bounds, in category
    /// order.
    pub fn categories(&self) -> Result<Vec<CategoryStats>> {
        Ok(self
            .reader
            .aggregates()?
            .into_iter()
            .map(|a| CategoryStats {
                category: a.category,
                rows: a.rows,
                key_bytes: a.key_bytes,
                payload_bytes: a.payload_bytes,
                min_key: a.min_key,
                max_key: a.max_key,
            })
            .collect())
    }

    /// Streams the rows of `range` to `each(category, key, payload)`, which
    /// returns `Ok(false)` to stop; an error from it ends the scan with that
    /// error. Memory stays constant whatever the number of rows: rows are
    /// read one at a time from one snapshot. Returns the rows visited.
    ///
    /// A long scan keeps its snapshot: a running node's WAL cannot be
    /// checkpointed past it until the scan ends.
    pub fn scan(
        &self,
        range: &ReadRange,
        mut each: impl FnMut(&[u8], &[u8], &[u8]) -> Result<bool>,
    ) -> Result<u64> {
        self.reader.scan(
            range.category.as_deref(),
            range.start.as_deref(),
            range.stop.as_deref(),
            range.reverse,
            range.limit,
            &mut each,
        )
    }
}
