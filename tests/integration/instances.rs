//! The process-wide instance. One test: the slot is global to the process.

use persistency::{current, instance, reset, ErrorKind, Result};

#[test]
fn process_wide_instance_semantics() -> Result<()> {
    let dir = tempfile::tempdir().expect("temp dir");
    let root = dir.path().join("global");
    let root = root.to_str().expect("utf8");
    reset()?;
    assert_eq!(current().unwrap_err().kind(), ErrorKind::Closed);

    let a = instance(root)?;
    let b = instance(root)?;
    assert_eq!(a, b, "same root: same instance");
    assert_eq!(current()?, a);
    let other = dir.path().join("other");
    assert_eq!(
        instance(other.to_str().expect("utf8")).unwrap_err().kind(),
        ErrorKind::InvalidArgument
    );

    let job = a.open_job("j")?;
    job.put("c", b"k", b"v")?;
    reset()?;
    reset()?; // idempotent
    assert_eq!(job.get("c", b"k").unwrap_err().kind(), ErrorKind::Closed);
    assert_eq!(a.open_job("j").unwrap_err().kind(), ErrorKind::Closed);
    assert_eq!(a.close().unwrap_err().kind(), ErrorKind::Closed);
    assert_eq!(current().unwrap_err().kind(), ErrorKind::Closed);

    // Another root may be installed now, and the data of the first is kept.
    let c = instance(other.to_str().expect("utf8"))?;
    assert_ne!(c, a);
    reset()?;
    let again = instance(root)?;
    assert_eq!(again.open_job("j")?.get("c", b"k")?, Some(b"v".to_vec()));
    reset()?;
    Ok(())
}
