//! The SQLite adapter: schema, pragmas and cached statements. Read-only
//! connections for a job's read pool are in `sqlite/reader.rs`; the
//! statements prepared once per connection (point lookups, scans) in
//! `sqlite/prepared.rs`; backup, compaction and the integrity check in
//! `sqlite/maintenance.rs`.

mod check;
mod maintenance;
mod prepared;
mod reader;
mod retention;
mod scan;
pub(super) use maintenance::check_destination;
pub(super) use reader::SqliteReader;

use std::path::{Path, PathBuf};

use rusqlite::config::DbConfig;
use rusqlite::{params, Connection, OpenFlags};

use super::{schema, Backend, Range};
use crate::error::{Error, ErrorKind, Result};
use crate::ops::Op;
use crate::options::{JobOptions, Synchronous};
use crate::progress::Progress;
use crate::rows::Rows;

const PUT: &str = "INSERT OR REPLACE INTO kv (category, key, payload) VALUES (?1, ?2, ?3)";
const PUT_NEW: &str = "INSERT OR IGNORE INTO kv (category, key, payload) VALUES (?1, ?2, ?3)";
const DELETE: &str = "DELETE FROM kv WHERE category = ?1 AND key = ?2";
const DELETE_RANGE: &str = "DELETE FROM kv WHERE category = ?1 AND key >= ?2 AND key < ?3";
const DELETE_FROM: &str = "DELETE FROM kv WHERE category = ?1 AND key >= ?2";
const COUNT_RANGE: &str = "SELECT count(*) FROM kv WHERE category = ?1 AND key >= ?2 AND key < ?3";
const COUNT_FROM: &str = "SELECT count(*) FROM kv WHERE category = ?1 AND key >= ?2";

/// A job's SQLite database.
pub(super) struct SqliteBackend {
    /// Point lookups and scans. Declared before `conn`: they are
    /// finalized before it closes.
    stmts: prepared::Statements,
    conn: Connection,
    path: Option<PathBuf>,
    wal_path: Option<PathBuf>,
    /// The open transaction has written.
    wrote: bool,
    /// Size-capped retention, when the job has it.
    retention: Option<retention::Retention>,
    /// `max_db_bytes` (0: no quota), to tell a full disk from the quota.
    quota: u64,
}

/// `SQLITE_FCNTL_HAS_MOVED` (not in every generated binding).
const FCNTL_HAS_MOVED: std::ffi::c_int = 20;
/// `SQLITE_READONLY_DBMOVED`: the database file was moved or deleted.
const READONLY_DBMOVED: i32 = rusqlite::ffi::SQLITE_READONLY | (4 << 8);

/// Sets the page cache's size of `conn`. Best effort: a failure only
/// leaves the cache as it was. A smaller size drops the unused pages past
/// it.
fn set_cache_kib(conn: &Connection, kib: u32) {
    let _ = conn.execute_batch(&format!("PRAGMA cache_size = -{kib}"));
}

/// `sqlite3_libversion()`: the version of the SQLite linked in.
pub(super) fn library_version() -> &'static std::ffi::CStr {
    // SAFETY: sqlite3_libversion takes no arguments and returns a pointer to
    // a static NUL-terminated string inside the SQLite library.
    unsafe { std::ffi::CStr::from_ptr(rusqlite::ffi::sqlite3_libversion()) }
}

/// A sidecar file of a database: `-wal` or `-shm` appended to its path.
fn sidecar(db: &Path, suffix: &str) -> PathBuf {
    let mut path = db.as_os_str().to_owned();
    path.push(suffix);
    PathBuf::from(path)
}

/// Checks a root directory as upstream: not empty; not an existing
/// non-directory; if missing, its first existing ancestor is a directory.
pub(super) fn validate_root(root: &str) -> Result<()> {
    if root.is_empty() {
        return Err(Error::invalid("root directory is empty"));
    }
    if root.contains('\0') {
        return Err(Error::invalid("root directory contains NUL"));
    }
    let path = Path::new(root);
    let mut ancestor = Some(path);
    while let Some(p) = ancestor {
        let probe = if p.as_os_str().is_empty() {
            Path::new(".")
        } else {
            p
        };
        match std::fs::metadata(probe) {
            Ok(meta) if meta.is_dir() => return Ok(()),
            Ok(_) if p == path => {
                return Err(Error::invalid(format!(
                    "root {root:?} exists and is not a directory"
                )))
            }
            Ok(_) => {
                return Err(Error::invalid(format!(
                    "root {root:?} cannot be created: {} is not a directory",
                    p.display()
                )))
            }
            Err(_) => ancestor = p.parent(),
        }
    }
    Ok(())
}

