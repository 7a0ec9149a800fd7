//! The PostgreSQL adapter (the `postgres` feature): an instance whose root
//! is a connection URI keeps each job in a table of that database.
//!
//! - The root: `postgresql://…` or `postgres://…`, as the `postgres` crate
//!   reads it, plus one parameter of ours, `schema=` (default
//!   [`DEFAULT_SCHEMA`]), taken out before the rest is handed over.
//! - The table of a job: [`table_name`]; always quoted, data always bound.
//! - Fencing: the worker's connection holds a session-level advisory lock
//!   whose key the server derives from the schema and the table
//!   (`hashtextextended`); a second holder is refused (`connection.rs`).
//! - A lost connection fails what was in flight and is opened again, with
//!   bounded retries, by the next request (`connection.rs`).
//!
//! `postgres/backend.rs` implements [`Backend`](super::Backend);
//! `postgres/connection.rs` connects, fences and reconnects.

mod backend;
mod connection;

use std::fmt;
use std::sync::Arc;

pub(super) use backend::PgBackend;

use crate::error::{Error, ErrorKind, Result};

/// The schema of the job tables when the root names none.
pub(crate) const DEFAULT_SCHEMA: &str = "persistency";

/// Longest identifier PostgreSQL keeps (`NAMEDATALEN - 1`); longer ones are
/// cut, which could make two names one.
const MAX_IDENTIFIER: usize = 63;

/// A database and schema, parsed from an instance root (without
/// connecting).
#[derive(Clone)]
pub(crate) struct PgStore {
    config: postgres::Config,
    schema: String,
    /// Where the tables are, for messages and claims (no password).
    place: String,
}

impl fmt::Debug for PgStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "PgStore({})", self.place)
    }
}

impl PgStore {
    /// Parses a root URI: everything but `schema=` goes to
    /// `postgres::Config`; a bad URI or schema is
    /// [`ErrorKind::InvalidArgument`].
    pub(super) fn parse(root: &str) -> Result<PgStore> {
        let (base, schema) = split_schema(root)?;
        let schema = schema.unwrap_or_else(|| DEFAULT_SCHEMA.to_string());
        if schema.is_empty() || schema.len() > MAX_IDENTIFIER || schema.contains('\0') {
            return Err(Error::invalid(format!(
                "schema {schema:?} must be 1 to {MAX_IDENTIFIER} bytes without NUL"
            )));
        }
        let mut config: postgres::Config = base
            .parse()
            .map_err(|e| Error::invalid(format!("bad PostgreSQL root: {e}")))?;
        if config.get_connect_timeout().is_none() {
            config.connect_timeout(connection::CONNECT_TIMEOUT);
        }
        config.application_name("persistency");
        let hosts: Vec<String> = config
            .get_hosts()
            .iter()
            .map(|h| match h {
                postgres::config::Host::Tcp(name) => name.clone(),
                postgres::config::Host::Unix(path) => path.display().to_string(),
            })
            .collect();
        let place = format!(
            "postgresql {}:{:?}/{} schema {}",
            hosts.join(","),
            config.get_ports(),
            config.get_dbname().unwrap_or(""),
            schema
        );
        Ok(PgStore {
            config,
            schema,
            place,
        })
    }

    /// The site of job `job_id` (nothing is created here: the worker does).
    pub(super) fn site(&self, job_id: &str) -> PgSite {
        PgSite(Arc::new(SiteInner {
            store: self.clone(),
            job_id: job_id.to_string(),
            table: table_name(job_id),
        }))
    }
}

/// Splits `schema=` off a root's query string: the root without it, and
/// its (percent-decoded) value.
fn split_schema(root: &str) -> Result<(String, Option<String>)> {
    let Some((base, query)) = root.split_once('?') else {
        return Ok((root.to_string(), None));
    };
    let mut schema = None;
    let mut kept = Vec::new();
    for pair in query.split('&') {
        match pair.strip_prefix("schema=") {
            Some(value) => schema = Some(percent_decode(value)?),
            None => kept.push(pair),
        }
    }
    let base = if kept.is_empty() {
        base.to_string()
    } else {
        format!("{base}?{}", kept.join("&"))
    };
    Ok((base, schema))
}

/// Decodes `%XX` escapes (the `schema=` value of a URI).
fn percent_decode(value: &str) -> Result<String> {
    let bytes = value.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = value
                .get(i + 1..i + 3)
                .and_then(|h| u8::from_str_radix(h, 16).ok())
                .ok_or_else(|| Error::invalid(format!("bad escape in schema {value:?}")))?;
            out.push(hex);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).map_err(|_| Error::invalid(format!("schema {value:?} is not UTF-8")))
}

