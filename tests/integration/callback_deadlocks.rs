//! Callbacks that wait for other jobs: every wait cycle they could build
//! (a close joining a job whose callback waits for another close, jobs
//! closing each other, blocking calls across jobs) is refused with
//! `InvalidArgument` or does not wait; none hangs. Every test runs under a
//! watchdog, so a regression fails instead of hanging.

use std::sync::mpsc;
use std::sync::{Arc, Barrier};

use persistency::{ErrorKind, Persistency, Result};

use crate::watchdog::watchdog;

/// The outcome of a call made inside a callback: `Ok` or the error kind.
type Outcome = std::result::Result<(), ErrorKind>;

fn outcome<T>(r: Result<T>) -> Outcome {
    r.map(|_| ()).map_err(|e| e.kind())
}

/// Every job but `a` of `ids`.
const OTHERS: usize = 15;

#[test]
fn a_callback_opens_jobs_while_the_instance_closes() {
    // While `close` joins job `a` one by one with the others, a callback of
    // `a` opens each other job, which the close has marked closing. Some
    // of them the close reaches only after `a`: waiting for their close
    // from `a`'s callback would wait for the closing thread, which waits
    // for `a`.
    watchdog("close while a callback opens jobs", || -> Result<()> {
        for round in 0..3 {
            let db = Persistency::new(":memory:")?;
            let a = db.open_job("a")?;
            let others: Vec<String> = (0..OTHERS).map(|i| format!("b{i}")).collect();
            for id in &others {
                db.open_job(id)?;
            }
            let (entered_tx, entered_rx) = mpsc::channel();
            let (go_tx, go_rx) = mpsc::channel::<()>();
            let (done_tx, done_rx) = mpsc::channel();
            let inner = db.clone();
            a.flush_then(move |_| {
                entered_tx.send(()).expect("entered");
                go_rx.recv().expect("go");
                let results: Vec<(String, Outcome)> = others
                    .iter()
                    .map(|id| (id.clone(), outcome(inner.open_job(id))))
                    .collect();
                done_tx.send(results).expect("done");
            })?;
            entered_rx.recv().expect("the callback runs");
            let closer = {
                let db = db.clone();
                std::thread::spawn(move || db.close())
            };
            // The close marks every job closing at once, before it joins any.
            while db.has_job("a") {
                std::thread::yield_now();
            }
            go_tx.send(()).expect("go");
            closer.join().expect("closer")?;
            for (id, result) in done_rx.recv().expect("the callback finished") {
                assert!(
                    matches!(result, Ok(()) | Err(ErrorKind::InvalidArgument)),
                    "round {round}: opening {id} from the callback gave {result:?}"
                );
            }
            db.close()?;
        }
        Ok(())
    })
    .expect("no error");
}

/// Each job's callback closes the next job (the last closes the first) at
/// the same moment: exactly one of these closes closes the cycle and must
/// be refused; the others wait and succeed.
fn close_in_a_ring(n: usize) {
    watchdog("callbacks closing each other", move || -> Result<()> {
        let db = Persistency::new(":memory:")?;
        let ids: Vec<String> = (0..n).map(|i| format!("j{i}")).collect();
        let jobs = ids
            .iter()
            .map(|id| db.open_job(id))
            .collect::<Result<Vec<_>>>()?;
        let barrier = Arc::new(Barrier::new(n));
        let (tx, rx) = mpsc::channel();
        for (i, job) in jobs.iter().enumerate() {
            let next = ids[(i + 1) % n].clone();
            let (db, barrier, tx) = (db.clone(), barrier.clone(), tx.clone());
            job.flush_then(move |_| {
                barrier.wait();
                tx.send(outcome(db.close_job(&next))).expect("send");
            })?;
        }
        drop(tx);
        let results: Vec<Outcome> = rx.iter().collect();
        assert_eq!(results.len(), n);
        let refused = results
            .iter()
            .filter(|r| **r == Err(ErrorKind::InvalidArgument))
            .count();
        assert_eq!(
            refused, 1,
            "exactly one close closes the cycle: {results:?}"
        );
        assert_eq!(results.iter().filter(|r| r.is_ok()).count(), n - 1);
        db.close()?;
        Ok(())
    })
    .expect("no error");
}

