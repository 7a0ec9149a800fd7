//! Per-job options.

use crate::error::{Error, Result};

/// How hard SQLite works to make a commit durable (`PRAGMA synchronous`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Synchronous {
    /// Durable across process crashes; a power loss may lose the last
    /// commits, never corrupt the file (WAL). The default, as upstream.
    #[default]
    Normal,
    /// No syncing: fastest, least durable.
    Off,
    /// Sync on every commit: durable across power loss.
    Full,
}

impl Synchronous {
    /// The C constant (`PERSISTENCY_SYNC_*`).
    pub const fn code(self) -> i32 {
        match self {
            Synchronous::Normal => 0,
            Synchronous::Off => 1,
            Synchronous::Full => 2,
        }
    }

    /// The mode of a C constant.
    pub fn from_code(code: i32) -> Result<Synchronous> {
        match code {
            0 => Ok(Synchronous::Normal),
            1 => Ok(Synchronous::Off),
            2 => Ok(Synchronous::Full),
            _ => Err(Error::invalid(format!("unknown synchronous mode {code}"))),
        }
    }
}

/// What a write does when the job's queue is full.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum FullPolicy {
    /// Wait for room (the default). Calls from the job's own callbacks
    /// never wait: they fail with [`ErrorKind::Busy`](crate::ErrorKind::Busy).
    #[default]
    Block,
    /// Fail at once with [`ErrorKind::Busy`](crate::ErrorKind::Busy).
    Fail,
}

impl FullPolicy {
    /// The C constant (`PERSISTENCY_FULL_*`).
    pub const fn code(self) -> i32 {
        match self {
            FullPolicy::Block => 0,
            FullPolicy::Fail => 1,
        }
    }

    /// The policy of a C constant.
    pub fn from_code(code: i32) -> Result<FullPolicy> {
        match code {
            0 => Ok(FullPolicy::Block),
            1 => Ok(FullPolicy::Fail),
            _ => Err(Error::invalid(format!("unknown full policy {code}"))),
        }
    }
}

/// The default capacity of a job's queue, in operations.
pub const DEFAULT_QUEUE_CAPACITY: u32 = 16_384;

/// Options of a job, fixed when it is first opened.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JobOptions {
    /// Durability of commits.
    pub synchronous: Synchronous,
    /// Most operations waiting for the worker; 0 means the default.
    pub queue_capacity: u32,
    /// What a write does when the queue is full.
    pub full_policy: FullPolicy,
    /// Cap on the main database file (page count × page size); 0: none.
    pub max_db_bytes: u64,
}

impl Default for JobOptions {
    fn default() -> JobOptions {
        JobOptions {
            synchronous: Synchronous::Normal,
            queue_capacity: DEFAULT_QUEUE_CAPACITY,
            full_policy: FullPolicy::Block,
            max_db_bytes: 0,
        }
    }
}

impl JobOptions {
    /// The queue capacity in force (the default for 0).
    pub fn effective_queue_capacity(&self) -> usize {
        match self.queue_capacity {
            0 => DEFAULT_QUEUE_CAPACITY as usize,
            n => n as usize,
        }
    }
}
