//! # libpersistency
//!
//! Embedded key-value storage for messaging nodes: per-job SQLite files
//! (`kv(category, key, payload)`, WAL), each served by one worker thread,
//! with fire-and-forget writes, atomic batches, reads answered through
//! callbacks or blocking calls, and an order-preserving key encoding
//! byte-compatible with the Nim `waku/persistency` layer. The same core is
//! exported through a C ABI (`include/persistency.h`).
//!
//! ```
//! use persistency::{Key, Op, Persistency, ScanOptions};
//!
//! let db = Persistency::new(":memory:")?;
//! let job = db.open_job("store")?;
//! let key = |ts: i64| Key::new().push_str("/waku/2/default")?.push_i64(ts).map(|k| k.to_vec());
//! job.write(vec![
//!     Op::put("messages", key(1)?, b"first".to_vec()),
//!     Op::put("messages", key(2)?, b"second".to_vec()),
//! ])?;
//! let prefix = Key::new().push_str("/waku/2/default")?.to_vec();
//! let rows = job.scan_prefix("messages", &prefix, ScanOptions::default())?;
//! let payloads: Vec<&[u8]> = rows.iter().map(|r| r.payload).collect();
//! assert_eq!(payloads, [&b"first"[..], &b"second"[..]]);
//! # Ok::<(), persistency::Error>(())
//! ```
//!
//! A [`Job`] handle stays valid memory after its instance is gone, but the
//! last dropped [`Persistency`] clone closes its jobs: keep the instance
//! alive as long as its jobs are used.
//!
//! Guarantees: operations of one job apply in the order they were
//! accepted; a read sees every write accepted before it; every accepted
//! request completes exactly once (also across a close); queues are bounded.

#![warn(missing_docs)]
#![deny(unsafe_op_in_unsafe_fn)]

mod backend;
mod error;
#[cfg(feature = "fault-injection")]
#[doc(hidden)]
pub mod fault;
#[doc(hidden)]
pub mod ffi;
mod inspect;
mod instance;
mod job;
mod keys;
mod log;
mod notation;
mod ops;
mod options;
mod progress;
mod protocol;
mod queue;
mod rows;
mod sync;
mod worker;

pub use backend::sqlite_version;
pub use error::{Error, ErrorKind, Result};
pub use inspect::{job_holder, job_ids, job_path, CategoryStats, FileFacts, JobReader, ReadRange};
pub use instance::{
    current, instance, reset, validate_job_id, Persistency, MAX_JOB_ID_LEN, MEMORY_ROOT,
};
pub use job::{set_wait_timeout, Cursor, Job, ScanOptions, Stats, DEFAULT_PAGE_ROWS};
pub use keys::{encode_i64, encode_key, encode_u64, prefix_stop, Key, KeyPart, MAX_PART_LEN};
pub use log::{set_logger, Level, Logger};
pub use notation::{
    decode_key, encode_parts, format_key, format_parts, parse_key, parse_parts, Part,
};
pub use ops::Op;
pub use options::{
    FullPolicy, JobOptions, Synchronous, DEFAULT_MAX_QUEUE_BYTES, DEFAULT_QUEUE_CAPACITY,
};
pub use progress::Progress;
pub use rows::{Row, Rows};
pub use sync::{
    reserved_row, ReservedRow, SplitPart, Summary, SyncId, SyncRange, HASH_LEN, MAX_SET_NAME_LEN,
    MAX_SPLIT_PARTS, MAX_UNION_SETS,
};

/// The crate version.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");

// The handles are shared across threads: keep them `Send + Sync`.
const _: () = {
    const fn send_sync<T: Send + Sync>() {}
    send_sync::<Persistency>();
    send_sync::<Job>();
    send_sync::<Error>();
};
