//! The job thread: owns the backend, blocks on the queue, serves reads and
//! hands writes to the group commit (`group.rs`), completing every request
//! exactly once.

mod adds;
mod ahead;
mod group;
mod maintenance;
mod sorted;
pub(crate) mod waits;

use std::cell::Cell;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::thread::{self, JoinHandle};

use crossbeam_channel::bounded;

use crate::backend::Backend;
use crate::error::{Error, ErrorKind, Result};
use crate::log::{log, Level};
use crate::progress::{Progress, ProgressFn};
use crate::protocol::{Completion, Read, Reply, Request};
use crate::queue::Queue;
use crate::sync::{SyncLayer, SyncMemory};

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

/// Figures the worker updates as it goes.
#[derive(Debug, Default)]
pub(crate) struct Counters {
    pub ops_applied: AtomicU64,
    pub ops_failed: AtomicU64,
    pub transactions: AtomicU64,
    pub reads: AtomicU64,
    pub db_bytes: AtomicU64,
    /// Requests other than reads that were accepted and are not settled
    /// yet: the job adds 1 for such a request before queueing it (and
    /// takes it back if the queue refuses it); the worker takes off those it
    /// has served only once it has nothing open (no transaction, no group
    /// waiting for its commit), when every one of them is committed, failed
    /// or done. Group commit keeps a transaction open across rounds: its
    /// writes stay counted until it commits. Every kind of request but a
    /// read counts, so a new kind is safe by default. While it is 0, a read
    /// on another connection sees every accepted write.
    pub pending_writes: AtomicU64,
    /// Bytes of keys and payloads of committed puts.
    pub bytes_written: AtomicU64,
    /// Bytes of the pages in use, after the last commit.
    pub live_bytes: AtomicU64,
    /// Failed requests by error kind, indexed by status code − 1.
    pub errors: [AtomicU64; ERROR_KINDS],
}

/// How many error kinds there are.
pub(crate) const ERROR_KINDS: usize = ErrorKind::ALL.len();

impl Counters {
    /// Takes `n` settled requests off `pending_writes` (Release: a reader
    /// that then loads 0 with Acquire sees their commit).
    pub(crate) fn settled(&self, n: u64) {
        if n > 0 {
            self.pending_writes.fetch_sub(n, Ordering::AcqRel);
        }
    }

