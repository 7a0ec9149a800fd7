//! A job: one database, one worker thread, one bounded queue. [`Job`] is a
//! cheap, cloneable handle; every clone refers to the same job.

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::thread::JoinHandle;

use parking_lot::Mutex;

use crate::backend::Range;
use crate::error::{Error, ErrorKind, Result};
use crate::keys::{prefix_stop, MAX_PART_LEN};
use crate::log::{log, Level};
use crate::ops::Op;
use crate::options::FullPolicy;
use crate::queue::{Queue, Refused};
use crate::rows::Rows;
use crate::worker::{self, Completion, Counters, Read, Reply, Request, WorkerTag};

/// A snapshot of a job's figures. The worker updates them as it goes, so a
/// reader may see figures from a moment earlier.
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
}

/// Options of a scan.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ScanOptions {
    /// Descending key order.
    pub reverse: bool,
    /// At most this many rows; 0 means no limit.
    pub limit: u32,
}

pub(crate) struct JobShared {
    id: Arc<str>,
    id_c: std::ffi::CString,
    tag: WorkerTag,
    policy: FullPolicy,
    queue: Arc<Queue<Request>>,
    worker: Mutex<Option<JoinHandle<()>>>,
    counters: Arc<Counters>,
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

pub(crate) fn check_category(category: &[u8]) -> Result<()> {
    if category.len() > MAX_PART_LEN {
        return Err(Error::invalid(format!(
            "category of {} bytes is longer than {MAX_PART_LEN}",
            category.len()
        )));
    }
    Ok(())
}

pub(crate) fn check_ops(ops: &[Op]) -> Result<()> {
    ops.iter().try_for_each(|op| check_category(op.category()))
}

pub(crate) fn range_of(category: &[u8], start: &[u8], stop: &[u8]) -> Range {
    Range {
        category: category.to_vec(),
        start: start.to_vec(),
        stop: (!stop.is_empty()).then(|| stop.to_vec()),
    }
}

pub(crate) fn prefix_range(category: &[u8], prefix: &[u8]) -> Range {
    Range {
        category: category.to_vec(),
        start: prefix.to_vec(),
        stop: prefix_stop(prefix),
    }
}

fn unexpected(reply: Reply) -> Error {
    Error::internal(format!("unexpected reply {reply:?}"))
}

impl Job {
    pub(crate) fn start(
        id: &str,
        tag: WorkerTag,
        policy: FullPolicy,
        capacity: usize,
        open: impl FnOnce() -> Result<crate::backend::sqlite::SqliteBackend> + Send + 'static,
        guard: impl Send + 'static,
    ) -> Result<Job> {
        let id: Arc<str> = Arc::from(id);
        let counters = Arc::new(Counters::default());
        let queue = Arc::new(Queue::new(capacity));
        let handle = worker::spawn(
            id.clone(),
            tag,
            queue.clone(),
            counters.clone(),
            open,
            guard,
        )?;
        let id_c = std::ffi::CString::new(id.as_bytes())
            .map_err(|_| Error::invalid("job id contains NUL"))?;
        Ok(Job {
            shared: Arc::new(JobShared {
                id,
                id_c,
                tag,
                policy,
                queue,
                worker: Mutex::new(Some(handle)),
                counters,
            }),
        })
    }

    pub(crate) fn into_raw(self) -> *const () {
        Arc::into_raw(self.shared).cast()
    }

    /// # Safety
    /// `ptr` must come from [`Job::into_raw`] and still own its reference.
    pub(crate) unsafe fn from_raw(ptr: *const ()) -> Job {
        // SAFETY: the caller hands back a pointer made by `into_raw`.
        Job {
            shared: unsafe { Arc::from_raw(ptr.cast()) },
        }
    }

    /// Whether two handles refer to the same job.
    pub fn same(&self, other: &Job) -> bool {
        Arc::ptr_eq(&self.shared, &other.shared)
    }

    /// The job id.
    pub fn id(&self) -> &str {
        &self.shared.id
    }

