//! A job: one database, one worker thread, one bounded queue. [`Job`] is a
//! cheap, cloneable handle; every clone refers to the same job. The
//! operations are in `writes.rs` and `reads.rs`; this file holds the handle,
//! the queueing and the close.

mod cursor;
mod fast;
mod maintenance;
mod pool;
mod reads;
mod sync;
mod writes;

pub use cursor::{Cursor, DEFAULT_PAGE_ROWS};
pub use reads::ScanOptions;

use std::cell::Cell;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use parking_lot::Mutex;

use crate::backend::{Backend, Site};
use crate::error::{Error, ErrorKind, Result};
use crate::keys::MAX_PART_LEN;
use crate::log::{log, Level};
use crate::options::{FullPolicy, JobOptions};
use crate::protocol::{Completion, Reply, Request};
use crate::queue::{Queue, Refused};
use crate::sync::SyncMemory;
use crate::worker::{self, waits, Counters, WorkerTag};
use pool::ReadPool;

/// A snapshot of a job's figures. The worker updates them as it goes, so a
/// reader may see figures from a moment earlier. New figures may be added.
#[non_exhaustive]
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Stats {
    /// Operations waiting in the queue now.
    pub queued: u64,
    /// Write operations committed (a batch of n ops counts n).
    pub ops_applied: u64,
    /// Write operations that failed.
    pub ops_failed: u64,
    /// Commits that carried writes.
    pub transactions: u64,
    /// Read requests served.
    pub reads: u64,
    /// Bytes of the job's files (database plus write-ahead log).
    pub db_bytes: u64,
    /// Read-only connections open now for blocking reads (idle or in use);
    /// at most the number of cores (at least 4, at most 8), 0 for in-memory
    /// jobs.
    pub readers: u64,
    /// Bytes of keys and payloads of committed puts.
    pub bytes_written: u64,
    /// Bytes of the database pages in use (page count minus free pages,
    /// times the page size), as of the last commit or compaction.
    pub live_bytes: u64,
    /// Elements of the job's sync sets held in memory (at most 2^20; see
    /// `docs/sync-index.md`); 0 for a job with no sync set.
    pub sync_elements_in_memory: u64,
    errors: [u64; worker::ERROR_KINDS],
}

impl Stats {
    /// Requests (or fire-and-forget operations) that failed with `kind`.
    pub fn errors(&self, kind: ErrorKind) -> u64 {
        let index = (kind.code() as usize).saturating_sub(1);
        self.errors.get(index).copied().unwrap_or(0)
    }
}

pub(crate) struct JobShared {
    id: Arc<str>,
    tag: WorkerTag,
    policy: FullPolicy,
    queue: Arc<Queue<Request>>,
    worker: Mutex<Option<JoinHandle<()>>>,
    counters: Arc<Counters>,
    readers: Arc<ReadPool>,
    /// The sync sets' memory, shared with the worker (see `sync.rs`).
    sync: Arc<SyncMemory>,
}

/// A handle to an open job. Clones share the job; once the job is closed
/// every call returns [`ErrorKind::Closed`].
#[derive(Clone)]
pub struct Job {
    pub(crate) shared: Arc<JobShared>,
}

impl std::fmt::Debug for Job {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Job").field("id", &self.id()).finish()
    }
}

thread_local! {
    /// The calling thread's bound on waits for room ([`set_wait_timeout`]).
    static WAIT_TIMEOUT: Cell<Option<Duration>> = const { Cell::new(None) };
}

/// Bounds how long calls made afterwards on the calling thread wait for room
/// in a full queue (jobs with [`FullPolicy::Block`]); `None`, the default,
/// waits as long as it takes. A wait that runs out fails with
/// [`ErrorKind::Timeout`] and queues nothing. Returns the previous bound.
/// Bindings use it to let a cancellable context interrupt a write.
///
/// ```
/// use std::time::Duration;
/// let previous = persistency::set_wait_timeout(Some(Duration::from_millis(50)));
/// assert_eq!(previous, None);
/// persistency::set_wait_timeout(previous);
/// ```
pub fn set_wait_timeout(timeout: Option<Duration>) -> Option<Duration> {
    WAIT_TIMEOUT.with(|t| t.replace(timeout))
}

pub(super) fn check_category(category: &[u8]) -> Result<()> {
    if crate::sync::is_reserved(category) {
        return Err(Error::invalid(
            "categories starting with a NUL byte are reserved for the library (sync sets)",
        ));
    }
    if category.len() > MAX_PART_LEN {
        return Err(Error::invalid(format!(
            "category of {} bytes is longer than {MAX_PART_LEN}",
            category.len()
        )));
    }
    Ok(())
}

