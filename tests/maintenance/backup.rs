//! `backup`: consistent, atomic, refused over an existing file, served in
//! steps while the job keeps serving requests.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use persistency::{ErrorKind, Job, Op, Persistency};

use crate::common::integrity_check_with;
use crate::{key, open, tmp};

fn sqlite(path: &Path) -> rusqlite::Connection {
    rusqlite::Connection::open_with_flags(path, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)
        .expect("open backup")
}

/// Opens a backup as a job of a new instance and returns its rows of `c`.
fn rows_as_job(dir: &Path, backup: &Path) -> Vec<(Vec<u8>, Vec<u8>)> {
    let root = dir.join("restored");
    std::fs::create_dir_all(&root).expect("mkdir");
    std::fs::copy(backup, root.join("copy.db")).expect("copy");
    let db = Persistency::new(root.to_str().expect("utf8")).expect("instance");
    let job = db.open_job("copy").expect("the backup opens as a job file");
    job.check().expect("sound");
    job.scan("c", b"", b"", Default::default())
        .expect("scan")
        .to_pairs()
}

#[test]
fn holds_every_write_before_it_and_opens_as_a_job() {
    let dir = tmp();
    let (_db, job) = open(dir.path(), "b");
    for i in 0..100 {
        job.put("c", &key(i), format!("v{i}").as_bytes())
            .expect("put");
    }
    // Fire-and-forget writes accepted before the backup are in it.
    let dest = dir.path().join("b.backup");
    job.backup(&dest).expect("backup");
    assert_eq!(integrity_check_with(&sqlite(&dest)).expect("check"), "ok");
    let rows = rows_as_job(dir.path(), &dest);
    assert_eq!(rows.len(), 100);
    assert_eq!(rows[7], (key(7), b"v7".to_vec()));
    // No temporary file is left beside it.
    let names: Vec<String> = std::fs::read_dir(dir.path())
        .expect("ls")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .collect();
    assert!(!names.iter().any(|n| n.contains(".tmp-")), "{names:?}");
}

#[test]
fn in_memory_jobs_back_up_too() {
    let dir = tmp();
    let db = Persistency::new(":memory:").expect("instance");
    let job = db.open_job("m").expect("job");
    job.write(
        (0..50)
            .map(|i| Op::put("c", key(i), vec![1; 100]))
            .collect(),
    )
    .expect("fill");
    let dest = dir.path().join("m.db");
    let (tx, rx) = std::sync::mpsc::channel();
    job.backup_then(&dest, move |r| tx.send(r).expect("send"))
        .expect("queued");
    rx.recv().expect("callback").expect("backup");
    assert_eq!(rows_as_job(dir.path(), &dest).len(), 50);
}

#[test]
fn bad_destinations_and_closed_jobs_are_refused() {
    let dir = tmp();
    let (db, job) = open(dir.path(), "bad");
    job.put("c", b"k", b"v").expect("put");
    let existing = dir.path().join("existing");
    std::fs::write(&existing, b"keep me").expect("write");
    let err = job.backup(&existing).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidArgument);
    assert!(err.message().contains("exists"), "{err}");
    assert_eq!(std::fs::read(&existing).expect("read"), b"keep me");
    let missing = dir.path().join("no/such/dir/b.db");
    let err = job.backup(&missing).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidArgument);
    assert!(err.message().contains("does not exist"), "{err}");
    assert_eq!(
        job.backup("").unwrap_err().kind(),
        ErrorKind::InvalidArgument
    );
    db.close_job("bad").expect("close");
    let err = job.backup(dir.path().join("after-close.db")).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Closed);
}

