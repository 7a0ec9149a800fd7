//! Lifecycle behaviours of the upstream suites: roots, jobs, files, lookups.

use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use persistency::{ErrorKind, JobOptions, Persistency, Result};

use crate::common::{postgres, root_in, scratch_root, skip_on_postgres};

fn tmp() -> tempfile::TempDir {
    tempfile::tempdir().expect("temp dir")
}

#[test]
fn root_validation() {
    if skip_on_postgres("checks of root directories") {
        return;
    }
    let dir = tmp();
    let file = dir.path().join("file");
    std::fs::write(&file, b"x").expect("write");
    let invalid = |root: &Path| {
        Persistency::new(root.to_str().expect("utf8"))
            .unwrap_err()
            .kind()
    };
    assert_eq!(
        Persistency::new("").unwrap_err().kind(),
        ErrorKind::InvalidArgument
    );
    assert_eq!(
        invalid(&file),
        ErrorKind::InvalidArgument,
        "existing non-directory"
    );
    assert_eq!(
        invalid(&file.join("sub/deeper")),
        ErrorKind::InvalidArgument,
        "first existing ancestor is a file"
    );
    assert!(Persistency::new(dir.path().join("a/b/c").to_str().expect("utf8")).is_ok());
    assert!(Persistency::new(":memory:").is_ok());
}

#[test]
fn root_is_created_lazily() -> Result<()> {
    if skip_on_postgres("a root directory created by the first open") {
        return Ok(());
    }
    let dir = tmp();
    let root = dir.path().join("lazy/root");
    let db = Persistency::new(root.to_str().expect("utf8"))?;
    assert!(!root.exists(), "not created by the constructor");
    db.open_job("j")?;
    assert!(root.join("j.db").exists());
    Ok(())
}

#[test]
fn bad_job_ids_are_refused() -> Result<()> {
    let db = Persistency::new(&scratch_root())?;
    for id in ["", ".x", "../x", "a/b", "a b", "x\0y", &"y".repeat(129)] {
        assert_eq!(
            db.open_job(id).unwrap_err().kind(),
            ErrorKind::InvalidArgument,
            "{id:?}"
        );
    }
    db.open_job(&"y".repeat(128))?;
    Ok(())
}

#[test]
fn reopen_keeps_data() -> Result<()> {
    let dir = tmp();
    let root = &root_in(dir.path());
    {
        let db = Persistency::new(root)?;
        let job = db.open_job("keep")?;
        job.put("c", b"k", b"v")?;
        db.close_job("keep")?;
    }
    let db = Persistency::new(root)?;
    let job = db.open_job("keep")?;
    assert_eq!(job.get("c", b"k")?, Some(b"v".to_vec()));
    Ok(())
}

#[test]
fn open_is_idempotent_and_first_options_stand() -> Result<()> {
    let db = Persistency::new(&scratch_root())?;
    let a = db.open_job("j")?;
    let options = JobOptions::default().queue_capacity(1);
    let b = db.open_job_with("j", &options)?;
    b.put("c", b"k", b"v")?;
    assert_eq!(a.get("c", b"k")?, Some(b"v".to_vec()), "same job");
    Ok(())
}

#[test]
fn find_has_and_not_found() -> Result<()> {
    let db = Persistency::new(&scratch_root())?;
    assert!(!db.has_job("j"));
    assert_eq!(db.find_job("j").unwrap_err().kind(), ErrorKind::JobNotFound);
    let job = db.open_job("j")?;
    job.put("c", b"k", b"v")?;
    assert!(db.has_job("j"));
    let found = db.find_job("j")?;
    assert_eq!(found.id(), "j");
    assert_eq!(found.get("c", b"k")?, Some(b"v".to_vec()));
    db.close_job("j")?;
    assert!(!db.has_job("j"));
    assert_eq!(db.find_job("j").unwrap_err().kind(), ErrorKind::JobNotFound);
    db.close_job("j")?; // not open: a no-op
    Ok(())
}

