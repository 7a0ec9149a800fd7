//! Maintenance tasks on the worker: backup, compaction, integrity check.
//!
//! Each task is served in order, like a read: the writes accepted before it
//! are committed first. The check runs at once. A backup takes its
//! snapshot then and is copied in steps; a compaction frees pages in steps.
//! Between two steps the worker serves every request queued meanwhile,
//! because each step is queued behind them as a [`Request::Resume`] marker
//! the worker sends itself.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::Worker;
use crate::backend::{Backend, BackupCopy};
use crate::error::{Error, Result};
use crate::log::{log, Level};
use crate::progress::{Progress, ProgressFn};
use crate::protocol::{Completion, Reply, Request, Task};
use crate::queue::{Queue, Refused};

/// Pages a backup or compaction step handles (64 KiB with 4 KiB pages):
/// the requests queued behind a step wait a fraction of a millisecond.
/// benches/maintenance.rs measures what steps cost the writers: without a
/// pause between steps, steps of 16, 64 and 256 pages left them about
/// 64 %, 26 % and 9 % of their throughput on a 16 MiB job, and about 11 %
/// on a 128 MiB one; with the pause of [`MAX_YIELD`] at most, about 70 %.
const PAGES_PER_STEP: u32 = 16;

/// The longest pause between two steps when nothing is queued.
const MAX_YIELD: Duration = Duration::from_millis(2);

/// A step size that frees every free page.
const ALL_PAGES: u32 = i32::MAX as u32;

/// A backup in progress: the copy, its callback and its progress closure.
pub(super) struct Backup {
    copy: Box<dyn BackupCopy>,
    done: Completion,
    progress: Option<ProgressFn>,
}

/// Hands `progress` to a closure, if any; a closure that panics is
/// dropped (it hears nothing more) and the task goes on.
fn report(closure: &mut Option<ProgressFn>, progress: Progress) {
    if let Some(f) = closure {
        if catch_unwind(AssertUnwindSafe(|| f(progress))).is_err() {
            log(Level::Warn, || {
                "a progress closure panicked; it gets no more reports".to_string()
            });
            *closure = None;
        }
    }
}

impl Worker {
    /// Serves a maintenance request or a backup marker.
    pub(super) fn maintain(&mut self, request: Request, queue: &Arc<Queue<Request>>) {
        // Commit the writes before (and end a read transaction): a task
        // sees them, and their callbacks need not wait for it.
        self.end_transaction();
        match request {
            Request::Maintain {
                task: Task::Compact,
                done,
                progress,
            } => {
                self.compactions.push((done, progress));
                if self.compactions.len() == 1 {
                    // The first step tells how many pages there are to free.
                    self.compact_steps_left = u64::MAX;
                    let free = self.backend.free_bytes();
                    self.compacted = Progress {
                        done: 0,
                        total: free,
                    };
                    self.step_compaction();
                }
            }
            Request::Maintain {
                task,
                done,
                mut progress,
            } => match self.run_task(task, &mut progress) {
                Ok(Some(copy)) => self.backups.push_back(Backup {
                    copy,
                    done,
                    progress,
                }),
                Ok(None) => done.complete(Ok(Reply::Done)),
                Err(e) => done.complete(Err(self.task_failed(e))),
            },
            Request::Resume => {
                self.resume_queued = false;
                let start = Instant::now();
                self.step_backup();
                self.step_compaction();
                self.last_step = start.elapsed();
            }
            _ => {}
        }
        self.keep_going(queue);
    }

    /// Runs a backup (returned, to be continued in steps) or a check.
    fn run_task(
        &mut self,
        task: Task,
        progress: &mut Option<ProgressFn>,
    ) -> Result<Option<Box<dyn BackupCopy>>> {
        match task {
            Task::Backup(dest) => self.backend.start_backup(&dest).map(Some),
            Task::Check if progress.is_some() => {
                // Reports go through `report`, which catches a panic.
                let mut guarded = |p: Progress| report(progress, p);
                self.backend.check(Some(&mut guarded)).map(|()| None)
            }
            Task::Check => self.backend.check(None).map(|()| None),
            Task::Compact => Ok(None),
        }
    }

    /// Tells the compaction's progress closures how far it has got: the
    /// free bytes given back, of those free at its start (plus any that
    /// writers freed meanwhile).
    fn report_compaction(&mut self, finished: bool) {
        if self.compactions.iter().all(|(_, p)| p.is_none()) {
            return;
        }
        let free = if finished {
            0
        } else {
            self.backend.free_bytes()
        };
        let c = &mut self.compacted;
        c.total = c.total.max(c.done + free);
        c.done = c.done.max(c.total - free);
        let now = *c;
        for (_, progress) in &mut self.compactions {
            report(progress, now);
        }
    }

