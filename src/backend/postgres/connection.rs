//! The worker's connection to PostgreSQL: connecting, creating the schema
//! and the table, fencing with a session-level advisory lock, preparing
//! the statements, and reconnecting after the connection was lost.
//!
//! Fencing: `pg_try_advisory_lock(hashtextextended('<schema>.<table>', 0))`
//! on the worker's own connection, the text being the quoted, qualified
//! table name. The server derives the key; the lock lives as long as the
//! session, so it goes with a dead holder's connection. Refused, the open
//! fails with `ErrorKind::InvalidArgument`, the status the C contract gives
//! a job held elsewhere (a job file another instance holds).

use std::time::{Duration, Instant};

use postgres::{Client, NoTls, Statement};

use super::{pg_error, PgSite};
use crate::error::{Error, ErrorKind, Result};
use crate::options::Synchronous;

/// How long one connection attempt may take, unless the root says.
pub(super) const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// Reconnection: attempts after the first, and the pause before the first
/// retry, doubled each time up to [`MAX_PAUSE`]; about 10 s in all.
const RETRIES: u32 = 12;
const FIRST_PAUSE: Duration = Duration::from_millis(50);
const MAX_PAUSE: Duration = Duration::from_secs(1);

const TRY_LOCK: &str = "SELECT pg_try_advisory_lock(hashtextextended($1, 0))";
const UNLOCK: &str = "SELECT pg_advisory_unlock(hashtextextended($1, 0))";
/// The server process of the session holding a job's lock, if any.
const HOLDER: &str = "SELECT pid FROM pg_locks WHERE locktype = 'advisory' AND granted \
    AND objsubid = 1 AND ((classid::bigint << 32) | objid::bigint) = hashtextextended($1, 0)";

/// The statements of a job's table, prepared on each connection.
pub(super) struct Statements {
    pub put: Statement,
    pub delete: Statement,
    pub delete_range: Statement,
    pub delete_from: Statement,
    pub get: Statement,
    pub exists: Statement,
    pub count_range: Statement,
    pub count_from: Statement,
    /// `[range asc, range desc, from asc, from desc]`.
    pub scans: [Statement; 4],
    pub get_many: Statement,
    pub size: Statement,
}

/// A live connection holding the job's lock, with its statements.
pub(super) struct Conn {
    pub client: Client,
    pub stmts: Statements,
    /// The server process of this session (`pg_backend_pid()`).
    pub pid: i32,
}

impl Conn {
    /// Connects, creates what is missing and takes the job's lock; a job
    /// another session holds is refused.
    pub(super) fn open(site: &PgSite) -> Result<Conn> {
        Conn::open_as(site, None)
    }

    /// As [`Conn::open`]; when the lock is held by the server process
    /// `former` (this job's own session from before the connection was
    /// lost, which the server has not noticed is gone), that session is
    /// ended first.
    fn open_as(site: &PgSite, former: Option<i32>) -> Result<Conn> {
        let mut client = connect(site)?;
        let table = site.qualified();
        create_schema(&mut client, &site.0.store.schema)
            .map_err(|e| e.context(format!("cannot create schema of {}", site.describe())))?;
        let locked: bool = client
            .query_one(TRY_LOCK, &[&table])
            .map_err(|e| pg_error(&e))?
            .get(0);
        if !locked {
            let holder: Option<i32> = client
                .query_opt(HOLDER, &[&table])
                .map_err(|e| pg_error(&e))?
                .map(|r| r.get(0));
            if former.is_some() && holder == former {
                // Our own orphaned session: end it; the caller tries again.
                let _ = client.execute("SELECT pg_terminate_backend($1)", &[&holder]);
                return Err(Error::new(
                    ErrorKind::Backend,
                    format!(
                        "{} is still held by this job's former session",
                        site.describe()
                    ),
                ));
            }
            return Err(Error::invalid(format!(
                "{} is held by another process (its advisory lock is taken)",
                site.describe()
            )));
        }
        let create = format!(
            "CREATE TABLE IF NOT EXISTS {table} (category bytea NOT NULL, key bytea NOT NULL, \
             payload bytea NOT NULL, PRIMARY KEY (category, key))"
        );
        client
            .batch_execute(&create)
            .map_err(|e| pg_error(&e).context(format!("cannot create {}", site.describe())))?;
        let stmts = prepare(&mut client, &table)
            .map_err(|e| e.context(format!("cannot open {}", site.describe())))?;
        let pid: i32 = client
            .query_one("SELECT pg_backend_pid()", &[])
            .map_err(|e| pg_error(&e))?
            .get(0);
        Ok(Conn { client, stmts, pid })
    }