    /// The job id as a C string (valid as long as the job is).
    pub(crate) fn id_c(&self) -> &std::ffi::CStr {
        &self.shared.id_c
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
    /// error the request's callback is never invoked.
    pub(crate) fn submit(&self, request: Request) -> Result<()> {
        let weight = request.op_count() as usize;
        let wait = self.shared.policy == FullPolicy::Block && !self.on_own_worker();
        self.shared
            .queue
            .push(request, weight, wait)
            .map_err(|(request, why)| {
                request.refuse();
                match why {
                    Refused::Full => {
                        Error::new(ErrorKind::Busy, format!("job {}: queue is full", self.id()))
                    }
                    Refused::Closed => Error::closed(format!("job {} is closed", self.id())),
                }
            })
    }

    /// Stops intake, lets the worker complete every accepted request and
    /// joins it. Called from the job's own worker it cannot wait for
    /// itself: intake stops and the worker ends after the current round.
    pub(crate) fn shut_down(&self) {
        self.shared.queue.close();
        let mut worker = self.shared.worker.lock();
        let Some(handle) = worker.take() else {
            return;
        };
        if handle.thread().id() == std::thread::current().id() {
            return;
        }
        if handle.join().is_err() {
            log(Level::Error, || {
                format!("job {}: worker panicked", self.id())
            });
        }
    }

    /// Submits a request whose reply `then` receives, and returns a
    /// completion for it.
    fn request<T: Send + 'static>(
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
    fn wait<T: Send + 'static>(
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
        let (tx, rx) = crossbeam_channel::bounded(1);
        self.request(make, extract, move |r| {
            let _ = tx.send(r);
        })?;
        rx.recv()
            .unwrap_or_else(|_| Err(Error::internal("the worker dropped a request")))
    }

    // ---- writes -------------------------------------------------------

    /// Queues an insert-or-replace (fire-and-forget: a failure is counted
    /// in the stats and logged).
    ///
    /// ```
    /// let db = persistency::Persistency::new(":memory:")?;
    /// let job = db.open_job("messages")?;
    /// job.put("msgs", b"k", b"hello")?;
    /// assert_eq!(job.get("msgs", b"k")?, Some(b"hello".to_vec()));
    /// # Ok::<(), persistency::Error>(())
    /// ```
    pub fn put(&self, category: impl AsRef<[u8]>, key: &[u8], payload: &[u8]) -> Result<()> {
        check_category(category.as_ref())?;
        self.submit(Request::Op(Op::put(category, key, payload)))
    }

    /// Queues a delete (fire-and-forget).
    pub fn delete(&self, category: impl AsRef<[u8]>, key: &[u8]) -> Result<()> {
        check_category(category.as_ref())?;
        self.submit(Request::Op(Op::delete(category, key)))
    }

    /// Queues a delete of every key that starts with `prefix`
    /// (fire-and-forget).
    pub fn delete_prefix(&self, category: impl AsRef<[u8]>, prefix: &[u8]) -> Result<()> {
        check_category(category.as_ref())?;
        self.submit(Request::Op(Op::delete_prefix(category, prefix)))
    }

    /// Queues an atomic batch without waiting for it (fire-and-forget).
    pub fn submit_batch(&self, ops: Vec<Op>) -> Result<()> {
        check_ops(&ops)?;
        self.submit(Request::Batch { ops, done: None })
    }

    /// Queues an atomic batch; `then` runs on the worker after the commit
    /// (or failure) of the batch.
    pub fn write_then(
        &self,
        ops: Vec<Op>,
        then: impl FnOnce(Result<()>) + Send + 'static,
    ) -> Result<()> {
        check_ops(&ops)?;
        self.request(
            |done| Request::Batch {
                ops,
                done: Some(done),
            },
            |_| Ok(()),
            then,
        )
    }

    /// Applies an atomic batch and waits until it is committed.
    ///
    /// ```
    /// use persistency::{Op, Persistency};
    /// let db = Persistency::new(":memory:")?;
    /// let job = db.open_job("j")?;
    /// job.write(vec![Op::put("c", b"a".to_vec(), b"1".to_vec()), Op::delete("c", b"b".to_vec())])?;
    /// assert!(job.exists("c", b"a")?);
    /// # Ok::<(), persistency::Error>(())
    /// ```
    pub fn write(&self, ops: Vec<Op>) -> Result<()> {
        check_ops(&ops)?;
        self.wait(
            |done| Request::Batch {
                ops,
                done: Some(done),
            },
            |_| Ok(()),
        )
    }

    /// `then` runs once every operation accepted before is committed.
    pub fn flush_then(&self, then: impl FnOnce(Result<()>) + Send + 'static) -> Result<()> {
        self.request(Request::Flush, |_| Ok(()), then)
    }

