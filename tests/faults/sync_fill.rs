//! A disk fault in the middle of the sync memory's fill
//! (`docs/sync-index.md`, "Filling the memory"): the step that meets it
//! drops the set's memory, the job keeps serving exact answers, and the
//! next query fills the memory again.

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use persistency::fault::{self, Errno, Fault, IoOp, Target};
use persistency::{Job, Persistency, SyncId, SyncRange};

use crate::common::rng::Rng;
use crate::common::{brute_summary, hold_worker};

/// Elements of the set: about 80 regions, so the fill takes many steps.
const N: usize = 20_000;

fn id(rng: &mut Rng) -> SyncId {
    let mut hash = [0u8; 32];
    rng.fill(&mut hash);
    SyncId::new(rng.below(1_000_000) as i64, hash)
}

fn in_memory(job: &Job) -> u64 {
    job.stats().expect("stats").sync_elements_in_memory
}

/// Random ranges' summaries against brute force.
fn check(job: &Job, all: &BTreeSet<SyncId>, rng: &mut Rng) {
    for _ in 0..200 {
        let (a, b) = (id(rng), id(rng));
        let range = SyncRange::new(a.min(b), a.max(b));
        let summary = job.sync_summary(&["t"], range).expect("summary");
        assert_eq!(summary, brute_summary(all, &range));
    }
}

#[test]
fn a_read_fault_during_the_fill_drops_the_memory_and_answers_stay_exact() {
    let dir = tempfile::tempdir().expect("tempdir");
    let tag = dir.path().to_string_lossy().into_owned();
    let root = dir.path().join("root");
    let db = Persistency::new(root.to_str().expect("utf-8")).expect("instance");
    let mut rng = Rng(11);
    let ids: Vec<SyncId> = (0..N).map(|_| id(&mut rng)).collect();
    let all: BTreeSet<SyncId> = ids.iter().copied().collect();
    let job = db.open_job("j").expect("open");
    job.sync_add_acked("t", &ids).expect("add");
    drop(job);
    // Reopened: nothing in memory, a cold page cache.
    db.close_job("j").expect("close");
    let job = db.open_job("j").expect("reopen");
    assert_eq!(in_memory(&job), 0);

    // The query is served on this thread (nothing is pending) and queues
    // the fill behind the held worker; the fill's first step then reads
    // the disk while every read of the database fails.
    let hold = hold_worker(&job);
    let whole = job.sync_summary(&["t"], SyncRange::all()).expect("summary");
    assert_eq!(whole.count, N as u64);
    let kept = in_memory(&job);
    assert!(kept > 0 && kept < N as u64, "{kept} elements in memory");
    fault::inject(Fault::new(&tag, Target::Database, IoOp::Read, Errno::Eio));
    drop(hold);
    // Served after the fill step (first in the queue), which met the fault.
    job.flush().expect("flush");
    assert!(fault::injected(&tag) > 0, "the fill read nothing");
    assert_eq!(in_memory(&job), 0, "the failed fill kept its memory");
    fault::clear(&tag);

    // Exact answers, then a whole fill again.
    check(&job, &all, &mut rng);
    let start = Instant::now();
    while in_memory(&job) != N as u64 {
        assert!(
            start.elapsed() < Duration::from_secs(60),
            "the memory holds {} of {N} elements",
            in_memory(&job)
        );
        std::thread::sleep(Duration::from_millis(2));
    }
    check(&job, &all, &mut rng);
    assert_eq!(job.sync_len("t").expect("len"), N as u64);
}
