//! Host callbacks that misbehave: one that panics, one that blocks, one
//! that calls back into the instance while its job is being closed.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use persistency::{ErrorKind, FullPolicy, JobOptions, Op, Persistency};

use crate::common::root_in;

#[test]
fn a_panicking_callback_does_not_stop_the_job_or_break_order() {
    let db = Persistency::new(persistency::MEMORY_ROOT).expect("instance");
    let job = db.open_job("panicky").expect("open");
    let seen = Arc::new(Mutex::new(Vec::new()));
    for i in 0..300u32 {
        let seen = seen.clone();
        let record = move |tag: u32, panic: bool| {
            seen.lock().expect("seen").push(tag);
            if panic {
                panic!("host callback {tag} panics (on purpose)");
            }
        };
        match i % 3 {
            0 => job
                .write_then(
                    vec![Op::put("c", i.to_be_bytes().to_vec(), b"v".to_vec())],
                    move |r| {
                        r.expect("write");
                        record(i, i % 2 == 0);
                    },
                )
                .expect("write_then"),
            1 => job
                .get_then("c", &(i - 1).to_be_bytes(), move |r| {
                    assert_eq!(r.expect("get"), Some(b"v".to_vec()));
                    record(i, i % 2 == 0);
                })
                .expect("get_then"),
            _ => job
                .flush_then(move |r| {
                    r.expect("flush");
                    record(i, true);
                })
                .expect("flush_then"),
        }
    }
    job.flush().expect("flush after panicking callbacks");
    let seen = seen.lock().expect("seen").clone();
    assert_eq!(
        seen,
        (0..300).collect::<Vec<_>>(),
        "callbacks lost or out of order"
    );
    assert_eq!(job.count("c", b"", b"").expect("count"), 100);
    job.put("c", b"later", b"x").expect("put");
    assert_eq!(job.get("c", b"later").expect("get"), Some(b"x".to_vec()));
    db.close().expect("close");
}

#[test]
fn a_blocking_callback_holds_only_its_own_job() {
    let db = Persistency::new(persistency::MEMORY_ROOT).expect("instance");
    let slow = db
        .open_job_with(
            "slow",
            &JobOptions::default()
                .queue_capacity(8)
                .full_policy(FullPolicy::Fail),
        )
        .expect("open slow");
    let (release_tx, release_rx) = std::sync::mpsc::channel::<()>();
    let (entered_tx, entered_rx) = std::sync::mpsc::channel::<()>();
    let timed_out = Arc::new(AtomicBool::new(false));
    let order = Arc::new(Mutex::new(Vec::new()));
    {
        let (order, timed_out) = (order.clone(), timed_out.clone());
        slow.write_then(vec![Op::put("c", b"0".to_vec(), b"v".to_vec())], move |r| {
            r.expect("write");
            entered_tx.send(()).expect("entered");
            // Blocks until the test has worked with the other jobs.
            if release_rx.recv_timeout(Duration::from_secs(60)).is_err() {
                timed_out.store(true, Ordering::SeqCst);
            }
            order.lock().expect("order").push(0u32);
        })
        .expect("write_then");
    }
    entered_rx.recv().expect("the callback started");
    // Meanwhile the slow job still accepts work up to its queue capacity,
    // then says Busy instead of blocking the host; nothing is dropped.
    let mut accepted = Vec::new();
    let mut busy = 0;
    for i in 1..=40u32 {
        let order = order.clone();
        match slow.get_then("c", b"0", move |r| {
            assert_eq!(r.expect("get"), Some(b"v".to_vec()));
            order.lock().expect("order").push(i);
        }) {
            Ok(()) => accepted.push(i),
            Err(e) => {
                assert_eq!(e.kind(), ErrorKind::Busy, "{e}");
                busy += 1;
            }
        }
    }
    assert!(busy > 0, "a full queue never said Busy");
    assert!(!accepted.is_empty());
    // Other jobs work, open and close while the slow job's worker blocks.
    let other = db.open_job("other").expect("open other");
    for i in 0..100u32 {
        other.put("c", &i.to_be_bytes(), b"x").expect("put");
    }
    assert_eq!(other.count("c", b"", b"").expect("count"), 100);
    let third = db.open_job("third").expect("open third");
    third
        .write(vec![Op::put("c", b"k".to_vec(), b"v".to_vec())])
        .expect("write");
    db.close_job("third").expect("close third");
    assert!(
        order.lock().expect("order").is_empty(),
        "the blocked callback finished early"
    );
    release_tx.send(()).expect("release");
    // Closing waits for every accepted request and callback (a flush could
    // still find the queue full and, with this policy, say Busy).
    db.close_job("slow").expect("close slow");
    assert!(
        !timed_out.load(Ordering::SeqCst),
        "the other jobs were held up"
    );
    let mut want = vec![0];
    want.extend(&accepted);
    assert_eq!(*order.lock().expect("order"), want, "the slow job's order");
    db.close().expect("close");
}

#[test]
fn a_callback_reaches_the_instance_while_its_job_is_closed_and_reopened() {
    // The closing job's callback needs the instance's job map while another
    // thread reopens the same job file and waits for the close to finish:
    // the reopen must not wait with the map locked.
    let dir = tempfile::tempdir().expect("tempdir");
    let db = Persistency::new(&root_in(dir.path())).expect("instance");
    let job = db.open_job("x").expect("open");
    let (tx, rx) = std::sync::mpsc::channel();
    let (started_tx, started_rx) = std::sync::mpsc::channel();
    let inner = db.clone();
    job.flush_then(move |_| {
        started_tx.send(()).expect("started");
        // Give the closer and the opener time to get going (ordering only;
        // the outcome does not depend on it).
        std::thread::sleep(Duration::from_millis(200));
        let _ = inner.has_job("other");
        let _ = inner.open_job("other").map(|j| j.put("c", b"k", b"v"));
        tx.send(()).expect("done");
    })
    .expect("flush_then");
    started_rx.recv().expect("callback started");
    let closer = {
        let db = db.clone();
        std::thread::spawn(move || db.close_job("x"))
    };
    std::thread::sleep(Duration::from_millis(50));
    let opener = {
        let db = db.clone();
        std::thread::spawn(move || db.open_job("x").map(|j| j.id().to_string()))
    };
    rx.recv_timeout(Duration::from_secs(30))
        .expect("deadlock: the callback never reached the instance");
    closer.join().expect("closer").expect("close_job");
    assert_eq!(opener.join().expect("opener").expect("reopen"), "x");
    assert!(db.has_job("x") && db.has_job("other"));
    db.close().expect("close");
}