    /// Waits until every operation accepted before is committed.
    pub fn flush(&self) -> Result<()> {
        self.wait(Request::Flush, |_| Ok(()))
    }

    /// Deletes a row and reports, after the commit, whether it existed.
    pub fn delete_acked_then(
        &self,
        category: impl AsRef<[u8]>,
        key: &[u8],
        then: impl FnOnce(Result<bool>) + Send + 'static,
    ) -> Result<()> {
        let category = category.as_ref();
        check_category(category)?;
        let (category, key) = (category.to_vec(), key.to_vec());
        self.request(
            |done| Request::DeleteAcked {
                category,
                key,
                done,
            },
            found,
            then,
        )
    }

    /// Deletes a row, waits for the commit and tells whether it existed.
    pub fn delete_acked(&self, category: impl AsRef<[u8]>, key: &[u8]) -> Result<bool> {
        let category = category.as_ref();
        check_category(category)?;
        let (category, key) = (category.to_vec(), key.to_vec());
        self.wait(
            |done| Request::DeleteAcked {
                category,
                key,
                done,
            },
            found,
        )
    }

    // ---- reads --------------------------------------------------------

    fn read_then<T: Send + 'static>(
        &self,
        read: Read,
        extract: fn(Reply) -> Result<T>,
        then: impl FnOnce(Result<T>) + Send + 'static,
    ) -> Result<()> {
        self.request(|done| Request::Read { read, done }, extract, then)
    }

