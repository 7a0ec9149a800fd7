//! The storage port: what the layers above need from a store, and the one
//! constructor that picks an adapter for an instance's root.
//!
//! Nothing above this module names an adapter or writes SQL. An instance
//! asks [`Store::for_root`] for its store, a job asks the store for its
//! [`Site`], and the worker thread opens the site into a [`Backend`]. A new
//! adapter is a new module here plus one arm in [`Store::for_root`].

#[cfg(feature = "fault-injection")]
pub(crate) mod faultplan;
#[cfg(feature = "fault-injection")]
mod faultvfs;
mod files;
pub(crate) mod inspect;
#[cfg(feature = "postgres")]
mod postgres;
mod schema;
mod sqlite;

use std::fmt;
use std::path::{Path, PathBuf};

use crate::error::Result;
use crate::ops::Op;
use crate::options::JobOptions;
use crate::progress::Progress;
use crate::rows::Rows;
pub(crate) use files::FileId;
use files::{JobFile, Resolved};

/// A half-open key range `[start, stop)` of one category; `stop == None`
/// means no upper bound.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Range {
    pub category: Vec<u8>,
    pub start: Vec<u8>,
    pub stop: Option<Vec<u8>>,
}

impl Range {
    /// Moves the range past `page`, a page scanned from it in key order
    /// (`reverse`: descending): ascending, the new start is the page's last
    /// key with `0x00` appended; descending, that key becomes the stop.
    /// Returns false, leaving the range as it was, when nothing can follow:
    /// the page says no rows remain, or is empty, or ended at the empty key
    /// going down.
    pub(crate) fn advance(&mut self, page: &Rows, reverse: bool) -> bool {
        let last = match page.last() {
            Some(row) if page.has_more() => row.key,
            _ => return false,
        };
        if reverse {
            if last.is_empty() {
                // Nothing is below the empty key.
                return false;
            }
            self.stop = Some(last.to_vec());
        } else {
            self.start.clear();
            self.start.extend_from_slice(last);
            self.start.push(0);
        }
        true
    }
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
    /// Stores one row unless its key is present (then nothing changes);
    /// tells whether it stored it. Stores that can tell in one statement
    /// override this.
    fn put_new(&mut self, category: &[u8], key: &[u8], payload: &[u8]) -> Result<bool> {
        if self.exists(category, key)? {
            return Ok(false);
        }
        self.apply(&[Op::put(category, key.to_vec(), payload.to_vec())])?;
        Ok(true)
    }
    /// The payload stored under a key.
    fn get(&mut self, category: &[u8], key: &[u8]) -> Result<Option<Vec<u8>>>;
    /// Whether a key is present.
    fn exists(&mut self, category: &[u8], key: &[u8]) -> Result<bool>;
    /// The rows in a range, in key order (descending when `reverse`), at
    /// most `limit` of them (0: no limit), telling whether more remain.
    fn scan(&mut self, range: &Range, reverse: bool, limit: u32) -> Result<Rows>;
    /// As [`Backend::scan`] for a page nobody has asked for yet: `None`
    /// once `give_up` says so (it is asked every few rows), so a request
    /// that arrives meanwhile waits for a few rows, not the whole page.
    /// By default the page is read whole.
    fn scan_unless(
        &mut self,
        range: &Range,
        reverse: bool,
        limit: u32,
        give_up: &dyn Fn() -> bool,
    ) -> Result<Option<Rows>> {
        let _ = give_up;
        self.scan(range, reverse, limit).map(Some)
    }
    /// How many rows a range holds.
    fn count(&mut self, range: &Range) -> Result<u64>;
    /// The rows of the keys that exist, in the order the keys are given.
    fn get_many(&mut self, category: &[u8], keys: &[Vec<u8>]) -> Result<Rows>;
    /// Bytes the store occupies (on disk: database plus write-ahead log).
    fn size(&mut self) -> u64;
    /// Bytes of the pages in use (page count minus free pages, times the
    /// page size): what the data needs, without the free space.
    fn live_bytes(&mut self) -> u64;
    /// Starts a consistent copy of the committed data into a new file at
    /// `dest` (refused when it exists); the copy continues in
    /// [`BackupCopy::step`]. Runs outside any transaction.
    fn start_backup(&mut self, dest: &Path) -> Result<Box<dyn BackupCopy>>;
    /// One step of giving free pages back to the file system: frees up
    /// to `pages` of them (some stores can only do all at once) and
    /// returns how many are left; at 0 the files have shrunk. Runs outside
    /// any transaction.
    fn compact_step(&mut self, pages: u32) -> Result<u64>;
    /// Bytes of free space that compaction would give back now.
    fn free_bytes(&mut self) -> u64;
    /// Checks the store's integrity; an error names the first problems.
    /// `progress`, when given, hears how far the check has got while it
    /// runs (on this thread; see [`Progress`] for the rules); the worker
    /// passes a closure that does not unwind.
    fn check(&mut self, progress: Option<&mut dyn FnMut(Progress)>) -> Result<()>;
    /// Applies size-capped retention after a commit (a no-op without it);
    /// tells whether anything changed. Runs outside any transaction.
    fn enforce_retention(&mut self) -> Result<bool>;
    /// While `once` is true, the reads that follow read pages nothing will
    /// read again soon (the sync sets' fill, `sync/fill.rs`): a store may
    /// keep them out of its page cache, so they neither take memory nor
    /// push out the pages that are read often. A no-op by default.
    fn read_once(&mut self, once: bool) {
        let _ = once;
    }
}

