//! Maintenance tasks on the worker: backup, compaction, integrity check.
//!
//! Each task is served in order, like a read: the writes accepted before it
//! are committed first. Compaction and the check run at once. A backup
//! takes its snapshot then and is copied in steps; between two steps the
//! worker serves every request queued meanwhile, because each step is
//! queued behind them as a [`Request::Resume`] marker the worker sends
//! itself.

use std::sync::Arc;

use super::Worker;
use crate::error::{Error, Result};
use crate::log::{log, Level};
use crate::protocol::{Reply, Request, Task};
use crate::queue::{Queue, Refused};

impl Worker {
    /// Serves a maintenance request or a backup marker.
    pub(super) fn maintain(&mut self, request: Request, queue: &Arc<Queue<Request>>) {
        // Commit the writes before (and end a read transaction): a task
        // sees them, and their callbacks need not wait for it.
        self.end_transaction();
        match request {
            Request::Maintain { task, done } => match self.run_task(task) {
                Ok(Some(copy)) => {
                    self.backups.push_back((copy, done));
                    self.keep_backups_going(queue);
                }
                Ok(None) => done.complete(Ok(Reply::Done)),
                Err(e) => done.complete(Err(self.failed(e))),
            },
            Request::Resume => {
                self.resume_queued = false;
                self.step_backup();
                self.keep_backups_going(queue);
            }
            _ => {}
        }
    }

    /// Runs a task; a backup is returned to be continued in steps.
    fn run_task(&mut self, task: Task) -> Result<Option<Box<dyn crate::backend::BackupCopy>>> {
        match task {
            Task::Backup(dest) => self.backend.start_backup(&dest).map(Some),
            Task::Compact => {
                let result = self.backend.compact();
                self.update_size();
                result.map(|()| None)
            }
            Task::Check => self.backend.check().map(|()| None),
        }
    }

    /// Copies the next part of the oldest backup in progress; completes it
    /// when it is done or failed.
    fn step_backup(&mut self) {
        let Some((copy, _)) = self.backups.front_mut() else {
            return;
        };
        let outcome = copy.step();
        if matches!(outcome, Ok(false)) {
            return;
        }
        if let Some((_, done)) = self.backups.pop_front() {
            match outcome {
                Ok(_) => done.complete(Ok(Reply::Done)),
                Err(e) => done.complete(Err(self.failed(e))),
            }
        }
    }

    /// While a backup is in progress, makes sure its next step is queued.
    /// With the queue full, one step is taken now (so the backup still
    /// advances once per round); with the queue closed, the backups are
    /// finished now.
    pub(super) fn keep_backups_going(&mut self, queue: &Arc<Queue<Request>>) {
        if self.backups.is_empty() || self.resume_queued {
            return;
        }
        match queue.push(Request::Resume, 1, false) {
            Ok(()) => self.resume_queued = true,
            Err((_, Refused::Full)) => self.step_backup(),
            Err((_, Refused::Closed)) => self.finish_backups(),
        }
    }

    /// Copies every backup in progress to its end (the job is closing).
    pub(super) fn finish_backups(&mut self) {
        while !self.backups.is_empty() {
            self.step_backup();
        }
    }

    /// Counts and logs a failed task; returns its error with the job named.
    fn failed(&self, error: Error) -> Error {
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
