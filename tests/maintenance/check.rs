//! `check`: SQLite's integrity check on the job's database.

use std::io::{Seek, SeekFrom, Write};

use persistency::{ErrorKind, Op, Persistency};

use crate::{key, open, tmp};

#[test]
fn a_sound_job_passes() {
    let dir = tmp();
    let (_db, job) = open(dir.path(), "ok");
    job.write(
        (0..500)
            .map(|i| Op::put("c", key(i), vec![1; 300]))
            .collect(),
    )
    .expect("fill");
    job.check().expect("sound");
    let mem = Persistency::new(":memory:").expect("instance");
    mem.open_job("m").expect("job").check().expect("in memory");
}

#[test]
fn a_damaged_file_reports_its_first_problems() {
    let dir = tmp();
    let (db, job) = open(dir.path(), "bad");
    job.write(
        (0..2000)
            .map(|i| Op::put("c", key(i), vec![1; 300]))
            .collect(),
    )
    .expect("fill");
    job.compact().expect("checkpoint into the file");
    db.close_job("bad").expect("close");
    let path = dir.path().join("root/bad.db");
    let page: u64 = 4096;
    let len = std::fs::metadata(&path).expect("stat").len();
    assert!(len > 20 * page);
    {
        // Scribble over a page in the middle of the table's B-tree.
        let mut f = std::fs::OpenOptions::new()
            .write(true)
            .open(&path)
            .expect("open");
        f.seek(SeekFrom::Start(len / page / 2 * page))
            .expect("seek");
        f.write_all(&[0xA5; 4096]).expect("scribble");
    }
    let job = db.open_job("bad").expect("reopen");
    let err = job.check().unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Backend, "{err}");
    assert_eq!(err.backend_code(), 11, "SQLITE_CORRUPT");
    assert!(err.message().contains("integrity check failed"), "{err}");
    db.close_job("bad").expect("close");
    assert_eq!(job.check().unwrap_err().kind(), ErrorKind::Closed);
}