/// A backup in progress. It reads a snapshot of the data taken when it
/// started, so the store may keep changing between steps. Dropped before
/// it finished, it removes its temporary file.
pub(crate) trait BackupCopy: Send {
    /// Copies the next part, about `pages` pages; `Ok(true)` once the copy
    /// is complete and in place at its destination.
    fn step(&mut self, pages: u32) -> Result<bool>;
    /// How far the copy has got: the snapshot's bytes copied so far, of
    /// its size (`done == total` once in place).
    fn progress(&self) -> Progress;
}

/// Refuses a backup destination that exists or whose directory does not,
/// before the request is queued (the worker checks again).
pub(crate) fn check_backup_destination(dest: &Path) -> Result<()> {
    sqlite::check_destination(dest)
}

/// The version of the SQLite library that serves job files: the bundled
/// copy (the default build) or the system's with `system-sqlite`.
///
/// ```
/// assert!(persistency::sqlite_version().to_str().unwrap().starts_with("3."));
/// ```
pub fn sqlite_version() -> &'static std::ffi::CStr {
    sqlite::library_version()
}

/// A read-only connection to a job's committed data, used on the caller's
/// thread. It never sees a write that is not committed: the job layer
/// decides when that is good enough (see `job/pool.rs`).
pub(crate) trait Reader: Send {
    /// The payload stored under a key.
    fn get(&mut self, category: &[u8], key: &[u8]) -> Result<Option<Vec<u8>>>;
    /// Whether a key is present.
    fn exists(&mut self, category: &[u8], key: &[u8]) -> Result<bool>;
    /// As [`Backend::scan`].
    fn scan(&mut self, range: &Range, reverse: bool, limit: u32) -> Result<Rows>;
    /// How many rows a range holds.
    fn count(&mut self, range: &Range) -> Result<u64>;
    /// As [`Backend::get_many`], every key read in one snapshot.
    fn get_many(&mut self, category: &[u8], keys: &[Vec<u8>]) -> Result<Rows>;
}

/// The root string that keeps every job in a private in-memory database.
pub(crate) const MEMORY_ROOT: &str = ":memory:";

/// Where an instance keeps its jobs, chosen once from its root.
#[derive(Debug)]
pub(crate) struct Store(StoreKind);