/// The canonical root directory; with `create`, it is created when
/// missing.
pub(super) fn canonical_root(root: &str, create: bool) -> Result<PathBuf> {
    if create {
        std::fs::create_dir_all(root)
            .map_err(|e| Error::from(e).context(format!("cannot create root {root:?}")))?;
    }
    std::fs::canonicalize(root)
        .map_err(|e| Error::from(e).context(format!("cannot resolve root {root:?}")))
}

/// Deletes a job's database file and its `-wal` and `-shm` sidecars;
/// missing files are not an error.
pub(super) fn remove_job_files(db: &Path) -> Result<()> {
    for file in [db.to_path_buf(), sidecar(db, "-wal"), sidecar(db, "-shm")] {
        match std::fs::remove_file(&file) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => {
                return Err(Error::from(e).context(format!("cannot remove {}", file.display())))
            }
        }
    }
    Ok(())
}

/// A storage error with SQLite's extended result code; `SQLITE_FULL` (the
/// quota or the disk) is [`ErrorKind::Full`].
pub(super) fn sqlite_error(code: i32, message: impl Into<String>) -> Error {
    let kind = if code & 0xff == rusqlite::ffi::SQLITE_FULL {
        ErrorKind::Full
    } else {
        ErrorKind::Backend
    };
    Error::from_backend(kind, code, message)
}

impl From<rusqlite::Error> for Error {
    fn from(e: rusqlite::Error) -> Error {
        match &e {
            rusqlite::Error::SqliteFailure(f, _) => sqlite_error(f.extended_code, e.to_string()),
            _ => sqlite_error(rusqlite::ffi::SQLITE_ERROR, e.to_string()),
        }
    }
}

/// Opens a job file through the default VFS.
#[cfg(not(feature = "fault-injection"))]
pub(super) fn open_file(path: &Path, flags: OpenFlags) -> Result<Connection> {
    Ok(Connection::open_with_flags(path, flags)?)
}

/// Opens a job file through the fault-injecting VFS, which passes every
/// call through until a test's plan says otherwise.
#[cfg(feature = "fault-injection")]
pub(super) fn open_file(path: &Path, flags: OpenFlags) -> Result<Connection> {
    super::faultvfs::register().map_err(Error::internal)?;
    let vfs = super::faultvfs::NAME.to_str().unwrap_or("unix");
    Ok(Connection::open_with_flags_and_vfs(path, flags, vfs)?)
}

impl SqliteBackend {
    /// Opens (creating if missing) a job database, in memory for `None`,
    /// with the schema and the pragmas of `options`.
    pub(super) fn open(path: Option<&Path>, options: &JobOptions) -> Result<SqliteBackend> {
        let flags = OpenFlags::SQLITE_OPEN_READ_WRITE
            | OpenFlags::SQLITE_OPEN_CREATE
            | OpenFlags::SQLITE_OPEN_NO_MUTEX
            // The path was checked (`files.rs`): never follow a link swapped in.
            | OpenFlags::SQLITE_OPEN_NOFOLLOW;
        let conn = match path {
            None => Connection::open_in_memory_with_flags(flags)?,
            Some(path) => open_file(path, flags)
                .map_err(|e| e.context(format!("cannot open {}", path.display())))?,
        };
        let mut backend = SqliteBackend {
            stmts: Default::default(),
            conn,
            wal_path: path.map(|p| sidecar(p, "-wal")),
            path: path.map(Path::to_path_buf),
            wrote: false,
            retention: retention::Retention::of(options),
            quota: options.max_db_bytes,
        };
        backend.configure(options).map_err(|e| match path {
            None => e.context("cannot open in-memory database"),
            Some(p) => e.context(format!("cannot open {}", p.display())),
        })?;
        Ok(backend)
    }

