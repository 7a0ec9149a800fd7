//! A job file changed under an open job: overwritten with junk, deleted,
//! replaced by another database. Calls answer OK or `Backend`, a write is
//! never acknowledged and then lost, and the job keeps answering.

use std::path::Path;

use persistency::{ErrorKind, Op, Persistency, ScanOptions};

use crate::common::{integrity_check_with, root_in};
use crate::{assert_names, fast, kind};

/// `PRAGMA integrity_check` through a read-only connection of our own.
fn integrity_check(db: &Path) -> String {
    let conn =
        rusqlite::Connection::open_with_flags(db, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)
            .expect("open read-only");
    integrity_check_with(&conn).expect("integrity_check")
}

#[test]
fn a_file_overwritten_with_junk_while_open_gives_backend_errors() {
    let dir = tempfile::tempdir().expect("tempdir");
    let root = root_in(dir.path());
    let db = Persistency::new(&root).expect("instance");
    let job = db.open_job_with("smashed", &fast()).expect("open");
    for i in 0..200u32 {
        job.put("c", &i.to_be_bytes(), &[7u8; 1_000]).expect("put");
    }
    db.close_job("smashed").expect("close");
    let job = db.open_job_with("smashed", &fast()).expect("reopen");
    assert_eq!(job.count("c", b"", b"").expect("count"), 200);
    std::fs::write(Path::new(&root).join("smashed.db"), vec![0x5au8; 100_000]).expect("smash");
    let r = job.count("c", b"", b"");
    assert_eq!(kind(&r), Some(ErrorKind::Backend), "{r:?}");
    let r = job.scan("c", b"", b"", ScanOptions::default());
    assert_eq!(kind(&r), Some(ErrorKind::Backend), "{r:?}");
    let r = job.write(vec![Op::put("c", b"x".to_vec(), b"y".to_vec())]);
    assert_eq!(kind(&r), Some(ErrorKind::Backend), "{r:?}");
    let r = job.delete_acked("c", &1u32.to_be_bytes());
    assert_eq!(kind(&r), Some(ErrorKind::Backend), "{r:?}");
    job.flush().expect("flush still answers");
    db.close_job("smashed").expect("close");
    let err = db.open_job("smashed").expect_err("smashed file opened");
    assert_eq!(err.kind(), ErrorKind::Backend, "{err}");
    db.close().expect("close");
}

/// Every call returns OK or a backend error; nothing else.
fn ok_or_backend<T: std::fmt::Debug>(what: &str, r: persistency::Result<T>) -> Option<T> {
    match r {
        Ok(v) => Some(v),
        Err(e) if e.kind() == ErrorKind::Backend => None,
        Err(e) => panic!("{what}: {e}"),
    }
}

#[test]
fn the_job_file_deleted_while_open() {
    let dir = tempfile::tempdir().expect("tempdir");
    let root = root_in(dir.path());
    let db = Persistency::new(&root).expect("instance");
    let job = db.open_job("deleted").expect("open");
    job.write(vec![Op::put("c", b"a".to_vec(), b"1".to_vec())])
        .expect("write");
    for suffix in ["", "-wal", "-shm"] {
        std::fs::remove_file(Path::new(&root).join(format!("deleted.db{suffix}"))).expect("rm");
    }
    // SQLite keeps the unlinked file open: reads go on answering, but a
    // write would only live as long as the open file, so it is refused
    // instead of being acknowledged and lost.
    if let Some(v) = ok_or_backend("get", job.get("c", b"a")) {
        assert_eq!(v, Some(b"1".to_vec()));
    }
    let err = job
        .write(vec![Op::put("c", b"b".to_vec(), b"2".to_vec())])
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Backend, "{err}");
    assert!(err.message().contains("moved or deleted"), "{err}");
    assert_names(&err, &Path::new(&root).join("deleted.db"));
    let failed = job.stats().expect("stats").ops_failed;
    job.put("c", b"c", b"3").expect("put is queued");
    job.flush().expect("flush");
    assert_eq!(
        job.stats().expect("stats").ops_failed,
        failed + 1,
        "the put failed too"
    );
    ok_or_backend("count", job.count("c", b"", b""));
    job.stats().expect("stats");
    db.close_job("deleted").expect("close");
    // Reopened, the job is a new, empty, working database.
    let job = db.open_job("deleted").expect("reopen");
    assert_eq!(job.count("c", b"", b"").expect("count"), 0);
    job.write(vec![Op::put("c", b"d".to_vec(), b"4".to_vec())])
        .expect("write");
    db.close_job("deleted").expect("close");
    assert_eq!(integrity_check(&Path::new(&root).join("deleted.db")), "ok");
    db.close().expect("close");
}

#[test]
fn the_job_file_replaced_while_open() {
    let dir = tempfile::tempdir().expect("tempdir");
    let root = root_in(dir.path());
    let db = Persistency::new(&root).expect("instance");
    let donor = db.open_job("donor").expect("open donor");
    for i in 0..300u32 {
        donor
            .put("c", &i.to_be_bytes(), &[9u8; 1_000])
            .expect("put");
    }
    db.close_job("donor").expect("close donor");
    let job = db.open_job("replaced").expect("open");
    for i in 0..20u32 {
        job.put("c", &(1_000 + i).to_be_bytes(), b"mine")
            .expect("put");
    }
    job.flush().expect("flush");
    let file = Path::new(&root).join("replaced.db");
    let tmp = Path::new(&root).join("replaced.tmp");
    std::fs::copy(Path::new(&root).join("donor.db"), &tmp).expect("copy");
    std::fs::rename(&tmp, &file).expect("rename over the open file");
    ok_or_backend("count", job.count("c", b"", b""));
    let err = job
        .write(vec![Op::put("c", b"x".to_vec(), b"y".to_vec())])
        .unwrap_err();
    assert_eq!(
        err.kind(),
        ErrorKind::Backend,
        "a write to a replaced file is refused: {err}"
    );
    job.put("c", b"z", b"w").expect("put is queued");
    job.flush().expect("flush");
    db.close_job("replaced").expect("close");
    // Reopened: either refused with a backend error naming the file, or a
    // sound database that serves reads and writes.
    match db.open_job("replaced") {
        Err(e) => {
            assert_eq!(e.kind(), ErrorKind::Backend, "{e}");
            assert_names(&e, &file);
        }
        Ok(job) => {
            job.count("c", b"", b"").expect("count");
            job.put("c", b"after", b"1").expect("put");
            assert_eq!(job.get("c", b"after").expect("get"), Some(b"1".to_vec()));
            db.close_job("replaced").expect("close");
            assert_eq!(integrity_check(&file), "ok");
        }
    }
    db.close().expect("close");
}
