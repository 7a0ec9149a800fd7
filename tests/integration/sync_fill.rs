//! The sync sets' memory fill (`docs/sync-index.md`, "Filling the
//! memory"): after a query, the worker reads the rest of the set into
//! memory while idle; the elements it keeps then follow every add, remove
//! and prune exactly, and every answer still equals brute force.

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use persistency::{Job, Persistency, SyncId, SyncRange};

use crate::common::brute_summary;
use crate::common::rng::Rng;

/// A deterministic stream of ids over 10,000 ns of time.
struct Ids(Rng);

impl Ids {
    fn next(&mut self) -> SyncId {
        let mut hash = [0u8; 32];
        self.0.fill(&mut hash);
        SyncId::new(self.0.below(10_000) as i64, hash)
    }
}

fn in_memory(job: &Job) -> u64 {
    job.stats().unwrap().sync_elements_in_memory
}

/// Waits until the job holds `n` elements in memory.
fn wait_for(job: &Job, n: u64) {
    let start = Instant::now();
    while in_memory(job) != n {
        assert!(
            start.elapsed() < Duration::from_secs(60),
            "the memory holds {} elements, not {n}",
            in_memory(job)
        );
        std::thread::sleep(Duration::from_millis(2));
    }
}

/// Fingerprints and splits of random ranges against brute force.
fn check(job: &Job, all: &BTreeSet<SyncId>, ids: &mut Ids) {
    assert_eq!(job.sync_len("t").unwrap(), all.len() as u64);
    for _ in 0..100 {
        let (a, b) = (ids.next(), ids.next());
        let range = SyncRange::new(a.min(b), a.max(b));
        let whole = brute_summary(all, &range);
        assert_eq!(job.sync_summary(&["t"], range).unwrap(), whole);
        let parts = job.sync_split(&["t"], range, 8).unwrap();
        let counts: u64 = parts.iter().map(|p| p.summary.count).sum();
        assert_eq!(counts, whole.count);
    }
}

#[test]
fn the_memory_fills_and_follows_every_write() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().to_str().unwrap();
    let db = Persistency::new(root).unwrap();
    let job = db.open_job("fill").unwrap();
    let mut ids = Ids(Rng(0x9e37_79b9_7f4a_7c15));
    let mut all = BTreeSet::new();
    for _ in 0..20 {
        let batch: Vec<SyncId> = (0..1000).map(|_| ids.next()).collect();
        all.extend(batch.iter().copied());
        job.sync_add_acked("t", &batch).unwrap();
    }
    assert_eq!(in_memory(&job), 0, "no query yet: nothing filled");

    // One query; the worker then fills the memory with the whole set.
    check(&job, &all, &mut ids);
    wait_for(&job, all.len() as u64);
    let metrics = db.metrics_text().unwrap();
    let gauge = format!(
        "persistency_sync_memory_elements{{job=\"fill\"}} {}",
        all.len()
    );
    assert!(metrics.contains(&gauge), "no `{gauge}` in:\n{metrics}");

    // Removes (anchors among them merge buckets) and adds (new anchors
    // split them): the kept elements stay exactly the set.
    let removed: Vec<SyncId> = all.iter().step_by(5).copied().collect();
    job.sync_remove_acked("t", &removed).unwrap();
    for r in &removed {
        all.remove(r);
    }
    let added: Vec<SyncId> = (0..3000).map(|_| ids.next()).collect();
    job.sync_add_acked("t", &added).unwrap();
    all.extend(added);
    assert_eq!(in_memory(&job), all.len() as u64);
    check(&job, &all, &mut ids);

    // A prune forgets the elements; the next query fills them again.
    let cut = 5_000;
    job.sync_prune_acked("t", cut).unwrap();
    all.retain(|id| id.time >= cut);
    assert_eq!(in_memory(&job), 0);
    check(&job, &all, &mut ids);
    wait_for(&job, all.len() as u64);
    check(&job, &all, &mut ids);

    // After a reopen, nothing is in memory until a query.
    drop(job);
    db.close().unwrap();
    let db = Persistency::new(root).unwrap();
    let job = db.open_job("fill").unwrap();
    assert_eq!(in_memory(&job), 0);
    check(&job, &all, &mut ids);
    wait_for(&job, all.len() as u64);
}

#[test]
fn a_job_without_sync_sets_keeps_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let db = Persistency::new(dir.path().to_str().unwrap()).unwrap();
    let job = db.open_job("plain").unwrap();
    job.put("c", b"k", b"v").unwrap();
    job.flush().unwrap();
    assert_eq!(job.sync_len("none").unwrap(), 0);
    std::thread::sleep(Duration::from_millis(50));
    assert_eq!(in_memory(&job), 0);
}
