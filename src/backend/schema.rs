//! The job file's schema: what makes a SQLite file ours, and creating it.
//!
//! A job file is ours when it has `user_version` 1 and the `kv` table this
//! library creates (the columns, types, `NOT NULL`s and primary key of
//! [`CREATE`], `WITHOUT ROWID`). An empty database (no schema objects,
//! `user_version` 0: a new or zero-byte file, or one whose creation was
//! interrupted) becomes a new job. Anything else is another application's
//! database, refused before anything is written to it.

use rusqlite::Connection;

use crate::error::{Error, Result};

/// The schema version this library writes and reads.
pub(super) const SCHEMA_VERSION: i64 = 1;

/// The one table of a job file.
pub(super) const CREATE: &str = "CREATE TABLE IF NOT EXISTS kv (\
    category BLOB NOT NULL, key BLOB NOT NULL, payload BLOB NOT NULL, \
    PRIMARY KEY (category, key)) WITHOUT ROWID";

/// The columns of `kv`, in order: name, declared type, `NOT NULL`, and
/// position in the primary key (0: not in it).
const KV_COLUMNS: [(&str, &str, bool, i64); 3] = [
    ("category", "BLOB", true, 1),
    ("key", "BLOB", true, 2),
    ("payload", "BLOB", true, 0),
];

/// What an opened database holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Found {
    /// Nothing yet: the schema is to be created.
    Empty,
    /// Our `kv` table without the version stamp: an upstream (Nim) job
    /// file whose creation stopped between its `CREATE TABLE` and its
    /// `PRAGMA user_version` (both are ours; only the stamp is missing).
    Unstamped,
    /// A job file of this library.
    Ours,
}

/// A database that is not a job file of this library.
fn foreign(why: impl std::fmt::Display) -> Error {
    super::sqlite::sqlite_error(
        rusqlite::ffi::SQLITE_MISMATCH,
        format!(
            "not a job file of this library ({why}); it was left unchanged \
             (remove or move it to start a new job under this id)"
        ),
    )
}

/// Reads what the database holds, without writing to it. This is the
/// first statement on a connection: a file that is not a database fails
/// here.
pub(super) fn inspect(conn: &Connection) -> Result<Found> {
    let version: i64 = conn.query_row("PRAGMA user_version", [], |r| r.get(0))?;
    let objects: Vec<(String, String)> = conn
        .prepare("SELECT type, name FROM sqlite_master ORDER BY name")?
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?
        .collect::<rusqlite::Result<_>>()?;
    let has_kv = objects.iter().any(|(t, n)| t == "table" && n == "kv");
    match version {
        0 if objects.is_empty() => return Ok(Found::Empty),
        0 if !has_kv => {
            let names: Vec<&str> = objects.iter().map(|(_, n)| n.as_str()).take(5).collect();
            return Err(foreign(format!(
                "user_version 0 and schema objects {names:?}, no kv table"
            )));
        }
        0 | SCHEMA_VERSION => {}
        _ => {
            return Err(foreign(format!(
                "unsupported schema user_version {version} (expected {SCHEMA_VERSION})"
            )))
        }
    }
    if !has_kv {
        return Err(foreign(format!("user_version {version} but no kv table")));
    }
    check_kv(conn)?;
    if version == 0 {
        // Only our own table (and the index SQLite makes for it) may be
        // there to finish an interrupted creation.
        if let Some((_, other)) = objects.iter().find(|(_, n)| n != "kv") {
            return Err(foreign(format!(
                "user_version 0 with a kv table and another object {other:?}"
            )));
        }
        return Ok(Found::Unstamped);
    }
    Ok(Found::Ours)
}

/// Checks that `kv` has exactly the columns, types, constraints and
/// primary key of [`CREATE`], and no rowid.
fn check_kv(conn: &Connection) -> Result<()> {
    let columns: Vec<(String, String, bool, i64)> = conn
        .prepare("SELECT name, type, \"notnull\", pk FROM pragma_table_info('kv') ORDER BY cid")?
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))?
        .collect::<rusqlite::Result<_>>()?;
    let expected = KV_COLUMNS.iter().map(|&(n, t, nn, pk)| (n, t, nn, pk));
    let same = columns.len() == KV_COLUMNS.len()
        && columns.iter().zip(expected).all(|(c, (n, t, nn, pk))| {
            c.0 == n && c.1.eq_ignore_ascii_case(t) && c.2 == nn && c.3 == pk
        });
    if !same {
        let got: Vec<String> = columns
            .iter()
            .map(|(n, t, nn, pk)| {
                format!(
                    "{n} {t}{}{}",
                    if *nn { " NOT NULL" } else { "" },
                    if *pk > 0 { " PK" } else { "" }
                )
            })
            .collect();
        return Err(foreign(format!(
            "its kv table has columns [{}], expected (category BLOB NOT NULL, \
             key BLOB NOT NULL, payload BLOB NOT NULL, PRIMARY KEY (category, key))",
            got.join(", ")
        )));
    }
    let without_rowid: bool = conn.query_row(
        "SELECT wr FROM pragma_table_list WHERE schema = 'main' AND name = 'kv'",
        [],
        |r| r.get(0),
    )?;
    if !without_rowid {
        return Err(foreign("its kv table is not WITHOUT ROWID"));
    }
    Ok(())
}

/// Makes the database a job file: creates what is missing and stamps the
/// version, in one transaction.
pub(super) fn create(conn: &Connection, found: Found) -> Result<()> {
    if found != Found::Ours {
        conn.execute_batch(&format!(
            "BEGIN IMMEDIATE; {CREATE}; PRAGMA user_version = {SCHEMA_VERSION}; COMMIT;"
        ))?;
    }
    Ok(())
}