#[test]
fn two_callbacks_closing_each_others_job() {
    close_in_a_ring(2);
}

#[test]
fn three_callbacks_closing_in_a_ring() {
    close_in_a_ring(3);
}

#[test]
fn callbacks_dropping_each_others_job() {
    watchdog("callbacks dropping each other", || -> Result<()> {
        let dir = tempfile::tempdir().expect("tempdir");
        let db = Persistency::new(dir.path().to_str().expect("utf8"))?;
        let (a, b) = (db.open_job("a")?, db.open_job("b")?);
        let barrier = Arc::new(Barrier::new(2));
        let (tx, rx) = mpsc::channel();
        for (job, other) in [(&a, "b"), (&b, "a")] {
            let (db, barrier, tx) = (db.clone(), barrier.clone(), tx.clone());
            job.flush_then(move |_| {
                barrier.wait();
                tx.send(outcome(db.drop_job(other))).expect("send");
            })?;
        }
        drop(tx);
        let results: Vec<Outcome> = rx.iter().collect();
        let refused = results
            .iter()
            .filter(|r| **r == Err(ErrorKind::InvalidArgument))
            .count();
        assert_eq!(refused, 1, "{results:?}");
        db.close()?;
        Ok(())
    })
    .expect("no error");
}

#[test]
fn callbacks_making_blocking_calls_on_each_others_job() {
    // A blocking read from a callback waits for the other job's worker; two
    // such waits on each other would never end.
    watchdog("blocking calls across callbacks", || -> Result<()> {
        let db = Persistency::new(":memory:")?;
        let (a, b) = (db.open_job("a")?, db.open_job("b")?);
        let barrier = Arc::new(Barrier::new(2));
        let (tx, rx) = mpsc::channel();
        for (job, other) in [(&a, &b), (&b, &a)] {
            let (other, barrier, tx) = (other.clone(), barrier.clone(), tx.clone());
            job.flush_then(move |_| {
                barrier.wait();
                tx.send(outcome(other.get("c", b"k"))).expect("send");
            })?;
        }
        drop(tx);
        let results: Vec<Outcome> = rx.iter().collect();
        let refused = results
            .iter()
            .filter(|r| **r == Err(ErrorKind::InvalidArgument))
            .count();
        assert_eq!(refused, 1, "{results:?}");
        assert_eq!(results.iter().filter(|r| r.is_ok()).count(), 1);
        db.close()?;
        Ok(())
    })
    .expect("no error");
}

#[test]
fn a_callback_may_still_close_and_open_other_jobs() {
    // No cycle, no refusal: a callback closes, drops and reopens another
    // job and reads it with a blocking call.
    watchdog("callback closing another job", || -> Result<()> {
        let dir = tempfile::tempdir().expect("tempdir");
        let db = Persistency::new(dir.path().to_str().expect("utf8"))?;
        let a = db.open_job("a")?;
        db.open_job("b")?.put("c", b"k", b"v")?;
        let (tx, rx) = mpsc::channel();
        let inner = db.clone();
        a.flush_then(move |_| {
            let steps = (|| -> Result<Option<Vec<u8>>> {
                inner.close_job("b")?;
                let b = inner.open_job("b")?;
                let before = b.get("c", b"k")?;
                inner.drop_job("b")?;
                assert_eq!(inner.open_job("b")?.get("c", b"k")?, None);
                Ok(before)
            })();
            tx.send(steps).expect("send");
        })?;
        assert_eq!(rx.recv().expect("callback")?, Some(b"v".to_vec()));
        db.close()?;
        Ok(())
    })
    .expect("no error");
}
