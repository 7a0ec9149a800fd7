//! Requests that panic inside the worker (`FAULT_PANIC_CATEGORY`) fail
//! alone: the batch is all-or-nothing, the caller gets `Internal`, and the
//! job keeps serving.

use std::collections::BTreeSet;
use std::sync::{Arc, Mutex};

use persistency::{ErrorKind, Op, Persistency, ScanOptions};

use crate::common::root_in;
use crate::{fast, kind};

#[test]
fn a_panicking_request_fails_alone_and_the_job_keeps_serving() {
    let fault = persistency::fault::PANIC_CATEGORY;
    let dir = tempfile::tempdir().expect("tempdir");
    let db = Persistency::new(&root_in(dir.path())).expect("instance");
    let job = db.open_job_with("faulty", &fast()).expect("open");
    let results = Arc::new(Mutex::new(Vec::new()));
    let push = |tag: &'static str| {
        let results = results.clone();
        move |r: persistency::Result<()>| {
            results
                .lock()
                .expect("results")
                .push((tag, r.map_err(|e| e.kind())))
        }
    };
    // In one group: a write before, a batch that panics halfway, writes after.
    job.put("c", b"before", b"1").expect("put");
    job.write_then(
        vec![Op::put("c", b"b1".to_vec(), b"1".to_vec())],
        push("b1"),
    )
    .expect("write_then");
    job.write_then(
        vec![
            Op::put("c", b"torn".to_vec(), b"1".to_vec()),
            Op::put(fault, b"k".to_vec(), b"1".to_vec()),
        ],
        push("panics"),
    )
    .expect("write_then");
    job.write_then(
        vec![Op::put("c", b"b2".to_vec(), b"1".to_vec())],
        push("b2"),
    )
    .expect("write_then");
    job.put("c", b"after", b"1").expect("put");
    job.flush().expect("flush");
    assert_eq!(
        *results.lock().expect("results"),
        vec![
            ("b1", Ok(())),
            ("panics", Err(ErrorKind::Internal)),
            ("b2", Ok(()))
        ]
    );
    let keys: BTreeSet<Vec<u8>> = job
        .scan("c", b"", b"", ScanOptions::default())
        .expect("scan")
        .iter()
        .map(|r| r.key.to_vec())
        .collect();
    let want: BTreeSet<Vec<u8>> = [&b"after"[..], b"b1", b"b2", b"before"]
        .iter()
        .map(|k| k.to_vec())
        .collect();
    assert_eq!(keys, want, "the panicking batch was not all-or-nothing");
    assert_eq!(
        job.count(fault, b"", b"").map_err(|e| e.kind()),
        Err(ErrorKind::Internal)
    );

    // Reads and acked deletes that panic report Internal, blocking or not.
    assert_eq!(kind(&job.get(fault, b"k")), Some(ErrorKind::Internal));
    assert_eq!(kind(&job.exists(fault, b"k")), Some(ErrorKind::Internal));
    assert_eq!(
        kind(&job.scan(fault, b"", b"", ScanOptions::default())),
        Some(ErrorKind::Internal)
    );
    assert_eq!(
        kind(&job.delete_acked(fault, b"k")),
        Some(ErrorKind::Internal)
    );
    let (tx, rx) = std::sync::mpsc::channel();
    job.get_then(fault, b"k", move |r| {
        tx.send(r.map_err(|e| e.kind())).expect("send")
    })
    .expect("get_then");
    assert_eq!(rx.recv().expect("callback"), Err(ErrorKind::Internal));
    // A fire-and-forget write that panics is counted as failed.
    let failed = job.stats().expect("stats").ops_failed;
    job.put(fault, b"k", b"v").expect("put is queued");
    job.flush().expect("flush");
    assert_eq!(job.stats().expect("stats").ops_failed, failed + 1);

    // The job keeps serving, and what it acknowledged is on disk.
    job.write(vec![Op::put("c", b"last".to_vec(), b"1".to_vec())])
        .expect("write");
    assert_eq!(job.count("c", b"", b"").expect("count"), 5);
    db.close_job("faulty").expect("close");
    let job = db.open_job("faulty").expect("reopen");
    assert_eq!(job.count("c", b"", b"").expect("count"), 5);
    db.close().expect("close");
}
