//! The server restarts (as after a crash) under a write load: the requests
//! in flight fail with `Backend` saying the connection was lost, the
//! worker reconnects, and no acknowledged write is lost.

use std::process::Command;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use persistency::{ErrorKind, JobOptions, Persistency};

use crate::{batch, batch_state, root, Window, WINDOW};

/// A batch and what its callback said.
type Outcome = (u64, Result<(), persistency::Error>);

/// The shell command that restarts the server.
const RESTART_ENV: &str = "PERSISTENCY_TEST_PG_RESTART";

#[test]
fn a_server_restart_loses_no_acknowledged_write() {
    let Some(root) = root() else { return };
    let Ok(restart) = std::env::var(RESTART_ENV) else {
        eprintln!("skipped: {RESTART_ENV} is not set");
        return;
    };
    let db = Persistency::new(&root).expect("instance");
    // The default durability (`synchronous_commit = local`).
    let job = db
        .open_job_with("restarted", &JobOptions::default().queue_capacity(256))
        .expect("open");
    let outcomes: Arc<Mutex<Vec<Outcome>>> = Arc::default();
    let stop = Arc::new(AtomicBool::new(false));
    let writer = {
        let (job, outcomes, stop) = (job.clone(), outcomes.clone(), stop.clone());
        std::thread::spawn(move || {
            let mut id = 0u64;
            let window = Window::new(WINDOW);
            while !stop.load(Ordering::Relaxed) {
                let outcomes = outcomes.clone();
                let token = window.take();
                job.write_then(batch(id), move |r| {
                    outcomes.lock().expect("lock").push((id, r));
                    drop(token);
                })
                .expect("queue");
                id += 1;
            }
            job.flush().expect("flush");
        })
    };
    std::thread::sleep(Duration::from_millis(400));
    let status = Command::new("sh")
        .args(["-c", &restart])
        .status()
        .expect("restart");
    assert!(status.success(), "restart command failed");
    let restarted = Instant::now();
    // Write on until some batch after the restart is acknowledged.
    let deadline = restarted + Duration::from_secs(30);
    loop {
        std::thread::sleep(Duration::from_millis(100));
        let outcomes = outcomes.lock().expect("lock");
        let first_error = outcomes.iter().position(|(_, r)| r.is_err());
        let ok_after = first_error
            .is_some_and(|i| outcomes[i..].iter().filter(|(_, r)| r.is_ok()).count() > 50);
        if ok_after || Instant::now() > deadline {
            break;
        }
    }
    stop.store(true, Ordering::Relaxed);
    writer.join().expect("writer");
    let outcomes = std::mem::take(&mut *outcomes.lock().expect("lock"));
    let errors: Vec<_> = outcomes
        .iter()
        .filter_map(|(_, r)| r.as_ref().err())
        .collect();
    assert!(!errors.is_empty(), "the restart failed no request");
    for e in &errors {
        assert_eq!(e.kind(), ErrorKind::Backend, "{e}");
    }
    assert!(
        errors
            .iter()
            .any(|e| e.message().contains("connection to PostgreSQL lost")),
        "no error said the connection was lost: {:?}",
        errors.first()
    );
    let last_error = outcomes
        .iter()
        .rposition(|(_, r)| r.is_err())
        .expect("an error");
    let acked_after = outcomes[last_error..]
        .iter()
        .filter(|(_, r)| r.is_ok())
        .count();
    assert!(
        acked_after > 0,
        "nothing was acknowledged after the restart"
    );
    for (id, r) in &outcomes {
        let state = batch_state(&job, *id).expect("read");
        assert!(state.is_some(), "batch {id} torn");
        if r.is_ok() {
            assert_eq!(state, Some(true), "acknowledged batch {id} lost");
        }
    }
    eprintln!(
        "restart: {} batches, {} failed, {acked_after} acknowledged after the last failure",
        outcomes.len(),
        errors.len()
    );
}
