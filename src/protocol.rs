//! The job↔worker protocol: the requests a [`Job`](crate::Job) queues, the
//! replies the worker sends back, and the [`Completion`] that delivers each
//! reply exactly once.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::PathBuf;

use crate::backend::Range;
use crate::error::{Error, Result};
use crate::log::{log, Level};
use crate::ops::Op;
use crate::progress::ProgressFn;
use crate::rows::Rows;
use crate::sync::{SyncRead, SyncReply, SyncWrite};

/// What a request answers with.
#[derive(Debug)]
pub(crate) enum Reply {
    /// A write or flush completed.
    Done,
    /// `exists`, or `delete_acked` (whether a row was removed).
    Found(bool),
    /// `get`.
    Value(Option<Vec<u8>>),
    /// `count`.
    Count(u64),
    /// `scan`, `get_many`.
    Rows(Rows),
    /// A sync write or query.
    Sync(SyncReply),
}

type Continuation = Box<dyn FnOnce(Result<Reply>) + Send>;

/// A callback that is invoked exactly once: by [`Completion::complete`], or
/// with an internal error if the request is dropped without completing.
pub(crate) struct Completion(Option<Continuation>);

impl Completion {
    pub(crate) fn new(callback: impl FnOnce(Result<Reply>) + Send + 'static) -> Completion {
        Completion(Some(Box::new(callback)))
    }

    pub(crate) fn complete(mut self, result: Result<Reply>) {
        if let Some(callback) = self.0.take() {
            invoke(callback, result);
        }
    }

    /// Forgets the callback without invoking it: for a request that was
    /// refused, whose caller got an error instead.
    pub(crate) fn defuse(mut self) {
        self.0 = None;
    }
}

impl Drop for Completion {
    fn drop(&mut self) {
        if let Some(callback) = self.0.take() {
            invoke(
                callback,
                Err(Error::internal("request dropped before it completed")),
            );
        }
    }
}

fn invoke(callback: Continuation, result: Result<Reply>) {
    if catch_unwind(AssertUnwindSafe(move || callback(result))).is_err() {
        log(Level::Error, || {
            "a completion callback panicked".to_string()
        });
    }
}

/// A read request.
pub(crate) enum Read {
    Get {
        category: Vec<u8>,
        key: Vec<u8>,
    },
    Exists {
        category: Vec<u8>,
        key: Vec<u8>,
    },
    Scan {
        range: Range,
        reverse: bool,
        limit: u32,
    },
    Count {
        range: Range,
    },
    GetMany {
        category: Vec<u8>,
        keys: Vec<Vec<u8>>,
    },
    /// A query over sync sets (served by the worker only).
    Sync(SyncRead),
}

impl Read {
    /// The category the read is about.
    pub(crate) fn category(&self) -> &[u8] {
        match self {
            Read::Get { category, .. }
            | Read::Exists { category, .. }
            | Read::GetMany { category, .. } => category,
            Read::Scan { range, .. } | Read::Count { range } => &range.category,
            Read::Sync(_) => &[],
        }
    }
}

/// A maintenance task: served in order like a read, after every write
/// accepted before it was committed.
#[derive(Debug)]
pub(crate) enum Task {
    /// Copy the data into a new file at this path.
    Backup(PathBuf),
    /// Give free pages back to the file system.
    Compact,
    /// Run the integrity check.
    Check,
}

