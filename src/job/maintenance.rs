//! A job's maintenance: range deletes, online backup, compaction and the
//! integrity check. Backup, compaction and the check are served in order,
//! like reads: they see every write accepted before them.

use std::path::Path;

use super::{check_category, Job};
use crate::backend::check_backup_destination;
use crate::error::{Error, Result};
use crate::ops::Op;
use crate::progress::Progress;
use crate::protocol::{Completion, Request, Task};

/// Checks an op beyond its category: a range must not start after its end.
pub(super) fn check_op(op: &Op) -> Result<()> {
    check_category(op.category())?;
    if let Op::DeleteRange { start, stop, .. } = op {
        if !stop.is_empty() && start > stop {
            return Err(Error::invalid(
                "range start is after its stop (an empty stop means no upper bound)",
            ));
        }
    }
    Ok(())
}

fn task(task: Task) -> impl FnOnce(Completion) -> Request {
    move |done| Request::Maintain {
        task,
        done,
        progress: None,
    }
}

/// A task whose closure hears how far it has got.
fn watched(
    task: Task,
    progress: impl FnMut(Progress) + Send + 'static,
) -> impl FnOnce(Completion) -> Request {
    move |done| Request::Maintain {
        task,
        done,
        progress: Some(Box::new(progress)),
    }
}

fn backup_task(dest: &Path) -> Result<Task> {
    check_backup_destination(dest)?;
    Ok(Task::Backup(dest.to_path_buf()))
}

impl Job {
    /// Queues a delete of every row of `category` with `start <= key < stop`
    /// (`stop` empty: no upper bound), fire-and-forget. A `start` after a
    /// non-empty `stop` is refused with `InvalidArgument`.
    ///
    /// ```
    /// let db = persistency::Persistency::new(":memory:")?;
    /// let job = db.open_job("j")?;
    /// for k in [b"a", b"b", b"c"] {
    ///     job.put("c", k, b"x")?;
    /// }
    /// job.delete_range("c", b"b", b"")?;
    /// assert_eq!(job.count("c", b"", b"")?, 1);
    /// # Ok::<(), persistency::Error>(())
    /// ```
    pub fn delete_range(
        &self,
        category: impl AsRef<[u8]>,
        start: &[u8],
        stop: &[u8],
    ) -> Result<()> {
        let op = Op::delete_range(category, start, stop);
        check_op(&op)?;
        self.submit(Request::Op(op))
    }

    /// Copies the job's data into a new database file at `dest`; `then`
    /// runs once the copy is in place. See [`Job::backup`].
    pub fn backup_then(
        &self,
        dest: impl AsRef<Path>,
        then: impl FnOnce(Result<()>) + Send + 'static,
    ) -> Result<()> {
        self.request(task(backup_task(dest.as_ref())?), |_| Ok(()), then)
    }

    /// Copies the job's data into a new database file at `dest` and waits
    /// until it is in place. The copy holds every write accepted before
    /// the call (and possibly none after). It is written to a temporary
    /// file beside `dest`, synced and then linked into place, so `dest`
    /// appears complete or not at all; an existing `dest`, or a missing
    /// directory, is refused with `InvalidArgument`. A job file is copied
    /// in steps from a snapshot and the job keeps serving requests between
    /// them; an in-memory job is copied in one step. The copy opens as a
    /// job file (rename it to `<job_id>.db` under a root).
    ///
    /// ```
    /// let dir = std::env::temp_dir().join(format!("persistency-doc-backup-{}", std::process::id()));
    /// let db = persistency::Persistency::new(":memory:")?;
    /// let job = db.open_job("j")?;
    /// job.put("c", b"k", b"v")?;
    /// std::fs::create_dir_all(&dir).unwrap();
    /// let dest = dir.join("j.db");
    /// job.backup(&dest)?;
    /// assert!(job.backup(&dest).is_err(), "never overwritten");
    /// # std::fs::remove_dir_all(&dir).unwrap();
    /// # Ok::<(), persistency::Error>(())
    /// ```
    pub fn backup(&self, dest: impl AsRef<Path>) -> Result<()> {
        self.wait(task(backup_task(dest.as_ref())?), |_| Ok(()))
    }

