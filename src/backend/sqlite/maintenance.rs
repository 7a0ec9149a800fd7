//! Maintenance of a job database: online backup (SQLite's backup API, in
//! steps), compaction (`incremental_vacuum`, or a full `VACUUM` for files
//! made without `auto_vacuum`), the integrity check and the live size.

use std::ffi::CStr;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use rusqlite::{ffi, Connection, OpenFlags};

use super::{sqlite_error, SqliteBackend};
use crate::backend::BackupCopy;
use crate::error::{Error, Result};
use crate::progress::Progress;

/// `PRAGMA auto_vacuum` values.
const AUTO_VACUUM_NONE: i64 = 0;
const AUTO_VACUUM_INCREMENTAL: i64 = 2;

static TEMP_SERIAL: AtomicU64 = AtomicU64::new(0);

/// Refuses a destination that exists or whose directory does not.
pub(crate) fn check_destination(dest: &Path) -> Result<()> {
    if dest.as_os_str().is_empty() {
        return Err(Error::invalid("backup destination is empty"));
    }
    if dest.symlink_metadata().is_ok() {
        return Err(Error::invalid(format!(
            "backup destination {} exists; it is never overwritten",
            dest.display()
        )));
    }
    let dir = directory_of(dest);
    if !dir.is_dir() {
        return Err(Error::invalid(format!(
            "backup destination directory {} does not exist",
            dir.display()
        )));
    }
    Ok(())
}

fn directory_of(path: &Path) -> &Path {
    match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    }
}

/// A hidden temporary file beside `dest`, unique in this process.
fn temp_beside(dest: &Path) -> PathBuf {
    let name = dest
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let serial = TEMP_SERIAL.fetch_add(1, Ordering::Relaxed);
    directory_of(dest).join(format!(".{name}.tmp-{}-{serial}", std::process::id()))
}

/// The message of a connection's last error.
fn last_message(conn: &Connection) -> String {
    // SAFETY: the handle is the live connection's; sqlite3_errmsg returns a
    // NUL-terminated string owned by it, copied before anything else runs
    // on the connection.
    unsafe {
        let text = ffi::sqlite3_errmsg(conn.handle());
        if text.is_null() {
            return "unknown error".to_string();
        }
        CStr::from_ptr(text).to_string_lossy().into_owned()
    }
}

impl SqliteBackend {
    pub(super) fn live_page_bytes(&mut self) -> u64 {
        self.conn
            .query_row(
                "SELECT (page_count - freelist_count) * page_size \
                 FROM pragma_page_count(), pragma_freelist_count(), pragma_page_size()",
                [],
                |r| r.get::<_, i64>(0),
            )
            .map(|n| n.max(0) as u64)
            .unwrap_or(0)
    }

    /// Bytes of the free pages (what compaction would give back).
    pub(super) fn free_page_bytes(&mut self) -> u64 {
        self.conn
            .query_row(
                "SELECT freelist_count * page_size FROM pragma_freelist_count(), pragma_page_size()",
                [],
                |r| r.get::<_, i64>(0),
            )
            .map(|n| n.max(0) as u64)
            .unwrap_or(0)
    }