#[test]
fn parallel_jobs_are_isolated() -> Result<()> {
    let dir = tmp();
    let db = Persistency::new(&root_in(dir.path()))?;
    let jobs: Vec<_> = (0..4)
        .map(|i| db.open_job(&format!("job{i}")))
        .collect::<Result<_>>()?;
    std::thread::scope(|s| {
        for (i, job) in jobs.iter().enumerate() {
            s.spawn(move || {
                for n in 0..200u32 {
                    job.put("c", &n.to_be_bytes(), &[i as u8]).expect("put");
                }
            });
        }
    });
    for (i, job) in jobs.iter().enumerate() {
        assert_eq!(job.count("c", b"", b"")?, 200);
        let rows = job.scan("c", b"", b"", Default::default())?;
        assert!(rows.iter().all(|r| r.payload == [i as u8]));
    }
    Ok(())
}

#[test]
fn close_joins_after_completing_everything() -> Result<()> {
    let db = Persistency::new(&scratch_root())?;
    let job = db.open_job("j")?;
    let done = Arc::new(AtomicUsize::new(0));
    for i in 0..2_000u32 {
        let done = done.clone();
        job.put("c", &i.to_be_bytes(), b"v")?;
        job.get_then("c", &i.to_be_bytes(), move |r| {
            assert!(r.expect("get").is_some());
            done.fetch_add(1, Ordering::SeqCst);
        })?;
    }
    db.close_job("j")?;
    assert_eq!(
        done.load(Ordering::SeqCst),
        2_000,
        "every callback ran before close returned"
    );
    assert_eq!(
        job.put("c", b"k", b"v").unwrap_err().kind(),
        ErrorKind::Closed
    );
    assert_eq!(job.get("c", b"k").unwrap_err().kind(), ErrorKind::Closed);
    assert_eq!(job.stats().unwrap_err().kind(), ErrorKind::Closed);
    Ok(())
}

#[test]
fn drop_removes_files() -> Result<()> {
    let dir = tmp();
    let root = root_in(dir.path());
    // Under PostgreSQL the job is a table: no files to look at.
    let files = postgres().is_none();
    let db = Persistency::new(&root)?;
    let job = db.open_job("gone")?;
    job.put("c", b"k", b"v")?;
    job.flush()?;
    assert!(!files || Path::new(&root).join("gone.db").exists());
    db.drop_job("gone")?;
    for suffix in ["db", "db-wal", "db-shm"] {
        assert!(
            !Path::new(&root).join(format!("gone.{suffix}")).exists(),
            "{suffix}"
        );
    }
    db.drop_job("gone")?; // missing files are not an error
    let job = db.open_job("gone")?;
    assert_eq!(job.count("c", b"", b"")?, 0, "a dropped job starts empty");
    Ok(())
}

#[test]
fn two_instances_never_share_a_file() -> Result<()> {
    let dir = tmp();
    let root = dir.path().join("r");
    let root = match postgres() {
        Some(_) => root_in(dir.path()),
        None => root.to_string_lossy().into_owned(),
    };
    let a = Persistency::new(&root)?;
    a.open_job("shared")?;
    // The same directory spelled another way; the same schema.
    let spelled = match postgres() {
        Some(_) => root.clone(),
        None => format!("{root}/../r"),
    };
    let b = Persistency::new(&spelled)?;
    assert_eq!(
        b.open_job("shared").unwrap_err().kind(),
        ErrorKind::InvalidArgument
    );
    assert_eq!(
        b.drop_job("shared").unwrap_err().kind(),
        ErrorKind::InvalidArgument
    );
    b.open_job("other")?;
    a.close_job("shared")?;
    b.open_job("shared")?; // free once the first instance let go
    let m1 = Persistency::new(":memory:")?;
    let m2 = Persistency::new(":memory:")?;
    m1.open_job("x")?.put("c", b"k", b"1")?;
    assert_eq!(
        m2.open_job("x")?.get("c", b"k")?,
        None,
        "memory jobs never conflict"
    );
    Ok(())
}

#[test]
fn two_independent_roots() -> Result<()> {
    let (d1, d2) = (tmp(), tmp());
    let a = Persistency::new(&root_in(d1.path()))?;
    let b = Persistency::new(&root_in(d2.path()))?;
    a.open_job("node")?.put("c", b"k", b"a")?;
    b.open_job("node")?.put("c", b"k", b"b")?;
    assert_eq!(a.find_job("node")?.get("c", b"k")?, Some(b"a".to_vec()));
    assert_eq!(b.find_job("node")?.get("c", b"k")?, Some(b"b".to_vec()));
    Ok(())
}