    fn read_wait<T: Send + 'static>(
        &self,
        read: Read,
        extract: fn(Reply) -> Result<T>,
    ) -> Result<T> {
        self.wait(|done| Request::Read { read, done }, extract)
    }

    fn key_read(category: &[u8], key: &[u8], exists: bool) -> Result<Read> {
        check_category(category)?;
        let (category, key) = (category.to_vec(), key.to_vec());
        Ok(if exists {
            Read::Exists { category, key }
        } else {
            Read::Get { category, key }
        })
    }

    /// Looks up a key; `then` receives the payload, `None` when absent.
    pub fn get_then(
        &self,
        category: impl AsRef<[u8]>,
        key: &[u8],
        then: impl FnOnce(Result<Option<Vec<u8>>>) + Send + 'static,
    ) -> Result<()> {
        self.read_then(Self::key_read(category.as_ref(), key, false)?, value, then)
    }

    /// The payload under a key, `None` when absent. Sees every write
    /// accepted before it.
    pub fn get(&self, category: impl AsRef<[u8]>, key: &[u8]) -> Result<Option<Vec<u8>>> {
        self.read_wait(Self::key_read(category.as_ref(), key, false)?, value)
    }

    /// Tells `then` whether a key is present.
    pub fn exists_then(
        &self,
        category: impl AsRef<[u8]>,
        key: &[u8],
        then: impl FnOnce(Result<bool>) + Send + 'static,
    ) -> Result<()> {
        self.read_then(Self::key_read(category.as_ref(), key, true)?, found, then)
    }

    /// Whether a key is present.
    pub fn exists(&self, category: impl AsRef<[u8]>, key: &[u8]) -> Result<bool> {
        self.read_wait(Self::key_read(category.as_ref(), key, true)?, found)
    }

    fn scan_read(range: Range, options: ScanOptions) -> Result<Read> {
        check_category(&range.category)?;
        Ok(Read::Scan {
            range,
            reverse: options.reverse,
            limit: options.limit,
        })
    }

    /// Scans `[start, stop)` (`stop` empty: no upper bound); `then`
    /// receives the rows.
    pub fn scan_then(
        &self,
        category: impl AsRef<[u8]>,
        start: &[u8],
        stop: &[u8],
        options: ScanOptions,
        then: impl FnOnce(Result<Rows>) + Send + 'static,
    ) -> Result<()> {
        let read = Self::scan_read(range_of(category.as_ref(), start, stop), options)?;
        self.read_then(read, rows, then)
    }

    /// The rows of `[start, stop)` (`stop` empty: no upper bound), in key
    /// order or reversed, at most `options.limit` of them.
    ///
    /// To page through a range, resume ascending from the last key with a
    /// `0x00` byte appended, descending with the last key as `stop`.
    pub fn scan(
        &self,
        category: impl AsRef<[u8]>,
        start: &[u8],
        stop: &[u8],
        options: ScanOptions,
    ) -> Result<Rows> {
        let read = Self::scan_read(range_of(category.as_ref(), start, stop), options)?;
        self.read_wait(read, rows)
    }

    /// Scans every key that starts with `prefix`; `then` receives the rows.
    pub fn scan_prefix_then(
        &self,
        category: impl AsRef<[u8]>,
        prefix: &[u8],
        options: ScanOptions,
        then: impl FnOnce(Result<Rows>) + Send + 'static,
    ) -> Result<()> {
        let read = Self::scan_read(prefix_range(category.as_ref(), prefix), options)?;
        self.read_then(read, rows, then)
    }

    /// The rows of every key that starts with `prefix`.
    ///
    /// ```
    /// use persistency::{Key, Persistency, ScanOptions};
    /// let db = Persistency::new(":memory:")?;
    /// let job = db.open_job("j")?;
    /// for ts in 0..3i64 {
    ///     job.put("m", Key::new().push_str("topic")?.push_i64(ts)?.as_bytes(), b"x")?;
    /// }
    /// let prefix = Key::new().push_str("topic")?.to_vec();
    /// let rows = job.scan_prefix("m", &prefix, ScanOptions { reverse: true, limit: 2 })?;
    /// assert_eq!(rows.len(), 2);
    /// assert!(rows.has_more());
    /// # Ok::<(), persistency::Error>(())
    /// ```
    pub fn scan_prefix(
        &self,
        category: impl AsRef<[u8]>,
        prefix: &[u8],
        options: ScanOptions,
    ) -> Result<Rows> {
        let read = Self::scan_read(prefix_range(category.as_ref(), prefix), options)?;
        self.read_wait(read, rows)
    }

    fn count_read(category: &[u8], start: &[u8], stop: &[u8]) -> Result<Read> {
        check_category(category)?;
        Ok(Read::Count {
            range: range_of(category, start, stop),
        })
    }

    /// Counts the rows of `[start, stop)`; `then` receives the count.
    pub fn count_then(
        &self,
        category: impl AsRef<[u8]>,
        start: &[u8],
        stop: &[u8],
        then: impl FnOnce(Result<u64>) + Send + 'static,
    ) -> Result<()> {
        self.read_then(
            Self::count_read(category.as_ref(), start, stop)?,
            count,
            then,
        )
    }

    /// How many rows `[start, stop)` holds (`stop` empty: no upper bound).
    pub fn count(&self, category: impl AsRef<[u8]>, start: &[u8], stop: &[u8]) -> Result<u64> {
        self.read_wait(Self::count_read(category.as_ref(), start, stop)?, count)
    }

    fn many_read(category: &[u8], keys: Vec<Vec<u8>>) -> Result<Read> {
        check_category(category)?;
        Ok(Read::GetMany {
            category: category.to_vec(),
            keys,
        })
    }

    /// Looks up many keys in one request; `then` receives the rows that
    /// exist, in the order the keys were given.
    pub fn get_many_then(
        &self,
        category: impl AsRef<[u8]>,
        keys: Vec<Vec<u8>>,
        then: impl FnOnce(Result<Rows>) + Send + 'static,
    ) -> Result<()> {
        self.read_then(Self::many_read(category.as_ref(), keys)?, rows, then)
    }

    /// The rows of the keys that exist, in the order the keys were given,
    /// read in one transaction.
    pub fn get_many(&self, category: impl AsRef<[u8]>, keys: Vec<Vec<u8>>) -> Result<Rows> {
        self.read_wait(Self::many_read(category.as_ref(), keys)?, rows)
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
            reads: c.reads.load(Ordering::Relaxed),
            db_bytes: c.db_bytes.load(Ordering::Relaxed),
        })
    }
}

fn value(reply: Reply) -> Result<Option<Vec<u8>>> {
    match reply {
        Reply::Value(v) => Ok(v),
        other => Err(unexpected(other)),
    }
}

fn found(reply: Reply) -> Result<bool> {
    match reply {
        Reply::Found(b) => Ok(b),
        other => Err(unexpected(other)),
    }
}

fn count(reply: Reply) -> Result<u64> {
    match reply {
        Reply::Count(n) => Ok(n),
        other => Err(unexpected(other)),
    }
}

fn rows(reply: Reply) -> Result<Rows> {
    match reply {
        Reply::Rows(r) => Ok(r),
        other => Err(unexpected(other)),
    }
}
