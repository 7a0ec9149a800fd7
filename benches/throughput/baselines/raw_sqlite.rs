//! Raw SQLite through rusqlite: the library's schema and upstream pragmas,
//! prepared statements, explicit transactions.

use std::path::Path;
use std::time::Duration;

use rusqlite::{params, Connection, Statement};

use crate::config::CATEGORY;
use crate::data::{batches, Data, Key};

const CREATE: &str = "CREATE TABLE IF NOT EXISTS kv (category BLOB NOT NULL, key BLOB NOT NULL, \
    payload BLOB NOT NULL, PRIMARY KEY (category, key)) WITHOUT ROWID";
pub const PUT: &str = "INSERT OR REPLACE INTO kv (category, key, payload) VALUES (?1, ?2, ?3)";
pub const GET: &str = "SELECT payload FROM kv WHERE category = ?1 AND key = ?2";
const SCAN: &str =
    "SELECT key, payload FROM kv WHERE category = ?1 AND key >= ?2 ORDER BY key ASC LIMIT ?3";

/// Opens (or creates) the database at `path` with the library's schema and
/// the upstream pragmas (WAL, `synchronous`, temp_store in memory).
pub fn raw_open(path: &Path, synchronous: &str) -> Connection {
    let conn = Connection::open(path).expect("open raw database");
    conn.busy_timeout(Duration::from_millis(5000))
        .expect("busy_timeout");
    let mode: String = conn
        .query_row("PRAGMA journal_mode = WAL", [], |r| r.get(0))
        .expect("WAL");
    assert!(mode.eq_ignore_ascii_case("wal"));
    conn.execute_batch(&format!(
        "PRAGMA synchronous = {synchronous}; PRAGMA temp_store = MEMORY; {CREATE}; PRAGMA user_version = 1;"
    ))
    .expect("schema");
    conn
}

/// Inserts `keys` in one transaction, the payloads taken from row `first`
/// on.
fn raw_insert(conn: &mut Connection, data: &Data, keys: &[Key], first: usize) {
    let tx = conn.transaction().expect("BEGIN");
    {
        let mut stmt = tx.prepare_cached(PUT).expect("prepare");
        for (i, k) in keys.iter().enumerate() {
            raw_put(&mut stmt, k, data.payload(first + i));
        }
    }
    tx.commit().expect("COMMIT");
}

/// One insert (or replace) through a prepared `PUT`.
pub fn raw_put(stmt: &mut Statement<'_>, key: &[u8], payload: &[u8]) {
    stmt.execute(params![CATEGORY.as_bytes(), key, payload])
        .expect("insert");
}

/// Inserts `keys`, 1,000 per transaction.
pub fn raw_load(conn: &mut Connection, data: &Data, keys: &[Key]) {
    for (first, chunk) in batches(keys) {
        raw_insert(conn, data, chunk, first);
    }
}

/// Copies the payload of `key` into `value`; returns whether it was found.
pub fn raw_get(stmt: &mut rusqlite::CachedStatement<'_>, key: &[u8], value: &mut Vec<u8>) -> bool {
    let mut rows = stmt.query(params![CATEGORY.as_bytes(), key]).expect("get");
    value.clear();
    match rows.next().expect("step") {
        Some(row) => {
            if let rusqlite::types::ValueRef::Blob(b) = row.get_ref(0).expect("column") {
                value.extend_from_slice(b);
            }
            true
        }
        None => false,
    }
}

/// Copies up to `limit` rows from `start` into `buf`, and the last key into
/// `last`; returns the row count.
pub fn raw_scan(
    conn: &Connection,
    start: &[u8],
    limit: usize,
    buf: &mut Vec<u8>,
    last: &mut Vec<u8>,
) -> usize {
    let mut stmt = conn.prepare_cached(SCAN).expect("prepare scan");
    let mut rows = stmt
        .query(params![CATEGORY.as_bytes(), start, limit as i64])
        .expect("scan");
    buf.clear();
    let mut n = 0;
    while let Some(row) = rows.next().expect("step") {
        let (k, p) = (
            row.get_ref(0).expect("key"),
            row.get_ref(1).expect("payload"),
        );
        if let (rusqlite::types::ValueRef::Blob(k), rusqlite::types::ValueRef::Blob(p)) = (k, p) {
            buf.extend_from_slice(k);
            buf.extend_from_slice(p);
            last.clear();
            last.extend_from_slice(k);
        }
        n += 1;
    }
    n
}