#[derive(Debug)]
enum StoreKind {
    /// [`MEMORY_ROOT`]: each job a private in-memory SQLite database.
    Memory,
    /// A directory of SQLite job files, as the root was given.
    Directory(String),
    /// A PostgreSQL database and schema: each job a table.
    #[cfg(feature = "postgres")]
    Postgres(Box<postgres::PgStore>),
}

impl Store {
    /// The store of an instance root: validates the root and picks the
    /// adapter. This is the only place that maps roots to adapters.
    pub(crate) fn for_root(root: &str) -> Result<Store> {
        if root == MEMORY_ROOT {
            return Ok(Store(StoreKind::Memory));
        }
        if root.starts_with("postgresql://") || root.starts_with("postgres://") {
            #[cfg(feature = "postgres")]
            return Ok(Store(StoreKind::Postgres(Box::new(
                postgres::PgStore::parse(root)?,
            ))));
            #[cfg(not(feature = "postgres"))]
            return Err(crate::error::Error::invalid(
                "a PostgreSQL root needs the library built with the `postgres` feature",
            ));
        }
        sqlite::validate_root(root)?;
        Ok(Store(StoreKind::Directory(root.to_string())))
    }

    /// Where the job `job_id` lives, preparing the store for it (creating
    /// the root directory when missing).
    pub(crate) fn site(&self, job_id: &str) -> Result<Site> {
        Ok(match &self.0 {
            StoreKind::Memory => Site::Memory,
            StoreKind::Directory(root) => Site::File {
                file: JobFile::new(sqlite::canonical_root(root, true)?, job_id),
                resolved: None,
            },
            #[cfg(feature = "postgres")]
            StoreKind::Postgres(store) => Site::Postgres(store.site(job_id)),
        })
    }

    /// Where the job `job_id` would live, without creating anything; `None`
    /// when the store itself does not exist (so neither does the job).
    pub(crate) fn existing_site(&self, job_id: &str) -> Option<Site> {
        match &self.0 {
            StoreKind::Memory => Some(Site::Memory),
            StoreKind::Directory(root) => {
                sqlite::canonical_root(root, false)
                    .ok()
                    .map(|root| Site::File {
                        file: JobFile::new(root, job_id),
                        resolved: None,
                    })
            }
            #[cfg(feature = "postgres")]
            StoreKind::Postgres(store) => Some(Site::Postgres(store.site(job_id))),
        }
    }
}

/// One thing two jobs must not share: a file's path or the file itself,
/// or a database table (named by server, database, schema and table).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(crate) enum ClaimKey {
    Path(PathBuf),
    File(FileId),
    Table(String),
}

/// What identifies a job's storage across jobs and instances: the path of
/// the file it uses and the file itself (device and inode), so a hard or
/// symbolic link to a file is the same storage as the file. Two jobs whose
/// identities share a key would share data: only one may hold it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Identity {
    paths: Vec<PathBuf>,
    file: Option<FileId>,
    /// A database table, for a job kept in one.
    table: Option<String>,
}

impl Identity {
    /// The keys to claim: every path and the file, or the table.
    pub(crate) fn keys(&self) -> Vec<ClaimKey> {
        let paths = self.paths.iter().cloned().map(ClaimKey::Path);
        let table = self.table.clone().map(ClaimKey::Table);
        paths
            .chain(self.file.map(ClaimKey::File))
            .chain(table)
            .collect()
    }
}

impl fmt::Display for Identity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(table) = &self.table {
            return write!(f, "{table}");
        }
        match self.paths.last() {
            Some(path) => write!(f, "job file {}", path.display()),
            None => write!(f, "job file ?"),
        }
    }
}

/// Where one job's data lives.
#[derive(Debug, Clone)]
pub(crate) enum Site {
    /// A private in-memory database, gone when the job closes.
    Memory,
    /// A database file; `resolved` once [`Site::identity`] checked it.
    File {
        file: JobFile,
        resolved: Option<Resolved>,
    },
    /// A table of a PostgreSQL database.
    #[cfg(feature = "postgres")]
    Postgres(postgres::PgSite),
}

