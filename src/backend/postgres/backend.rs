//! [`Backend`] on a PostgreSQL table: transactions and a savepoint per
//! batch as in SQLite, the quota through the table's size, and the
//! handling of a lost connection.
//!
//! PostgreSQL aborts the whole transaction on a failed statement, where
//! SQLite fails the statement alone: a batch runs under a savepoint and is
//! rolled back to it; a single operation that fails ends the transaction,
//! which the worker sees (`in_transaction` turns false) and answers by
//! applying the group's earlier writes again, as it does for SQLite.

use std::collections::HashMap;
use std::path::Path;
use std::time::{Duration, Instant};

use postgres::types::ToSql;

use super::connection::{self, is_lost, lost, Conn, Reconnect};
use super::{pg_error, PgSite};
use crate::backend::{Backend, BackupCopy, Range};
use crate::error::{Error, ErrorKind, Result};
use crate::ops::Op;
use crate::options::{JobOptions, Synchronous};
use crate::progress::Progress;
use crate::rows::Rows;

/// Bytes a row is counted for against the quota on top of its key, category
/// and payload: heap tuple header, line pointer and index entry. The key
/// and category are counted twice (heap and index).
const ROW_OVERHEAD: u64 = 64;

/// How long the size for the stats ([`Backend::size`]) may be reused: the
/// worker asks after every commit, and each measure is a round trip.
const SIZE_FRESH: Duration = Duration::from_millis(500);

/// A job's table, served on one connection that holds the job's lock.
pub(in crate::backend) struct PgBackend {
    site: PgSite,
    /// `None` after the connection was lost, until the next request opens
    /// it again.
    conn: Option<Conn>,
    synchronous: Synchronous,
    in_txn: bool,
    /// `max_db_bytes` (0: none).
    quota: u64,
    /// The table's size when the open transaction began.
    txn_base: u64,
    /// Estimated bytes the open transaction's puts add.
    txn_added: u64,
    /// Writes applied in the open transaction: the first needs no
    /// savepoint (failing, it ends the transaction, which holds nothing
    /// else).
    txn_writes: u64,
    /// The table's size when last measured, and when.
    last_size: u64,
    measured: Instant,
    /// The server process of the last session, to end it should it still
    /// hold the job's lock when reconnecting.
    former_pid: i32,
    /// Set once another process took the job while the connection was
    /// lost: every request fails with it from then on.
    fenced: Option<Error>,
}

type Params<'a> = [&'a (dyn ToSql + Sync)];

impl PgBackend {
    pub(super) fn open(site: PgSite, options: &JobOptions) -> Result<PgBackend> {
        if options.retention_max_bytes > 0 {
            return Err(Error::invalid(
                "size-capped retention is not available for jobs kept in PostgreSQL",
            ));
        }
        let mut conn = Conn::open(&site)?;
        conn.set_synchronous(options.synchronous)?;
        let mut backend = PgBackend {
            former_pid: conn.pid,
            site,
            conn: Some(conn),
            synchronous: options.synchronous,
            in_txn: false,
            quota: options.max_db_bytes,
            txn_base: 0,
            txn_added: 0,
            txn_writes: 0,
            last_size: 0,
            measured: Instant::now(),
            fenced: None,
        };
        backend.last_size = backend.measure()?;
        Ok(backend)
    }

    /// The live connection, opened again if it was lost.
    fn conn(&mut self) -> Result<&mut Conn> {
        if let Some(e) = &self.fenced {
            return Err(e.clone());
        }
        if self.conn.is_none() {
            match connection::reconnect(&self.site, self.former_pid, self.synchronous) {
                Ok(conn) => {
                    self.former_pid = conn.pid;
                    crate::log::log(crate::log::Level::Warn, || {
                        format!("{}: reconnected to PostgreSQL", self.site.describe())
                    });
                    self.conn = Some(conn);
                }
                Err(Reconnect::Fenced(e)) => {
                    self.fenced = Some(e.clone());
                    return Err(e);
                }
                Err(Reconnect::Down(e)) => return Err(e),
            }
        }
        self.conn
            .as_mut()
            .ok_or_else(|| Error::internal("no PostgreSQL connection"))
    }

