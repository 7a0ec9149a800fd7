//! One process per job across processes; different jobs side by side.

use std::io::BufReader;
use std::time::{Duration, Instant};

use persistency::{ErrorKind, Persistency};

use crate::{batch_state, next_line, options, root, spawn_child, Reaped};

#[test]
fn a_job_held_by_another_process_is_refused_until_it_lets_go() {
    let Some(root) = root() else { return };
    let mut holder = Reaped(spawn_child(&root, "hold fenced"));
    let mut out = BufReader::new(holder.0.stdout.take().expect("stdout"));
    assert_eq!(next_line(&mut out), "READY");
    let db = Persistency::new(&root).expect("instance");
    let err = db.open_job_with("fenced", &options()).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidArgument, "{err}");
    assert!(err.message().contains("held by another process"), "{err}");
    assert!(!db.has_job("fenced"));
    // Nor may it be dropped from under the holder.
    let err = db.drop_job("fenced").unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidArgument, "{err}");
    // Another job of the same schema is free.
    db.open_job("other")
        .expect("another job")
        .put("c", b"k", b"v")
        .expect("put");
    // The holder closes its stdin's end: it closes the job and exits.
    drop(holder.0.stdin.take());
    assert!(holder.0.wait().expect("wait").success());
    db.open_job_with("fenced", &options())
        .expect("free once the holder let go");
}

#[test]
fn two_processes_write_different_jobs_at_full_speed() {
    let Some(root) = root() else { return };
    const BATCHES: u64 = 1_500;
    let mut children: Vec<_> = ["left", "right"]
        .iter()
        .map(|job| Reaped(spawn_child(&root, &format!("write {job} {BATCHES}"))))
        .collect();
    let mut outs: Vec<_> = children
        .iter_mut()
        .map(|c| BufReader::new(c.0.stdout.take().expect("stdout")))
        .collect();
    for out in &mut outs {
        assert_eq!(next_line(out), "READY");
    }
    for out in &mut outs {
        assert_eq!(next_line(out), "DONE");
    }
    for child in &mut children {
        assert!(child.0.wait().expect("wait").success());
    }
    let db = Persistency::new(&root).expect("instance");
    for id in ["left", "right"] {
        let job = db.open_job(id).expect("open");
        assert_eq!(job.count("marks", b"", b"").expect("count"), BATCHES);
        for batch in (0..BATCHES).step_by(97) {
            assert_eq!(
                batch_state(&job, batch).expect("read"),
                Some(true),
                "{id} {batch}"
            );
        }
    }
}

#[test]
fn a_killed_holder_frees_the_job() {
    let Some(root) = root() else { return };
    let mut holder = Reaped(spawn_child(&root, "hold orphan"));
    let mut out = BufReader::new(holder.0.stdout.take().expect("stdout"));
    assert_eq!(next_line(&mut out), "READY");
    // SIGKILL: the holder never lets go itself.
    drop(holder);
    let db = Persistency::new(&root).expect("instance");
    let job = open_when_free(&db, "orphan");
    job.put("c", b"k", b"v").expect("put");
}

/// Opens a job whose last holder just died: the server ends its session
/// (and lets go of the lock) once it sees the socket close, shortly after.
pub fn open_when_free(db: &Persistency, id: &str) -> persistency::Job {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        match db.open_job_with(id, &options()) {
            Ok(job) => return job,
            Err(e) if e.kind() == ErrorKind::InvalidArgument && Instant::now() < deadline => {
                std::thread::sleep(Duration::from_millis(20));
            }
            Err(e) => panic!("cannot open {id} after its holder died: {e}"),
        }
    }
}
