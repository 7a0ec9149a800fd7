//! "The same file" is the same file on disk (device and inode), whatever
//! path reaches it: a job file that is a hard link or a symbolic link to a
//! file another instance (or another job) holds is refused; symbolic links
//! that dangle or leave the root are refused rather than followed.

use std::os::unix::fs::symlink;
use std::path::Path;

use persistency::{Error, ErrorKind, Persistency, Result};

fn instance(root: &Path) -> Persistency {
    std::fs::create_dir_all(root).expect("mkdir");
    Persistency::new(root.to_str().expect("utf8")).expect("instance")
}

fn refused(err: &Error, file: &str) {
    assert_eq!(err.kind(), ErrorKind::InvalidArgument, "{err}");
    assert!(err.message().contains(file), "names {file}: {err}");
}

#[test]
fn a_hard_link_to_a_file_another_instance_holds_is_refused() -> Result<()> {
    let dir = tempfile::tempdir().expect("tempdir");
    let (one, two) = (dir.path().join("one"), dir.path().join("two"));
    let first = instance(&one);
    first.open_job("j")?.put("c", b"k", b"v")?;
    std::fs::create_dir_all(&two).expect("mkdir");
    std::fs::hard_link(one.join("j.db"), two.join("j.db")).expect("hard link");
    let second = instance(&two);
    let err = second
        .open_job("j")
        .expect_err("opened a hard link to a held file");
    refused(&err, "j.db");
    // Dropping it through the link is refused too, and deletes nothing.
    let err = second.drop_job("j").expect_err("dropped a held file");
    refused(&err, "j.db");
    assert!(two.join("j.db").exists());
    assert_eq!(first.find_job("j")?.get("c", b"k")?, Some(b"v".to_vec()));
    // Once the first instance lets go, the link opens with the data.
    first.close()?;
    assert_eq!(second.open_job("j")?.get("c", b"k")?, Some(b"v".to_vec()));
    let err = first.open_job("j").expect_err("now the second holds it");
    refused(&err, "j.db");
    Ok(())
}

#[test]
fn a_symbolic_link_to_a_held_file_is_refused() -> Result<()> {
    // Two instances over one root; `b.db` is a link to `a.db`.
    let dir = tempfile::tempdir().expect("tempdir");
    let root = dir.path().join("root");
    let first = instance(&root);
    first.open_job("a")?.put("c", b"k", b"v")?;
    symlink("a.db", root.join("b.db")).expect("symlink");
    let second = instance(&root);
    let err = second
        .open_job("b")
        .expect_err("opened a link to a held file");
    refused(&err, "a.db");
    // Within one instance, two jobs cannot be one file either.
    let err = first.open_job("b").expect_err("two jobs on one file");
    refused(&err, "a.db");
    assert!(
        err.message().contains("\"a\""),
        "names the job holding it: {err}"
    );
    // Not held, a link inside the root is followed.
    first.close()?;
    assert_eq!(second.open_job("b")?.get("c", b"k")?, Some(b"v".to_vec()));
    Ok(())
}

#[test]
fn symbolic_links_that_leave_the_root_or_dangle_are_refused() -> Result<()> {
    let dir = tempfile::tempdir().expect("tempdir");
    let root = dir.path().join("root");
    let db = instance(&root);
    // A database outside the root.
    let outside = dir.path().join("outside.db");
    {
        let other = instance(&dir.path().join("elsewhere"));
        other.open_job("o")?.put("c", b"k", b"v")?;
        other.close()?;
        std::fs::rename(dir.path().join("elsewhere/o.db"), &outside).expect("move");
    }
    let before = std::fs::read(&outside).expect("read");
    symlink(&outside, root.join("out.db")).expect("symlink");
    let err = db
        .open_job("out")
        .expect_err("followed a link out of the root");
    assert_eq!(err.kind(), ErrorKind::Backend, "{err}");
    assert!(err.message().contains("out.db"), "{err}");
    assert!(err.message().contains("outside"), "says why: {err}");
    assert_eq!(std::fs::read(&outside).expect("read"), before, "untouched");
    assert!(!dir.path().join("outside.db-wal").exists());
    // A link to `..` and back into the root is inside: allowed.
    symlink(
        Path::new("..").join("root").join("inner.db"),
        root.join("loop.db"),
    )
    .expect("symlink");
    std::fs::write(root.join("inner.db"), b"").expect("empty file");
    db.open_job("loop")?.put("c", b"k", b"v")?;
    // A dangling link: nothing is created at its target.
    let missing = dir.path().join("missing.db");
    symlink(&missing, root.join("dangling.db")).expect("symlink");
    let err = db
        .open_job("dangling")
        .expect_err("followed a dangling link");
    assert_eq!(err.kind(), ErrorKind::Backend, "{err}");
    assert!(err.message().contains("dangling.db"), "{err}");
    assert!(!missing.exists(), "created the dangling link's target");
    // Dropping such a job removes the link, never its target.
    db.drop_job("out")?;
    assert!(outside.exists() && !root.join("out.db").exists());
    db.close()?;
    Ok(())
}