/// The table of job `job_id`: `job_<id>` (job ids are `[A-Za-z0-9_.-]`,
/// case kept: the name is always quoted). An id too long for a PostgreSQL
/// identifier (over 59 bytes) becomes `job_<first 40 bytes>_<18 hex
/// digits>`, the digits a 72-bit FNV-1a-style digest of the whole id, so
/// distinct ids keep distinct tables.
pub(crate) fn table_name(job_id: &str) -> String {
    let full = format!("job_{job_id}");
    if full.len() <= MAX_IDENTIFIER {
        return full;
    }
    // Two independent 64-bit FNV-1a digests (different offsets), 72 bits
    // kept: collisions between ids of one schema are negligible.
    let digest = |offset: u64| {
        job_id.bytes().fold(offset, |h, b| {
            (h ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3)
        })
    };
    let (a, b) = (digest(0xcbf2_9ce4_8422_2325), digest(0x6c62_272e_07bb_0142));
    format!("job_{}_{:016x}{:02x}", &job_id[..40], a, b & 0xff)
}

/// `name` as a quoted SQL identifier: inside double quotes, each double
/// quote doubled.
pub(crate) fn quote_ident(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

/// Where one job's table is.
#[derive(Clone, Debug)]
pub(crate) struct PgSite(Arc<SiteInner>);

#[derive(Debug)]
struct SiteInner {
    store: PgStore,
    job_id: String,
    table: String,
}

impl PgSite {
    /// What keeps two jobs of this process off one table: the database,
    /// schema and table.
    fn claim_name(&self) -> String {
        format!("{} table {}", self.0.store.place, self.0.table)
    }

    /// What two jobs of this process must not share: the table.
    pub(crate) fn identity(&self) -> super::Identity {
        super::Identity {
            paths: Vec::new(),
            file: None,
            table: Some(self.claim_name()),
        }
    }

    /// The schema-qualified, quoted table name.
    fn qualified(&self) -> String {
        format!(
            "{}.{}",
            quote_ident(&self.0.store.schema),
            quote_ident(&self.0.table)
        )
    }

    /// Opens the job's table on a new connection (creating schema and
    /// table when missing) and takes the job's advisory lock.
    pub(super) fn open(&self, options: &crate::options::JobOptions) -> Result<PgBackend> {
        PgBackend::open(self.clone(), options)
    }

    /// Drops the job's table, refused while another process holds it.
    pub(crate) fn remove(&self) -> Result<()> {
        connection::drop_table(self)
    }

    /// The job and its table, for messages.
    fn describe(&self) -> String {
        format!(
            "job {:?} (table {} in {})",
            self.0.job_id, self.0.table, self.0.store.place
        )
    }
}

/// A PostgreSQL error as ours: `Full` for a full disk (SQLSTATE 53100),
/// else `Backend`; the SQLSTATE and the server's message are in the text.
pub(super) fn pg_error(e: &postgres::Error) -> Error {
    let full = e.code() == Some(&postgres::error::SqlState::DISK_FULL);
    let kind = if full {
        ErrorKind::Full
    } else {
        ErrorKind::Backend
    };
    let text = match e.as_db_error() {
        Some(db) => format!("PostgreSQL {}: {}", db.code().code(), db.message()),
        None => format!("PostgreSQL: {e}"),
    };
    Error::from_backend(kind, 0, text)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn schema_is_taken_out_of_the_root() -> Result<()> {
        let store = PgStore::parse("postgresql:///db?host=/tmp/s&schema=my%20s&user=u")?;
        assert_eq!(store.schema, "my s");
        assert_eq!(store.config.get_user(), Some("u"));
        assert_eq!(store.config.get_dbname(), Some("db"));
        let store = PgStore::parse("postgres://h/db")?;
        assert_eq!(store.schema, DEFAULT_SCHEMA);
        assert!(PgStore::parse("postgres://h/db?schema=").is_err());
        assert!(PgStore::parse("postgres://h/db?nonsense=1").is_err());
        Ok(())
    }

    #[test]
    fn table_names_fit_and_stay_distinct() {
        assert_eq!(table_name("Ab.c-d_1"), "job_Ab.c-d_1");
        let long_a = "a".repeat(128);
        let mut long_b = "a".repeat(127);
        long_b.push('b');
        let (ta, tb) = (table_name(&long_a), table_name(&long_b));
        assert!(ta.len() <= MAX_IDENTIFIER && tb.len() <= MAX_IDENTIFIER);
        assert_ne!(ta, tb);
        assert_eq!(table_name(&"x".repeat(59)).len(), 63);
        assert_eq!(quote_ident("a\"b"), "\"a\"\"b\"");
    }
}
