//! `delete_range`, fire-and-forget and as a batch operation.

use persistency::{ErrorKind, Op, Persistency};

use crate::{key, open, tmp};

fn keys_of(job: &persistency::Job) -> Vec<u64> {
    let rows = job.scan("c", b"", b"", Default::default()).expect("scan");
    rows.iter()
        .map(|r| u64::from_be_bytes(r.key.try_into().expect("8-byte key")))
        .collect()
}

#[test]
fn removes_exactly_the_half_open_range() {
    let dir = tmp();
    let (_db, job) = open(dir.path(), "r");
    job.write(
        (0..10)
            .map(|i| Op::put("c", key(i), b"x".to_vec()))
            .collect(),
    )
    .expect("fill");
    job.put("other", &key(3), b"y").expect("other category");
    job.delete_range("c", &key(2), &key(5)).expect("range");
    assert_eq!(keys_of(&job), [0, 1, 5, 6, 7, 8, 9]);
    assert!(
        job.exists("other", &key(3)).expect("exists"),
        "other category kept"
    );
    // An empty stop means no upper bound.
    job.delete_range("c", &key(7), b"").expect("open range");
    assert_eq!(keys_of(&job), [0, 1, 5, 6]);
    // start == stop is an empty range.
    job.delete_range("c", &key(5), &key(5))
        .expect("empty range");
    assert_eq!(keys_of(&job), [0, 1, 5, 6]);
    // Empty start and stop: the whole category.
    job.delete_range("c", b"", b"").expect("all");
    assert!(keys_of(&job).is_empty());
}

#[test]
fn as_a_batch_operation_it_is_atomic_with_the_rest() {
    let db = Persistency::new(":memory:").expect("instance");
    let job = db.open_job("b").expect("job");
    job.write(
        (0..6)
            .map(|i| Op::put("c", key(i), b"x".to_vec()))
            .collect(),
    )
    .expect("fill");
    job.write(vec![
        Op::delete_range("c", key(0), key(3)),
        Op::put("c", key(1), b"again".to_vec()),
    ])
    .expect("batch");
    assert_eq!(keys_of(&job), [1, 3, 4, 5]);
    // A bad range fails the whole batch before anything is queued.
    let err = job
        .write(vec![
            Op::put("c", key(9), b"x".to_vec()),
            Op::delete_range("c", key(4), key(2)),
        ])
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidArgument);
    assert!(!job.exists("c", &key(9)).expect("exists"));
}

#[test]
fn bad_input_is_refused_with_a_clear_error() {
    let db = Persistency::new(":memory:").expect("instance");
    let job = db.open_job("bad").expect("job");
    let err = job.delete_range("c", &key(5), &key(2)).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidArgument);
    assert!(err.message().contains("start is after its stop"), "{err}");
    let long = vec![b'c'; 70_000];
    assert_eq!(
        job.delete_range(&long, b"", b"").unwrap_err().kind(),
        ErrorKind::InvalidArgument
    );
    db.close_job("bad").expect("close");
    assert_eq!(
        job.delete_range("c", b"", b"").unwrap_err().kind(),
        ErrorKind::Closed
    );
}