pub(super) fn unexpected(reply: Reply) -> Error {
    Error::internal(format!("unexpected reply {reply:?}"))
}

impl Job {
    pub(crate) fn start(
        id: &str,
        tag: WorkerTag,
        options: &JobOptions,
        open: impl FnOnce() -> Result<Box<dyn Backend>> + Send + 'static,
        guard: impl Send + 'static,
    ) -> Result<Job> {
        let id: Arc<str> = Arc::from(id);
        let counters = Arc::new(Counters::default());
        let queue = Arc::new(Queue::new(
            options.effective_queue_capacity(),
            options.effective_max_queue_bytes(),
        ));
        let sync = Arc::new(SyncMemory::default());
        let handle = worker::spawn(
            id.clone(),
            tag,
            queue.clone(),
            counters.clone(),
            sync.clone(),
            open,
            guard,
        )?;
        Ok(Job {
            shared: Arc::new(JobShared {
                id,
                tag,
                policy: options.full_policy,
                queue,
                worker: Mutex::new(Some(handle)),
                counters,
                readers: Arc::new(ReadPool::new()),
                sync,
            }),
        })
    }

    /// Lets blocking reads run on the caller's thread, on read-only
    /// connections to `site` (a no-op for sites without them).
    pub(crate) fn attach_readers(&self, site: Site) {
        self.shared.readers.attach(site);
    }

    /// Whether two handles refer to the same job.
    pub fn same(&self, other: &Job) -> bool {
        Arc::ptr_eq(&self.shared, &other.shared)
    }

    /// The job id.
    pub fn id(&self) -> &str {
        &self.shared.id
    }

    /// A number no other job of this process has, for as long as it runs.
    pub(crate) fn serial(&self) -> u64 {
        self.shared.tag.job
    }

    pub(crate) fn tag(&self) -> WorkerTag {
        self.shared.tag
    }

    /// Whether the current thread is this job's worker.
    fn on_own_worker(&self) -> bool {
        worker::current() == Some(self.shared.tag)
    }

    /// Whether the job is still open.
    pub fn is_open(&self) -> bool {
        !self.shared.queue.is_closed()
    }

    /// Queues a request: waits for room or fails with `Busy` by policy. On
    /// error the request's callback is never invoked. A callback of another
    /// job waits for room only if that cannot close a wait cycle (its job
    /// would wait for this one); otherwise it gets `Busy`.
    pub(super) fn submit(&self, request: Request) -> Result<()> {
        let weight = request.op_count() as usize;
        let bytes = request.retained_bytes();
        let wait = self.shared.policy == FullPolicy::Block && !self.on_own_worker();
        // Counted before it can be seen, so a read that starts after this
        // call returns knows a write is on its way (see `fast.rs`).
        let counted = u64::from(!request.is_read());
        if counted > 0 {
            let pending = &self.shared.counters.pending_writes;
            pending.fetch_add(counted, Ordering::AcqRel);
        }
        let queue = &self.shared.queue;
        let pushed = match queue.push(request, weight, bytes, false) {
            Err((request, Refused::Full)) if wait => {
                match waits::enter(&[self.tag()], || {
                    format!("waiting for room in job {}", self.id())
                }) {
                    Ok(_waiting) => {
                        let deadline = WAIT_TIMEOUT.with(Cell::get).map(|t| Instant::now() + t);
                        queue.push_until(request, weight, bytes, Some(deadline))
                    }
                    Err(_) => Err((request, Refused::Full)),
                }
            }
            pushed => pushed,
        };
        pushed.map_err(|(request, why)| {
            self.shared.counters.settled(counted);
            request.refuse();
            let error = match why {
                Refused::Full => {
                    Error::new(ErrorKind::Busy, format!("job {}: queue is full", self.id()))
                }
                Refused::Closed => Error::closed(format!("job {} is closed", self.id())),
                Refused::TimedOut => Error::new(
                    ErrorKind::Timeout,
                    format!(
                        "job {}: no room in the queue within the wait timeout",
                        self.id()
                    ),
                ),
            };
            self.shared.counters.count_error(&error);
            error
        })
    }