    /// Our error for a failed statement. A lost session is forgotten (the
    /// transaction with it); any other failure inside a transaction has
    /// aborted it in PostgreSQL, so with `savepoint` it is rolled back to
    /// the batch's savepoint, else ended.
    fn failed(&mut self, e: postgres::Error, savepoint: bool) -> Error {
        let closed = self.conn.as_ref().is_none_or(|c| c.client.is_closed());
        if is_lost(&e, closed) {
            self.conn = None;
            self.in_txn = false;
            return lost(&e);
        }
        if self.in_txn {
            let undone = savepoint && self.simple("ROLLBACK TO SAVEPOINT batch").is_ok();
            if !undone {
                self.rollback();
            }
        }
        pg_error(&e)
    }

    /// A statement of the simple protocol (transaction control).
    fn simple(&mut self, sql: &str) -> std::result::Result<(), postgres::Error> {
        match self.conn.as_mut() {
            Some(conn) => conn.client.batch_execute(sql),
            None => Ok(()),
        }
    }

    fn control(&mut self, sql: &str) -> Result<()> {
        self.conn()?;
        self.simple(sql).map_err(|e| self.failed(e, false))
    }

    /// Runs a prepared statement chosen by `pick`; rows changed.
    fn execute(
        &mut self,
        pick: fn(&connection::Statements) -> &postgres::Statement,
        params: &Params<'_>,
        savepoint: bool,
    ) -> Result<u64> {
        let conn = self.conn()?;
        let stmt = pick(&conn.stmts).clone();
        let result = conn.client.execute(&stmt, params);
        result.map_err(|e| self.failed(e, savepoint))
    }

    /// Runs a prepared query chosen by `pick`; its rows.
    fn query(
        &mut self,
        pick: impl FnOnce(&connection::Statements) -> &postgres::Statement,
        params: &Params<'_>,
    ) -> Result<Vec<postgres::Row>> {
        let conn = self.conn()?;
        let stmt = pick(&conn.stmts).clone();
        let result = conn.client.query(&stmt, params);
        result.map_err(|e| self.failed(e, false))
    }

    /// The table's size now (`pg_total_relation_size`: heap, TOAST and
    /// index).
    fn measure(&mut self) -> Result<u64> {
        let table = self.site.qualified();
        let rows = self.query(|s| &s.size, &[&table])?;
        let size: i64 = rows.first().map_or(0, |r| r.get(0));
        self.last_size = size.max(0) as u64;
        self.measured = Instant::now();
        Ok(self.last_size)
    }

    /// Refuses a write that would take the table past the quota: its size
    /// when the transaction began plus an estimate of the rows put since.
    fn check_quota(&mut self, ops: &[Op]) -> Result<u64> {
        let adds: u64 = ops
            .iter()
            .map(|op| match op {
                Op::Put {
                    category,
                    key,
                    payload,
                } => 2 * (category.len() + key.len()) as u64 + payload.len() as u64 + ROW_OVERHEAD,
                _ => 0,
            })
            .sum();
        if self.quota > 0 && self.txn_base + self.txn_added + adds > self.quota {
            return Err(Error::from_backend(
                ErrorKind::Full,
                0,
                format!(
                    "quota of {} bytes (max_db_bytes) exceeded: the table holds {} bytes \
                     and this write adds about {adds}",
                    self.quota,
                    self.txn_base + self.txn_added
                ),
            ));
        }
        Ok(adds)
    }

