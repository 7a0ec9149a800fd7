//! Disk faults through the fault-injecting VFS (`persistency::fault`):
//! `EIO` and `ENOSPC` on reads, writes and fsyncs of a job's database and
//! WAL. Whatever fails, the call that met the fault reports it (`Full` for
//! a write that finds no space, `Backend` otherwise), the job serves again
//! once the fault is gone, no acknowledged write is lost, every batch is
//! all or nothing, and the file passes `integrity_check` after a reopen.
//! A disk that fills up in the middle of a group commit fails only the
//! batch that does not fit (issue 17, class 4).

use std::path::Path;
use std::sync::mpsc;

use persistency::fault::{self, Errno, Fault, IoOp, Target};
use persistency::{ErrorKind, Job, JobOptions, Op, Persistency, Synchronous};

use crate::common::hold_worker;

fn full_sync() -> JobOptions {
    JobOptions::default().synchronous(Synchronous::Full)
}

/// Batch `i`: three rows under the prefix `i`.
fn batch(i: u32) -> Vec<Op> {
    (0..3u8)
        .map(|j| {
            let mut key = i.to_be_bytes().to_vec();
            key.push(j);
            Op::put("b", key, vec![j; 1_000])
        })
        .collect()
}

/// Rows of batch `i` present: 0 or 3 (anything else is a torn batch).
fn rows_of(job: &Job, i: u32) -> u64 {
    let rows = job
        .scan_prefix("b", &i.to_be_bytes(), persistency::ScanOptions::default())
        .expect("scan")
        .len() as u64;
    assert!(rows == 0 || rows == 3, "batch {i} is torn: {rows} rows");
    rows
}

/// Every acknowledged batch is there, whole; returns how many are.
fn check(job: &Job, acked: &[u32]) {
    for &i in acked {
        assert_eq!(rows_of(job, i), 3, "acknowledged batch {i} is lost");
    }
}

fn integrity(db: &Path) {
    let conn = rusqlite::Connection::open(db).expect("open");
    let ok: String = conn
        .query_row("PRAGMA integrity_check", [], |r| r.get(0))
        .expect("integrity_check");
    assert_eq!(ok, "ok");
}

fn expected_kind(op: IoOp, errno: Errno) -> ErrorKind {
    match (op, errno) {
        (IoOp::Write, Errno::Enospc) => ErrorKind::Full,
        _ => ErrorKind::Backend,
    }
}

#[test]
fn faults_on_writes_and_fsyncs_lose_no_acknowledged_write() {
    let mut figures = Vec::new();
    for target in [Target::Wal, Target::Database] {
        for op in [IoOp::Write, IoOp::Sync] {
            for errno in [Errno::Eio, Errno::Enospc] {
                let dir = tempfile::tempdir().expect("tempdir");
                let tag = dir.path().to_string_lossy().into_owned();
                let root = dir.path().join("root");
                let db = Persistency::new(root.to_str().expect("utf-8")).expect("instance");
                let job = db.open_job_with("j", &full_sync()).expect("open");
                let mut acked: Vec<u32> = Vec::new();
                for i in 0..20 {
                    job.write(batch(i)).expect("write before the fault");
                    acked.push(i);
                }
                fault::inject(Fault::new(&tag, target, op, errno).times(1));
                let mut refused = None;
                match target {
                    // WAL writes and fsyncs happen at every commit.
                    Target::Wal => {
                        let err = job
                            .write(batch(20))
                            .expect_err("the fault did not fail the write");
                        assert_eq!(
                            err.kind(),
                            expected_kind(op, errno),
                            "{target:?} {op:?} {errno:?}: {err}"
                        );
                        assert!(err.message().contains("job j"), "{err}");
                        refused = Some(err.to_string());
                        for i in 21..30 {
                            job.write(batch(i)).expect("a write after the fault");
                            acked.push(i);
                        }
                    }
                    // The database is written and synced by checkpoints,
                    // here the one at close; SQLite keeps the WAL when it
                    // fails, and the next open recovers from it.
                    Target::Database | Target::Any => {}
                }
                db.close_job("j").expect("close");
                let hit = fault::injected(&tag);
                fault::clear(&tag);
                assert_eq!(
                    hit, 1,
                    "{target:?} {op:?} {errno:?}: the fault was never met"
                );
                let job = db.open_job("j").expect("reopen");
                check(&job, &acked);
                let failed_present = rows_of(&job, 20) == 3;
                db.close().expect("close");
                integrity(&root.join("j.db"));
                figures.push(format!(
                    "{target:?} {op:?} {errno:?}: {} acked kept{}",
                    acked.len(),
                    refused.map_or(String::new(), |e| format!(
                        ", failed write present: {failed_present}, error: {e}"
                    ))
                ));
            }
        }
    }
    for f in figures {
        println!("FAULT {f}");
    }
}

#[test]
fn faults_on_database_reads_fail_the_read_and_the_job_recovers() {
    for errno in [Errno::Eio, Errno::Enospc] {
        let dir = tempfile::tempdir().expect("tempdir");
        let tag = dir.path().to_string_lossy().into_owned();
        let root = dir.path().join("root");
        let db = Persistency::new(root.to_str().expect("utf-8")).expect("instance");
        let job = db.open_job_with("j", &full_sync()).expect("open");
        for i in 0..20 {
            job.write(batch(i)).expect("write");
        }
        // The close checkpoints; the reopened job reads the database file
        // with a cold cache. Page 1 (the schema) reads fine, the rest fail.
        db.close_job("j").expect("close");
        fault::inject(Fault::new(&tag, Target::Database, IoOp::Read, errno).from_offset(4096));
        let job = db.open_job("j").expect("reopen");
        let err = job
            .get("b", &[0, 0, 0, 5, 1])
            .expect_err("read through a bad disk");
        assert_eq!(err.kind(), ErrorKind::Backend, "{err}");
        assert!(err.message().contains("job j"), "{err}");
        assert!(fault::injected(&tag) >= 1);
        fault::clear(&tag);
        assert_eq!(
            job.get("b", &[0, 0, 0, 5, 1]).expect("get"),
            Some(vec![1u8; 1_000])
        );
        check(&job, &(0..20).collect::<Vec<_>>());
        job.write(batch(20)).expect("a write after the fault");
        db.close().expect("close");
        integrity(&root.join("j.db"));
    }
}