    /// Counts one failed request under its kind.
    pub(crate) fn count_error(&self, error: &Error) {
        let index = (error.kind().code() as usize).saturating_sub(1);
        if let Some(n) = self.errors.get(index) {
            n.fetch_add(1, Ordering::Relaxed);
        }
    }
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

/// With the `fault-injection` feature, panics on the test category.
#[cfg(feature = "fault-injection")]
fn inject_fault(category: &[u8]) {
    crate::fault::worker_request(category);
}

#[cfg(not(feature = "fault-injection"))]
fn inject_fault(_category: &[u8]) {}

/// With the `fault-injection` feature, counts a scan answered with a page
/// read ahead (`fault::served_ahead`).
#[cfg(feature = "fault-injection")]
fn note_served_ahead(category: &[u8]) {
    crate::fault::note_served_ahead(category);
}

#[cfg(not(feature = "fault-injection"))]
fn note_served_ahead(_category: &[u8]) {}

/// A write request waiting for its group's commit.
struct Pending {
    request: Request,
    result: Result<Reply>,
    /// How this request merged several (`sorted.rs`, `adds.rs`).
    merged: Option<Merged>,
}

/// A request of the group made of several that arrived one by one.
enum Merged {
    /// A sorted run: the arrival index of each write, in key order.
    Sorted(Vec<u32>),
    /// Merged sync adds: how many ids each add had, in arrival order.
    Adds(Vec<usize>),
}

struct Worker {
    /// The store, under the sync layer (which passes plain calls through).
    backend: SyncLayer,
    job_id: Arc<str>,
    counters: Arc<Counters>,
    group: Vec<Pending>,
    /// Fire-and-forget puts and deletes waiting to be applied in key order.
    run: sorted::Run,
    /// Fire-and-forget adds to one sync set waiting to be applied as one.
    adds: adds::Adds,
    /// Write operations applied in the open transaction, or waiting in
    /// `run`.
    group_ops: u64,
    /// Bytes the requests in `group` hold.
    group_bytes: usize,
    /// The open transaction was begun for reads.
    read_txn: bool,
    /// Reads served in the open read transaction.
    txn_reads: u32,
    /// Requests other than reads served since the worker last had nothing
    /// open (see `Counters::pending_writes`).
    unsettled: u64,
    /// Backups in progress, in the order they were requested.
    backups: std::collections::VecDeque<maintenance::Backup>,
    /// Callbacks of the compaction in progress (requests that arrive
    /// during one share it), each with its progress closure.
    compactions: Vec<(Completion, Option<ProgressFn>)>,
    /// How far the compaction in progress has got.
    compacted: Progress,
    /// Steps the compaction in progress may still take before it frees
    /// every remaining page at once.
    compact_steps_left: u64,
    /// A [`Request::Resume`] marker waits in the queue.
    resume_queued: bool,
    /// How long the last backup or compaction step took.
    last_step: std::time::Duration,
    /// A sync query was served this round (the sets' memory may want
    /// filling).
    synced_read: bool,
    /// The next page of a paginated scan, read ahead (`ahead.rs`).
    ahead: ahead::Ahead,
}

/// Starts a worker thread for a job: `open` runs on the new thread and its
/// outcome is handed back before this returns (a blocking handshake, no
/// polling). `guard` lives until the thread ends, after the backend closed.
/// `sync` is the sync sets' memory, shared with the job's callers.
pub(crate) fn spawn<F, G>(
    job_id: Arc<str>,
    tag: WorkerTag,
    queue: Arc<Queue<Request>>,
    counters: Arc<Counters>,
    sync: Arc<SyncMemory>,
    open: F,
    guard: G,
) -> Result<JoinHandle<()>>
where
    F: FnOnce() -> Result<Box<dyn Backend>> + Send + 'static,
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
                backend: SyncLayer::new(backend, sync),
                job_id: id,
                counters,
                group: Vec::new(),
                run: sorted::Run::default(),
                adds: adds::Adds::default(),
                group_ops: 0,
                group_bytes: 0,
                read_txn: false,
                txn_reads: 0,
                unsettled: 0,
                backups: Default::default(),
                compactions: Vec::new(),
                compacted: Progress::default(),
                compact_steps_left: 0,
                resume_queued: false,
                last_step: std::time::Duration::ZERO,
                synced_read: false,
                ahead: ahead::Ahead::default(),
            };
            worker.update_size();
            let _ = ready_tx.send(Ok(()));
            drop(ready_tx);
            worker.run(&queue);
        })
        .map_err(|e| Error::new(ErrorKind::Backend, format!("cannot start worker: {e}")))?;
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

