//! `compact`: space comes back after deletes, new files use incremental
//! auto-vacuum, old files get one full VACUUM.

use std::path::Path;

use persistency::{Op, Persistency};

use crate::common::env_or;
use crate::{key, open, tmp};

fn auto_vacuum(db: &Path) -> i64 {
    let conn = rusqlite::Connection::open(db).expect("open");
    conn.query_row("PRAGMA auto_vacuum", [], |r| r.get(0))
        .expect("pragma")
}

fn file_bytes(db: &Path) -> u64 {
    let mut wal = db.as_os_str().to_owned();
    wal.push("-wal");
    [db.to_path_buf(), wal.into()]
        .iter()
        .filter_map(|p| std::fs::metadata(p).ok())
        .map(|m| m.len())
        .sum()
}

/// Rows small enough to stay on their B-tree page (a row of more than
/// about 1000 bytes spills into an overflow page of its own).
const PAYLOAD: usize = 500;

/// Fills `c` with `rows` rows of `PAYLOAD` bytes under keys 0..rows.
fn fill(job: &persistency::Job, rows: u64) {
    for chunk in (0..rows).step_by(2000) {
        let end = (chunk + 2000).min(rows);
        job.write(
            (chunk..end)
                .map(|i| Op::put("c", key(i), vec![9; PAYLOAD]))
                .collect(),
        )
        .expect("fill");
    }
}

#[test]
fn new_job_files_use_incremental_auto_vacuum() {
    let dir = tmp();
    let (db, _job) = open(dir.path(), "fresh");
    db.close_job("fresh").expect("close");
    assert_eq!(auto_vacuum(&dir.path().join("root/fresh.db")), 2);
}

/// The figure is 100 MiB; `PERSISTENCY_SPACE_MIB` changes it.
#[test]
fn space_comes_back_after_delete_range_and_compact() {
    let mib: u64 = env_or("PERSISTENCY_SPACE_MIB", 100);
    let dir = tmp();
    let (_db, job) = open(dir.path(), "space");
    let rows = mib * 1024 * 1024 / PAYLOAD as u64;
    fill(&job, rows);
    let file = dir.path().join("root/space.db");
    job.compact().expect("checkpoint the fill");
    let full = file_bytes(&file);
    assert!(full >= mib * 1024 * 1024, "filled to {full} bytes");
    // Delete the oldest 90 %.
    job.delete_range("c", b"", &key(rows * 9 / 10))
        .expect("delete");
    // Writes queued around the compaction are all kept.
    for i in 0..100 {
        job.put("during", &key(i), b"before").expect("put");
    }
    let (tx, rx) = std::sync::mpsc::channel();
    job.compact_then(move |r| tx.send(r).expect("send"))
        .expect("queued");
    for i in 100..200 {
        job.put("during", &key(i), b"after").expect("put");
    }
    rx.recv().expect("callback").expect("compact");
    job.flush().expect("flush");
    assert_eq!(job.count("during", b"", b"").expect("count"), 200);
    assert_eq!(
        job.count("c", b"", b"").expect("count"),
        rows - rows * 9 / 10
    );
    let stats = job.stats().expect("stats");
    let size = file_bytes(&file);
    assert!(
        size as f64 <= stats.live_bytes as f64 * 1.15,
        "file {size} bytes, live {} bytes (filled to {full})",
        stats.live_bytes
    );
    assert!(stats.live_bytes > 0);
    job.check().expect("sound after compaction");
}

/// A file made without auto-vacuum (an older version, or upstream) is
/// compacted with a full VACUUM that turns incremental auto-vacuum on.
#[test]
fn old_files_get_a_full_vacuum() {
    let dir = tmp();
    let root = dir.path().join("root");
    std::fs::create_dir_all(&root).expect("mkdir");
    let file = root.join("old.db");
    {
        let conn = rusqlite::Connection::open(&file).expect("create");
        conn.execute_batch(
            "PRAGMA journal_mode = WAL; CREATE TABLE kv (category BLOB NOT NULL, \
             key BLOB NOT NULL, payload BLOB NOT NULL, PRIMARY KEY (category, key)) \
             WITHOUT ROWID; PRAGMA user_version = 1;",
        )
        .expect("schema");
    }
    assert_eq!(auto_vacuum(&file), 0);
    let db = Persistency::new(root.to_str().expect("utf8")).expect("instance");
    let job = db.open_job("old").expect("job");
    fill(&job, 8000);
    job.compact().expect("checkpoint");
    let full = file_bytes(&file);
    job.delete_range("c", b"", &key(7000)).expect("delete");
    job.compact().expect("compact");
    let after = file_bytes(&file);
    assert!(after * 4 < full, "{after} of {full} bytes");
    assert_eq!(job.count("c", b"", b"").expect("count"), 1000);
    db.close_job("old").expect("close");
    assert_eq!(auto_vacuum(&file), 2, "the VACUUM turned auto-vacuum on");
}

#[test]
fn in_memory_and_closed_jobs() {
    let db = Persistency::new(":memory:").expect("instance");
    let job = db.open_job("m").expect("job");
    fill(&job, 3000);
    let before = job.stats().expect("stats").db_bytes;
    job.delete_range("c", b"", b"").expect("delete");
    job.compact().expect("compact in memory");
    let after = job.stats().expect("stats").db_bytes;
    assert!(after < before / 4, "in memory: {after} of {before} bytes");
    db.close_job("m").expect("close");
    assert_eq!(
        job.compact().unwrap_err().kind(),
        persistency::ErrorKind::Closed
    );
}