    /// Starts a backup. A job file is read through a second, read-only
    /// connection holding one read transaction (a WAL snapshot) until the
    /// copy is done: writers go on, and the copy never restarts. An
    /// in-memory database has no second connection: it is copied at once.
    pub(super) fn backup_into(&mut self, dest: &Path) -> Result<Box<dyn BackupCopy>> {
        check_destination(dest)?;
        let temp = temp_beside(dest);
        let mut copy = SqliteCopy {
            handle: std::ptr::null_mut(),
            source: None,
            dest: None,
            temp: temp.clone(),
            target: dest.to_path_buf(),
            placed: false,
            page_bytes: self
                .conn
                .query_row("PRAGMA page_size", [], |r| r.get::<_, i64>(0))?
                .max(0) as u64,
            copied: Progress::default(),
        };
        let flags = OpenFlags::SQLITE_OPEN_READ_WRITE
            | OpenFlags::SQLITE_OPEN_CREATE
            | OpenFlags::SQLITE_OPEN_NO_MUTEX;
        let to = Connection::open_with_flags(&temp, flags)
            .map_err(|e| Error::from(e).context(format!("cannot create {}", temp.display())))?;
        // The copy is synced once, at its end; a crash before leaves only
        // the temporary file.
        to.execute_batch("PRAGMA journal_mode = OFF; PRAGMA synchronous = OFF")?;
        let dest_conn = copy.dest.insert(to);
        let source = match &self.path {
            Some(path) => {
                let from = Connection::open_with_flags(
                    path,
                    OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
                )?;
                from.busy_timeout(std::time::Duration::from_millis(5000))?;
                // Pin the snapshot: everything committed now, nothing later.
                from.execute_batch("BEGIN")?;
                from.query_row("SELECT count(*) FROM sqlite_schema", [], |_| Ok(()))?;
                Some(from)
            }
            None => None,
        };
        let from_handle = match &source {
            // SAFETY: the handle of a live connection, only read here.
            Some(from) => unsafe { from.handle() },
            // SAFETY: as above, this backend's own connection.
            None => unsafe { self.conn.handle() },
        };
        // SAFETY: both handles belong to live connections that `copy` (or
        // this backend, for memory) keeps open longer than the backup
        // object, which `copy` finishes before they close.
        copy.handle = unsafe {
            ffi::sqlite3_backup_init(
                dest_conn.handle(),
                c"main".as_ptr(),
                from_handle,
                c"main".as_ptr(),
            )
        };
        if copy.handle.is_null() {
            let message = last_message(dest_conn);
            return Err(sqlite_error(ffi::SQLITE_ERROR, message).context("cannot start backup"));
        }
        copy.source = source;
        if self.path.is_none() {
            // Copied in one go, while the in-memory source cannot change.
            while !copy.step_all(-1)? {}
        }
        Ok(Box::new(copy))
    }

    /// One step of compaction. Where the file has `auto_vacuum =
    /// INCREMENTAL`, `incremental_vacuum` frees up to `pages` free pages;
    /// a file made without auto-vacuum is rewritten with a full `VACUUM`
    /// that also turns it on (one step: it cannot be split). Returns the
    /// free pages left; when none are, the write-ahead log is checkpointed
    /// and truncated, so the file shrinks.
    pub(super) fn compact_pages(&mut self, pages: u32) -> Result<u64> {
        let mode: i64 = self
            .conn
            .query_row("PRAGMA auto_vacuum", [], |r| r.get(0))?;
        let left = match mode {
            AUTO_VACUUM_INCREMENTAL => {
                self.vacuum_pages(pages.max(1))?;
                self.conn
                    .query_row("PRAGMA freelist_count", [], |r| r.get::<_, i64>(0))?
                    .max(0) as u64
            }
            AUTO_VACUUM_NONE => {
                self.conn
                    .execute_batch("PRAGMA auto_vacuum = INCREMENTAL; VACUUM")?;
                0
            }
            // FULL: SQLite gives pages back at every commit already.
            _ => 0,
        };
        if left == 0 && self.path.is_some() {
            // Moves the WAL into the file and truncates both; a reader (a
            // backup in progress) may keep part of it for later.
            self.conn
                .query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(()))?;
        }
        Ok(left)
    }

    /// Frees up to `pages` free pages (at least one) with
    /// `incremental_vacuum`.
    fn vacuum_pages(&mut self, pages: u32) -> Result<()> {
        // Each step of the statement frees one page: run it out.
        let mut stmt = self
            .conn
            .prepare_cached(&format!("PRAGMA incremental_vacuum({pages})"))?;
        let mut rows = stmt.query([])?;
        while rows.next()?.is_some() {}
        Ok(())
    }

    /// Frees every free page with `incremental_vacuum` (a no-op on a file
    /// without incremental auto-vacuum).
    pub(super) fn vacuum_free_pages(&mut self) -> Result<()> {
        // Each step of the statement frees one page: run it out.
        let mut stmt = self.conn.prepare_cached("PRAGMA incremental_vacuum")?;
        let mut rows = stmt.query([])?;
        while rows.next()?.is_some() {}
        Ok(())
    }
}