    fn configure(&mut self, options: &JobOptions) -> Result<()> {
        let conn = &self.conn;
        conn.busy_timeout(std::time::Duration::from_millis(5000))?;
        conn.set_prepared_statement_cache_capacity(32);
        // Before anything writes to the file: a file that is not a database,
        // or another application's database, is refused here unchanged (and
        // not checkpointed when the connection closes).
        let found = schema::inspect(conn).inspect_err(|_| {
            let _ = conn.set_db_config(DbConfig::SQLITE_DBCONFIG_NO_CKPT_ON_CLOSE, true);
        })?;
        if found == schema::Found::Empty {
            // Before the first table exists: lets `compact` give free pages
            // back without rewriting the file.
            conn.execute_batch("PRAGMA auto_vacuum = INCREMENTAL")?;
        }
        if self.path.is_some() {
            let mode: String = conn.query_row("PRAGMA journal_mode = WAL", [], |r| r.get(0))?;
            if !mode.eq_ignore_ascii_case("wal") {
                return Err(sqlite_error(
                    rusqlite::ffi::SQLITE_CANTOPEN,
                    format!("cannot switch to WAL journal mode (got {mode})"),
                ));
            }
        }
        let sync = match options.synchronous {
            Synchronous::Normal => "NORMAL",
            Synchronous::Off => "OFF",
            Synchronous::Full => "FULL",
        };
        conn.execute_batch(&format!(
            "PRAGMA synchronous = {sync}; PRAGMA temp_store = MEMORY; PRAGMA cache_size = -{CACHE_KIB}; \
             PRAGMA wal_autocheckpoint = {WAL_AUTOCHECKPOINT_PAGES}; \
             PRAGMA journal_size_limit = {JOURNAL_SIZE_LIMIT};"
        ))?;
        schema::create(conn, found)?;
        if options.max_db_bytes > 0 {
            let page_size: u64 = conn.query_row("PRAGMA page_size", [], |r| r.get(0))?;
            let pages = (options.max_db_bytes / page_size).max(1);
            // SQLite never lowers the cap below the current size: a cap
            // under it only refuses growth.
            conn.query_row(&format!("PRAGMA max_page_count = {pages}"), [], |_| Ok(()))?;
        }
        Ok(())
    }

    fn apply_one(&mut self, op: &Op) -> Result<()> {
        match op {
            Op::Put {
                category,
                key,
                payload,
            } => {
                self.conn
                    .prepare_cached(PUT)?
                    .execute(params![category, key, payload])?;
            }
            Op::Delete { category, key } => {
                self.conn
                    .prepare_cached(DELETE)?
                    .execute(params![category, key])?;
            }
            Op::DeletePrefix { category, prefix } => {
                match crate::keys::prefix_stop(prefix) {
                    Some(stop) => self
                        .conn
                        .prepare_cached(DELETE_RANGE)?
                        .execute(params![category, prefix, stop])?,
                    None => self
                        .conn
                        .prepare_cached(DELETE_FROM)?
                        .execute(params![category, prefix])?,
                };
            }
            Op::DeleteRange {
                category,
                start,
                stop,
            } => {
                if stop.is_empty() {
                    self.conn
                        .prepare_cached(DELETE_FROM)?
                        .execute(params![category, start])?;
                } else {
                    self.conn
                        .prepare_cached(DELETE_RANGE)?
                        .execute(params![category, start, stop])?;
                }
            }
        }
        Ok(())
    }

    /// Whether the database file was moved or deleted since it was opened:
    /// writes to it would then be lost when the job closes.
    fn file_has_moved(&self) -> bool {
        let mut moved: std::ffi::c_int = 0;
        // SAFETY: the handle is this live connection's; SQLITE_FCNTL_HAS_MOVED
        // writes one int through the pointer, which points at a local int.
        let rc = unsafe {
            rusqlite::ffi::sqlite3_file_control(
                self.conn.handle(),
                c"main".as_ptr(),
                FCNTL_HAS_MOVED,
                (&mut moved as *mut std::ffi::c_int).cast(),
            )
        };
        rc == rusqlite::ffi::SQLITE_OK && moved != 0
    }