    /// Stops intake, lets the worker complete every accepted request and
    /// joins it. Called from the job's own worker it cannot wait for
    /// itself: intake stops and the worker ends after the current round.
    /// Callers that may run on another job's worker register the wait
    /// first (see `worker::waits`).
    pub(crate) fn shut_down(&self) {
        self.close_intake();
        let mut worker = self.shared.worker.lock();
        let Some(handle) = worker.take() else {
            return;
        };
        if handle.thread().id() == std::thread::current().id() {
            return;
        }
        let panicked = handle.join().is_err();
        drop(worker);
        if panicked {
            log(Level::Error, || {
                format!("job {}: worker panicked", self.id())
            });
        }
    }

    /// Stops intake: closes the read pool, then the queue. Later requests
    /// are refused with `Closed`; the worker completes those accepted and
    /// ends.
    pub(crate) fn close_intake(&self) {
        // The read pool first (waiting for the reads in flight on it): the
        // worker may end and close the store as soon as the queue closes,
        // and must then find itself the last connection, which checkpoints
        // and removes the WAL. With the queue closed first, a worker that
        // won the race closed while a reader was still open and left the
        // WAL behind (seen 1 close in 300 on a loaded machine).
        self.shared.readers.close();
        self.shared.queue.close();
    }

    /// Submits a request whose reply `then` receives, and returns a
    /// completion for it.
    pub(super) fn request<T: Send + 'static>(
        &self,
        make: impl FnOnce(Completion) -> Request,
        extract: fn(Reply) -> Result<T>,
        then: impl FnOnce(Result<T>) + Send + 'static,
    ) -> Result<()> {
        let done = Completion::new(move |r: Result<Reply>| then(r.and_then(extract)));
        self.submit(make(done))
    }

    /// Submits a request and waits for its reply. Refused on the job's own
    /// worker thread, where waiting would deadlock.
    pub(super) fn wait<T: Send + 'static>(
        &self,
        make: impl FnOnce(Completion) -> Request,
        extract: fn(Reply) -> Result<T>,
    ) -> Result<T> {
        if self.on_own_worker() {
            return Err(Error::invalid(format!(
                "job {}: a blocking call from the job's own callback would deadlock; use the callback form",
                self.id()
            )));
        }
        let _waiting = waits::enter(&[self.tag()], || {
            format!("a blocking call on job {}", self.id())
        })?;
        let (tx, rx) = crossbeam_channel::bounded(1);
        self.request(make, extract, move |r| {
            let _ = tx.send(r);
        })?;
        rx.recv()
            .unwrap_or_else(|_| Err(Error::internal("the worker dropped a request")))
    }

    /// The job's figures.
    pub fn stats(&self) -> Result<Stats> {
        if !self.is_open() {
            return Err(Error::closed(format!("job {} is closed", self.id())));
        }
        let c = &self.shared.counters;
        Ok(Stats {
            queued: self.shared.queue.len() as u64,
            ops_applied: c.ops_applied.load(Ordering::Relaxed),
            ops_failed: c.ops_failed.load(Ordering::Relaxed),
            transactions: c.transactions.load(Ordering::Relaxed),
            reads: c.reads.load(Ordering::Relaxed) + self.shared.readers.reads(),
            db_bytes: c.db_bytes.load(Ordering::Relaxed),
            readers: self.shared.readers.open_count() as u64,
            bytes_written: c.bytes_written.load(Ordering::Relaxed),
            live_bytes: c.live_bytes.load(Ordering::Relaxed),
            sync_elements_in_memory: self.shared.sync.elements_in_memory(),
            errors: std::array::from_fn(|i| c.errors[i].load(Ordering::Relaxed)),
        })
    }
}

#[cfg(test)]
mod tests {
    use crate::{Persistency, Result};

    /// By the time the worker can end (its queue closed), the read pool
    /// holds no connection, so the worker's close is the last one: it
    /// checkpoints and removes the WAL.
    #[test]
    fn intake_closes_after_the_read_pool() -> Result<()> {
        let dir = tempfile::tempdir().expect("tempdir");
        let db = Persistency::new(dir.path().to_str().expect("utf-8 path"))?;
        let job = db.open_job("j")?;
        job.put("c", b"k", b"v")?;
        job.flush()?;
        assert_eq!(job.get("c", b"k")?, Some(b"v".to_vec()));
        assert_eq!(job.shared.readers.open_count(), 1, "the get used the pool");
        job.close_intake();
        assert_eq!(job.shared.readers.open_count(), 0);
        db.close_job("j")?;
        assert!(!dir.path().join("j.db-wal").exists());
        Ok(())
    }
}
