//! Every error of `open_job` names the job and its file, whatever failed:
//! a FIFO, a directory or a socket in place of the job file (refused before
//! anything opens it, so a FIFO cannot block the open), a file that is not
//! a database, an I/O error (EIO) from the file. Under a watchdog: the
//! FIFO used to hang the open.

use std::path::{Path, PathBuf};
use std::process::Command;

use persistency::{Error, ErrorKind, Persistency};

use crate::watchdog::watchdog;

fn root() -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().expect("tempdir");
    let root = std::fs::canonicalize(dir.path()).expect("canonical");
    (dir, root)
}

/// The open's error, which must name the job and its file.
fn open_error(root: &Path, id: &str) -> Error {
    let root = root.to_str().expect("utf8").to_string();
    let id_owned = id.to_string();
    let err = watchdog("open_job", move || {
        let db = Persistency::new(&root).expect("instance");
        db.open_job(&id_owned).map(|_| ())
    })
    .expect_err("opened");
    assert!(
        err.message().contains(&format!("job {id:?}")),
        "names the job {id:?}: {err}"
    );
    assert!(
        err.message().contains(&format!("{id}.db")),
        "names the file: {err}"
    );
    err
}

#[test]
fn a_fifo_in_place_of_the_job_file_is_refused_without_blocking() {
    let (_dir, root) = root();
    let fifo = root.join("pipe.db");
    let made = Command::new("mkfifo").arg(&fifo).status().expect("mkfifo");
    assert!(made.success());
    let err = open_error(&root, "pipe");
    assert_eq!(err.kind(), ErrorKind::Backend, "{err}");
    assert!(err.message().contains("FIFO"), "says what it is: {err}");
}

#[test]
fn a_directory_or_a_socket_in_place_of_the_job_file_is_refused() {
    let (_dir, root) = root();
    std::fs::create_dir(root.join("dir.db")).expect("mkdir");
    let err = open_error(&root, "dir");
    assert_eq!(err.kind(), ErrorKind::Backend, "{err}");
    assert!(err.message().contains("directory"), "{err}");
    let _socket = std::os::unix::net::UnixListener::bind(root.join("sock.db")).expect("bind");
    let err = open_error(&root, "sock");
    assert_eq!(err.kind(), ErrorKind::Backend, "{err}");
    assert!(err.message().contains("socket"), "{err}");
}

#[test]
fn a_file_that_is_not_a_database_names_job_and_file() {
    let (_dir, root) = root();
    std::fs::write(root.join("junk.db"), vec![0x5a; 9000]).expect("write");
    let err = open_error(&root, "junk");
    assert_eq!(err.kind(), ErrorKind::Backend, "{err}");
}

#[test]
fn a_missing_root_that_cannot_be_made_names_the_job() {
    let db = Persistency::new("/proc/persistency-open-errors/root").expect("valid path");
    let err = db.open_job("nowhere").expect_err("created under /proc");
    assert!(err.message().contains("job \"nowhere\""), "{err}");
    assert!(
        err.message().contains("/proc/persistency-open-errors/root"),
        "{err}"
    );
}

/// Unmounts a bind mount when dropped.
struct Mounted(PathBuf);

impl Drop for Mounted {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg(&self.0).status();
    }
}

#[test]
fn an_io_error_from_the_file_names_job_and_file() {
    // Real EIO from a regular file: this process's own /proc/<pid>/mem
    // bind-mounted over the job file answers EIO at offset 0. Needs root
    // (mount); skipped, and said so, otherwise.
    let (_dir, root) = root();
    let file = root.join("eio.db");
    std::fs::write(&file, b"").expect("create");
    let mem = format!("/proc/{}/mem", std::process::id());
    let mounted = Command::new("mount")
        .args(["--bind", &mem])
        .arg(&file)
        .stderr(std::process::Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if !mounted {
        eprintln!("skipped: cannot bind-mount {mem} (needs root): the EIO case did not run");
        return;
    }
    let _mounted = Mounted(file.clone());
    let err = open_error(&root, "eio");
    assert_eq!(err.kind(), ErrorKind::Backend, "{err}");
    assert!(err.message().contains("I/O error"), "{err}");
}
