//! Group commit: consecutive writes share one transaction, each batch
//! under its own savepoint; callbacks run after the commit, in order; if
//! the backend drops the whole transaction, the group's earlier writes are
//! applied again.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::Ordering;

use super::{inject_fault, Pending, Worker};
use crate::error::Error;
use crate::log::{log, Level};
use crate::protocol::{Reply, Request};

impl Worker {
    /// Applies a write inside the open transaction (opening one if needed);
    /// its reply waits in the group until the commit.
    pub(super) fn write(&mut self, request: Request) {
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
            Request::Flush(_)
            | Request::Read { .. }
            | Request::Maintain { .. }
            | Request::Resume => Ok(Reply::Done),
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
        self.counters.count_error(&error);
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
    pub(super) fn end_transaction(&mut self) {
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
        if committed_writes {
            self.retain();
        }
    }
}
