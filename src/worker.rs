//! The job thread: owns the backend, blocks on the queue, commits
//! consecutive writes in one transaction (group commit) and completes every
//! request exactly once.

use std::cell::Cell;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::thread::{self, JoinHandle};

use crossbeam_channel::bounded;

use crate::backend::{Backend, Range};
use crate::error::{Error, Result};
use crate::log::{log, Level};
use crate::ops::Op;
use crate::queue::Queue;
use crate::rows::Rows;

/// Most operations taken from the queue for one round; the writes among
/// them commit together.
const MAX_ROUND: usize = 8_192;

/// Most write operations committed in one transaction.
const MAX_GROUP_OPS: u64 = 65_536;

/// Most reads served in one read transaction before it ends (it pins a
/// snapshot, which holds back checkpoints).
const MAX_TXN_READS: u32 = 10_000;

/// Most bytes of requests one open transaction keeps (for its callbacks and
/// for replay should SQLite roll the transaction back): bounds the memory a
/// long group commit holds on top of the queue.
const MAX_GROUP_BYTES: usize = 12 * 1024 * 1024;

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
}

type Callback = Box<dyn FnOnce(Result<Reply>) + Send>;

/// A callback that is invoked exactly once: by [`Completion::complete`], or
/// with an internal error if the request is dropped without completing.
pub(crate) struct Completion(Option<Callback>);

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
    fn defuse(mut self) {
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

fn invoke(callback: Callback, result: Result<Reply>) {
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
}

impl Read {
    fn category(&self) -> &[u8] {
        match self {
            Read::Get { category, .. }
            | Read::Exists { category, .. }
            | Read::GetMany { category, .. } => category,
            Read::Scan { range, .. } | Read::Count { range } => &range.category,
        }
    }
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
    /// Completes once everything accepted before it is committed.
    Flush(Completion),
    /// A read, served after every write accepted before it.
    Read { read: Read, done: Completion },
}

impl Request {
    fn is_read(&self) -> bool {
        matches!(self, Request::Read { .. })
    }

    /// Write operations this request counts for in the stats.
    pub(crate) fn op_count(&self) -> u64 {
        match self {
            Request::Op(_) | Request::DeleteAcked { .. } => 1,
            Request::Batch { ops, .. } => ops.len() as u64,
            Request::Flush(_) | Request::Read { .. } => 0,
        }
    }

    /// Approximate bytes this request holds while it waits for its commit.
    fn retained_bytes(&self) -> usize {
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
                }
        };
        match self {
            Request::Op(op) => op_bytes(op),
            Request::Batch { ops, .. } => OVERHEAD + ops.iter().map(op_bytes).sum::<usize>(),
            Request::DeleteAcked { category, key, .. } => OVERHEAD + category.len() + key.len(),
            Request::Flush(_) | Request::Read { .. } => OVERHEAD,
        }
    }

    /// Drops a refused request without invoking its callback.
    pub(crate) fn refuse(self) {
        match self {
            Request::Op(_) | Request::Batch { done: None, .. } => {}
            Request::Batch { done: Some(d), .. }
            | Request::DeleteAcked { done: d, .. }
            | Request::Flush(d)
            | Request::Read { done: d, .. } => d.defuse(),
        }
    }
}

/// Figures the worker updates as it goes.
#[derive(Debug, Default)]
pub(crate) struct Counters {
    pub ops_applied: AtomicU64,
    pub ops_failed: AtomicU64,
    pub transactions: AtomicU64,
    pub reads: AtomicU64,
    pub db_bytes: AtomicU64,
}

/// Identifies the job whose worker runs on the current thread.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct WorkerTag {
    pub instance: u64,
    pub job: u64,
}

thread_local! {
    static CURRENT: Cell<Option<WorkerTag>> = const { Cell::new(None) };
}

/// The job whose worker thread this is, if any.
pub(crate) fn current() -> Option<WorkerTag> {
    CURRENT.with(Cell::get)
}

#[cfg(feature = "fault-injection")]
fn inject_fault(category: &[u8]) {
    if category == crate::FAULT_PANIC_CATEGORY.as_bytes() {
        panic!("fault injection: worker request panics");
    }
}

#[cfg(not(feature = "fault-injection"))]
fn inject_fault(_category: &[u8]) {}

/// A write request waiting for its group's commit.
struct Pending {
    request: Request,
    result: Result<Reply>,
}

struct Worker<B: Backend> {
    backend: B,
    job_id: Arc<str>,
    counters: Arc<Counters>,
    group: Vec<Pending>,
    /// Write operations applied in the open transaction.
    group_ops: u64,
    /// Bytes the requests in `group` hold.
    group_bytes: usize,
    /// The open transaction was begun for reads.
    read_txn: bool,
    /// Reads served in the open read transaction.
    txn_reads: u32,
}

