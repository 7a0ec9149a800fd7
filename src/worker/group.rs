//! Group commit: consecutive writes share one transaction, each batch
//! under its own savepoint; callbacks run after the commit, in order; if
//! the backend drops the whole transaction, the group's earlier writes are
//! applied again. When the commit itself finds the disk full, the group is
//! committed again in halves, down to the single request that does not
//! fit, which fails alone (as a write past the quota does).

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::Ordering;

use super::adds;
use super::sorted::{sortable, unsort};
use super::{inject_fault, Pending, Worker};
use crate::backend::Backend;
use crate::error::{Error, ErrorKind};
use crate::log::{log, Level};
use crate::protocol::{Reply, Request};
use crate::sync::SyncReply;

impl Worker {
    /// Takes a write: applies it inside the open transaction (opening one
    /// if needed), its reply waiting in the group until the commit; a
    /// fire-and-forget put or delete waits in the sorted run (`sorted.rs`),
    /// and a fire-and-forget sync add with the adds to its set
    /// (`adds.rs`), instead, applied before any other request.
    pub(super) fn write(&mut self, request: Request) {
        let sortable = sortable(&request);
        // For a mergeable sync add: whether it joins the waiting adds.
        let joins = adds::mergeable(&request).map(|set| self.adds.joins(set));
        if !sortable {
            self.apply_run();
        }
        if joins != Some(true) {
            self.apply_adds();
        }
        if let Request::Flush(done) = request {
            if self.group.is_empty() {
                done.complete(Ok(Reply::Done));
            } else {
                self.group
                    .push(Pending::new(Request::Flush(done), Ok(Reply::Done)));
            }
            return;
        }
        if self.read_txn {
            // Writes never upgrade a read transaction: commit it first.
            self.end_transaction();
        }
        if sortable && self.backend.in_transaction() {
            self.defer(request);
        } else if joins.is_some() && self.backend.in_transaction() {
            self.defer_add(request);
        } else {
            self.write_now(request);
        }
    }

