//! How far a long maintenance operation (backup, compaction, integrity
//! check) has got, reported while it runs.

/// How far a backup, compaction or integrity check has got, in bytes of
/// the job's store. Reported to the closure given to
/// [`Job::backup_with_progress`](crate::Job::backup_with_progress),
/// [`Job::compact_with_progress`](crate::Job::compact_with_progress) and
/// [`Job::check_with_progress`](crate::Job::check_with_progress).
///
/// `done` never decreases from one report to the next and never exceeds
/// `total`; the last report of an operation that succeeded has `done ==
/// total`. What the bytes are depends on the operation:
///
/// - **backup**: the bytes of the snapshot copied so far, of the
///   snapshot's size (exact);
/// - **compaction**: the free bytes given back so far, of those free when
///   it started (exact; writers that free more pages meanwhile may make
///   `total` grow between reports);
/// - **integrity check**: the bytes of the file read so far, of the file's
///   size — an estimate while it runs (the check visits some pages
///   twice), held below `total` until the check ends.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Progress {
    /// Bytes handled so far.
    pub done: u64,
    /// Bytes to handle in all (0 when there is nothing to do).
    pub total: u64,
}

/// A closure receiving [`Progress`] reports on a job's worker thread.
pub(crate) type ProgressFn = Box<dyn FnMut(Progress) + Send>;
