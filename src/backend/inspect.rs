//! Read-only access to a job file from outside its worker, for tools: file
//! facts, per-category statistics, streaming row scans, and whether another
//! process has the file open. It never writes to the file, never creates
//! it, and takes no claim, so it works next to a running node (SQLite WAL
//! readers see the last commit).

use std::fs;
use std::path::{Path, PathBuf};
use std::time::SystemTime;

use rusqlite::{Connection, OpenFlags};

use super::schema;
use crate::error::{Error, ErrorKind, Result};

/// What the file system and the database header say about a job file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Facts {
    pub file_bytes: u64,
    pub wal_bytes: u64,
    pub page_size: u64,
    pub pages: u64,
    pub free_pages: u64,
    pub modified: Option<SystemTime>,
}

/// Aggregates of one category.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Aggregate {
    pub category: Vec<u8>,
    pub rows: u64,
    pub key_bytes: u64,
    pub payload_bytes: u64,
    pub min_key: Vec<u8>,
    pub max_key: Vec<u8>,
}

/// Where a scan sends each row: (category, key, payload) → go on?
pub(crate) type RowSink<'a> = dyn FnMut(&[u8], &[u8], &[u8]) -> Result<bool> + 'a;

/// A read-only connection to one job file.
pub(crate) struct Reader {
    conn: Connection,
    path: PathBuf,
}

fn sidecar(db: &Path, suffix: &str) -> PathBuf {
    let mut path = db.as_os_str().to_owned();
    path.push(suffix);
    PathBuf::from(path)
}

fn context(path: &Path) -> impl Fn(rusqlite::Error) -> Error + '_ {
    move |e| Error::from(e).context(path.display())
}

impl Reader {
    /// Opens `path` read-only; a missing file is `JobNotFound`, a file that
    /// is not a job file is a backend error saying so.
    pub(crate) fn open(path: &Path) -> Result<Reader> {
        match fs::metadata(path) {
            Ok(meta) if meta.is_file() => {}
            Ok(_) => {
                return Err(Error::invalid(format!(
                    "{} is not a regular file",
                    path.display()
                )))
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Err(Error::new(
                    ErrorKind::JobNotFound,
                    format!("{} does not exist", path.display()),
                ))
            }
            Err(e) => return Err(Error::from(e).context(path.display())),
        }
        let flags = OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX;
        let conn = Connection::open_with_flags(path, flags).map_err(context(path))?;
        conn.busy_timeout(std::time::Duration::from_millis(5000))
            .map_err(context(path))?;
        match schema::inspect(&conn).map_err(|e| e.context(path.display()))? {
            schema::Found::Empty => Err(Error::new(
                ErrorKind::JobNotFound,
                format!(
                    "{} is an empty database, not a job file yet",
                    path.display()
                ),
            )),
            _ => Ok(Reader {
                conn,
                path: path.to_path_buf(),
            }),
        }
    }

    /// The file's size, its WAL's, its pages and free pages.
    pub(crate) fn facts(&self) -> Result<Facts> {
        let meta =
            fs::metadata(&self.path).map_err(|e| Error::from(e).context(self.path.display()))?;
        let wal_bytes = fs::metadata(sidecar(&self.path, "-wal")).map_or(0, |m| m.len());
        let pragma = |name: &str| -> Result<u64> {
            let v: i64 = self
                .conn
                .query_row(&format!("PRAGMA {name}"), [], |r| r.get(0))
                .map_err(context(&self.path))?;
            Ok(v.max(0) as u64)
        };
        Ok(Facts {
            file_bytes: meta.len(),
            wal_bytes,
            page_size: pragma("page_size")?,
            pages: pragma("page_count")?,
            free_pages: pragma("freelist_count")?,
            modified: meta.modified().ok(),
        })
    }

    /// Per-category aggregates, in category order.
    pub(crate) fn aggregates(&self) -> Result<Vec<Aggregate>> {
        let mut stmt = self
            .conn
            .prepare(
                "SELECT category, count(*), sum(length(key)), sum(length(payload)), \
                 min(key), max(key) FROM kv GROUP BY category ORDER BY category",
            )
            .map_err(context(&self.path))?;
        let rows = stmt
            .query_map([], |r| {
                Ok(Aggregate {
                    category: r.get(0)?,
                    rows: r.get::<_, i64>(1)? as u64,
                    key_bytes: r.get::<_, i64>(2)? as u64,
                    payload_bytes: r.get::<_, i64>(3)? as u64,
                    min_key: r.get(4)?,
                    max_key: r.get(5)?,
                })
            })
            .map_err(context(&self.path))?;
        rows.collect::<rusqlite::Result<_>>()
            .map_err(context(&self.path))
    }

