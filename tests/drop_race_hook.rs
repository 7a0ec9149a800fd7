//! `drop_job` against opens of the same id, made deterministic with the
//! `fault-injection` hook that runs after the drop closed the job and just
//! before it deletes the files: every open made at that moment must either
//! wait for the drop and get a fresh file, or be refused; never open the
//! file being deleted.

mod watchdog;

use std::path::Path;
use std::sync::Mutex;

use persistency::fault;
use persistency::{ErrorKind, Job, Op, Persistency, Result};
use watchdog::watchdog;

/// The hook is process-wide: one test at a time installs it.
static HOOK: Mutex<()> = Mutex::new(());

/// Runs `during` on the dropping thread just before the drop of `x` under
/// `root` deletes its file, then drops the job.
fn drop_with_hook(db: &Persistency, root: &Path, during: impl Fn() + Send + Sync + 'static) {
    let _one = HOOK.lock().unwrap_or_else(|e| e.into_inner());
    let file = root.join("x.db");
    fault::set_before_unlink(Some(Box::new(move |path: &Path| {
        if path == file {
            during();
        }
    })));
    let dropped = db.drop_job("x");
    fault::set_before_unlink(None);
    dropped.expect("drop_job");
}

#[test]
fn an_open_during_a_drop_waits_and_gets_a_fresh_file() {
    watchdog("open during the unlink of a drop", || -> Result<()> {
        let dir = tempfile::tempdir().expect("tempdir");
        let root = std::fs::canonicalize(dir.path()).expect("canonical");
        let db = Persistency::new(root.to_str().expect("utf8"))?;
        db.open_job("x")?.put("c", b"old", b"1")?;
        let (tx, rx) = std::sync::mpsc::channel();
        let tx = Mutex::new(tx);
        let inner = db.clone();
        drop_with_hook(&db, &root, move || {
            let waiting_before = fault::opens_waiting_for_drop();
            let db = inner.clone();
            let opener = std::thread::spawn(move || -> Result<Job> {
                let job = db.open_job("x")?;
                job.write(vec![Op::put("c", b"new".to_vec(), b"acked".to_vec())])?;
                Ok(job)
            });
            // Let the unlink go on once the opener is done (the bug: it
            // opened the file about to be deleted) or waits for the drop.
            while !opener.is_finished() && fault::opens_waiting_for_drop() == waiting_before {
                std::thread::yield_now();
            }
            tx.lock().expect("tx").send(opener).expect("send");
        });
        let opener = rx.recv().expect("the hook ran");
        let job = opener.join().expect("opener")?;
        assert!(
            job.is_open(),
            "the open after the drop's close must stay open"
        );
        db.close_job("x")?;
        let again = db.open_job("x")?;
        assert_eq!(
            again.get("c", b"new")?,
            Some(b"acked".to_vec()),
            "an acknowledged write was lost: the open reused the file the drop deleted"
        );
        assert_eq!(again.get("c", b"old")?, None, "the dropped data survived");
        db.close()?;
        Ok(())
    })
    .expect("no error");
}

#[test]
fn another_instance_cannot_open_the_file_a_drop_is_deleting() {
    watchdog(
        "other instance during the unlink of a drop",
        || -> Result<()> {
            let dir = tempfile::tempdir().expect("tempdir");
            let root = std::fs::canonicalize(dir.path()).expect("canonical");
            let root_s = root.to_str().expect("utf8").to_string();
            let db = Persistency::new(&root_s)?;
            db.open_job("x")?.put("c", b"old", b"1")?;
            let (tx, rx) = std::sync::mpsc::channel();
            let tx = Mutex::new(tx);
            drop_with_hook(&db, &root, move || {
                let other = Persistency::new(&root_s).expect("instance");
                let result = other.open_job("x").and_then(|job| {
                    job.write(vec![Op::put("c", b"other".to_vec(), b"acked".to_vec())])?;
                    Ok(other)
                });
                tx.lock().expect("tx").send(result).expect("send");
            });
            match rx.recv().expect("the hook ran") {
                Err(e) => {
                    assert_eq!(e.kind(), ErrorKind::InvalidArgument, "{e}");
                    assert!(e.message().contains("x.db"), "names the file: {e}");
                }
                Ok(other) => {
                    // Had it been let in, its acknowledged write would now be
                    // in a deleted file.
                    let job = other.find_job("x")?;
                    let after = job.write(vec![Op::put("c", b"more".to_vec(), b"v".to_vec())]);
                    other.close_job("x")?;
                    let kept = other.open_job("x")?.get("c", b"other")?;
                    panic!(
                    "another instance opened the file being dropped: a later write gave {after:?}, \
                     its acknowledged row after a reopen is {kept:?}"
                );
                }
            }
            Ok(())
        },
    )
    .expect("no error");
}

#[test]
fn a_job_opened_before_the_drop_is_closed_by_it() -> Result<()> {
    let dir = tempfile::tempdir().expect("tempdir");
    let db = Persistency::new(dir.path().to_str().expect("utf8"))?;
    let job = db.open_job("x")?;
    job.write(vec![Op::put("c", b"k".to_vec(), b"v".to_vec())])?;
    db.drop_job("x")?;
    assert_eq!(
        job.put("c", b"k2", b"v").unwrap_err().kind(),
        ErrorKind::Closed
    );
    assert!(!dir.path().join("x.db").exists());
    assert_eq!(db.open_job("x")?.get("c", b"k")?, None);
    Ok(())
}