/// A backup in progress: the source snapshot, the temporary copy and the
/// SQLite backup object between them.
struct SqliteCopy {
    handle: *mut ffi::sqlite3_backup,
    /// The read connection pinning the snapshot (`None` for memory).
    source: Option<Connection>,
    dest: Option<Connection>,
    temp: PathBuf,
    target: PathBuf,
    placed: bool,
    page_bytes: u64,
    /// How far the copy had got after its last step.
    copied: Progress,
}

// SAFETY: the backup object and both connections are used by one thread at
// a time (the job's worker) and move between threads only as a whole;
// SQLite is built thread-safe, so its objects may change threads.
unsafe impl Send for SqliteCopy {}

impl SqliteCopy {
    /// Copies up to `pages` pages (-1: all); `Ok(true)` once placed.
    fn step_all(&mut self, pages: i32) -> Result<bool> {
        if self.placed {
            return Ok(true);
        }
        if self.handle.is_null() {
            return Err(Error::internal("backup already failed"));
        }
        // SAFETY: a live backup object whose connections `self` keeps open.
        let rc = unsafe { ffi::sqlite3_backup_step(self.handle, pages) };
        // SAFETY: as above; both only read the object's counters.
        let (total, left) = unsafe {
            (
                ffi::sqlite3_backup_pagecount(self.handle),
                ffi::sqlite3_backup_remaining(self.handle),
            )
        };
        let (total, left) = (total.max(0) as u64, left.max(0) as u64);
        self.copied = Progress {
            done: total.saturating_sub(left) * self.page_bytes,
            total: total * self.page_bytes,
        };
        match rc {
            ffi::SQLITE_OK | ffi::SQLITE_BUSY | ffi::SQLITE_LOCKED => Ok(false),
            ffi::SQLITE_DONE => {
                self.finish()?;
                Ok(true)
            }
            _ => {
                let message = self.dest.as_ref().map_or_else(String::new, last_message);
                self.abandon();
                Err(sqlite_error(rc, message).context("backup step failed"))
            }
        }
    }

    /// Ends the backup object, syncs the copy and links it into place.
    fn finish(&mut self) -> Result<()> {
        // SAFETY: a live backup object, finished exactly once (the handle
        // is cleared right after).
        let rc = unsafe { ffi::sqlite3_backup_finish(self.handle) };
        self.handle = std::ptr::null_mut();
        self.source = None;
        if rc != ffi::SQLITE_OK {
            return Err(sqlite_error(rc, "backup did not finish"));
        }
        if let Some(dest) = self.dest.take() {
            dest.close().map_err(|(_, e)| Error::from(e))?;
        }
        std::fs::File::open(&self.temp)?.sync_all()?;
        // A hard link never replaces an existing file: a destination made
        // since the request is refused, not overwritten.
        match std::fs::hard_link(&self.temp, &self.target) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                return Err(Error::invalid(format!(
                    "backup destination {} exists; it is never overwritten",
                    self.target.display()
                )));
            }
            Err(_) if !self.target.exists() => std::fs::rename(&self.temp, &self.target)?,
            Err(e) => return Err(e.into()),
        }
        self.placed = true;
        let _ = std::fs::remove_file(&self.temp);
        if let Ok(dir) = std::fs::File::open(directory_of(&self.target)) {
            let _ = dir.sync_all();
        }
        Ok(())
    }

    /// Drops the backup object without completing it.
    fn abandon(&mut self) {
        if !self.handle.is_null() {
            // SAFETY: a live backup object, finished exactly once.
            unsafe { ffi::sqlite3_backup_finish(self.handle) };
            self.handle = std::ptr::null_mut();
        }
    }
}

impl BackupCopy for SqliteCopy {
    fn step(&mut self, pages: u32) -> Result<bool> {
        self.step_all(i32::try_from(pages.max(1)).unwrap_or(i32::MAX))
    }

    fn progress(&self) -> Progress {
        self.copied
    }
}

impl Drop for SqliteCopy {
    fn drop(&mut self) {
        self.abandon();
        self.source = None;
        self.dest = None;
        if !self.placed {
            let _ = std::fs::remove_file(&self.temp);
        }
    }
}
