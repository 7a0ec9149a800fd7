//! Per-job options.

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

/// The default capacity of a job's queue, in operations.
pub const DEFAULT_QUEUE_CAPACITY: u32 = 16_384;

/// The default bound on the bytes of a job's waiting requests (64 MiB).
pub const DEFAULT_MAX_QUEUE_BYTES: u64 = 64 << 20;

/// Options of a job, fixed when it is first opened. New options may be
/// added: start from `default()` and use the setters.
///
/// ```
/// use persistency::{FullPolicy, JobOptions, Synchronous};
/// let options = JobOptions::default()
///     .synchronous(Synchronous::Full)
///     .full_policy(FullPolicy::Fail)
///     .queue_capacity(1024)
///     .max_db_bytes(64 << 20)
///     .max_queue_bytes(16 << 20);
/// assert_eq!(options.queue_capacity, 1024);
/// ```
#[non_exhaustive]
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
    /// Most bytes of requests waiting for the worker (keys, payloads and a
    /// small fixed cost per request); 0 means the default. A write that
    /// finds no room waits or fails with
    /// [`ErrorKind::Busy`](crate::ErrorKind::Busy) as for
    /// [`queue_capacity`](JobOptions::queue_capacity). A single request
    /// larger than the bound is accepted only into an empty queue, so one
    /// request of any size can always go through. The requests a job holds
    /// stay under about twice the bound: those waiting, and those the
    /// worker took from the queue (at most a queue's worth) while it
    /// applies them, plus up to 12 MiB of a group commit.
    pub max_queue_bytes: u64,
    /// Size-capped retention: the most live bytes the job keeps (pages in
    /// use × page size); 0: off. Past it, the oldest rows (in key order)
    /// of [`retention_categories`](Self::retention_categories) are removed
    /// and the space given back. See [`JobOptions::retention`].
    pub retention_max_bytes: u64,
    /// The categories retention removes rows from, oldest first, in this
    /// order. A category starting with a NUL byte (reserved for sync sets)
    /// makes the open fail with `InvalidArgument`.
    pub retention_categories: Vec<Vec<u8>>,
}

impl Default for JobOptions {
    fn default() -> JobOptions {
        JobOptions {
            synchronous: Synchronous::Normal,
            queue_capacity: DEFAULT_QUEUE_CAPACITY,
            full_policy: FullPolicy::Block,
            max_db_bytes: 0,
            max_queue_bytes: DEFAULT_MAX_QUEUE_BYTES,
            retention_max_bytes: 0,
            retention_categories: Vec::new(),
        }
    }
}

impl JobOptions {
    /// Sets the durability of commits.
    pub fn synchronous(mut self, synchronous: Synchronous) -> JobOptions {
        self.synchronous = synchronous;
        self
    }

    /// Sets the most operations waiting for the worker (0: the default).
    pub fn queue_capacity(mut self, capacity: u32) -> JobOptions {
        self.queue_capacity = capacity;
        self
    }

    /// Sets what a write does when the queue is full.
    pub fn full_policy(mut self, policy: FullPolicy) -> JobOptions {
        self.full_policy = policy;
        self
    }

    /// Sets the cap on the main database file in bytes (0: none).
    pub fn max_db_bytes(mut self, bytes: u64) -> JobOptions {
        self.max_db_bytes = bytes;
        self
    }

    /// Sets the most bytes of requests waiting for the worker (0: the
    /// default, [`DEFAULT_MAX_QUEUE_BYTES`]).
    pub fn max_queue_bytes(mut self, bytes: u64) -> JobOptions {
        self.max_queue_bytes = bytes;
        self
    }

    /// The byte bound of the queue in force (the default for 0).
    pub fn effective_max_queue_bytes(&self) -> usize {
        let bytes = match self.max_queue_bytes {
            0 => DEFAULT_MAX_QUEUE_BYTES,
            n => n,
        };
        usize::try_from(bytes).unwrap_or(usize::MAX)
    }

    /// Keeps the job's live data under `max_bytes` (0: off) by removing
    /// its oldest rows from `categories`.
    ///
    /// After a commit that leaves more than `max_bytes` live (pages in use
    /// × page size), the worker removes rows of the first category from its
    /// smallest key on (keys that start with a timestamp sort oldest first),
    /// then of the next category, in whole ranges, until the live size is
    /// at most 80 % of `max_bytes`; then it gives the free pages back
    /// (`incremental_vacuum`) and truncates the write-ahead log, so the
    /// files come back under the cap. Each range is removed in its own
    /// transaction, never inside a batch: a batch is applied whole, and
    /// its callback runs before retention starts. Writes keep being
    /// accepted meanwhile (they queue). A single write or batch that puts
    /// more than half of `max_bytes` is refused with
    /// [`ErrorKind::Full`](crate::ErrorKind::Full) and nothing of it is
    /// stored: it could not be kept without removing itself. Rows of other
    /// categories are never removed; if they alone pass the cap, the cap
    /// cannot hold (retention logs a warning).
    ///
    /// ```
    /// use persistency::JobOptions;
    /// let options = JobOptions::default().retention(64 << 20, ["messages"]);
    /// assert_eq!(options.retention_max_bytes, 64 << 20);
    /// assert_eq!(options.retention_categories, [b"messages".to_vec()]);
    /// ```
    pub fn retention<C: AsRef<[u8]>>(
        mut self,
        max_bytes: u64,
        categories: impl IntoIterator<Item = C>,
    ) -> JobOptions {
        self.retention_max_bytes = max_bytes;
        self.retention_categories = categories
            .into_iter()
            .map(|c| c.as_ref().to_vec())
            .collect();
        self
    }

    /// The queue capacity in force (the default for 0).
    pub fn effective_queue_capacity(&self) -> usize {
        match self.queue_capacity {
            0 => DEFAULT_QUEUE_CAPACITY as usize,
            n => n as usize,
        }
    }
}