/// What travels through a job's queue.
pub(crate) enum Request {
    /// A fire-and-forget write.
    Op(Op),
    /// An atomic batch, with an optional callback after its commit.
    Batch {
        ops: Vec<Op>,
        done: Option<Completion>,
    },
    /// A delete that reports whether the row existed, after its commit.
    DeleteAcked {
        category: Vec<u8>,
        key: Vec<u8>,
        done: Completion,
    },
    /// A write to a sync set, with an optional callback after its commit
    /// (told how many elements changed).
    Sync {
        write: SyncWrite,
        done: Option<Completion>,
    },
    /// Completes once everything accepted before it is committed.
    Flush(Completion),
    /// A read, served after every write accepted before it.
    Read { read: Read, done: Completion },
    /// A maintenance task (`worker/maintenance.rs`), with the closure that
    /// hears how far it has got, if any.
    Maintain {
        task: Task,
        done: Completion,
        progress: Option<ProgressFn>,
    },
    /// Queued by the worker itself: copy the next part of the backup in
    /// progress, after the requests queued before this marker.
    Resume,
    /// Queued (at most one at a time) by a sync query or by the worker:
    /// read the next regions of the sync sets into memory
    /// (`docs/sync-index.md`, "Filling the memory"). Not counted as a
    /// pending write.
    SyncFill,
}

impl Request {
    /// Whether this is a read.
    pub(crate) fn is_read(&self) -> bool {
        matches!(self, Request::Read { .. })
    }

    /// Whether this is a maintenance task or the worker's backup marker.
    pub(crate) fn is_maintenance(&self) -> bool {
        matches!(self, Request::Maintain { .. } | Request::Resume)
    }

    /// Bytes of keys and payloads this request puts (for the
    /// `bytes_written` figure).
    pub(crate) fn written_bytes(&self) -> u64 {
        let put = |op: &Op| match op {
            Op::Put { key, payload, .. } => (key.len() + payload.len()) as u64,
            _ => 0,
        };
        match self {
            Request::Op(op) => put(op),
            Request::Batch { ops, .. } => ops.iter().map(put).sum(),
            _ => 0,
        }
    }

    /// Write operations this request counts for in the stats.
    pub(crate) fn op_count(&self) -> u64 {
        match self {
            Request::Op(_) | Request::DeleteAcked { .. } => 1,
            Request::Batch { ops, .. } => ops.len() as u64,
            Request::Sync { write, .. } => write.size().max(1) as u64,
            Request::Flush(_)
            | Request::Read { .. }
            | Request::Maintain { .. }
            | Request::Resume
            | Request::SyncFill => 0,
        }
    }

    /// Approximate bytes this request holds while it waits for its commit.
    pub(crate) fn retained_bytes(&self) -> usize {
        const OVERHEAD: usize = 96;
        let op_bytes = |op: &Op| {
            OVERHEAD
                + match op {
                    Op::Put {
                        category,
                        key,
                        payload,
                    } => category.len() + key.len() + payload.len(),
                    Op::Delete { category, key } => category.len() + key.len(),
                    Op::DeletePrefix { category, prefix } => category.len() + prefix.len(),
                    Op::DeleteRange {
                        category,
                        start,
                        stop,
                    } => category.len() + start.len() + stop.len(),
                }
        };
        match self {
            Request::Op(op) => op_bytes(op),
            Request::Batch { ops, .. } => OVERHEAD + ops.iter().map(op_bytes).sum::<usize>(),
            Request::DeleteAcked { category, key, .. } => OVERHEAD + category.len() + key.len(),
            Request::Sync { write, .. } => OVERHEAD + write.bytes(),
            Request::Flush(_)
            | Request::Read { .. }
            | Request::Maintain { .. }
            | Request::Resume
            | Request::SyncFill => OVERHEAD,
        }
    }

    /// Drops a refused request without invoking its callback.
    pub(crate) fn refuse(self) {
        match self {
            Request::Op(_)
            | Request::Batch { done: None, .. }
            | Request::Sync { done: None, .. }
            | Request::Resume
            | Request::SyncFill => {}
            Request::Batch { done: Some(d), .. }
            | Request::Sync { done: Some(d), .. }
            | Request::DeleteAcked { done: d, .. }
            | Request::Flush(d)
            | Request::Read { done: d, .. }
            | Request::Maintain { done: d, .. } => d.defuse(),
        }
    }
}