/// A backup of a file larger than one step lets requests queued behind it
/// run between its steps: a chain of writes, each queued from the previous
/// one's callback, advances while the backup is in progress, and none of
/// them is in the copy.
#[test]
fn requests_are_served_between_steps() {
    let dir = tmp();
    let (_db, job) = open(dir.path(), "steps");
    // 16 MiB: at least four steps of 4 MiB.
    for chunk in 0..16u64 {
        job.write(
            (0..256)
                .map(|i| Op::put("c", key(chunk * 256 + i), vec![7; 4096]))
                .collect(),
        )
        .expect("fill");
    }
    let backup_done = Arc::new(AtomicBool::new(false));
    let chained = Arc::new(AtomicU64::new(0));
    let before_done = Arc::new(AtomicU64::new(0));
    // Chain writes accepted so far (each one's callback queues the next).
    let accepted = Arc::new(AtomicU64::new(0));
    fn chain(
        job: Job,
        n: u64,
        done: Arc<AtomicBool>,
        chained: Arc<AtomicU64>,
        accepted: Arc<AtomicU64>,
    ) {
        let next = job.clone();
        let counter = accepted.clone();
        // Counted before it is queued: a count read after the backup
        // request bounds the writes accepted before it from above.
        accepted.fetch_add(1, Ordering::SeqCst);
        job.write_then(vec![Op::put("chain", key(n), b"x".to_vec())], move |r| {
            r.expect("chain write");
            chained.fetch_add(1, Ordering::SeqCst);
            if !done.load(Ordering::SeqCst) {
                chain(next, n + 1, done, chained, counter);
            }
        })
        .expect("queue chain write");
    }
    chain(
        job.clone(),
        0,
        backup_done.clone(),
        chained.clone(),
        accepted.clone(),
    );
    let dest = dir.path().join("steps.db");
    let (tx, rx) = std::sync::mpsc::channel();
    let (flag, count, seen) = (backup_done.clone(), chained.clone(), before_done.clone());
    // The chain runs on the worker meanwhile: the writes accepted before the
    // backup request number between these two counts (less one: the last
    // write counted may not be queued yet).
    let accepted_before = accepted.load(Ordering::SeqCst);
    job.backup_then(&dest, move |r| {
        seen.store(count.load(Ordering::SeqCst), Ordering::SeqCst);
        flag.store(true, Ordering::SeqCst);
        tx.send(r).expect("send");
    })
    .expect("queued");
    let accepted_after = accepted.load(Ordering::SeqCst);
    rx.recv().expect("callback").expect("backup");
    job.flush().expect("flush");
    let during = before_done.load(Ordering::SeqCst);
    assert!(
        during >= 3,
        "only {during} chained writes completed before the backup"
    );
    let conn = sqlite(&dest);
    let in_copy: i64 = conn
        .query_row(
            "SELECT count(*) FROM kv WHERE category = CAST('chain' AS BLOB)",
            [],
            |r| r.get(0),
        )
        .expect("count");
    let in_copy = in_copy as u64;
    assert!(
        (accepted_before.saturating_sub(1).max(1)..=accepted_after).contains(&in_copy),
        "the copy holds {in_copy} chained writes; {accepted_before} to {accepted_after} \
         were accepted before the backup request"
    );

    assert_eq!(integrity_check_with(&conn).expect("check"), "ok");
}