    /// Sets `synchronous_commit` for this session (see `docs/postgres.md`):
    /// `Off` → `off`; `Normal` → `local` (the commit waits for the local
    /// WAL flush, not for synchronous standbys); `Full` → `on`.
    pub(super) fn set_synchronous(&mut self, synchronous: Synchronous) -> Result<()> {
        let value = match synchronous {
            Synchronous::Off => "off",
            Synchronous::Normal => "local",
            Synchronous::Full => "on",
        };
        self.client
            .batch_execute(&format!("SET synchronous_commit = {value}"))
            .map_err(|e| pg_error(&e))
    }
}

impl Conn {
    /// Lets go of the job's lock before the session ends, so that a new
    /// open right after a close finds it free (the server ends a closed
    /// session a moment later, not before the client returns).
    pub(super) fn release(mut self, site: &PgSite) {
        let _ = self.client.batch_execute("ROLLBACK");
        let _ = self.client.query_one(UNLOCK, &[&site.qualified()]);
    }
}

/// Drops a job's table from a connection of its own, under the job's lock.
pub(super) fn drop_table(site: &PgSite) -> Result<()> {
    let mut client = connect(site)?;
    let table = site.qualified();
    let locked: bool = client
        .query_one(TRY_LOCK, &[&table])
        .map_err(|e| pg_error(&e))?
        .get(0);
    if !locked {
        return Err(Error::invalid(format!(
            "{} is held by another process; not dropped",
            site.describe()
        )));
    }
    let dropped = client
        .batch_execute(&format!("DROP TABLE IF EXISTS {table}"))
        .map_err(|e| pg_error(&e).context(format!("cannot drop {}", site.describe())));
    let _ = client.query_one(UNLOCK, &[&table]);
    dropped
}

/// A new session to the site's database.
fn connect(site: &PgSite) -> Result<Client> {
    site.0
        .store
        .config
        .connect(NoTls)
        .map_err(|e| pg_error(&e).context(format!("cannot connect for {}", site.describe())))
}

/// `CREATE SCHEMA IF NOT EXISTS`, which two sessions doing it at once may
/// still see fail on the catalog's unique index: then it exists.
fn create_schema(client: &mut Client, schema: &str) -> Result<()> {
    let sql = format!("CREATE SCHEMA IF NOT EXISTS {}", super::quote_ident(schema));
    match client.batch_execute(&sql) {
        Ok(()) => Ok(()),
        Err(e) if e.code() == Some(&postgres::error::SqlState::UNIQUE_VIOLATION) => Ok(()),
        Err(e) => Err(pg_error(&e)),
    }
}