    /// Applies a write inside the open transaction, opening one if needed.
    pub(super) fn write_now(&mut self, request: Request) {
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
                self.group.push(Pending::new(request, Ok(reply)));
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
    pub(super) fn apply(&mut self, request: &Request) -> std::result::Result<Reply, (Error, bool)> {
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
            Request::Sync { write, .. } => backend
                .write(write)
                .map(|n| Reply::Sync(SyncReply::Changed(n))),
            Request::Flush(_)
            | Request::Read { .. }
            | Request::Maintain { .. }
            | Request::Resume
            | Request::SyncFill => Ok(Reply::Done),
        }));
        match outcome {
            Ok(result) => result.map_err(|e| (e, false)),
            Err(_) => Err((Error::internal("a write request panicked"), true)),
        }
    }

    /// Opens a new transaction and applies again every write of the group
    /// that had succeeded.
    pub(super) fn replay(&mut self) {
        let group = unsort(std::mem::take(&mut self.group));
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
        self.counters.count_error(&error);
        self.counters
            .ops_failed
            .fetch_add(request.op_count(), Ordering::Relaxed);
        if matches!(request, Request::Op(_) | Request::Sync { done: None, .. }) {
            log(Level::Error, || {
                format!("fire-and-forget write failed: {error}")
            });
            return;
        }
        self.group.push(Pending::new(request, Err(error)));
    }

    /// Write requests of the group still to be committed.
    fn group_writes(&self) -> usize {
        self.group.iter().filter(|p| is_write(p)).count()
    }

    /// Commits the writes of `part` in one transaction, or, when the disk
    /// is full, its two halves separately, down to single requests, which
    /// then fail alone. Sets each request's result and the counters.
    fn settle(&mut self, part: &mut [Pending]) {
        loop {
            let writes = part.iter().filter(|p| is_write(p)).count();
            if writes == 0 {
                return;
            }
            match self.commit_part(part) {
                Ok(ops) => {
                    self.counters.ops_applied.fetch_add(ops, Ordering::Relaxed);
                    self.counters.transactions.fetch_add(1, Ordering::Relaxed);
                    return;
                }
                // A request failed on its own and ended the transaction:
                // again without it.
                Err(None) => continue,
                Err(Some(e)) if e.kind() == ErrorKind::Full && writes > 1 => {
                    let mid = part
                        .iter()
                        .enumerate()
                        .filter(|(_, p)| is_write(p))
                        .nth(writes / 2)
                        .map_or(part.len() / 2, |(i, _)| i);
                    let (first, second) = part.split_at_mut(mid);
                    self.settle(first);
                    self.settle(second);
                    return;
                }
                Err(Some(e)) => {
                    let e = e.context(format!("job {}", self.job_id));
                    for pending in part.iter_mut().filter(|p| is_write(p)) {
                        self.failed(pending, e.clone());
                    }
                    return;
                }
            }
        }
    }

    /// Applies the writes of `part` in a new transaction and commits it;
    /// the operations committed, or the commit's error, or `None` when a
    /// request failed on its own and ended the transaction.
    fn commit_part(&mut self, part: &mut [Pending]) -> std::result::Result<u64, Option<Error>> {
        self.backend.begin().map_err(Some)?;
        let mut ops = 0;
        for pending in part.iter_mut().filter(|p| is_write(p)) {
            match self.apply(&pending.request) {
                Ok(reply) => {
                    ops += pending.request.op_count();
                    pending.result = Ok(reply);
                }
                Err((e, panicked)) => {
                    let e = e.context(format!("job {}", self.job_id));
                    self.failed(pending, e);
                    if panicked || !self.backend.in_transaction() {
                        self.backend.rollback();
                        return Err(None);
                    }
                }
            }
        }
        match self.backend.commit() {
            Ok(()) => Ok(ops),
            Err(e) => {
                self.backend.rollback();
                Err(Some(e))
            }
        }
    }

    /// Marks a write of the group as failed: counted, and logged when
    /// nobody else hears of it (fire-and-forget).
    fn failed(&self, pending: &mut Pending, error: Error) {
        self.counters
            .ops_failed
            .fetch_add(pending.request.op_count(), Ordering::Relaxed);
        if matches!(
            pending.request,
            Request::Op(_) | Request::Sync { done: None, .. }
        ) {
            log(Level::Error, || {
                format!("fire-and-forget write failed: {error}")
            });
        }
        pending.result = Err(error);
    }

    /// Commits the open transaction, then completes the group in order.
    pub(super) fn end_transaction(&mut self) {
        self.apply_run();
        self.apply_adds();
        let mut commit_error = None;
        let mut committed_writes = false;
        if self.backend.in_transaction() {
            let written = self.written_bytes();
            match self.backend.commit() {
                Ok(()) => {
                    self.counters
                        .bytes_written
                        .fetch_add(written, Ordering::Relaxed);
                    committed_writes = self.group_ops > 0;
                    if self.group_ops > 0 {
                        self.counters
                            .ops_applied
                            .fetch_add(self.group_ops, Ordering::Relaxed);
                        self.counters.transactions.fetch_add(1, Ordering::Relaxed);
                    }
                }
                Err(e) if e.kind() == ErrorKind::Full && self.group_writes() > 1 => {
                    self.backend.rollback();
                    log(Level::Warn, || {
                        format!(
                            "job {}: commit of {} operations failed ({e}); committing them in parts",
                            self.job_id, self.group_ops
                        )
                    });
                    let mut group = unsort(std::mem::take(&mut self.group));
                    self.settle(&mut group);
                    self.group = group;
                }
                Err(e) => {
                    let e = e.context(format!("job {}", self.job_id));
                    self.counters.count_error(&e);
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
        if !self.backend.in_transaction() {
            // Nothing open: every request served so far is settled.
            self.counters.settled(std::mem::take(&mut self.unsettled));
        }
        for pending in self.group.drain(..) {
            let result = match (&commit_error, pending.result) {
                (Some(e), Ok(_)) if pending.request.op_count() > 0 => Err(e.clone()),
                (_, result) => result,
            };
            match pending.request {
                Request::Batch { done: Some(d), .. }
                | Request::Sync { done: Some(d), .. }
                | Request::DeleteAcked { done: d, .. }
                | Request::Flush(d) => d.complete(result),
                _ => {}
            }
        }
        if committed_writes {
            self.retain();
        }
    }
}

/// Whether a request of the group is a write whose commit is pending.
fn is_write(pending: &Pending) -> bool {
    pending.result.is_ok() && pending.request.op_count() > 0
}