    /// Says what filled up in a [`ErrorKind::Full`] error: the disk, when
    /// there is no quota or the commit (which allocates no pages, so never
    /// meets the quota) failed; else the quota or the disk.
    fn explain_full(&self, e: Error, committing: bool) -> Error {
        if e.kind() != ErrorKind::Full {
            return e;
        }
        if self.quota == 0 || committing {
            e.context("disk full")
        } else {
            e.context(format!(
                "quota of {} bytes (max_db_bytes) exceeded or disk full",
                self.quota
            ))
        }
    }

    fn apply_ops(&mut self, ops: &[Op]) -> Result<()> {
        // One statement is atomic on its own; a batch needs a savepoint.
        if let [op] = ops {
            return self.apply_one(op);
        }
        self.exec_cached("SAVEPOINT batch")?;
        let result = ops.iter().try_for_each(|op| self.apply_one(op));
        if result.is_err() && self.in_transaction() {
            let _ = self.exec_cached("ROLLBACK TO batch");
        }
        if self.in_transaction() {
            self.exec_cached("RELEASE batch")?;
        }
        result
    }

    fn exec_cached(&self, sql: &str) -> Result<()> {
        self.conn.prepare_cached(sql)?.execute([])?;
        Ok(())
    }
}

/// The page cache of each job's connection, in KiB (allocated as used).
/// Group commits touch many pages; a cache that holds them turns repeated
/// writes to one page within a transaction into one.
const CACHE_KIB: u32 = 8_192;

/// The page cache while reading pages once (`Backend::read_once`): enough
/// for a B-tree's path from the root.
const READ_ONCE_CACHE_KIB: u32 = 256;

/// Pages of WAL after which a commit checkpoints. Larger than SQLite's 1000
/// so large group commits are not each followed by a checkpoint.
const WAL_AUTOCHECKPOINT_PAGES: u32 = 10_000;

/// Bytes a checkpointed WAL file is truncated back to.
const JOURNAL_SIZE_LIMIT: u64 = 64 * 1024 * 1024;

impl Backend for SqliteBackend {
    fn begin(&mut self) -> Result<()> {
        self.exec_cached("BEGIN")
    }

    fn commit(&mut self) -> Result<()> {
        if std::mem::take(&mut self.wrote) && self.path.is_some() && self.file_has_moved() {
            self.rollback();
            let path = self.path.as_deref().unwrap_or(Path::new("?"));
            return Err(sqlite_error(
                READONLY_DBMOVED,
                format!(
                    "{} was moved or deleted while the job was open; nothing was committed",
                    path.display()
                ),
            ));
        }
        self.exec_cached("COMMIT")
            .map_err(|e| self.explain_full(e, true))
    }

    fn rollback(&mut self) {
        self.wrote = false;
        if !self.conn.is_autocommit() {
            // A failed rollback leaves nothing more to undo.
            let _ = self.conn.execute_batch("ROLLBACK");
        }
    }

    fn in_transaction(&self) -> bool {
        !self.conn.is_autocommit()
    }

    fn apply(&mut self, ops: &[Op]) -> Result<()> {
        self.refuse_oversized(ops)?;
        self.wrote = true;
        self.apply_ops(ops).map_err(|e| self.explain_full(e, false))
    }

    fn delete_acked(&mut self, category: &[u8], key: &[u8]) -> Result<bool> {
        self.wrote = true;
        let n = self
            .conn
            .prepare_cached(DELETE)
            .and_then(|mut s| s.execute(params![category, key]))
            .map_err(|e| self.explain_full(e.into(), false))?;
        Ok(n > 0)
    }

    fn put_new(&mut self, category: &[u8], key: &[u8], payload: &[u8]) -> Result<bool> {
        self.wrote = true;
        let n = self
            .conn
            .prepare_cached(PUT_NEW)
            .and_then(|mut s| s.execute(params![category, key, payload]))
            .map_err(|e| self.explain_full(e.into(), false))?;
        Ok(n > 0)
    }