    /// Streams the rows of `category` (every category when `None`) with
    /// `start <= key < stop`, in (category, key) order or its reverse, at
    /// most `limit` of them, to `each`, which stops the scan by returning
    /// `false`. One statement: the rows come from one snapshot.
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn scan(
        &self,
        category: Option<&[u8]>,
        start: Option<&[u8]>,
        stop: Option<&[u8]>,
        reverse: bool,
        limit: Option<u64>,
        each: &mut RowSink<'_>,
    ) -> Result<u64> {
        let order = if reverse { "DESC" } else { "ASC" };
        let sql = format!(
            "SELECT category, key, payload FROM kv \
             WHERE (?1 IS NULL OR category = ?1) AND (?2 IS NULL OR key >= ?2) \
             AND (?3 IS NULL OR key < ?3) \
             ORDER BY category {order}, key {order} LIMIT ?4"
        );
        let mut stmt = self.conn.prepare(&sql).map_err(context(&self.path))?;
        let limit = limit.map_or(-1, |l| i64::try_from(l).unwrap_or(i64::MAX));
        let mut rows = stmt
            .query(rusqlite::params![category, start, stop, limit])
            .map_err(context(&self.path))?;
        let mut seen = 0;
        while let Some(row) = rows.next().map_err(context(&self.path))? {
            let cell = |i: usize| row.get_ref(i).and_then(|v| Ok(v.as_blob()?));
            let (c, k, p) = (cell(0), cell(1), cell(2));
            let (c, k, p) = (
                c.map_err(context(&self.path))?,
                k.map_err(context(&self.path))?,
                p.map_err(context(&self.path))?,
            );
            seen += 1;
            if !each(c, k, p)? {
                break;
            }
        }
        Ok(seen)
    }
}

/// SQLite's unix VFS locks bytes of the `-shm` file: eight lock slots from
/// offset 120, then the "dead man switch" byte at 128, on which every open
/// WAL connection holds a shared lock for as long as it is open.
const SHM_LOCKS: (i64, i64) = (120, 9);

/// The lock bytes of the database file itself (the pending byte at 1 GiB,
/// the reserved byte and the shared range): held by a connection in
/// exclusive locking mode, or inside a transaction of a rollback journal.
const DB_LOCKS: (i64, i64) = (0x4000_0000, 2 + 510);

/// The process id of another process that has the database at `path`
/// open, if any. It tests, without taking it, a write lock on the `-shm`
/// lock bytes (any open WAL connection of another process conflicts),
/// then on the database file's lock bytes. A process's own locks never
/// conflict with its own test, so this says nothing about connections in
/// the calling process.
pub(crate) fn holder(path: &Path) -> Result<Option<i32>> {
    if let Some(pid) = locked_by(&sidecar(path, "-shm"), SHM_LOCKS)? {
        return Ok(Some(pid));
    }
    locked_by(path, DB_LOCKS)
}

/// The process holding a lock that conflicts with a write lock on `range`
/// of `file`; a missing file has none.
fn locked_by(file_path: &Path, range: (i64, i64)) -> Result<Option<i32>> {
    let file = match fs::File::open(file_path) {
        Ok(file) => file,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(Error::from(e).context(file_path.display())),
    };
    use std::os::fd::AsRawFd;
    // SAFETY: `flock` is a plain C struct for which all-zero bytes are a
    // valid value; the fields the call reads are set below.
    let mut lock: libc::flock = unsafe { std::mem::zeroed() };
    lock.l_type = libc::F_WRLCK as _;
    lock.l_whence = libc::SEEK_SET as _;
    lock.l_start = range.0 as _;
    lock.l_len = range.1 as _;
    // SAFETY: the descriptor is open for the duration of the call (`file`
    // lives to the end of this function) and `lock` is a valid, exclusively
    // borrowed `flock` that F_GETLK fills in.
    let rc = unsafe { libc::fcntl(file.as_raw_fd(), libc::F_GETLK, &mut lock) };
    if rc != 0 {
        return Err(Error::from(std::io::Error::last_os_error())
            .context(format!("cannot test the locks of {}", file_path.display())));
    }
    Ok((lock.l_type != libc::F_UNLCK as _).then_some(lock.l_pid))
}
