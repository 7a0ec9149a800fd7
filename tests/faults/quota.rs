//! The disk quota (`max_db_bytes`): growth is refused with `Full` and
//! leaves nothing behind, reads go on, deleting makes room, and the cap
//! holds for memory jobs too.

use std::sync::{Arc, Mutex};

use persistency::{ErrorKind, Job, JobOptions, Level, Op, Persistency};

use crate::common::root_in;
use crate::{fast, kind};

/// Log messages that mention `needle`, captured from the process-wide
/// logger (other tests of this binary may log concurrently).
static LOG: Mutex<Vec<String>> = Mutex::new(Vec::new());

fn capture_log() {
    persistency::set_logger(
        Some(Arc::new(|level: Level, msg: &str| {
            if level <= Level::Warn {
                LOG.lock().expect("log lock").push(msg.to_string());
            }
        })),
        Level::Warn,
    );
}

fn logged(needle: &str) -> Vec<String> {
    LOG.lock()
        .expect("log lock")
        .iter()
        .filter(|m| m.contains(needle))
        .cloned()
        .collect()
}

fn key(i: u32) -> Vec<u8> {
    format!("k{i:06}").into_bytes()
}

/// Writes 4 KiB batches until the quota refuses one; returns how many
/// batches of 3 rows went in.
fn fill(job: &Job, from: u32) -> u32 {
    for n in from.. {
        let ops = (0..3)
            .map(|j| Op::put("q", key(n * 3 + j), vec![n as u8; 1_400]))
            .collect();
        match job.write(ops) {
            Ok(()) => {}
            Err(e) => {
                assert_eq!(e.kind(), ErrorKind::Full, "a write past the quota: {e}");
                assert!(n > from, "the quota refused the first write");
                // The refused batch left nothing behind.
                for j in 0..3 {
                    assert_eq!(job.get("q", &key(n * 3 + j)).expect("get"), None);
                }
                return n;
            }
        }
        assert!(n < 10_000, "the quota never refused a write");
    }
    unreachable!()
}

#[test]
fn quota_refuses_growth_reads_go_on_and_deleting_makes_room() {
    capture_log();
    let dir = tempfile::tempdir().expect("tempdir");
    let root = root_in(dir.path());
    let db = Persistency::new(&root).expect("instance");
    let options = fast().max_db_bytes(256 * 1024);
    let job = db.open_job_with("quota-job", &options).expect("open");
    let batches = fill(&job, 0);
    let rows = u64::from(batches) * 3;

    // Reads go on, and see every acknowledged row.
    assert_eq!(job.count("q", b"", b"").expect("count"), rows);
    assert_eq!(job.get("q", &key(0)).expect("get"), Some(vec![0u8; 1_400]));

    // A fire-and-forget write past the quota is accepted, fails in the
    // worker, is counted and logged, and changes nothing.
    let failed_before = job.stats().expect("stats").ops_failed;
    job.put("q", b"big", &vec![1u8; 64 * 1024])
        .expect("put is queued");
    job.flush().expect("flush is OK even after a failed write");
    assert_eq!(job.stats().expect("stats").ops_failed, failed_before + 1);
    assert_eq!(job.get("q", b"big").expect("get"), None);
    assert!(
        !logged("quota-job").is_empty(),
        "the failed fire-and-forget write was not logged"
    );
    // A write_then past the quota reports Full to its callback.
    let (tx, rx) = std::sync::mpsc::channel();
    job.write_then(
        vec![Op::put("q", b"big".to_vec(), vec![1u8; 64 * 1024])],
        move |r| {
            tx.send(r).expect("send");
        },
    )
    .expect("write_then accepted");
    let r = rx.recv().expect("callback");
    assert_eq!(kind(&r), Some(ErrorKind::Full), "{r:?}");

    // Deleting data frees pages: writes fit again.
    job.delete_prefix("q", b"k0000").expect("delete_prefix");
    job.flush().expect("flush");
    let left = job.count("q", b"", b"").expect("count");
    assert!(left < rows, "nothing was deleted");
    let more = fill(&job, batches + 1);
    assert!(more > batches + 1, "no write fitted after deleting data");

    // Reopened with a cap below the current size: reads work, growth is
    // refused, writes that fit in the pages present go on.
    db.close_job("quota-job").expect("close");
    let small = fast().max_db_bytes(16 * 1024);
    let job = db.open_job_with("quota-job", &small).expect("reopen");
    let n = job.count("q", b"", b"").expect("count");
    assert!(n > 0);
    let r = job.write(vec![Op::put("q", b"huge".to_vec(), vec![2u8; 200 * 1024])]);
    assert_eq!(kind(&r), Some(ErrorKind::Full), "{r:?}");
    job.write(vec![Op::put("q", key(3), b"small".to_vec())])
        .expect("an overwrite that fits");
    assert_eq!(job.get("q", &key(3)).expect("get"), Some(b"small".to_vec()));
    db.close().expect("close");
}

#[test]
fn quota_applies_to_memory_jobs_too() {
    let db = Persistency::new(persistency::MEMORY_ROOT).expect("instance");
    let job = db
        .open_job_with("mem", &JobOptions::default().max_db_bytes(128 * 1024))
        .expect("open");
    let batches = fill(&job, 0);
    assert_eq!(
        job.count("q", b"", b"").expect("count"),
        u64::from(batches) * 3
    );
    job.delete_prefix("q", b"").expect("delete all");
    assert_eq!(job.count("q", b"", b"").expect("count"), 0);
    assert!(fill(&job, 0) > 0);
}

/// Fire-and-forget puts queued together go to the store in key order
/// (`src/worker/sorted.rs`); past the quota, the ones kept must still be
/// those that came first, as if each had been applied alone in arrival
/// order.
#[test]
fn puts_past_the_quota_keep_the_first_arrived() {
    let dir = tempfile::tempdir().expect("tempdir");
    let db = Persistency::new(&root_in(dir.path())).expect("instance");
    let job = db
        .open_job_with("arrival", &fast().max_db_bytes(128 * 1024))
        .expect("open");
    const PUTS: u32 = 64;
    let go = crate::common::hold_worker(&job);
    // Keys in descending order: key order is the reverse of arrival order.
    for i in (0..PUTS).rev() {
        job.put("q", &key(i), &vec![i as u8; 4_000]).expect("put");
    }
    drop(go);
    job.flush().expect("flush");
    let kept: Vec<u32> = (0..PUTS)
        .filter(|&i| job.exists("q", &key(i)).expect("exists"))
        .collect();
    let n = kept.len() as u32;
    assert!(n > 0 && n < PUTS, "{n} of {PUTS} puts of 4 KB kept");
    assert_eq!(
        kept,
        (PUTS - n..PUTS).collect::<Vec<u32>>(),
        "the puts kept are not the first {n} to arrive"
    );
    assert_eq!(
        job.stats().expect("stats").ops_failed,
        u64::from(PUTS - n),
        "failed puts"
    );
    db.close().expect("close");
}