    fn apply_one(&mut self, op: &Op, savepoint: bool) -> Result<()> {
        match op {
            Op::Put {
                category,
                key,
                payload,
            } => self.execute(|s| &s.put, &[category, key, payload], savepoint),
            Op::Delete { category, key } => {
                self.execute(|s| &s.delete, &[category, key], savepoint)
            }
            Op::DeletePrefix { category, prefix } => match crate::keys::prefix_stop(prefix) {
                Some(stop) => {
                    self.execute(|s| &s.delete_range, &[category, prefix, &stop], savepoint)
                }
                None => self.execute(|s| &s.delete_from, &[category, prefix], savepoint),
            },
            Op::DeleteRange {
                category,
                start,
                stop,
            } if stop.is_empty() => self.execute(|s| &s.delete_from, &[category, start], savepoint),
            Op::DeleteRange {
                category,
                start,
                stop,
            } => self.execute(|s| &s.delete_range, &[category, start, stop], savepoint),
        }
        .map(|_| ())
    }
}

impl Drop for PgBackend {
    fn drop(&mut self) {
        if let Some(conn) = self.conn.take() {
            conn.release(&self.site);
        }
    }
}

impl Backend for PgBackend {
    fn begin(&mut self) -> Result<()> {
        self.control("BEGIN")?;
        self.in_txn = true;
        self.txn_added = 0;
        self.txn_writes = 0;
        if self.quota > 0 {
            self.txn_base = self.measure()?;
        }
        Ok(())
    }

    fn commit(&mut self) -> Result<()> {
        if !self.in_txn {
            return Err(Error::new(
                ErrorKind::Backend,
                "no transaction to commit (the connection to PostgreSQL was lost)",
            ));
        }
        let result = self.control("COMMIT");
        self.in_txn = false;
        result
    }

    fn rollback(&mut self) {
        if std::mem::take(&mut self.in_txn) {
            if let Err(e) = self.simple("ROLLBACK") {
                if is_lost(&e, true) {
                    self.conn = None;
                }
            }
        }
    }

    fn in_transaction(&self) -> bool {
        self.in_txn
    }

    fn apply(&mut self, ops: &[Op]) -> Result<()> {
        let adds = self.check_quota(ops)?;
        if let [op] = ops {
            self.apply_one(op, false)?;
        } else if self.txn_writes == 0 {
            // Alone in its transaction: a failure rolls the whole back.
            for op in ops {
                self.apply_one(op, false)?;
            }
        } else {
            self.control("SAVEPOINT batch")?;
            for op in ops {
                self.apply_one(op, true)?;
            }
            self.control("RELEASE SAVEPOINT batch")?;
        }
        self.txn_added += adds;
        self.txn_writes += 1;
        Ok(())
    }

    fn delete_acked(&mut self, category: &[u8], key: &[u8]) -> Result<bool> {
        let deleted = self.execute(|s| &s.delete, &[&category, &key], false)? > 0;
        self.txn_writes += 1;
        Ok(deleted)
    }

    fn get(&mut self, category: &[u8], key: &[u8]) -> Result<Option<Vec<u8>>> {
        let rows = self.query(|s| &s.get, &[&category, &key])?;
        Ok(rows.first().map(|r| r.get::<_, Vec<u8>>(0)))
    }

    fn exists(&mut self, category: &[u8], key: &[u8]) -> Result<bool> {
        Ok(!self.query(|s| &s.exists, &[&category, &key])?.is_empty())
    }

    fn scan(&mut self, range: &Range, reverse: bool, limit: u32) -> Result<Rows> {
        // One row past the limit tells whether more remain; NULL: no limit.
        let sql_limit: Option<i64> = (limit != 0).then(|| i64::from(limit) + 1);
        let which = usize::from(reverse) + if range.stop.is_some() { 0 } else { 2 };
        let found = match &range.stop {
            Some(stop) => self.query(
                |s| &s.scans[which],
                &[&range.category, &range.start, stop, &sql_limit],
            )?,
            None => self.query(
                |s| &s.scans[which],
                &[&range.category, &range.start, &sql_limit],
            )?,
        };
        let mut rows = Rows::new();
        for row in &found {
            if limit != 0 && rows.len() == limit as usize {
                rows.set_has_more(true);
                break;
            }
            rows.push(row.get::<_, &[u8]>(0), row.get::<_, &[u8]>(1));
        }
        Ok(rows)
    }