/// Starts a worker thread for a job: `open` runs on the new thread and its
/// outcome is handed back before this returns (a blocking handshake, no
/// polling). `guard` lives until the thread ends, after the backend closed.
pub(crate) fn spawn<B, F, G>(
    job_id: Arc<str>,
    tag: WorkerTag,
    queue: Arc<Queue<Request>>,
    counters: Arc<Counters>,
    open: F,
    guard: G,
) -> Result<JoinHandle<()>>
where
    B: Backend + 'static,
    F: FnOnce() -> Result<B> + Send + 'static,
    G: Send + 'static,
{
    let (ready_tx, ready_rx) = bounded::<Result<()>>(1);
    let name: String = format!("pers-{job_id}").chars().take(15).collect();
    let id = job_id.clone();
    let handle = thread::Builder::new()
        .name(name)
        .spawn(move || {
            let _guard = guard;
            CURRENT.with(|c| c.set(Some(tag)));
            crate::log::quiet_panics();
            let backend = match catch_unwind(AssertUnwindSafe(open)) {
                Ok(Ok(backend)) => backend,
                Ok(Err(e)) => {
                    let _ = ready_tx.send(Err(e));
                    return;
                }
                Err(_) => {
                    let _ = ready_tx.send(Err(Error::internal("opening the job panicked")));
                    return;
                }
            };
            let mut worker = Worker {
                backend,
                job_id: id,
                counters,
                group: Vec::new(),
                group_ops: 0,
                group_bytes: 0,
                read_txn: false,
                txn_reads: 0,
            };
            worker.update_size();
            let _ = ready_tx.send(Ok(()));
            drop(ready_tx);
            worker.run(&queue);
        })
        .map_err(|e| {
            Error::new(
                crate::ErrorKind::Backend,
                format!("cannot start worker: {e}"),
            )
        })?;
    match ready_rx.recv() {
        Ok(Ok(())) => Ok(handle),
        Ok(Err(e)) => {
            let _ = handle.join();
            Err(e)
        }
        Err(_) => {
            let _ = handle.join();
            Err(Error::internal("worker thread ended before it was ready"))
        }
    }
}

/// Closes the queue when the worker ends, however it ends: requests still
/// queued then (only if the worker died) complete with an internal error
/// as they are dropped, and senders are refused from then on.
struct CloseOnExit(Arc<Queue<Request>>);

impl Drop for CloseOnExit {
    fn drop(&mut self) {
        drop(self.0.close_and_take());
    }
}

impl<B: Backend> Worker<B> {
    /// Serves requests until the queue is closed and drained.
    fn run(&mut self, queue: &Arc<Queue<Request>>) {
        let _exit = CloseOnExit(queue.clone());
        let mut round: Vec<Request> = Vec::with_capacity(64);
        while queue.pop_into(&mut round, MAX_ROUND) {
            let mut requests = round.drain(..).peekable();
            while let Some(request) = requests.next() {
                if request.is_read() {
                    let more = requests.peek().is_some() || queue.len() > 0;
                    self.read(request, more);
                } else {
                    self.write(request);
                }
            }
            drop(requests);
            // Across rounds, while more requests are already waiting, keep
            // the transaction open (group commit for writes, one snapshot for
            // reads), up to a bound.
            if queue.len() == 0
                || self.group_ops >= MAX_GROUP_OPS
                || self.group_bytes >= MAX_GROUP_BYTES
                || self.txn_reads >= MAX_TXN_READS
            {
                self.end_transaction();
            }
        }
        self.end_transaction();
        log(Level::Debug, || {
            format!("job {}: worker stopped", self.job_id)
        });
    }

    /// Serves a read after committing the writes before it. When more
    /// requests wait (or the read has many statements) it opens a read
    /// transaction that the following reads share: one snapshot instead of
    /// one per statement.
    fn read(&mut self, request: Request, more: bool) {
        let Request::Read { read, done } = request else {
            return;
        };
        if !self.group.is_empty() {
            self.end_transaction();
        }
        let many = matches!(&read, Read::GetMany { keys, .. } if keys.len() > 1);
        if (more || many) && !self.backend.in_transaction() && self.backend.begin().is_ok() {
            self.read_txn = true;
        }
        if self.read_txn {
            self.txn_reads += 1;
        }
        let backend = &mut self.backend;
        let result = catch_unwind(AssertUnwindSafe(|| {
            inject_fault(read.category());
            serve(backend, &read)
        }))
        .unwrap_or_else(|_| Err(Error::internal("a read request panicked")))
        .map_err(|e| e.context(format!("job {}", self.job_id)));
        self.counters.reads.fetch_add(1, Ordering::Relaxed);
        done.complete(result);
    }

    fn write(&mut self, request: Request) {
        if let Request::Flush(done) = request {
            if self.group.is_empty() {
                done.complete(Ok(Reply::Done));
            } else {
                self.group.push(Pending {
                    request: Request::Flush(done),
                    result: Ok(Reply::Done),
                });
            }
            return;
        }
        if self.read_txn {
            // Writes never upgrade a read transaction: commit it first.
            self.end_transaction();
        }
        if !self.backend.in_transaction() {
            if let Err(e) = self.backend.begin() {
                self.fail(request, e);
                return;
            }
        }
        match self.apply(&request) {
            Ok(reply) => {
                self.group_ops += request.op_count();
                self.group_bytes += request.retained_bytes();
                self.group.push(Pending {
                    request,
                    result: Ok(reply),
                });
            }
            Err((e, panicked)) => {
                if panicked {
                    self.backend.rollback();
                }
                if !self.backend.in_transaction() {
                    // The failure ended the transaction: the writes applied
                    // before it in this group are gone; apply them again.
                    self.replay();
                }
                self.fail(request, e);
            }
        }
    }

