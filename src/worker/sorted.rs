//! Sorted runs: consecutive fire-and-forget single-key writes (puts and
//! deletes) wait in the worker, then go to the store in key order as one
//! all-or-nothing step, before anything that could see them or that their
//! order matters to: another kind of write, a flush, a read, a maintenance
//! task, the commit.
//!
//! The outcome is the arrival-order outcome: the sort is stable, so writes
//! to one key keep their order, and writes to different keys commute. Key
//! order turns random inserts into one walk along the B-tree, which reads
//! and writes each page once per run instead of once per write, whenever
//! the run touches more pages than the page cache holds.
//!
//! Failures keep the arrival-order outcome too: if the sorted step fails (a
//! quota, a full disk, an injected fault), nothing of it stays, and the
//! run is applied again one write at a time in arrival order, so each write
//! succeeds or fails exactly as it would have without the sort. On the
//! group's own error paths (applying it again after the store dropped the
//! transaction, committing it in parts on a full disk), a sorted run is
//! first split back into its writes, in arrival order.

use super::adds::split;
use super::{Merged, Pending, Worker};
use crate::backend::Backend;
use crate::ops::Op;
use crate::protocol::{Reply, Request};
use crate::sync::SyncWrite;

/// The writes waiting to be applied in key order, in arrival order.
#[derive(Default)]
pub(super) struct Run {
    ops: Vec<Op>,
    /// Bytes the writes hold (counted in the group's bytes too).
    bytes: usize,
}

impl Run {
    /// Whether no write waits.
    pub(super) fn is_empty(&self) -> bool {
        self.ops.is_empty()
    }
}

/// Whether `request` may wait in a sorted run: a fire-and-forget put or
/// delete of one key.
pub(super) fn sortable(request: &Request) -> bool {
    matches!(request, Request::Op(Op::Put { .. } | Op::Delete { .. }))
}

/// What a sorted run is ordered by: the category, then the key.
fn sort_key(op: &Op) -> (&[u8], &[u8]) {
    match op {
        Op::Put { category, key, .. } | Op::Delete { category, key } => (category, key),
        Op::DeletePrefix { category, .. } | Op::DeleteRange { category, .. } => (category, &[]),
    }
}

/// `ops` in key order (stable), with the arrival index of each. Sorts in
/// place: only the indices are allocated (a run holds up to the group's
/// byte bound).
fn into_key_order(mut ops: Vec<Op>) -> (Vec<u32>, Vec<Op>) {
    let mut order: Vec<u32> = (0..ops.len() as u32).collect();
    order.sort_unstable_by(|&a, &b| {
        sort_key(&ops[a as usize])
            .cmp(&sort_key(&ops[b as usize]))
            .then(a.cmp(&b))
    });
    permute(&mut ops, &order);
    (order, ops)
}

/// The writes of a sorted run back in arrival order.
fn into_arrival_order(arrival: &[u32], mut ops: Vec<Op>) -> Vec<Op> {
    let mut inverse = vec![0u32; arrival.len()];
    for (at, &from) in (0u32..).zip(arrival) {
        inverse[from as usize] = at;
    }
    permute(&mut ops, &inverse);
    ops
}

/// Rearranges `items` in place so that the item at `i` is the one that
/// was at `order[i]` (`order` a permutation of the indices), one cycle of
/// swaps at a time.
fn permute<T>(items: &mut [T], order: &[u32]) {
    let mut done = vec![false; items.len()];
    for start in 0..items.len() {
        let mut at = start;
        while !done[at] {
            done[at] = true;
            let from = order[at] as usize;
            if from == start {
                break;
            }
            items.swap(at, from);
            at = from;
        }
    }
}

/// A copy of a write's result (a write's reply carries nothing).
fn same(result: &crate::error::Result<Reply>) -> crate::error::Result<Reply> {
    match result {
        Ok(_) => Ok(Reply::Done),
        Err(e) => Err(e.clone()),
    }
}

/// `group` with each sorted run and each merged sync add split back into
/// its requests, in arrival order, each with the result the whole had.
pub(super) fn unsort(group: Vec<Pending>) -> Vec<Pending> {
    let mut out = Vec::with_capacity(group.len());
    for pending in group {
        match pending.merged {
            Some(merged) => {
                let result = pending.result;
                out.extend(
                    merged
                        .split(pending.request)
                        .into_iter()
                        .map(|request| Pending::new(request, same(&result))),
                );
            }
            None => out.push(pending),
        }
    }
    out
}

impl Merged {
    /// The requests `request` was merged from, in arrival order.
    fn split(self, request: Request) -> Vec<Request> {
        match (self, request) {
            (Merged::Sorted(arrival), Request::Batch { ops, .. }) => {
                into_arrival_order(&arrival, ops)
                    .into_iter()
                    .map(Request::Op)
                    .collect()
            }
            (
                Merged::Adds(lens),
                Request::Sync {
                    write: SyncWrite::Add { set, ids },
                    ..
                },
            ) => split(&set, ids, &lens),
            (_, request) => vec![request],
        }
    }
}

