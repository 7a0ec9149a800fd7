//! A real full disk (issue 17, class 4): on a 6 MiB tmpfs, a 9 MiB batch
//! must fail alone, as it would under `max_db_bytes`: the batches queued
//! around it in the same group commit are committed, fire-and-forget writes
//! are kept, and the error says "disk full", not "quota exceeded".
//!
//! Needs root (it mounts a tmpfs); otherwise it says so and passes without
//! checking anything. The mount is always undone.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::mpsc;

use crate::common::hold_worker;

use persistency::{ErrorKind, Job, JobOptions, Op, Persistency, Synchronous};

/// A tmpfs mounted for the test, unmounted on drop.
struct Tmpfs(PathBuf);

impl Tmpfs {
    fn mount(dir: &Path, size: &str) -> Result<Tmpfs, String> {
        // SAFETY: geteuid has no preconditions.
        if unsafe { libc::geteuid() } != 0 {
            return Err("not running as root".into());
        }
        let at = dir.join("mnt");
        std::fs::create_dir_all(&at).map_err(|e| e.to_string())?;
        let out = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
            .arg(&at)
            .output()
            .map_err(|e| format!("cannot run mount: {e}"))?;
        if !out.status.success() {
            return Err(format!(
                "mount failed: {}",
                String::from_utf8_lossy(&out.stderr).trim()
            ));
        }
        Ok(Tmpfs(at))
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let ok = Command::new("umount")
            .arg(&self.0)
            .status()
            .is_ok_and(|s| s.success());
        if !ok {
            let _ = Command::new("umount").arg("-l").arg(&self.0).status();
        }
    }
}

/// A small acknowledged batch `name`; its result arrives on `results`.
fn small(job: &Job, name: &str, results: &mpsc::Sender<(String, persistency::Result<()>)>) {
    let tx = results.clone();
    let label = name.to_string();
    job.write_then(
        vec![
            Op::put("small", name.as_bytes().to_vec(), vec![1u8; 2_000]),
            Op::put("small", format!("{name}-2").into_bytes(), vec![2u8; 2_000]),
        ],
        move |r| tx.send((label, r)).expect("result"),
    )
    .expect("queue a small batch");
}

#[test]
fn a_full_tmpfs_fails_only_the_batch_that_does_not_fit() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mnt = match Tmpfs::mount(dir.path(), "6m") {
        Ok(m) => m,
        Err(why) => {
            println!("SKIPPED a_full_tmpfs_fails_only_the_batch_that_does_not_fit: {why}");
            return;
        }
    };
    let root = mnt.0.join("root").to_string_lossy().into_owned();
    let db = Persistency::new(&root).expect("instance");
    let job = db
        .open_job_with(
            "disk",
            &JobOptions::default().synchronous(Synchronous::Full),
        )
        .expect("open");
    job.write(vec![Op::put("small", b"before".to_vec(), vec![0u8; 1_000])])
        .expect("a first write");

    // One group: small batches, a 9 MiB batch, a fire-and-forget put.
    let (tx, rx) = mpsc::channel();
    let go = hold_worker(&job);
    small(&job, "a", &tx);
    let big: Vec<Op> = (0..9 * 256)
        .map(|i: u32| Op::put("big", i.to_be_bytes().to_vec(), vec![9u8; 4_000]))
        .collect();
    let big_tx = tx.clone();
    job.write_then(big, move |r| {
        big_tx.send(("big".to_string(), r)).expect("result")
    })
    .expect("queue the big batch");
    small(&job, "c", &tx);
    job.put("small", b"fire-and-forget", b"kept")
        .expect("fire-and-forget put");
    small(&job, "e", &tx);
    drop(tx);
    drop(go);
    let results: Vec<(String, persistency::Result<()>)> = rx.iter().collect();
    job.flush().expect("flush");

    for (name, result) in &results {
        if name == "big" {
            let err = result.as_ref().expect_err("the 9 MiB batch fit on 6 MiB");
            println!("the 9 MiB batch: {err}");
            assert_eq!(err.kind(), ErrorKind::Full, "{err}");
            let text = err.to_string();
            assert!(text.contains("disk full"), "does not say disk full: {text}");
            assert!(!text.contains("quota"), "speaks of a quota: {text}");
        } else {
            assert!(result.is_ok(), "small batch {name} failed: {result:?}");
        }
    }
    assert_eq!(results.len(), 4);
    let stats = job.stats().expect("stats");
    assert_eq!(
        stats.ops_failed,
        9 * 256,
        "only the big batch's operations fail"
    );
    for key in ["a", "a-2", "c", "c-2", "e", "e-2", "before"] {
        assert!(
            job.exists("small", key.as_bytes()).expect("exists"),
            "{key} is missing"
        );
    }
    assert_eq!(
        job.get("small", b"fire-and-forget").expect("get"),
        Some(b"kept".to_vec())
    );
    assert_eq!(job.count("big", b"", b"").expect("count"), 0);

    // And it all survives a reopen.
    db.close_job("disk").expect("close");
    let job = db.open_job("disk").expect("reopen");
    assert_eq!(job.count("small", b"", b"").expect("count"), 8);
    assert_eq!(job.count("big", b"", b"").expect("count"), 0);
    db.close().expect("close");
}