    /// Frees the next pages of the compaction in progress; completes its
    /// requests once none are left (or after a bounded number of steps,
    /// with one last step that frees all, should writers keep freeing
    /// pages meanwhile).
    fn step_compaction(&mut self) {
        if self.compactions.is_empty() {
            return;
        }
        self.compact_steps_left = self.compact_steps_left.saturating_sub(1);
        let pages = if self.compact_steps_left == 0 {
            ALL_PAGES
        } else {
            PAGES_PER_STEP
        };
        let outcome = self.backend.compact_step(pages);
        if let Ok(left) = outcome {
            if self.compact_steps_left == u64::MAX - 1 {
                // First step: enough steps for the pages left, and a spare.
                self.compact_steps_left = left / u64::from(PAGES_PER_STEP) + 2;
            }
            if left > 0 && pages != ALL_PAGES {
                self.report_compaction(false);
                return;
            }
            self.report_compaction(true);
        }
        self.update_size();
        let result = outcome
            .map(|_| Reply::Done)
            .map_err(|e| self.task_failed(e));
        for (done, _) in self.compactions.drain(..) {
            done.complete(result.as_ref().map(|_| Reply::Done).map_err(Clone::clone));
        }
    }

    /// Copies the next part of the oldest backup in progress; completes it
    /// when it is done or failed.
    fn step_backup(&mut self) {
        let Some(backup) = self.backups.front_mut() else {
            return;
        };
        let outcome = backup.copy.step(PAGES_PER_STEP);
        if outcome.is_ok() {
            report(&mut backup.progress, backup.copy.progress());
        }
        if matches!(outcome, Ok(false)) {
            return;
        }
        if let Some(Backup { done, .. }) = self.backups.pop_front() {
            match outcome {
                Ok(_) => done.complete(Ok(Reply::Done)),
                Err(e) => done.complete(Err(self.task_failed(e))),
            }
        }
    }

    /// While a backup or a compaction is in progress, makes sure its next
    /// step is queued. With the queue full, one step is taken now (so the
    /// task still advances once per round); with the queue closed, the
    /// tasks are finished now.
    pub(super) fn keep_going(&mut self, queue: &Arc<Queue<Request>>) {
        if (self.backups.is_empty() && self.compactions.is_empty()) || self.resume_queued {
            return;
        }
        if queue.len() == 0 {
            // Nobody waits yet, but a host thread that just got its
            // acknowledgement is about to send its next request: give it
            // as long as the step took, so steps cannot take the worker
            // back to back (about half of it at worst, for a task that
            // then takes about twice as long on an idle job).
            std::thread::sleep(self.last_step.min(MAX_YIELD));
        }
        let marker = Request::Resume;
        let bytes = marker.retained_bytes();
        match queue.push(marker, 1, bytes, false) {
            Ok(()) => self.resume_queued = true,
            Err((_, Refused::Full | Refused::TimedOut)) => {
                self.step_backup();
                self.step_compaction();
            }
            Err((_, Refused::Closed)) => self.finish_in_progress(),
        }
    }

    /// Runs every backup and compaction in progress to its end (the job is
    /// closing).
    pub(super) fn finish_in_progress(&mut self) {
        while !self.backups.is_empty() || !self.compactions.is_empty() {
            self.step_backup();
            self.step_compaction();
        }
    }

    /// Counts and logs a failed task; returns its error with the job named.
    fn task_failed(&self, error: Error) -> Error {
        let error = error.context(format!("job {}", self.job_id));
        self.counters.count_error(&error);
        log(Level::Warn, || format!("maintenance task failed: {error}"));
        error
    }

    /// Size-capped retention after a commit that carried writes, once its
    /// callbacks ran. A failure is counted and logged; the next commit
    /// tries again.
    pub(super) fn retain(&mut self) {
        match self.backend.enforce_retention() {
            Ok(false) => {}
            Ok(true) => self.update_size(),
            Err(e) => {
                let e = e.context(format!("job {}: retention", self.job_id));
                self.counters.count_error(&e);
                log(Level::Error, || format!("{e}"));
                self.update_size();
            }
        }
    }

    /// Bytes of keys and payloads the open group puts.
    pub(super) fn written_bytes(&self) -> u64 {
        self.group
            .iter()
            .filter(|p| p.result.is_ok())
            .map(|p| p.request.written_bytes())
            .sum()
    }
}