#[test]
fn dropping_the_last_instance_reference_closes_jobs() -> Result<()> {
    let db = Persistency::new(&scratch_root())?;
    let job = db.open_job("j")?;
    job.put("c", b"k", b"v")?;
    drop(db);
    assert_eq!(job.get("c", b"k").unwrap_err().kind(), ErrorKind::Closed);
    Ok(())
}

#[test]
fn schema_version_mismatch_is_refused() -> Result<()> {
    if skip_on_postgres("a foreign SQLite job file") {
        return Ok(());
    }
    let dir = tmp();
    let path = dir.path().join("future.db");
    {
        let conn = rusqlite::Connection::open(&path).expect("open");
        conn.execute_batch("PRAGMA user_version = 7;")
            .expect("pragma");
    }
    let db = Persistency::new(dir.path().to_str().expect("utf8"))?;
    let err = db.open_job("future").unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Backend);
    assert!(err.message().contains("future.db"), "{err}");
    assert!(!db.has_job("future"));
    Ok(())
}

#[test]
fn reopen_while_closing_waits_without_blocking_callbacks() -> Result<()> {
    let dir = tmp();
    let db = Persistency::new(&root_in(dir.path()))?;
    let job = db.open_job("busy")?;
    job.put("c", b"k", b"v")?;
    let (release_tx, release_rx) = std::sync::mpsc::channel::<()>();
    let (started_tx, started_rx) = std::sync::mpsc::channel::<()>();
    let inner = db.clone();
    job.flush_then(move |_| {
        started_tx.send(()).expect("send");
        release_rx.recv().expect("release");
        // The closing job's callback still reaches its instance.
        let _ = inner.has_job("busy");
        let _ = inner.job_ids();
    })?;
    started_rx.recv().expect("callback running");
    std::thread::scope(|s| -> Result<()> {
        let closer = s.spawn(|| db.close_job("busy"));
        let opener = s.spawn(|| db.open_job("busy"));
        release_tx.send(()).expect("release");
        closer.join().expect("closer")?;
        // The opener got either the old job (just before the close) or a
        // new one (after it): both orders are fine, a deadlock is not.
        opener.join().expect("opener")?;
        Ok(())
    })?;
    assert_eq!(db.open_job("busy")?.get("c", b"k")?, Some(b"v".to_vec()));
    Ok(())
}

#[test]
fn every_concurrent_closer_waits_for_the_join() -> Result<()> {
    let dir = tmp();
    let db = Persistency::new(&root_in(dir.path()))?;
    let job = db.open_job("x")?;
    let held = Arc::new(std::sync::atomic::AtomicBool::new(true));
    let (release_tx, release_rx) = std::sync::mpsc::channel::<()>();
    let (started_tx, started_rx) = std::sync::mpsc::channel::<()>();
    let flag = held.clone();
    job.flush_then(move |_| {
        started_tx.send(()).expect("send");
        release_rx.recv().expect("release");
        flag.store(false, Ordering::SeqCst);
    })?;
    started_rx.recv().expect("worker held");
    std::thread::scope(|s| -> Result<()> {
        let first = s.spawn(|| db.close_job("x"));
        // Wait until the first closer has taken the job out of service.
        while db.has_job("x") {
            std::thread::yield_now();
        }
        s.spawn(move || {
            std::thread::sleep(std::time::Duration::from_millis(50));
            release_tx.send(()).expect("release");
        });
        // The second closer must not return while the job is still draining.
        db.close_job("x")?;
        assert!(
            !held.load(Ordering::SeqCst),
            "close_job returned before the job's callbacks ran"
        );
        first.join().expect("first closer")?;
        Ok(())
    })?;
    assert!(!job.is_open());
    let reopened = db.open_job("x")?;
    assert!(reopened.is_open() && !reopened.same(&job));
    Ok(())
}

#[test]
fn postgres_roots_are_never_taken_for_directories() {
    // Parsed, not connected: no server is needed.
    let parsed = Persistency::new("postgresql:///db?host=/nowhere&schema=s");
    if cfg!(feature = "postgres") {
        assert!(parsed.is_ok(), "{:?}", parsed.err());
    } else {
        let err = parsed.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::InvalidArgument);
        assert!(err.message().contains("`postgres` feature"), "{err}");
    }
    for bad in ["postgres:///db?bogus=1", "postgresql:///db?schema="] {
        assert_eq!(
            Persistency::new(bad).unwrap_err().kind(),
            ErrorKind::InvalidArgument,
            "{bad}"
        );
    }
}
