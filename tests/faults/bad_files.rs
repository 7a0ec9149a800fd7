//! Job files that are not databases of ours (junk, another schema, cut
//! short) are refused at open, by name, and left alone.

use std::path::Path;

use persistency::{ErrorKind, Persistency};

use crate::common::root_in;
use crate::{assert_names, fast};

#[test]
fn a_file_that_is_not_a_database_is_refused_by_name() {
    let dir = tempfile::tempdir().expect("tempdir");
    let root = root_in(dir.path());
    std::fs::create_dir_all(&root).expect("mkdir");
    let file = Path::new(&root).join("junk.db");
    std::fs::write(&file, vec![0x42u8; 9_000]).expect("write junk");
    let db = Persistency::new(&root).expect("instance");
    for attempt in 0..2 {
        // Twice: a failed open leaves nothing held behind.
        let err = db.open_job("junk").expect_err("junk opened");
        assert_eq!(err.kind(), ErrorKind::Backend, "attempt {attempt}: {err}");
        assert_names(&err, &file);
        assert!(!db.has_job("junk"));
    }
    // The file is left alone, and the instance goes on serving other jobs.
    assert_eq!(std::fs::read(&file).expect("read").len(), 9_000);
    let other = db.open_job("fine").expect("another job");
    other.put("c", b"k", b"v").expect("put");
    assert_eq!(other.get("c", b"k").expect("get"), Some(b"v".to_vec()));
    // A database of another schema version is refused too.
    let foreign = Path::new(&root).join("foreign.db");
    let conn = rusqlite::Connection::open(&foreign).expect("sqlite");
    conn.execute_batch("PRAGMA user_version = 7; CREATE TABLE t(x);")
        .expect("foreign schema");
    drop(conn);
    let err = db.open_job("foreign").expect_err("foreign schema opened");
    assert_eq!(err.kind(), ErrorKind::Backend, "{err}");
    assert_names(&err, &foreign);
    db.close().expect("close");
}

#[test]
fn a_truncated_database_is_refused_by_name() {
    let dir = tempfile::tempdir().expect("tempdir");
    let root = root_in(dir.path());
    let db = Persistency::new(&root).expect("instance");
    let job = db.open_job_with("cut", &fast()).expect("open");
    for i in 0..1_000u32 {
        job.put("c", &i.to_be_bytes(), &[7u8; 1_000]).expect("put");
    }
    db.close_job("cut").expect("close");
    let file = Path::new(&root).join("cut.db");
    let whole = std::fs::read(&file).expect("read");
    assert!(
        !Path::new(&root).join("cut.db-wal").exists(),
        "close left a WAL"
    );
    for cut in [50, 100, 4_096, 8_192, whole.len() / 2, whole.len() - 4_096] {
        std::fs::write(&file, &whole[..cut]).expect("truncate");
        let err = db
            .open_job_with("cut", &fast())
            .expect_err(&format!("a file cut to {cut} bytes opened"));
        assert_eq!(err.kind(), ErrorKind::Backend, "cut {cut}: {err}");
        assert_names(&err, &file);
    }
    // Restored, it opens with every row.
    std::fs::write(&file, &whole).expect("restore");
    let job = db.open_job_with("cut", &fast()).expect("open restored");
    assert_eq!(job.count("c", b"", b"").expect("count"), 1_000);
    db.close().expect("close");
}
