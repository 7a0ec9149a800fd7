//! Merged sync adds: consecutive fire-and-forget adds to one sync set
//! (`Job::sync_add`, `persistency_sync_add`) wait in the worker, then go to
//! the sync layer as one add of all their ids, before anything else is
//! applied (another write, a flush, a read, a maintenance task) and before
//! the commit.
//!
//! Adding is idempotent and adds to one set commute, so one add of all the
//! ids leaves the set as the adds one after another would; nobody waits
//! for a count (the acknowledged forms are never merged). The sync layer
//! applies a write's ids in key order, so a merged add walks the set's
//! elements and buckets once instead of once per request.
//!
//! Failures keep the outcome of the adds one after another: if the merged
//! add fails, nothing of it stays, and the adds are applied again one at a
//! time in arrival order; on the group's own error paths a merged add is
//! first split back into its requests (`sorted::unsort`).

use super::{Merged, Worker};
use crate::protocol::Request;
use crate::sync::{SyncId, SyncWrite};

/// Fire-and-forget adds to one set waiting to be applied as one.
#[derive(Default)]
pub(super) struct Adds {
    set: Vec<u8>,
    /// Every request's ids, in arrival order.
    ids: Vec<SyncId>,
    /// How many ids each request had.
    lens: Vec<usize>,
    /// Bytes the requests hold (counted in the group's bytes too).
    bytes: usize,
}

impl Adds {
    /// Whether no add waits.
    pub(super) fn is_empty(&self) -> bool {
        self.lens.is_empty()
    }

    /// Whether an add to `set` may join the waiting ones.
    pub(super) fn joins(&self, set: &[u8]) -> bool {
        self.is_empty() || self.set == set
    }
}

/// The set of a fire-and-forget sync add, which may be merged.
pub(super) fn mergeable(request: &Request) -> Option<&[u8]> {
    match request {
        Request::Sync {
            write: SyncWrite::Add { set, .. },
            done: None,
        } => Some(set),
        _ => None,
    }
}

/// The requests a merged add was made of, in arrival order.
pub(super) fn split(set: &[u8], mut ids: Vec<SyncId>, lens: &[usize]) -> Vec<Request> {
    let mut requests = Vec::with_capacity(lens.len());
    for &len in lens.iter().rev() {
        let part = ids.split_off(ids.len().saturating_sub(len));
        requests.push(Request::Sync {
            write: SyncWrite::Add {
                set: set.to_vec(),
                ids: part,
            },
            done: None,
        });
    }
    requests.reverse();
    requests
}

impl Worker {
    /// Adds a mergeable sync add to the waiting ones (whose set it names,
    /// or there are none); a transaction is open.
    pub(super) fn defer_add(&mut self, request: Request) {
        let bytes = request.retained_bytes();
        let Request::Sync {
            write: SyncWrite::Add { set, ids },
            done: None,
        } = request
        else {
            return self.write_now(request);
        };
        if self.adds.is_empty() {
            self.adds.set = set;
        }
        self.group_ops += ids.len() as u64;
        self.group_bytes += bytes;
        self.adds.bytes += bytes;
        self.adds.lens.push(ids.len());
        self.adds.ids.extend(ids);
    }

    /// Applies the waiting adds: as one add, or else one at a time in
    /// arrival order.
    pub(super) fn apply_adds(&mut self) {
        let adds = std::mem::take(&mut self.adds);
        if adds.is_empty() {
            return;
        }
        let n = adds.ids.len() as u64;
        self.group_ops -= n;
        self.group_bytes -= adds.bytes;
        let request = Request::Sync {
            write: SyncWrite::Add {
                set: adds.set,
                ids: adds.ids,
            },
            done: None,
        };
        self.apply_merged(request, Merged::Adds(adds.lens), n, adds.bytes);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn split_gives_back_each_request() {
        let id = |t: i64| SyncId::new(t, [t as u8; 32]);
        let ids: Vec<SyncId> = (0..6).map(id).collect();
        let parts = split(b"s", ids, &[2, 0, 3, 1]);
        let got: Vec<Vec<i64>> = parts
            .iter()
            .map(|r| match r {
                Request::Sync {
                    write: SyncWrite::Add { set, ids },
                    done: None,
                } if set == b"s" => ids.iter().map(|i| i.time).collect(),
                _ => panic!("not a sync add"),
            })
            .collect();
        assert_eq!(got, vec![vec![0, 1], vec![], vec![2, 3, 4], vec![5]]);
    }
}
