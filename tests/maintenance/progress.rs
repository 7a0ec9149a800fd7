//! Progress reports of backup, compaction and the integrity check
//! (`*_with_progress`): how far each has got, while it runs.

use std::sync::{Arc, Mutex};

use persistency::{Job, Op, Progress};

use crate::{key, open, tmp};

/// Fills `c` with `rows` rows of 500 bytes under keys 0..rows.
fn fill(job: &Job, rows: u64) {
    for chunk in (0..rows).step_by(2000) {
        let end = (chunk + 2000).min(rows);
        job.write(
            (chunk..end)
                .map(|i| Op::put("c", key(i), vec![9; 500]))
                .collect(),
        )
        .expect("fill");
    }
}

/// A closure that records every report, and the record.
fn recorder() -> (
    impl FnMut(Progress) + Send + 'static,
    Arc<Mutex<Vec<Progress>>>,
) {
    let seen = Arc::new(Mutex::new(Vec::new()));
    let log = Arc::clone(&seen);
    (move |p| log.lock().unwrap().push(p), seen)
}

/// The rules of every operation's reports: several while it runs,
/// `done` never going back nor past `total`, and the last one complete.
fn assert_reports(what: &str, seen: &[Progress]) -> Progress {
    assert!(
        seen.len() >= 3,
        "{what}: {} reports for a job of megabytes: {seen:?}",
        seen.len()
    );
    for pair in seen.windows(2) {
        assert!(
            pair[1].done >= pair[0].done,
            "{what}: done went back: {pair:?}"
        );
    }
    for p in seen {
        assert!(p.done <= p.total, "{what}: done past total: {p:?}");
    }
    let last = *seen.last().unwrap();
    assert!(
        last.total > 0 && last.done == last.total,
        "{what}: last report {last:?}"
    );
    last
}

#[test]
fn backup_reports_the_snapshot_copied() {
    let dir = tmp();
    let (db, job) = open(dir.path(), "j");
    fill(&job, 8000);
    let (closure, seen) = recorder();
    let dest = dir.path().join("copy.db");
    job.backup_with_progress(&dest, closure).expect("backup");
    let seen = seen.lock().unwrap();
    let last = assert_reports("backup", &seen);
    // Every report tells the snapshot's size, which is the copy's.
    assert!(seen.iter().all(|p| p.total == last.total), "{seen:?}");
    let copy_bytes = std::fs::metadata(&dest).expect("copy").len();
    assert_eq!(last.total, copy_bytes, "total is the snapshot's size");
    drop(job);
    db.close().expect("close");
}

#[test]
fn compaction_reports_the_free_bytes_given_back() {
    let dir = tmp();
    let (db, job) = open(dir.path(), "j");
    fill(&job, 8000);
    job.delete_range("c", &key(1000), b"").expect("delete");
    job.flush().expect("flush");
    let free_before = {
        let s = job.stats().expect("stats");
        s.db_bytes.saturating_sub(s.live_bytes)
    };
    let (closure, seen) = recorder();
    job.compact_with_progress(closure).expect("compact");
    let seen = seen.lock().unwrap();
    let last = assert_reports("compact", &seen);
    // The free pages of 7000 deleted rows of 500 bytes: megabytes.
    assert!(last.total > 2 << 20, "total {} bytes", last.total);
    assert!(
        last.total <= free_before,
        "given back {} of {free_before} free bytes",
        last.total
    );
    drop(job);
    db.close().expect("close");
}

#[test]
fn check_reports_the_file_read() {
    let dir = tmp();
    let (db, job) = open(dir.path(), "j");
    fill(&job, 8000);
    let (closure, seen) = recorder();
    job.check_with_progress(closure).expect("check");
    let seen = seen.lock().unwrap();
    let last = assert_reports("check", &seen);
    let live = job.stats().expect("stats").live_bytes;
    assert!(
        last.total >= live,
        "total {} < live bytes {live}",
        last.total
    );
    // Before the end the estimate stays below the total.
    let before_end = &seen[..seen.len() - 1];
    assert!(before_end.iter().all(|p| p.done < p.total), "{seen:?}");
    drop(job);
    db.close().expect("close");
}

#[test]
fn a_panicking_closure_hears_no_more_and_the_task_goes_on() {
    let dir = tmp();
    let (db, job) = open(dir.path(), "j");
    fill(&job, 4000);
    let calls = Arc::new(Mutex::new(0u32));
    let counted = Arc::clone(&calls);
    let dest = dir.path().join("copy.db");
    job.backup_with_progress(&dest, move |_| {
        *counted.lock().unwrap() += 1;
        panic!("a host bug in a progress closure");
    })
    .expect("the backup still completes");
    assert_eq!(*calls.lock().unwrap(), 1, "called once, then dropped");
    assert!(dest.is_file());
    let calls = Arc::new(Mutex::new(0u32));
    let counted = Arc::clone(&calls);
    job.check_with_progress(move |_| {
        *counted.lock().unwrap() += 1;
        panic!("again, inside the check");
    })
    .expect("the check still passes");
    assert_eq!(*calls.lock().unwrap(), 1, "called once, then dropped");
    // The job still serves requests.
    job.put("c", b"after", b"x").expect("put");
    assert_eq!(
        job.get("c", b"after").expect("get").as_deref(),
        Some(&b"x"[..])
    );
    drop(job);
    db.close().expect("close");
}