    fn count(&mut self, range: &Range) -> Result<u64> {
        let found = match &range.stop {
            Some(stop) => self.query(|s| &s.count_range, &[&range.category, &range.start, stop])?,
            None => self.query(|s| &s.count_from, &[&range.category, &range.start])?,
        };
        let n: i64 = found.first().map_or(0, |r| r.get(0));
        Ok(n.max(0) as u64)
    }

    fn get_many(&mut self, category: &[u8], keys: &[Vec<u8>]) -> Result<Rows> {
        // One statement: one snapshot for every key.
        let found = self.query(|s| &s.get_many, &[&category, &keys])?;
        let by_key: HashMap<&[u8], &[u8]> = found
            .iter()
            .map(|r| (r.get::<_, &[u8]>(0), r.get::<_, &[u8]>(1)))
            .collect();
        let mut rows = Rows::new();
        for key in keys {
            if let Some(payload) = by_key.get(key.as_slice()) {
                rows.push(key, payload);
            }
        }
        Ok(rows)
    }

    /// The table's size, measured at most every [`SIZE_FRESH`] (the quota
    /// measures it at the start of every transaction regardless).
    fn size(&mut self) -> u64 {
        if self.measured.elapsed() >= SIZE_FRESH || self.in_txn {
            return self.measure().unwrap_or(self.last_size);
        }
        self.last_size
    }

    /// PostgreSQL has no cheap count of the free space in a table: the
    /// table's size as last measured.
    fn live_bytes(&mut self) -> u64 {
        self.last_size
    }

    fn start_backup(&mut self, _dest: &Path) -> Result<Box<dyn BackupCopy>> {
        Err(Error::new(
            ErrorKind::Backend,
            format!(
                "{} is kept in PostgreSQL: back it up with the database's own tools \
                 (pg_dump, base backups); the library writes no file copy of it",
                self.site.describe()
            ),
        ))
    }

    fn compact_step(&mut self, _pages: u32) -> Result<u64> {
        // VACUUM gives dead rows' space back to the table and cuts empty
        // pages off its end; it runs outside a transaction, in one step.
        let sql = format!("VACUUM {}", self.site.qualified());
        self.control(&sql)?;
        self.measure()?;
        Ok(0)
    }

    /// PostgreSQL keeps no cheap count of a table's reusable space:
    /// compaction's progress reports have a total of 0 (its one step is
    /// the whole `VACUUM`).
    fn free_bytes(&mut self) -> u64 {
        0
    }

    fn check(&mut self, progress: Option<&mut dyn FnMut(Progress)>) -> Result<()> {
        // Every row read through the heap and through the primary key
        // index must agree: as many rows, no duplicate key, no NULL.
        let table = self.site.qualified();
        let sql = format!(
            "SELECT (SELECT count(*) FROM {table}), \
                    (SELECT count(*) FROM (SELECT DISTINCT category, key FROM {table}) d), \
                    (SELECT count(*) FROM {table} WHERE category IS NULL OR key IS NULL \
                     OR payload IS NULL)"
        );
        self.conn()?;
        let row = match self.conn.as_mut() {
            Some(conn) => conn.client.query_one(&sql, &[]),
            None => return Err(Error::internal("no PostgreSQL connection")),
        }
        .map_err(|e| self.failed(e, false))?;
        let (rows, distinct, nulls): (i64, i64, i64) = (row.get(0), row.get(1), row.get(2));
        if rows != distinct || nulls != 0 {
            return Err(Error::from_backend(
                ErrorKind::Backend,
                0,
                format!(
                    "integrity check failed: {rows} rows, {distinct} distinct keys, \
                     {nulls} rows with NULL columns"
                ),
            ));
        }
        // One query: the only report is the last, the table read in full.
        if let Some(report) = progress {
            let total = self.size();
            report(Progress { done: total, total });
        }
        Ok(())
    }

    fn enforce_retention(&mut self) -> Result<bool> {
        // Refused at open: a job with retention never gets here.
        Ok(false)
    }
}