impl Site {
    /// Checks the job's file (refusing anything but a regular file or a
    /// link to one inside the root), creates it empty when missing, and
    /// returns the identity other jobs are kept off; `None` for storage no
    /// other job can reach. [`Site::open`] opens exactly this file.
    pub(crate) fn identity(&mut self) -> Result<Option<Identity>> {
        match self {
            Site::Memory => Ok(None),
            Site::File { file, resolved } => {
                let found = file.resolve()?;
                let identity = Identity {
                    paths: vec![found.path.clone()],
                    file: Some(found.id),
                    table: None,
                };
                *resolved = Some(found);
                Ok(Some(identity))
            }
            #[cfg(feature = "postgres")]
            Site::Postgres(site) => Ok(Some(site.identity())),
        }
    }

    /// What deleting the job's files touches, for the claim a drop holds;
    /// `None` for storage no other job can reach.
    pub(crate) fn existing_identity(&self) -> Option<Identity> {
        match self {
            Site::Memory => None,
            Site::File { file, .. } => {
                let (paths, file) = file.existing();
                Some(Identity {
                    paths,
                    file,
                    table: None,
                })
            }
            #[cfg(feature = "postgres")]
            Site::Postgres(site) => Some(site.identity()),
        }
    }

    /// Opens (creating if missing) the job's store; runs on its worker.
    /// A file site opens the file [`Site::identity`] checked, and fails if
    /// it was replaced meanwhile.
    pub(crate) fn open(&self, options: &JobOptions) -> Result<Box<dyn Backend>> {
        match self {
            Site::Memory => Ok(Box::new(sqlite::SqliteBackend::open(None, options)?)),
            Site::File {
                resolved: None,
                file,
            } => Err(crate::error::Error::internal(format!(
                "{} was not checked before opening",
                file.entry().display()
            ))),
            Site::File {
                resolved: Some(found),
                ..
            } => {
                let backend = sqlite::SqliteBackend::open(Some(&found.path), options)?;
                files::check_same(&found.path, found.id)?;
                Ok(Box::new(backend))
            }
            #[cfg(feature = "postgres")]
            Site::Postgres(site) => Ok(Box::new(site.open(options)?)),
        }
    }

    /// Whether other connections can reach the job's data, so reads may run
    /// on [`Site::open_reader`] connections (not for in-memory jobs, nor for
    /// PostgreSQL ones: their reads go through the worker, whose session
    /// holds the job, so a job fenced off another process's serves none).
    pub(crate) fn has_readers(&self) -> bool {
        matches!(self, Site::File { .. })
    }

    /// Opens a read-only connection to the job's committed data, for use
    /// while the job's worker holds the store open.
    pub(crate) fn open_reader(&self) -> Result<Box<dyn Reader>> {
        match self {
            Site::Memory => Err(crate::error::Error::internal(
                "an in-memory job has no second connection",
            )),
            Site::File {
                resolved: Some(found),
                ..
            } => Ok(Box::new(sqlite::SqliteReader::open(&found.path)?)),
            Site::File { file, .. } => Err(crate::error::Error::internal(format!(
                "{} was not checked before opening a reader",
                file.entry().display()
            ))),
            #[cfg(feature = "postgres")]
            Site::Postgres(_) => Err(crate::error::Error::internal(
                "a PostgreSQL job has no reader connections",
            )),
        }
    }

    /// Deletes the job's stored data (the file in the root, never a link's
    /// target, and its `-wal` and `-shm` sidecars); missing data is not an
    /// error.
    pub(crate) fn remove(&self) -> Result<()> {
        match self {
            Site::Memory => Ok(()),
            Site::File { file, .. } => {
                #[cfg(feature = "fault-injection")]
                crate::fault::before_unlink(file.entry());
                sqlite::remove_job_files(file.entry())
            }
            #[cfg(feature = "postgres")]
            Site::Postgres(site) => site.remove(),
        }
    }
}