fn prepare(client: &mut Client, table: &str) -> Result<Statements> {
    let mut p = |sql: String| client.prepare(&sql).map_err(|e| pg_error(&e));
    let scan = |cond: &str, order: &str, limit: &str| {
        format!(
            "SELECT key, payload FROM {table} WHERE category = $1 AND {cond} \
             ORDER BY key {order} LIMIT {limit}"
        )
    };
    Ok(Statements {
        put: p(format!(
            "INSERT INTO {table} (category, key, payload) VALUES ($1, $2, $3) \
             ON CONFLICT (category, key) DO UPDATE SET payload = EXCLUDED.payload"
        ))?,
        delete: p(format!(
            "DELETE FROM {table} WHERE category = $1 AND key = $2"
        ))?,
        delete_range: p(format!(
            "DELETE FROM {table} WHERE category = $1 AND key >= $2 AND key < $3"
        ))?,
        delete_from: p(format!(
            "DELETE FROM {table} WHERE category = $1 AND key >= $2"
        ))?,
        get: p(format!(
            "SELECT payload FROM {table} WHERE category = $1 AND key = $2"
        ))?,
        exists: p(format!(
            "SELECT 1 FROM {table} WHERE category = $1 AND key = $2"
        ))?,
        count_range: p(format!(
            "SELECT count(*) FROM {table} WHERE category = $1 AND key >= $2 AND key < $3"
        ))?,
        count_from: p(format!(
            "SELECT count(*) FROM {table} WHERE category = $1 AND key >= $2"
        ))?,
        scans: [
            p(scan("key >= $2 AND key < $3", "ASC", "$4"))?,
            p(scan("key >= $2 AND key < $3", "DESC", "$4"))?,
            p(scan("key >= $2", "ASC", "$3"))?,
            p(scan("key >= $2", "DESC", "$3"))?,
        ],
        get_many: p(format!(
            "SELECT key, payload FROM {table} WHERE category = $1 AND key = ANY($2)"
        ))?,
        size: p("SELECT pg_total_relation_size($1::text::regclass)".to_string())?,
    })
}

/// Whether an error means the session is gone: the socket closed, or the
/// server said it is shutting down or restarting (SQLSTATE class 08, or
/// 57P01..57P03).
pub(super) fn is_lost(e: &postgres::Error, client_closed: bool) -> bool {
    if client_closed || e.is_closed() {
        return true;
    }
    match e.code() {
        Some(code) => {
            let c = code.code();
            c.starts_with("08") || matches!(c, "57P01" | "57P02" | "57P03")
        }
        // No SQLSTATE: lost when it is an I/O error on the socket.
        None => std::error::Error::source(e).is_some_and(|s| s.is::<std::io::Error>()),
    }
}

/// The error of a lost session: `Backend`, saying so.
pub(super) fn lost(e: &postgres::Error) -> Error {
    Error::new(
        ErrorKind::Backend,
        format!("connection to PostgreSQL lost: {e}"),
    )
}

/// Why the connection could not be opened again.
pub(super) enum Reconnect {
    /// Another process holds the job now: this job must not write again.
    Fenced(Error),
    /// The server stayed out of reach for every attempt.
    Down(Error),
}

/// Opens the job's connection again after it was lost: up to
/// [`RETRIES`] more attempts, pausing between them ([`FIRST_PAUSE`],
/// doubling to [`MAX_PAUSE`]). A job another process took meanwhile is
/// refused at once (no retry can help).
pub(super) fn reconnect(
    site: &PgSite,
    former: i32,
    synchronous: Synchronous,
) -> std::result::Result<Conn, Reconnect> {
    let started = Instant::now();
    let mut pause = FIRST_PAUSE;
    let mut attempt = 0;
    loop {
        let outcome = Conn::open_as(site, Some(former)).and_then(|mut conn| {
            conn.set_synchronous(synchronous)?;
            Ok(conn)
        });
        match outcome {
            Ok(conn) => return Ok(conn),
            Err(e) if e.kind() == ErrorKind::InvalidArgument => {
                return Err(Reconnect::Fenced(Error::new(
                    ErrorKind::Backend,
                    format!(
                        "the connection to PostgreSQL was lost and {} was taken by another \
                         process meanwhile; this job is fenced off ({e})",
                        site.describe()
                    ),
                )));
            }
            Err(e) if attempt >= RETRIES => {
                return Err(Reconnect::Down(e.context(format!(
                    "connection to PostgreSQL lost; {} attempts to reconnect over {:.1?} failed",
                    attempt + 1,
                    started.elapsed()
                ))));
            }
            Err(_) => {
                std::thread::sleep(pause);
                pause = (pause * 2).min(MAX_PAUSE);
                attempt += 1;
            }
        }
    }
}