impl Worker {
    /// Adds a sortable write to the run; a transaction is open.
    pub(super) fn defer(&mut self, request: Request) {
        let bytes = request.retained_bytes();
        let Request::Op(op) = request else {
            return self.write_now(request);
        };
        self.run.bytes += bytes;
        self.group_bytes += bytes;
        self.group_ops += 1;
        self.run.ops.push(op);
    }

    /// Applies the waiting run: in key order as one step, or else one write
    /// at a time in arrival order.
    pub(super) fn apply_run(&mut self) {
        let run = std::mem::take(&mut self.run);
        let n = run.ops.len();
        if n == 0 {
            return;
        }
        self.group_bytes -= run.bytes;
        self.group_ops -= n as u64;
        let (arrival, ops) = into_key_order(run.ops);
        let request = Request::Batch { ops, done: None };
        self.apply_merged(request, Merged::Sorted(arrival), n as u64, run.bytes);
    }

    /// Applies a request merged from several (a sorted run, merged sync
    /// adds) as one step, its `ops` and `bytes` counted in the group; if
    /// it fails, nothing of it stays, and its requests are applied again
    /// one at a time in arrival order.
    pub(super) fn apply_merged(
        &mut self,
        request: Request,
        merged: Merged,
        ops: u64,
        bytes: usize,
    ) {
        match self.apply(&request) {
            Ok(reply) => {
                self.group_ops += ops;
                self.group_bytes += bytes;
                self.group.push(Pending {
                    request,
                    result: Ok(reply),
                    merged: Some(merged),
                });
            }
            Err((_, panicked)) => {
                if panicked {
                    self.backend.rollback();
                }
                if !self.backend.in_transaction() {
                    self.replay();
                }
                for request in merged.split(request) {
                    self.write_now(request);
                }
            }
        }
    }
}

impl Pending {
    /// A request of the group with its result.
    pub(super) fn new(request: Request, result: crate::error::Result<Reply>) -> Pending {
        Pending {
            request,
            result,
            merged: None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn put(key: &[u8], payload: &[u8]) -> Op {
        Op::put("c", key.to_vec(), payload.to_vec())
    }

    #[test]
    fn key_order_is_stable_and_reversible() {
        let ops = vec![
            put(b"b", b"1"),
            Op::delete("c", b"a".to_vec()),
            put(b"b", b"2"),
            put(b"a", b"3"),
            Op::put("a", b"z".to_vec(), b"4".to_vec()),
            Op::delete("c", b"b".to_vec()),
        ];
        let (arrival, sorted) = into_key_order(ops.clone());
        assert_eq!(arrival, vec![4, 1, 3, 0, 2, 5]);
        let keys: Vec<(&[u8], &[u8])> = sorted.iter().map(sort_key).collect();
        assert_eq!(
            keys,
            vec![
                (&b"a"[..], &b"z"[..]),
                (b"c", b"a"),
                (b"c", b"a"),
                (b"c", b"b"),
                (b"c", b"b"),
                (b"c", b"b")
            ]
        );
        assert_eq!(into_arrival_order(&arrival, sorted), ops);
    }

    #[test]
    fn permute_follows_every_cycle() {
        // Cycles (0 3 1), (2), (4 5).
        let mut items = vec!['a', 'b', 'c', 'd', 'e', 'f'];
        permute(&mut items, &[3, 0, 2, 1, 5, 4]);
        assert_eq!(items, vec!['d', 'a', 'c', 'b', 'f', 'e']);
    }

    #[test]
    fn unsort_splits_only_sorted_runs() {
        let ops = vec![put(b"y", b"1"), put(b"x", b"2"), put(b"y", b"3")];
        let (arrival, sorted) = into_key_order(ops.clone());
        let group = vec![
            Pending::new(
                Request::Batch {
                    ops: vec![put(b"k", b"batch")],
                    done: None,
                },
                Ok(Reply::Done),
            ),
            Pending {
                request: Request::Batch {
                    ops: sorted,
                    done: None,
                },
                result: Ok(Reply::Done),
                merged: Some(Merged::Sorted(arrival)),
            },
        ];
        let out = unsort(group);
        assert_eq!(out.len(), 4);
        assert!(matches!(&out[0].request, Request::Batch { ops, .. } if ops.len() == 1));
        let back: Vec<Op> = out[1..]
            .iter()
            .map(|p| match &p.request {
                Request::Op(op) => op.clone(),
                _ => panic!("not a single write"),
            })
            .collect();
        assert_eq!(back, ops);
        assert!(out.iter().all(|p| p.result.is_ok() && p.merged.is_none()));
    }
}