    fn get(&mut self, category: &[u8], key: &[u8]) -> Result<Option<Vec<u8>>> {
        let stmt = self.stmts.get(&self.conn)?;
        stmt.first(&self.conn, category, key, |value| value.map(<[u8]>::to_vec))
    }

    fn exists(&mut self, category: &[u8], key: &[u8]) -> Result<bool> {
        let stmt = self.stmts.exists(&self.conn)?;
        stmt.first(&self.conn, category, key, |row| row.is_some())
    }

    fn scan(&mut self, range: &Range, reverse: bool, limit: u32) -> Result<Rows> {
        self.scan_rows(range, reverse, limit, &|| false)?
            .ok_or_else(|| Error::internal("a scan that never gives up gave up"))
    }

    fn scan_unless(
        &mut self,
        range: &Range,
        reverse: bool,
        limit: u32,
        give_up: &dyn Fn() -> bool,
    ) -> Result<Option<Rows>> {
        self.scan_rows(range, reverse, limit, give_up)
    }

    fn count(&mut self, range: &Range) -> Result<u64> {
        let n: i64 = match &range.stop {
            Some(stop) => self
                .conn
                .prepare_cached(COUNT_RANGE)?
                .query_row(params![range.category, range.start, stop], |r| r.get(0))?,
            None => self
                .conn
                .prepare_cached(COUNT_FROM)?
                .query_row(params![range.category, range.start], |r| r.get(0))?,
        };
        Ok(n as u64)
    }

    fn get_many(&mut self, category: &[u8], keys: &[Vec<u8>]) -> Result<Rows> {
        // Look the keys up in key order, so consecutive lookups walk
        // neighbouring B-tree pages, then answer in the order given.
        let mut order: Vec<usize> = (0..keys.len()).collect();
        order.sort_unstable_by(|&a, &b| keys[a].cmp(&keys[b]));
        let mut payloads = Vec::new();
        let mut spans: Vec<Option<(usize, usize)>> = vec![None; keys.len()];
        let stmt = self.stmts.get(&self.conn)?;
        for i in order {
            spans[i] = stmt.first(&self.conn, category, &keys[i], |value| {
                value.map(|value| {
                    let start = payloads.len();
                    payloads.extend_from_slice(value);
                    (start, payloads.len())
                })
            })?;
        }
        let mut rows = Rows::new();
        for (key, span) in keys.iter().zip(spans) {
            if let Some((start, end)) = span {
                rows.push(key, &payloads[start..end]);
            }
        }
        Ok(rows)
    }

    fn size(&mut self) -> u64 {
        match (&self.path, &self.wal_path) {
            (Some(db), Some(wal)) => [db, wal]
                .iter()
                .filter_map(|p| std::fs::metadata(p).ok())
                .map(|m| m.len())
                .sum(),
            _ => self
                .conn
                .query_row(
                    "SELECT page_count * page_size FROM pragma_page_count(), pragma_page_size()",
                    [],
                    |r| r.get::<_, i64>(0),
                )
                .map(|n| n as u64)
                .unwrap_or(0),
        }
    }

    fn live_bytes(&mut self) -> u64 {
        self.live_page_bytes()
    }

    fn start_backup(&mut self, dest: &Path) -> Result<Box<dyn super::BackupCopy>> {
        self.backup_into(dest)
    }

    fn compact_step(&mut self, pages: u32) -> Result<u64> {
        self.compact_pages(pages)
    }

    fn free_bytes(&mut self) -> u64 {
        self.free_page_bytes()
    }

    fn check(&mut self, progress: Option<&mut dyn FnMut(Progress)>) -> Result<()> {
        self.integrity_check(progress)
    }

    fn enforce_retention(&mut self) -> Result<bool> {
        self.retain()
    }

    fn read_once(&mut self, once: bool) {
        // A page cache of a few pages while reading once (SQLite drops the
        // pages past the new size), the usual one after. Best effort: a
        // failure only leaves the cache as it was.
        set_cache_kib(
            &self.conn,
            if once { READ_ONCE_CACHE_KIB } else { CACHE_KIB },
        );
    }
}

#[cfg(test)]
mod tests;
