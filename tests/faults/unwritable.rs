//! Roots where no file can be made: made immutable, under `/proc`, under a
//! regular file. Opens fail by name; the instance serves again once the
//! root is writable.

use std::path::{Path, PathBuf};
use std::process::Command;

use persistency::{ErrorKind, Persistency};

use crate::assert_names;

/// A directory made immutable with `chattr +i` (which stops root too), made
/// mutable again when dropped.
struct Immutable(PathBuf);

impl Immutable {
    fn set(dir: &Path) -> Option<Immutable> {
        let ok = Command::new("chattr")
            .arg("+i")
            .arg(dir)
            .status()
            .is_ok_and(|s| s.success());
        ok.then(|| Immutable(dir.to_path_buf()))
    }
}

impl Drop for Immutable {
    fn drop(&mut self) {
        let _ = Command::new("chattr").arg("-i").arg(&self.0).status();
    }
}

/// Makes `dir` unwritable: `chattr +i` when available (it stops root), else
/// mode 0555 (which stops other users). `None` if neither stops us.
fn unwritable(dir: &Path) -> Option<Box<dyn std::any::Any>> {
    if let Some(guard) = Immutable::set(dir) {
        return Some(Box::new(guard));
    }
    use std::os::unix::fs::PermissionsExt;
    struct Mode(PathBuf);
    impl Drop for Mode {
        fn drop(&mut self) {
            let _ = std::fs::set_permissions(&self.0, std::fs::Permissions::from_mode(0o755));
        }
    }
    std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o555)).ok()?;
    let guard = Mode(dir.to_path_buf());
    let probe = dir.join("probe");
    if std::fs::write(&probe, b"x").is_ok() {
        let _ = std::fs::remove_file(&probe);
        return None;
    }
    Some(Box::new(guard))
}

#[test]
fn a_root_that_cannot_be_written() {
    let dir = tempfile::tempdir().expect("tempdir");
    let root = dir.path().join("locked");
    std::fs::create_dir(&root).expect("mkdir");
    let root_s = root.to_string_lossy().into_owned();
    // A job created while the root was writable.
    let db = Persistency::new(&root_s).expect("instance");
    db.open_job("old")
        .expect("open")
        .put("c", b"k", b"v")
        .expect("put");
    db.close().expect("close");
    assert!(!root.join("old.db-wal").exists());

    let guard = unwritable(&root);
    if let Some(_guard) = guard {
        // A new job: its file cannot be created.
        let err = db
            .open_job("new")
            .expect_err("opened in an unwritable root");
        assert_eq!(err.kind(), ErrorKind::Backend, "{err}");
        assert_names(&err, &root.join("new.db"));
        assert!(!root.join("new.db").exists());
        // An existing job: its WAL cannot be created next to it.
        let err = db
            .open_job("old")
            .expect_err("reopened in an unwritable root");
        assert_eq!(err.kind(), ErrorKind::Backend, "{err}");
        assert_names(&err, &root.join("old.db"));
    } else {
        eprintln!("neither chattr +i nor chmod stops this user: only the /proc cases ran");
    }
    // Writable again, the existing job opens with its data.
    let job = db.open_job("old").expect("reopen");
    assert_eq!(job.get("c", b"k").expect("get"), Some(b"v".to_vec()));
    db.close().expect("close");

    // A root that cannot be created: under /proc nobody may make a
    // directory. Valid as a path (its first existing ancestor is a
    // directory), it fails at the first open, naming the root.
    let db = Persistency::new("/proc/persistency-faults/root").expect("valid path");
    let err = db.open_job("j").expect_err("created a root under /proc");
    assert_eq!(err.kind(), ErrorKind::Backend, "{err}");
    assert!(
        err.message().contains("/proc/persistency-faults/root"),
        "{err}"
    );
    // A root that exists and is a directory, where no file can be made.
    let db = Persistency::new("/proc").expect("valid path");
    let err = db
        .open_job("persistency-faults")
        .expect_err("created a file in /proc");
    assert_eq!(err.kind(), ErrorKind::Backend, "{err}");
    assert!(err.message().contains("persistency-faults.db"), "{err}");
    // A root under a regular file is refused up front.
    let file = dir.path().join("plain");
    std::fs::write(&file, b"x").expect("write");
    let err =
        Persistency::new(&file.join("root").to_string_lossy()).expect_err("root under a file");
    assert_eq!(err.kind(), ErrorKind::InvalidArgument, "{err}");
}