    /// Applies one write request; the flag tells whether it panicked.
    fn apply(&mut self, request: &Request) -> std::result::Result<Reply, (Error, bool)> {
        let backend = &mut self.backend;
        let outcome = catch_unwind(AssertUnwindSafe(|| match request {
            Request::Op(op) => {
                inject_fault(op.category());
                backend
                    .apply(std::slice::from_ref(op))
                    .map(|()| Reply::Done)
            }
            Request::Batch { ops, .. } => {
                ops.iter().for_each(|op| inject_fault(op.category()));
                backend.apply(ops).map(|()| Reply::Done)
            }
            Request::DeleteAcked { category, key, .. } => {
                inject_fault(category);
                backend.delete_acked(category, key).map(Reply::Found)
            }
            Request::Flush(_) | Request::Read { .. } => Ok(Reply::Done),
        }));
        match outcome {
            Ok(result) => result.map_err(|e| (e, false)),
            Err(_) => Err((Error::internal("a write request panicked"), true)),
        }
    }

    /// Opens a new transaction and applies again every write of the group
    /// that had succeeded.
    fn replay(&mut self) {
        let group = std::mem::take(&mut self.group);
        self.group_ops = 0;
        self.group_bytes = 0;
        let began = self.backend.begin();
        for mut pending in group {
            if pending.result.is_ok() && pending.request.op_count() > 0 {
                let again = match &began {
                    Ok(()) => self.apply(&pending.request).map_err(|(e, _)| e),
                    Err(e) => Err(e.clone()),
                };
                match again {
                    Ok(reply) => {
                        self.group_ops += pending.request.op_count();
                        self.group_bytes += pending.request.retained_bytes();
                        pending.result = Ok(reply);
                    }
                    Err(e) => {
                        self.counters
                            .ops_failed
                            .fetch_add(pending.request.op_count(), Ordering::Relaxed);
                        pending.result = Err(e);
                    }
                }
            }
            self.group.push(pending);
        }
    }

    /// Records a failed write: fire-and-forget ones are counted and logged,
    /// others wait in the group to report at its end, in order.
    fn fail(&mut self, request: Request, error: Error) {
        let error = error.context(format!("job {}", self.job_id));
        self.counters
            .ops_failed
            .fetch_add(request.op_count(), Ordering::Relaxed);
        if let Request::Op(_) = request {
            log(Level::Error, || {
                format!("fire-and-forget write failed: {error}")
            });
            return;
        }
        self.group.push(Pending {
            request,
            result: Err(error),
        });
    }

    /// Commits the open transaction, then completes the group in order.
    fn end_transaction(&mut self) {
        let mut commit_error = None;
        if self.backend.in_transaction() {
            match self.backend.commit() {
                Ok(()) => {
                    if self.group_ops > 0 {
                        self.counters
                            .ops_applied
                            .fetch_add(self.group_ops, Ordering::Relaxed);
                        self.counters.transactions.fetch_add(1, Ordering::Relaxed);
                    }
                }
                Err(e) => {
                    let e = e.context(format!("job {}", self.job_id));
                    self.backend.rollback();
                    self.counters
                        .ops_failed
                        .fetch_add(self.group_ops, Ordering::Relaxed);
                    log(Level::Error, || {
                        format!("commit of {} operations failed: {e}", self.group_ops)
                    });
                    commit_error = Some(e);
                }
            }
            if self.group_ops > 0 {
                self.update_size();
            }
        }
        self.group_ops = 0;
        self.group_bytes = 0;
        self.read_txn = false;
        self.txn_reads = 0;
        for pending in self.group.drain(..) {
            let result = match (&commit_error, pending.result) {
                (Some(e), Ok(_)) if pending.request.op_count() > 0 => Err(e.clone()),
                (_, result) => result,
            };
            match pending.request {
                Request::Batch { done: Some(d), .. }
                | Request::DeleteAcked { done: d, .. }
                | Request::Flush(d) => d.complete(result),
                _ => {}
            }
        }
    }

    fn update_size(&mut self) {
        let size = self.backend.size();
        self.counters.db_bytes.store(size, Ordering::Relaxed);
    }
}

fn serve<B: Backend>(backend: &mut B, read: &Read) -> Result<Reply> {
    Ok(match read {
        Read::Get { category, key } => Reply::Value(backend.get(category, key)?),
        Read::Exists { category, key } => Reply::Found(backend.exists(category, key)?),
        Read::Scan {
            range,
            reverse,
            limit,
        } => Reply::Rows(backend.scan(range, *reverse, *limit)?),
        Read::Count { range } => Reply::Count(backend.count(range)?),
        Read::GetMany { category, keys } => Reply::Rows(backend.get_many(category, keys)?),
    })
}