impl Worker {
    /// Serves requests until the queue is closed and drained.
    fn run(&mut self, queue: &Arc<Queue<Request>>) {
        let _exit = CloseOnExit(queue.clone());
        let mut round: Vec<Request> = Vec::with_capacity(64);
        loop {
            if self.ahead.holds() && !queue.wait_for_work(ahead::KEEP_AHEAD) {
                self.ahead.drop_page();
            }
            if !queue.pop_into(&mut round, MAX_ROUND) {
                break;
            }
            let mut requests = round.drain(..).peekable();
            while let Some(request) = requests.next() {
                if request.is_read() {
                    let more = requests.peek().is_some() || queue.len() > 0;
                    self.read(request, more);
                    continue;
                }
                // A page read ahead must see this request's writes.
                self.ahead.other();
                if matches!(request, Request::SyncFill) {
                    self.fill_sync(queue);
                } else if request.is_maintenance() {
                    // A request the job counted as pending (not the
                    // worker's own `Resume` markers) settles like a write.
                    let counted = matches!(request, Request::Maintain { .. });
                    self.maintain(request, queue);
                    self.unsettled += u64::from(counted);
                } else {
                    self.write(request);
                    // Counted once served: `write` may end a read
                    // transaction first, which must not settle this request.
                    self.unsettled += 1;
                    if self.group_bytes >= MAX_GROUP_BYTES {
                        // The group holds enough memory: commit it now, not
                        // at the end of a round that may be large.
                        self.end_transaction();
                    }
                }
            }
            drop(requests);
            if std::mem::take(&mut self.synced_read) && self.backend.wants_fill() {
                queue_fill(self.backend.memory(), queue);
            }
            if queue.len() == 0 {
                // Applying the waiting writes takes a while, in which
                // more may arrive to join the group.
                self.apply_run();
                self.apply_adds();
            }
            self.keep_going(queue);
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
            if queue.len() == 0 {
                // Nothing is open now: the page sees every write taken.
                self.read_ahead(queue);
            }
        }
        self.end_transaction();
        self.finish_in_progress();
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
        if !self.group.is_empty() || !self.run.is_empty() || !self.adds.is_empty() {
            self.end_transaction();
        }
        self.synced_read |= matches!(read, Read::Sync(_));
        let many = matches!(&read, Read::GetMany { keys, .. } if keys.len() > 1);
        if (more || many) && !self.backend.in_transaction() && self.backend.begin().is_ok() {
            self.read_txn = true;
        }
        if self.read_txn {
            self.txn_reads += 1;
        }
        let backend = &mut self.backend;
        let result = match self.ahead.take(&read) {
            Some(rows) => {
                note_served_ahead(read.category());
                Ok(Reply::Rows(rows))
            }
            None => catch_unwind(AssertUnwindSafe(|| {
                inject_fault(read.category());
                serve(backend, &read)
            }))
            .unwrap_or_else(|_| Err(Error::internal("a read request panicked")))
            .map_err(|e| e.context(format!("job {}", self.job_id))),
        };
        match &result {
            Ok(Reply::Rows(rows)) => self.ahead.served(&read, rows),
            Ok(_) => self.ahead.other(),
            Err(e) => {
                self.ahead.other();
                self.counters.count_error(e);
            }
        }
        self.counters.reads.fetch_add(1, Ordering::Relaxed);
        done.complete(result);
    }

    /// Reads the page of a paginated scan wanted ahead, if any, and keeps
    /// it. Called with nothing open and nothing waiting; gives up as soon
    /// as a request other than the one for this page arrives (which then
    /// waits a few rows, not a page). A failure (or a panic) only drops
    /// the page: the request for it reads it again.
    fn read_ahead(&mut self, queue: &Queue<Request>) {
        let Some(read) = self.ahead.wanted() else {
            return;
        };
        let Read::Scan {
            range,
            reverse,
            limit,
        } = &read
        else {
            return;
        };
        let backend = &mut self.backend;
        let give_up = || queue.len() > 0 && !queue.first_is(|r| ahead::Ahead::asks_for(r, &read));
        if let Ok(Ok(Some(rows))) = catch_unwind(AssertUnwindSafe(|| {
            backend.scan_unless(range, *reverse, *limit, &give_up)
        })) {
            self.ahead.keep(&read, rows);
        }
    }

    /// Serves a `Request::SyncFill`: commits the writes before it (a fill
    /// step must not hold their commit back), reads the next regions of
    /// the sync sets into memory, and queues the next step behind the
    /// requests waiting, if any remain.
    fn fill_sync(&mut self, queue: &Arc<Queue<Request>>) {
        self.backend.memory().fill_dequeued();
        self.end_transaction();
        if self.backend.fill() {
            queue_fill(self.backend.memory(), queue);
        }
    }

    fn update_size(&mut self) {
        let size = self.backend.size();
        self.counters.db_bytes.store(size, Ordering::Relaxed);
        let live = self.backend.live_bytes();
        self.counters.live_bytes.store(live, Ordering::Relaxed);
    }
}

/// Queues a fill step of the sync sets' memory unless one is queued. A
/// full or closed queue drops it: the next sync query queues another.
pub(crate) fn queue_fill(memory: &SyncMemory, queue: &Queue<Request>) {
    if memory.claim_fill() {
        let marker = Request::SyncFill;
        let bytes = marker.retained_bytes();
        if queue.push(marker, 1, bytes, false).is_err() {
            memory.fill_dequeued();
        }
    }
}

fn serve(backend: &mut SyncLayer, read: &Read) -> Result<Reply> {
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
        Read::Sync(read) => Reply::Sync(backend.read(read)?),
    })
}
