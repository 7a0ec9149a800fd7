//! Maintenance (issue 14): range deletes, online backup, compaction, the
//! integrity check and the Prometheus metrics.

#[path = "../common/mod.rs"]
mod common;

mod backup;
mod check;
mod compact;
mod metrics;
mod progress;
mod range;
mod retention;

use std::path::Path;

use persistency::{Job, Persistency};

pub fn tmp() -> tempfile::TempDir {
    tempfile::tempdir().expect("temp dir")
}

/// An instance over a fresh root inside `dir` and its job `id`.
pub fn open(dir: &Path, id: &str) -> (Persistency, Job) {
    let db = Persistency::new(&common::root_in(dir)).expect("instance");
    let job = db.open_job(id).expect("job");
    (db, job)
}

/// A big-endian key: keys sort as the numbers do.
pub fn key(n: u64) -> Vec<u8> {
    n.to_be_bytes().to_vec()
}