#[test]
fn faults_on_wal_reads_fail_the_open_or_the_read_and_nothing_is_lost() {
    for errno in [Errno::Eio, Errno::Enospc] {
        let dir = tempfile::tempdir().expect("tempdir");
        let tag = dir.path().to_string_lossy().into_owned();
        let root = dir.path().join("root");
        let db = Persistency::new(root.to_str().expect("utf-8")).expect("instance");
        let job = db.open_job_with("j", &full_sync()).expect("open");
        for i in 0..20 {
            job.write(batch(i)).expect("write");
        }
        // A checkpoint that cannot write the database keeps the WAL: the
        // rows are only there when the job opens again.
        fault::inject(Fault::new(&tag, Target::Database, IoOp::Write, Errno::Eio));
        db.close_job("j").expect("close");
        fault::clear(&tag);
        let mut wal = root.join("j.db").into_os_string();
        wal.push("-wal");
        assert!(std::fs::metadata(&wal).expect("the WAL is kept").len() > 0);

        // Recovery reads every frame: a bad WAL fails the open, by name.
        fault::inject(Fault::new(&tag, Target::Wal, IoOp::Read, errno).from_offset(32));
        let err = db.open_job("j").expect_err("opened through a bad WAL");
        assert_eq!(err.kind(), ErrorKind::Backend, "{err}");
        assert!(
            err.message().contains("j.db"),
            "does not name the file: {err}"
        );
        assert!(!db.has_job("j"));
        fault::clear(&tag);

        // Opened, then a read of a page that lives in the WAL fails.
        let job = db.open_job("j").expect("reopen");
        fault::inject(Fault::new(&tag, Target::Wal, IoOp::Read, errno).from_offset(32));
        let err = job
            .get("b", &[0, 0, 0, 7, 2])
            .expect_err("read through a bad WAL");
        assert_eq!(err.kind(), ErrorKind::Backend, "{err}");
        fault::clear(&tag);
        check(&job, &(0..20).collect::<Vec<_>>());
        db.close().expect("close");
        integrity(&root.join("j.db"));
    }
}

#[test]
fn a_disk_full_during_a_group_commit_fails_only_the_batch_that_does_not_fit() {
    let dir = tempfile::tempdir().expect("tempdir");
    let tag = dir.path().to_string_lossy().into_owned();
    let root = dir.path().join("root");
    let db = Persistency::new(root.to_str().expect("utf-8")).expect("instance");
    let job = db.open_job_with("j", &full_sync()).expect("open");
    job.write(batch(0)).expect("write");
    // The WAL cannot grow past 1 MiB: the disk is full there.
    fault::inject(Fault::new(&tag, Target::Wal, IoOp::Write, Errno::Enospc).from_offset(1 << 20));
    let (tx, rx) = mpsc::channel();
    let go = hold_worker(&job);
    for i in 1..=3 {
        let tx = tx.clone();
        job.write_then(batch(i), move |r| tx.send((i, r)).expect("send"))
            .expect("queue");
    }
    let big: Vec<Op> = (0..512u32)
        .map(|i| Op::put("big", i.to_be_bytes().to_vec(), vec![9u8; 4_000]))
        .collect();
    let big_tx = tx.clone();
    job.write_then(big, move |r| big_tx.send((99, r)).expect("send"))
        .expect("queue the big batch");
    job.put("ff", b"k", b"fire and forget").expect("put");
    for i in 4..=6 {
        let tx = tx.clone();
        job.write_then(batch(i), move |r| tx.send((i, r)).expect("send"))
            .expect("queue");
    }
    drop(tx);
    drop(go);
    let results: Vec<(u32, persistency::Result<()>)> = rx.iter().collect();
    assert_eq!(results.len(), 7);
    for (i, r) in &results {
        if *i == 99 {
            let err = r.as_ref().expect_err("a 2 MiB batch fit in 1 MiB");
            assert_eq!(err.kind(), ErrorKind::Full, "{err}");
            assert!(err.to_string().contains("disk full"), "{err}");
            assert!(!err.to_string().contains("quota"), "{err}");
        } else {
            assert!(r.is_ok(), "batch {i} failed with the big one: {r:?}");
        }
    }
    assert!(fault::injected(&tag) >= 1);
    check(&job, &(0..=6).collect::<Vec<_>>());
    assert_eq!(
        job.get("ff", b"k").expect("get"),
        Some(b"fire and forget".to_vec())
    );
    assert_eq!(job.count("big", b"", b"").expect("count"), 0);
    assert_eq!(job.stats().expect("stats").ops_failed, 512);
    db.close_job("j").expect("close");
    fault::clear(&tag);
    let job = db.open_job("j").expect("reopen");
    check(&job, &(0..=6).collect::<Vec<_>>());
    assert_eq!(
        job.get("ff", b"k").expect("get"),
        Some(b"fire and forget".to_vec())
    );
    db.close().expect("close");
    integrity(&root.join("j.db"));
}