/// 4 threads write acknowledged batches while 10 backups are taken: each
/// backup is sound and holds, per thread, exactly the first n batches
/// (whole), n at least the batches acknowledged before it was requested.
#[test]
fn backups_under_load_hold_a_prefix_of_acknowledged_batches() {
    const THREADS: u64 = 4;
    const ROWS: u64 = 4;
    let dir = tmp();
    let (_db, job) = open(dir.path(), "load");
    job.write(
        (0..2048)
            .map(|i| Op::put("fill", key(i), vec![3; 4096]))
            .collect(),
    )
    .expect("prefill");
    let acked: Arc<Vec<AtomicU64>> = Arc::new((0..THREADS).map(|_| AtomicU64::new(0)).collect());
    let stop = Arc::new(AtomicBool::new(false));
    let writers: Vec<_> = (0..THREADS)
        .map(|t| {
            let (job, acked, stop) = (job.clone(), acked.clone(), stop.clone());
            std::thread::spawn(move || {
                let mut batch = 0u64;
                while !stop.load(Ordering::SeqCst) {
                    let ops = (0..ROWS)
                        .map(|r| {
                            let k = [key(t), key(batch), key(r)].concat();
                            Op::put("c", k, vec![t as u8; 512])
                        })
                        .collect();
                    job.write(ops).expect("acknowledged batch");
                    batch += 1;
                    acked[t as usize].store(batch, Ordering::SeqCst);
                }
            })
        })
        .collect();
    let mut checked = Vec::new();
    for n in 0..10 {
        let floor: Vec<u64> = acked.iter().map(|a| a.load(Ordering::SeqCst)).collect();
        let dest = dir.path().join(format!("load-{n}.db"));
        job.backup(&dest).expect("backup");
        checked.push((dest, floor));
    }
    stop.store(true, Ordering::SeqCst);
    for w in writers {
        w.join().expect("writer");
    }
    for (dest, floor) in checked {
        let conn = sqlite(&dest);
        assert_eq!(
            integrity_check_with(&conn).expect("check"),
            "ok",
            "{dest:?}"
        );
        let mut batches: BTreeMap<(u64, u64), u64> = BTreeMap::new();
        let mut stmt = conn
            .prepare("SELECT key FROM kv WHERE category = CAST('c' AS BLOB)")
            .expect("prepare");
        let keys = stmt
            .query_map([], |r| r.get::<_, Vec<u8>>(0))
            .expect("query");
        for k in keys {
            let k = k.expect("key");
            let part = |i: usize| u64::from_be_bytes(k[i * 8..i * 8 + 8].try_into().expect("8"));
            *batches.entry((part(0), part(1))).or_default() += 1;
        }
        for t in 0..THREADS {
            let held: Vec<u64> = batches
                .iter()
                .filter(|((thread, _), _)| *thread == t)
                .map(|((_, b), rows)| {
                    assert_eq!(*rows, ROWS, "{dest:?}: batch {t}/{b} torn");
                    *b
                })
                .collect();
            let n = held.len() as u64;
            assert_eq!(
                held,
                (0..n).collect::<Vec<_>>(),
                "{dest:?}: thread {t} not a prefix"
            );
            assert!(
                n >= floor[t as usize],
                "{dest:?}: thread {t} has {n} batches, {} were acknowledged before",
                floor[t as usize]
            );
        }
    }
}

/// A destination that appears while the backup is queued is not
/// overwritten: the callback reports `InvalidArgument`.
#[test]
fn a_destination_made_meanwhile_is_not_overwritten() {
    let dir = tmp();
    let (_db, job) = open(dir.path(), "race");
    job.put("c", b"k", b"v").expect("put");
    let dest = dir.path().join("race.db");
    let gate = Arc::new(Mutex::new(()));
    let held = gate.lock().expect("lock");
    // Hold the worker in a callback while the file appears.
    let g = gate.clone();
    job.flush_then(move |_| drop(g.lock().expect("lock")))
        .expect("flush");
    let (tx, rx) = std::sync::mpsc::channel();
    job.backup_then(&dest, move |r| tx.send(r).expect("send"))
        .expect("queued");
    std::fs::write(&dest, b"made meanwhile").expect("write");
    drop(held);
    let err = rx.recv().expect("callback").unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidArgument, "{err}");
    assert_eq!(std::fs::read(&dest).expect("read"), b"made meanwhile");
}

/// A job closed while its backup is in progress finishes the copy first:
/// the callback reports success and the copy is whole.
#[test]
fn closing_the_job_finishes_its_backup() {
    let dir = tmp();
    let (db, job) = open(dir.path(), "closing");
    for chunk in 0..8u64 {
        job.write(
            (0..256)
                .map(|i| Op::put("c", key(chunk * 256 + i), vec![5; 2000]))
                .collect(),
        )
        .expect("fill");
    }
    let dest = dir.path().join("closing.db.bak");
    let (tx, rx) = std::sync::mpsc::channel();
    job.backup_then(&dest, move |r| tx.send(r).expect("send"))
        .expect("queued");
    db.close_job("closing").expect("close");
    rx.recv().expect("callback").expect("backup");
    let conn = sqlite(&dest);
    assert_eq!(integrity_check_with(&conn).expect("check"), "ok");
    let n: i64 = conn
        .query_row("SELECT count(*) FROM kv", [], |r| r.get(0))
        .expect("count");
    assert_eq!(n, 2048);
}