    /// [`Job::backup`], telling `progress` how far the copy has got after
    /// each step (see [`Progress`]). `progress` runs on the job's worker
    /// thread, between the requests it serves: keep it short and do not
    /// wait in it for this job (a blocking call on this job from it is
    /// refused). A closure that panics hears nothing more; the backup
    /// goes on.
    ///
    /// ```
    /// use std::sync::{Arc, Mutex};
    /// let dir = std::env::temp_dir().join(format!("persistency-doc-progress-{}", std::process::id()));
    /// std::fs::create_dir_all(&dir).unwrap();
    /// let db = persistency::Persistency::new(dir.to_str().unwrap())?;
    /// let job = db.open_job("j")?;
    /// for i in 0..1000u32 {
    ///     job.put("c", &i.to_be_bytes(), &[7u8; 200])?;
    /// }
    /// let seen = Arc::new(Mutex::new(Vec::new()));
    /// let log = Arc::clone(&seen);
    /// job.backup_with_progress(dir.join("copy.db"), move |p| log.lock().unwrap().push(p))?;
    /// let last = *seen.lock().unwrap().last().unwrap();
    /// assert!(last.total > 0 && last.done == last.total);
    /// # drop(job); db.close()?;
    /// # std::fs::remove_dir_all(&dir).unwrap();
    /// # Ok::<(), persistency::Error>(())
    /// ```
    pub fn backup_with_progress(
        &self,
        dest: impl AsRef<Path>,
        progress: impl FnMut(Progress) + Send + 'static,
    ) -> Result<()> {
        let task = backup_task(dest.as_ref())?;
        self.wait(watched(task, progress), |_| Ok(()))
    }

    /// Gives free pages back to the file system; `then` runs when done.
    /// See [`Job::compact`].
    pub fn compact_then(&self, then: impl FnOnce(Result<()>) + Send + 'static) -> Result<()> {
        self.request(task(Task::Compact), |_| Ok(()), then)
    }

    /// Gives the free pages of the job's file back to the file system and
    /// waits. Job files created by this library have `auto_vacuum =
    /// INCREMENTAL`, so this moves pages, not the whole file. A file made
    /// without it (by an older version or upstream) is rewritten once with
    /// a full `VACUUM`, which also turns incremental auto-vacuum on. The
    /// write-ahead log is then checkpointed and truncated. Incremental
    /// compaction runs in small steps, and the job serves the requests
    /// queued meanwhile between them (a full `VACUUM` is one step). An
    /// in-memory job frees its pages too.
    pub fn compact(&self) -> Result<()> {
        self.wait(task(Task::Compact), |_| Ok(()))
    }

    /// [`Job::compact`], telling `progress` how far it has got after each
    /// step: the free bytes given back, of those free when it started
    /// (see [`Progress`]). The rules of
    /// [`Job::backup_with_progress`] apply to `progress`.
    pub fn compact_with_progress(
        &self,
        progress: impl FnMut(Progress) + Send + 'static,
    ) -> Result<()> {
        self.wait(watched(Task::Compact, progress), |_| Ok(()))
    }

    /// Runs the store's integrity check; `then` receives `Ok` when sound.
    /// See [`Job::check`].
    pub fn check_then(&self, then: impl FnOnce(Result<()>) + Send + 'static) -> Result<()> {
        self.request(task(Task::Check), |_| Ok(()), then)
    }

    /// Runs SQLite's integrity check on the job's database: `Ok` when
    /// sound, else a `Backend` error naming the first problems found.
    /// Requests queued behind wait while it runs (it reads the whole file).
    pub fn check(&self) -> Result<()> {
        self.wait(task(Task::Check), |_| Ok(()))
    }

    /// [`Job::check`], telling `progress` how far the check has read while
    /// it runs — an estimate, held below the total until the check passed
    /// (see [`Progress`]). The rules of [`Job::backup_with_progress`]
    /// apply to `progress`.
    pub fn check_with_progress(
        &self,
        progress: impl FnMut(Progress) + Send + 'static,
    ) -> Result<()> {
        self.wait(watched(Task::Check, progress), |_| Ok(()))
    }
}
